"""save_plan() and load_plan() in every plan format, the load formats of read_loads() and
read_trace() (SGLang's recorder dumps among them), and their errors."""

import json
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import eplb
from conftest import DATA_DIR, DEEPSEEK_V3, deepseek_v3_loads

SERVERS = DATA_DIR / "servers"
WORKLOADS = Path(__file__).resolve().parents[3] / "shared" / "workloads"
SGLANG_PREFILL = WORKLOADS / "sglang-deepseek-v3-ep-stats" / "prefill_in1024.json"
# DeepSeek-V3's three dense layers, and the file name ending of each plan format.
DENSE = [0, 1, 2]
SUFFIX = {"eplb": ".json", "sglang": ".json", "trtllm": ".yaml", "vllm-ascend": ".json",
          "torch": ".pt"}
# What load_plan needs beyond the file: formats that do not record the GPU count or the dense
# layers are given them.
READ_OPTIONS = {
    "eplb": {},
    "sglang": {"num_gpus": 32, "dense_layers": DENSE},
    "trtllm": {"num_gpus": 32},
    "vllm-ascend": {"dense_layers": DENSE},
    "torch": {"num_gpus": 32, "dense_layers": DENSE},
}


def deepseek_v3_plan(policy="balanced"):
    """Returns a plan of 61 rows whose rows 0 to 2 (dense) hold the trivial placement."""
    moe_plan = eplb.rebalance_experts(deepseek_v3_loads(), **DEEPSEEK_V3, policy=policy)
    return eplb.insert_dense_layers(moe_plan, DENSE)


def assert_plans_equal(actual, expected):
    assert len(actual) == 3
    for a, e in zip(actual, expected):
        assert a.dtype == np.int64 and a.flags.c_contiguous
        np.testing.assert_array_equal(a, e)


def sglang_dump(path, logical_count):
    """Writes what SGLang's expert distribution recorder dumps in stat mode."""
    import torch  # the caller has it

    torch.save({"rank": 0, "logical_count": logical_count,
                "average_utilization_rate_over_window": None}, path)


@pytest.mark.parametrize("format", SUFFIX)
def test_plan_round_trips_through_every_format(tmp_path, format):
    if format == "torch":
        pytest.importorskip("torch")
    plan = deepseek_v3_plan()
    path = tmp_path / f"plan{SUFFIX[format]}"
    eplb.save_plan(plan, path, format, num_groups=8, num_nodes=4, num_gpus=32,
                   dense_layers=DENSE, policy="balanced")
    loaded = eplb.load_plan(path, **READ_OPTIONS[format])
    assert_plans_equal(loaded, plan)
    assert loaded.dense_layers == (0, 1, 2)
    assert (loaded.num_replicas, loaded.num_gpus) == (288, 32)
    # Only eplb's own format records groups, nodes and the policy.
    recorded = format == "eplb"
    assert (loaded.num_groups, loaded.num_nodes) == ((8, 4) if recorded else (1, 1))
    assert loaded.policy == ("balanced" if recorded else "")


@pytest.mark.parametrize("format", ["sglang", "trtllm", "vllm-ascend"])
def test_formats_of_phy2log_list_each_experts_slots_in_increasing_order(tmp_path, format):
    # DeepSeek's log2phy lists replicas in its own order; a file holding phy2log only cannot keep
    # it, so the plan comes back as plan_from_phy2log builds it.
    plan = eplb.rebalance_experts(deepseek_v3_loads(), **DEEPSEEK_V3, policy="deepseek")
    path = tmp_path / f"plan{SUFFIX[format]}"
    if format == "vllm-ascend":
        # deepseek puts two replicas of an expert on one GPU, which vllm-ascend misroutes.
        with pytest.raises(eplb.InvalidArgument, match="vllm-ascend addresses one slot per"):
            eplb.save_plan(plan, path, format, num_gpus=32)
        assert not path.exists()
        return
    eplb.save_plan(plan, path, format, num_gpus=32)
    loaded = eplb.load_plan(path, num_gpus=32)
    assert_plans_equal(loaded, eplb.plan_from_phy2log(plan[0], 256))
    np.testing.assert_array_equal(loaded.logcnt, plan[2])


