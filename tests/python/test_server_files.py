"""Server files from Python: SGLang's per_pass / per_token recorder dumps, TensorRT-LLM
statistics that count slots (mapped through the deployed plan), and plans that a server would
misroute (refused)."""

import numpy as np
import pytest

import eplb

torch = pytest.importorskip("torch")

# Two layers, 3 logical experts in 4 physical slots (slot 3 holds a second copy).
PHY2LOG = torch.tensor([[0, 1, 2, 0], [2, 1, 0, 1]])


def pass_record(pass_id, counts, **extra):
    """One record as SGLang's _DetailAccumulator appends it (tensors on the CPU)."""
    return dict(forward_pass_id=pass_id, rank=0, gatherer_key="primary",
                global_physical_count=torch.tensor(counts, dtype=torch.int32), **extra)


def test_per_pass_dump_gives_one_step_per_forward_pass(tmp_path):
    path = tmp_path / "expert_distribution_recorder_1700000000.0_0.pt"
    records = [
        pass_record(1, [[1, 0, 0, 1], [0, 2, 0, 3]]),
        pass_record(0, [[4, 1, 2, 3], [1, 1, 1, 1]]),
        pass_record(1, [[0, 0, 5, 0], [0, 0, 0, 0]]),  # same pass, another gatherer's share
    ]
    torch.save(dict(records=records, last_physical_to_logical_map=PHY2LOG), path)
    trace = eplb.read_trace(path)
    # Steps in forward_pass_id order; slot counts go to the expert of the slot.
    expected = np.array([
        [[7, 1, 2], [1, 2, 1]],   # pass 0: slots 0 and 3 of layer 0 hold expert 0
        [[2, 0, 5], [0, 5, 0]],   # pass 1: two records summed
    ], dtype=np.float64)
    np.testing.assert_array_equal(trace, expected)
    np.testing.assert_array_equal(eplb.read_loads(path), expected.sum(axis=0))
    np.testing.assert_array_equal(eplb.read_loads(path, steps="1:"), expected[1])


def test_per_token_dump_reads_the_records_counts(tmp_path):
    path = tmp_path / "per_token.pt"
    topk = torch.tensor([[[0, 3]], [[1, 2]]], dtype=torch.int32)  # [layers, tokens, top_k]
    record = pass_record(5, [[1, 0, 0, 1], [0, 1, 1, 0]], input_ids=[17], positions=[0],
                         extend_seq_lens=[1], forward_mode=1, topk_ids_of_layer=topk,
                         misc_objects=[])
    torch.save(dict(records=[record], last_physical_to_logical_map=PHY2LOG), path)
    np.testing.assert_array_equal(eplb.read_loads(path), [[2, 0, 0], [1, 1, 0]])


def test_malformed_pass_dumps_name_the_file_and_field(tmp_path):
    path = tmp_path / "bad.pt"
    torch.save(dict(records=[pass_record(0, [[1, 0, 0, 1], [0, 1, 1, 0]])]), path)
    with pytest.raises(eplb.ParseError) as info:
        eplb.read_trace(path)
    assert str(info.value) == (
        f'read_trace: {path}: missing "last_physical_to_logical_map" (needed to map the '
        "records' physical slots to logical experts)")
    torch.save(dict(records=[pass_record(0, [[1, 0, 0], [0, 1, 1]])],
                    last_physical_to_logical_map=PHY2LOG), path)
    with pytest.raises(eplb.ParseError) as info:
        eplb.read_loads(path)
    assert str(info.value) == (
        f"read_loads: {path}: records[0].global_physical_count.shape = [2, 3] must equal "
        "last_physical_to_logical_map's [2, 4]")
    torch.save(dict(records=[], last_physical_to_logical_map=PHY2LOG), path)
    with pytest.raises(eplb.ParseError, match="records must be a non-empty list"):
        eplb.read_loads(path)
    torch.save(dict(records=[pass_record(0, [[1, 0, 0, -1], [0, 1, 1, 0]])],
                    last_physical_to_logical_map=PHY2LOG), path)
    with pytest.raises(eplb.ParseError) as info:
        eplb.read_loads(path)
    assert str(info.value) == (
        f"read_loads: {path}: records[0].global_physical_count[0][3]: value -1 must be finite "
        "and non-negative")


DEPLOYED_YAML = ("num_slots: 4\nep_size: 2\ninitial_global_assignments:\n"
                 "  1: [0, 1, 2, 0]\n  2: [2, 1, 0, 1]\nlayer_updates_per_iter: 0\n")