def test_save_plan_takes_torch_tensors_and_phy2log_alone(tmp_path):
    torch = pytest.importorskip("torch")
    plan = deepseek_v3_plan()
    tensors = tuple(torch.from_numpy(array) for array in plan)
    eplb.save_plan(tensors, tmp_path / "tensors.json", num_gpus=32, dense_layers=range(3))
    eplb.save_plan(tensors[0], tmp_path / "phy2log.json", num_gpus=32)
    eplb.save_plan(plan[0].tolist(), tmp_path / "list.json", num_gpus=32)
    for name in ("tensors.json", "phy2log.json", "list.json"):
        assert_plans_equal(eplb.load_plan(tmp_path / name), plan)


def test_torch_format_saves_deepseeks_three_tensors(tmp_path):
    torch = pytest.importorskip("torch")
    plan = deepseek_v3_plan()
    path = tmp_path / "plan.pt"
    eplb.save_plan(plan, path, "torch", num_gpus=32)
    saved = torch.load(path, weights_only=True)
    assert sorted(saved) == ["log2phy", "logcnt", "phy2log"]
    for key, array in zip(("phy2log", "log2phy", "logcnt"), plan):
        assert saved[key].dtype == torch.int64
        np.testing.assert_array_equal(saved[key].numpy(), array)
    assert not (tmp_path / "plan.pt.tmp").exists()


def test_load_plan_returns_a_tuple_with_the_files_topology(tmp_path):
    plan = deepseek_v3_plan()
    path = tmp_path / "plan.json"
    eplb.save_plan(plan, path, num_groups=8, num_nodes=4, num_gpus=32, dense_layers=DENSE,
                   policy="deepseek")
    loaded = eplb.load_plan(str(path))
    phy2log, log2phy, logcnt = loaded
    assert isinstance(loaded, tuple) and isinstance(loaded, eplb.PlanFile)
    assert loaded.phy2log is loaded[0] is phy2log
    assert loaded.log2phy is log2phy and loaded.logcnt is logcnt
    assert repr(loaded) == (
        "PlanFile(num_layers=61, num_experts=256, num_replicas=288, num_groups=8, num_nodes=4, "
        "num_gpus=32, dense_layers=[0, 1, 2], policy='deepseek')")
    copy = pickle.loads(pickle.dumps(loaded))
    assert repr(copy) == repr(loaded)
    assert_plans_equal(copy, plan)
    # A plan file is what rebalance_experts returns, so it goes wherever that does.
    eplb.validate(*loaded, 288, 8, 4, 32)


def test_save_plan_writes_metrics_in_the_eplb_format(tmp_path):
    plan = eplb.rebalance_experts(deepseek_v3_loads(), **DEEPSEEK_V3)
    metrics = eplb.evaluate(plan[0], deepseek_v3_loads(), 32)
    path = tmp_path / "plan.json"
    eplb.save_plan(plan, path, num_groups=8, num_nodes=4, num_gpus=32, metrics=metrics)
    saved = json.loads(path.read_text())
    assert saved["metrics"]["gpu_balancedness"] == pytest.approx(metrics.gpu_balancedness)


def test_server_files_load_as_one_plan():
    sglang = eplb.load_plan(SERVERS / "sglang_init_expert_location.json", num_gpus=2,
                            dense_layers=range(3))
    trtllm = eplb.load_plan(SERVERS / "trtllm_generate_eplb_config.yaml", num_gpus=2)
    ascend = eplb.load_plan(SERVERS / "vllm_ascend_expert_map.json", dense_layers=range(3))
    for plan in (trtllm, ascend):
        assert_plans_equal(plan, sglang)
        assert plan.dense_layers == (0, 1, 2) and plan.num_gpus == 2


@pytest.mark.parametrize("format", ["trtllm", "vllm-ascend"])
def test_moe_only_formats_say_when_trivial_rows_become_moe_layers(tmp_path, format):
    plan = deepseek_v3_plan()
    path = tmp_path / f"plan{SUFFIX[format]}"
    with pytest.warns(UserWarning) as warned:
        eplb.save_plan(plan, path, format, **DEEPSEEK_V3)
    assert len(warned) == 1 and warned[0].filename == __file__
    assert str(warned[0].message) == (
        "save_plan: wrote every row of the plan as a MoE layer, but rows 0, 1, 2 hold the "
        "trivial placement of dense layers; if they are dense layers, pass dense_layers=[0, 1, 2] "
        f"so that the {format} file lists MoE layers only")
    # What it says it did: every row is in the file.
    assert_plans_equal(eplb.load_plan(path, num_gpus=32), plan)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        eplb.save_plan(plan, path, format, **DEEPSEEK_V3, dense_layers=DENSE)
        eplb.save_plan(plan, tmp_path / "plan.json", "sglang", **DEEPSEEK_V3)
        moe_rows = tuple(array[3:] for array in plan)
        eplb.save_plan(moe_rows, path, format, **DEEPSEEK_V3)


def test_insert_dense_layers_puts_trivial_rows_back():
    torch = pytest.importorskip("torch")
    moe_plan = eplb.rebalance_experts(deepseek_v3_loads(), **DEEPSEEK_V3)
    phy2log, _, logcnt = eplb.insert_dense_layers(moe_plan, DENSE)
    assert phy2log.shape == (61, 288) and logcnt.shape == (61, 256)
    np.testing.assert_array_equal(phy2log[1], np.arange(288) % 256)
    np.testing.assert_array_equal(phy2log[3:], moe_plan[0])
    tensors = eplb.insert_dense_layers(tuple(torch.from_numpy(a) for a in moe_plan), DENSE)
    assert isinstance(tensors[0], torch.Tensor)
    np.testing.assert_array_equal(tensors[0].numpy(), phy2log)
    with pytest.raises(eplb.InvalidArgument):
        eplb.insert_dense_layers(moe_plan, [2, 1])


def test_real_sglang_deepseek_v3_recording():
    if not SGLANG_PREFILL.exists():
        pytest.skip(f"{SGLANG_PREFILL} is not present")
    loads = eplb.read_loads(SGLANG_PREFILL)
    assert loads.shape == (61, 256)
    assert not loads[:3].any() and loads[3:].all()
    assert eplb.find_dense_layers(loads) == DENSE
    # 8,388,608 tokens routed to 8 experts each, in every MoE layer.
    np.testing.assert_array_equal(loads[3:].sum(axis=1), 67108864)
    np.testing.assert_array_equal(eplb.read_loads(SGLANG_PREFILL, format="sglang"), loads)


def test_sglang_recorder_dump_is_read_with_torch(tmp_path):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    steps = rng.integers(0, 100, size=(4, 5, 16))
    steps[:, 0] = 0  # a dense layer
    path = tmp_path / "expert_distribution_recorder_1750000000.0.pt"
    sglang_dump(path, torch.from_numpy(steps).to(torch.int32))
    trace = eplb.read_trace(path)
    assert trace.dtype == np.float64 and trace.flags.c_contiguous
    np.testing.assert_array_equal(trace, steps)
    np.testing.assert_array_equal(eplb.read_loads(path), steps.sum(axis=0))
    np.testing.assert_array_equal(eplb.read_loads(path, steps="1:3"), steps[1:3].sum(axis=0))
    np.testing.assert_array_equal(eplb.read_loads(path, format="sglang"), steps.sum(axis=0))
    assert eplb.find_dense_layers(eplb.read_loads(path)) == [0]
    # Any name, given the format; a 2-D count is one step.
    other = tmp_path / "counts.bin"
    sglang_dump(other, torch.from_numpy(steps[2]).to(torch.float32))
    np.testing.assert_array_equal(eplb.read_trace(other, format="torch"), steps[2:3])


def test_topk_jsonl_is_read_with_the_layer_count(tmp_path):
    path = tmp_path / "topk.jsonl"
    lines = [{"topk_ids": [[0, 1], [1, 2]]}, {"topk_ids": [[2, 3]]}] * 2  # 2 passes x 2 layers
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    trace = eplb.read_trace(path, num_layers=2)
    np.testing.assert_array_equal(trace[0], [[1, 2, 1, 0], [0, 0, 1, 1]])
    assert trace.shape == (2, 2, 4)
    assert eplb.read_loads(path, format="topk-jsonl", num_layers=2, num_experts=6).shape == (2, 6)
    with pytest.raises(eplb.InvalidArgument):
        eplb.read_loads(path)