def test_slot_counts_are_mapped_through_the_deployed_plan(tmp_path):
    plan = tmp_path / "moe_load_balancer.yaml"
    plan.write_text(DEPLOYED_YAML)
    slots = tmp_path / "slots.json"  # rows are model layers; layer 0 dense
    slots.write_text("[[0, 0, 0, 0], [5, 1, 2, 3], [0, 4, 0, 6]]")
    loads = eplb.read_loads(slots, deployed_plan=plan)
    np.testing.assert_array_equal(loads, [[0, 0, 0], [8, 1, 2], [0, 10, 0]])
    assert eplb.read_trace(slots, deployed_plan=str(plan)).shape == (1, 3, 3)
    wide = tmp_path / "wide.json"
    wide.write_text("[[0, 0, 0, 0, 0], [5, 1, 2, 3, 0], [0, 4, 0, 6, 0]]")
    with pytest.raises(eplb.InvalidArgument) as info:
        eplb.read_loads(wide, deployed_plan=plan)
    assert str(info.value) == (
        f"map_slot_loads: deployed plan {plan}: the loads count 5 slots per layer, the plan "
        "has num_slots = 4")
    dense_counts = tmp_path / "dense.json"
    dense_counts.write_text("[[1, 0, 0, 0], [5, 1, 2, 3], [0, 4, 0, 6]]")
    with pytest.raises(eplb.InvalidArgument, match="layer 0, slot 0 has tokens, but the plan "
                       r"gives it no expert \(dense layer\)"):
        eplb.read_loads(dense_counts, deployed_plan=plan)
    dump = tmp_path / "dump.pt"
    torch.save({"logical_count": torch.ones(2, 3)}, dump)
    with pytest.raises(eplb.InvalidArgument, match="is an SGLang dump, which counts experts"):
        eplb.read_loads(dump, deployed_plan=plan)


def test_server_formats_refuse_excluded_gpus(tmp_path):
    # 3 experts, 6 slots on 3 GPUs, GPU 2 excluded (-1).
    phy2log = np.array([[0, 1, 2, 0, -1, -1], [2, 0, 1, 2, -1, -1]])
    for format in ("sglang", "trtllm", "vllm-ascend"):
        path = tmp_path / f"plan.{format}"
        with pytest.raises(eplb.InvalidArgument) as info:
            eplb.save_plan(phy2log, path, format, num_gpus=3)
        assert str(info.value).startswith(
            f"write_plan: format {format} cannot leave GPUs 2 empty (excluded GPUs): ")
        assert not path.exists()
    path = tmp_path / "plan.json"
    eplb.save_plan(phy2log, path, num_gpus=3)
    np.testing.assert_array_equal(eplb.load_plan(path).phy2log, phy2log)


def test_vllm_ascend_refuses_two_replicas_of_an_expert_on_one_gpu(tmp_path):
    phy2log = np.array([[0, 0, 1, 2, 2, 1]])
    path = tmp_path / "expert_map.json"
    with pytest.raises(eplb.InvalidArgument) as info:
        eplb.save_plan(phy2log, path, "vllm-ascend", num_gpus=3)
    assert str(info.value).startswith(
        "write_plan: format vllm-ascend: layer 0 (layer_id 0 of the file), gpu 0 holds expert 0 "
        "twice: ")
    assert not path.exists()


def test_vllm_ascend_plans_need_their_dense_layers_for_model_layer_formats(tmp_path):
    # Five model layers, 0 and 1 dense (trivial), as SGLang numbers them.
    phy2log = np.array([[0, 1, 2, 0], [0, 1, 2, 0], [2, 1, 0, 1], [0, 2, 1, 0], [1, 2, 0, 2]])
    sglang = tmp_path / "sglang.json"
    ascend = tmp_path / "expert_map.json"
    eplb.save_plan(phy2log, sglang, "sglang", num_gpus=2, dense_layers=[0, 1])
    eplb.save_plan(phy2log, ascend, "vllm-ascend", num_gpus=2, dense_layers=[0, 1])
    moe_only = eplb.load_plan(ascend)
    assert moe_only.moe_layers_only
    assert moe_only.phy2log.shape == (3, 4)
    back = tmp_path / "back.json"
    for format in ("sglang", "trtllm"):
        with pytest.raises(eplb.InvalidArgument) as info:
            eplb.save_plan(moe_only, back, format, num_gpus=2)
        assert str(info.value).startswith(
            f"write_plan: format {format} numbers the model's layers, but the plan's 3 rows are "
            "MoE layers only")
    with pytest.raises(eplb.InvalidArgument, match="names rows of a plan whose rows are MoE"):
        eplb.save_plan(moe_only, back, "sglang", num_gpus=2, dense_layers=[0, 1])
    # Told where the dense layers go, the round trip gives the same file back.
    eplb.save_plan(eplb.load_plan(ascend, dense_layers=[0, 1]), back, "sglang", num_gpus=2)
    assert back.read_text() == sglang.read_text()
    # () says the model has none: the rows are its layers.
    assert not eplb.load_plan(ascend, dense_layers=()).moe_layers_only
    eplb.save_plan(moe_only, back, "sglang", num_gpus=2, dense_layers=())
    # The eplb format records that the rows are MoE layers only.
    eplb.save_plan(moe_only, tmp_path / "plan.json", num_gpus=2)
    assert eplb.load_plan(tmp_path / "plan.json").moe_layers_only
    # A MoE layer named dense is refused.
    with pytest.raises(eplb.InvalidArgument, match="names layer 2 of .*, a MoE layer"):
        eplb.load_plan(sglang, num_gpus=2, dense_layers=[0, 1, 2])