def test_unknown_formats_are_value_errors(tmp_path):
    plan = deepseek_v3_plan()
    with pytest.raises(ValueError) as info:
        eplb.save_plan(plan, tmp_path / "plan.json", "yaml", num_gpus=32)
    assert str(info.value) == (
        'save_plan: format = "yaml" must be one of eplb, sglang, trtllm, vllm-ascend, torch')
    assert isinstance(info.value, eplb.InvalidArgument)
    with pytest.raises(eplb.InvalidArgument, match='save_plan: format = "auto" must be one of'):
        eplb.save_plan(plan, tmp_path / "plan.json", "auto", num_gpus=32)
    with pytest.raises(eplb.InvalidArgument) as info:
        eplb.load_plan(tmp_path / "plan.json", format="vllm")
    assert str(info.value) == ('load_plan: format = "vllm" must be one of auto, eplb, sglang, '
                               'trtllm, vllm-ascend, torch')
    with pytest.raises(eplb.InvalidArgument) as info:
        eplb.read_loads(tmp_path / "loads.json", format="xml")
    assert str(info.value) == (
        'read_loads: format = "xml" must be one of auto, vllm, json, csv, npy, sglang, counts, '
        'layer-jsonl, topk-jsonl, trtllm, torch')
    with pytest.raises(TypeError):
        eplb.load_plan(tmp_path / "plan.json", format=None)


def test_format_names_are_the_cores_and_torch():
    # The Python layer checks names itself (to list "torch" too); the core's lists must agree.
    for function, names in ((lambda: eplb._eplb.read_trace("x", "xml"), eplb._api.LOAD_FORMATS),
                            (lambda: eplb._eplb.read_plan("x", "xml"),
                             ("auto",) + eplb._plan_files.PLAN_FORMATS)):
        with pytest.raises(eplb.InvalidArgument) as info:
            function()
        core_names = str(info.value).split("must be one of ")[1].split(", ")
        assert core_names + ["torch"] == list(names)


@pytest.mark.parametrize("format, content, where", [
    ("sglang", '{"physical_to_logical_map": [[0, 1], [1, "x"]]}', "/physical_to_logical_map"),
    ("eplb", '{"format": "eplb-plan"', ""),
    ("trtllm", "num_slots: 2\ninitial_global_assignments:\n  3: [0, x]\n", "line 3"),
])
def test_malformed_plan_file_is_a_parse_error_naming_it(tmp_path, format, content, where):
    path = tmp_path / "bad_plan"
    path.write_text(content)
    with pytest.raises(eplb.ParseError) as info:
        eplb.load_plan(path, format, num_gpus=1)
    assert isinstance(info.value, ValueError)
    assert str(info.value).startswith(f"read_plan: {path}: ")
    assert where in str(info.value)


def test_malformed_torch_files_are_parse_errors_naming_them(tmp_path):
    torch = pytest.importorskip("torch")
    not_torch = tmp_path / "plan.pt"
    not_torch.write_text("{}")
    with pytest.raises(eplb.ParseError, match=f"^load_plan: {not_torch}: not a file torch.load"):
        eplb.load_plan(not_torch, num_gpus=2)
    with pytest.raises(eplb.ParseError, match=f"^read_loads: {not_torch}: not a file torch.load"):
        eplb.read_loads(not_torch)
    partial = tmp_path / "partial.pt"
    torch.save({"phy2log": torch.zeros(2, 2, dtype=torch.int64)}, partial)
    with pytest.raises(eplb.ParseError) as info:
        eplb.load_plan(partial, num_gpus=2)
    assert str(info.value) == f'load_plan: {partial}: missing key "log2phy"'
    with pytest.raises(eplb.ParseError) as info:
        eplb.read_loads(partial)
    assert str(info.value) == (
        f'read_loads: {partial}: expected a dict with "logical_count" or "records" (an SGLang '
        "expert distribution dump), found a dict with keys 'phy2log'")
    negative = tmp_path / "negative.pt"
    sglang_dump(negative, torch.tensor([[1.0, 2.0], [3.0, -4.0]]))
    with pytest.raises(eplb.ParseError) as info:
        eplb.read_loads(negative)
    assert str(info.value) == (
        f"read_loads: {negative}: logical_count[1][1]: value -4 must be finite and non-negative")
    flat = tmp_path / "flat.pt"
    sglang_dump(flat, torch.ones(7))
    with pytest.raises(eplb.ParseError, match=r"logical_count.shape = \[7\] must be"):
        eplb.read_trace(flat)


def test_missing_and_unwritable_files_are_io_errors(tmp_path):
    pytest.importorskip("torch")
    plan = deepseek_v3_plan()
    for format, suffix in SUFFIX.items():
        target = tmp_path / "missing_dir" / f"plan{suffix}"
        with pytest.raises(eplb.IoError) as info:
            eplb.save_plan(plan, target, format, num_gpus=32)
        assert isinstance(info.value, OSError) and str(target) in str(info.value)
        with pytest.raises(eplb.IoError, match="No such file or directory"):
            eplb.load_plan(target, num_gpus=32)
    with pytest.raises(eplb.IoError, match=f"^read_loads: {tmp_path / 'dump.pt'}: No such file"):
        eplb.read_loads(tmp_path / "dump.pt")


def test_plan_options_are_checked(tmp_path):
    pytest.importorskip("torch")
    plan = deepseek_v3_plan()
    path = tmp_path / "plan.json"
    eplb.save_plan(plan, path, "sglang", num_gpus=32)
    with pytest.raises(eplb.InvalidArgument) as info:
        eplb.load_plan(path)
    assert str(info.value) == (
        "read_plan: num_gpus = 0 must be given: a sglang plan does not record the number of GPUs")
    eplb.save_plan(plan, tmp_path / "plan.pt", "torch", num_gpus=32)
    with pytest.raises(eplb.InvalidArgument) as info:
        eplb.load_plan(tmp_path / "plan.pt")
    assert str(info.value) == (
        "load_plan: num_gpus = None must be given: a torch plan does not record the number of "
        "GPUs")
    with pytest.raises(eplb.InvalidArgument) as info:
        eplb.save_plan(plan, tmp_path / "plan.pt", "torch", num_gpus=32, dense_layers=[0, 61])
    assert str(info.value) == "save_plan: dense_layers[1] = 61 must be ascending and in [0, 61)"
    with pytest.raises(eplb.InvalidArgument) as info:
        eplb.save_plan(plan, path, num_gpus=7)
    assert str(info.value) == "Topology: num_replicas = 288 must be a multiple of num_gpus = 7"
    broken = (plan[0], plan[1], plan[2] + 1)
    with pytest.raises(eplb.InvalidArgument, match="^validate: "):
        eplb.save_plan(broken, path, num_gpus=32)
    with pytest.raises(TypeError):
        eplb.save_plan(plan, path)  # num_gpus is required
    with pytest.raises(TypeError):
        eplb.save_plan(plan, path, num_gpus=32, dense_layers="0:3")


def test_torch_is_needed_only_for_torch_files(tmp_path, monkeypatch):
    plan = deepseek_v3_plan()
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    eplb.save_plan(plan, tmp_path / "plan.json", "sglang", num_gpus=32)
    with pytest.raises(ImportError) as info:
        eplb.save_plan(plan, tmp_path / "plan.pt", "torch", num_gpus=32)
    assert str(info.value) == ('save_plan: format = "torch" needs PyTorch, which is not installed '
                               "(pip install torch)")
    with pytest.raises(ImportError, match="^read_loads: reading a .pt file needs PyTorch"):
        eplb.read_loads(tmp_path / "dump.pt")


def test_text_formats_do_not_import_torch(tmp_path):
    code = (
        "import sys, numpy as np, eplb\n"
        f"loads = eplb.read_loads({str(DATA_DIR / 'io' / 'vllm_trace.json')!r})\n"
        "plan = eplb.rebalance_experts(np.ones((2, 4)), 4, 1, 1, 2)\n"
        f"eplb.save_plan(plan, {str(tmp_path / 'plan.json')!r}, 'sglang', num_gpus=2)\n"
        f"eplb.load_plan({str(tmp_path / 'plan.json')!r}, num_gpus=2)\n"
        "assert 'torch' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)
