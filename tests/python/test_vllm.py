"""eplb.vllm: EplbPolicy under vLLM's current and older policy contracts, its settings, the
re-plan from the current map, and the vllm.general_plugins entry point."""

import abc
import importlib.metadata
import importlib.util
import logging
import os
import subprocess
import sys
import types

import numpy as np
import pytest

import eplb
import eplb.vllm
from conftest import DEEPSEEK_V3, deepseek_v3_loads

torch = pytest.importorskip("torch")

SIZES = tuple(DEEPSEEK_V3.values())  # 288 slots, 8 groups, 4 nodes, 32 GPUs
ENV = ("EPLB_VLLM_POLICY", "EPLB_VLLM_EFFORT", "EPLB_VLLM_TOLERANCE", "EPLB_VLLM_REPAIR_ROUNDS")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


class CurrentBase(abc.ABC):
    """vLLM 0.34's AbstractEplbPolicy, as declared there."""

    @classmethod
    @abc.abstractmethod
    def rebalance_experts(cls, weight, num_replicas, num_groups, num_nodes, num_ranks,
                          old_global_expert_indices=None):
        raise NotImplementedError


class OlderBase(abc.ABC):
    """vLLM's earlier AbstractEplbPolicy: five arguments, three tensors back."""

    @classmethod
    @abc.abstractmethod
    def rebalance_experts(cls, weight, num_replicas, num_groups, num_nodes, num_ranks):
        raise NotImplementedError


def policy_class(base=CurrentBase, **settings):
    return type("Configured", (eplb.vllm.make_policy_class(base),), settings)


def drifted_loads(seed, num_layers=8):
    """A window of DeepSeek-V3-shaped loads and the next, drifted, one."""
    first = deepseek_v3_loads(seed, num_layers=num_layers)
    rng = np.random.default_rng(seed + 1000)
    second = np.round(first * rng.lognormal(0.0, 0.5, size=first.shape))
    return torch.from_numpy(first), torch.from_numpy(second)


def test_current_contract_returns_phy2log_only_on_the_cpu():
    policy = policy_class()
    assert issubclass(policy, CurrentBase) and policy.contract == "phy2log"
    weight = torch.from_numpy(deepseek_v3_loads(1, num_layers=4)).to(torch.bfloat16)
    phy2log = policy.rebalance_experts(weight, *SIZES)
    assert isinstance(phy2log, torch.Tensor) and phy2log.dtype == torch.int64
    assert phy2log.device.type == "cpu" and phy2log.shape == (4, 288)
    eplb.validate(*eplb.plan_from_phy2log(phy2log, 256), *SIZES)
    expected = eplb.rebalance_experts(weight, *SIZES, policy="balanced")[0]
    assert torch.equal(phy2log, expected)


def test_older_contract_returns_three_tensors():
    policy = policy_class(OlderBase, policy="global")
    assert issubclass(policy, OlderBase) and policy.contract == "phy2log, log2phy, logcnt"
    weight = torch.from_numpy(deepseek_v3_loads(2, num_layers=3))
    phy2log, log2phy, logcnt = policy.rebalance_experts(weight, *SIZES)
    eplb.validate(phy2log, log2phy, logcnt, *SIZES)
    for actual, wanted in zip((phy2log, log2phy, logcnt),
                              eplb.rebalance_experts(weight, *SIZES, policy="global")):
        assert torch.equal(actual, wanted)


def test_without_vllm_the_module_policy_follows_the_current_contract():
    if "vllm" not in sys.modules and importlib.util.find_spec("vllm") is None:
        assert eplb.vllm.EplbPolicy.__bases__ == (eplb.vllm._EplbPolicyMixin,)
    assert eplb.vllm.EplbPolicy.contract == "phy2log"


def test_deepseek_keeps_deepseeks_plan(readme_case):
    policy = policy_class(policy="deepseek")
    sizes = [readme_case[key] for key in ("num_replicas", "num_groups", "num_nodes", "num_gpus")]
    phy2log = policy.rebalance_experts(torch.tensor(readme_case["weight"]), *sizes)
    np.testing.assert_array_equal(phy2log.numpy(), readme_case["phy2log"])


def test_groups_not_divisible_by_nodes_plan_globally_as_vllm_does():
    weight = torch.tensor([[10, 20, 30, 40, 50, 60]])
    phy2log = policy_class(policy="deepseek").rebalance_experts(weight, 8, 3, 2, 4)
    wanted = eplb.rebalance_experts(weight, 8, 1, 1, 4, policy="deepseek")[0]
    assert torch.equal(phy2log, wanted)


def test_bad_sizes_raise_an_error_that_is_also_an_assertion_error():
    weight = torch.tensor([[10, 20, 30, 40]])
    with pytest.raises(AssertionError, match="num_replicas"):
        policy_class().rebalance_experts(weight, 7, 2, 2, 4)
    with pytest.raises(eplb.InvalidArgument):
        policy_class().rebalance_experts(weight, 7, 2, 2, 4)


def test_class_attributes_override_the_environment(monkeypatch):
    monkeypatch.setenv("EPLB_VLLM_POLICY", "global")
    monkeypatch.setenv("EPLB_VLLM_EFFORT", "3")
    monkeypatch.setenv("EPLB_VLLM_TOLERANCE", "0.02")
    monkeypatch.setenv("EPLB_VLLM_REPAIR_ROUNDS", "5")
    assert policy_class().settings() == eplb.vllm.Settings("global", 3, 0.02, 5)
    assert policy_class(policy="deepseek", effort=2, tolerance="fresh",
                        repair_rounds=0).settings() == eplb.vllm.Settings("deepseek", 2, None, 0)
    monkeypatch.setenv("EPLB_VLLM_TOLERANCE", "fresh")
    assert policy_class().settings().tolerance is None
    for name in ENV:
        monkeypatch.delenv(name)
    assert policy_class().settings() == eplb.vllm.Settings("balanced", 1, 0.005, 40)


@pytest.mark.parametrize("variable, value", [
    ("EPLB_VLLM_POLICY", "fastest"), ("EPLB_VLLM_EFFORT", "0"), ("EPLB_VLLM_EFFORT", "2.5"),
    ("EPLB_VLLM_TOLERANCE", "-0.1"), ("EPLB_VLLM_TOLERANCE", "nan"),
    ("EPLB_VLLM_TOLERANCE", "tight"), ("EPLB_VLLM_REPAIR_ROUNDS", "many")])
def test_bad_environment_values_name_the_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(eplb.InvalidArgument, match=f"{variable} = '{value}'"):
        policy_class().settings()
    with pytest.raises(eplb.InvalidArgument, match=variable):
        policy_class().rebalance_experts(torch.ones(1, 8), 8, 1, 1, 2)


def test_bad_class_attributes_name_the_attribute():
    with pytest.raises(eplb.InvalidArgument, match="EplbPolicy.effort = 5000"):
        policy_class(effort=5000).settings()
    with pytest.raises(eplb.InvalidArgument, match="EplbPolicy.policy = 'fast'"):
        policy_class(policy="fast").settings()


def gpu_sets(phy2log, num_gpus):
    rows = np.asarray(phy2log).reshape(phy2log.shape[0], num_gpus, -1)
    return rows


def assert_staying_experts_keep_their_slots(old, new, num_gpus):
    for old_layer, new_layer in zip(gpu_sets(old, num_gpus), gpu_sets(new, num_gpus)):
        for old_gpu, new_gpu in zip(old_layer, new_layer):
            for slot, expert in enumerate(old_gpu):
                if expert in set(new_gpu.tolist()) and \
                        list(old_gpu[:slot + 1]).count(expert) <= list(new_gpu).count(expert):
                    assert new_gpu[slot] == expert


@pytest.mark.parametrize("policy", ["balanced", "global", "deepseek"])
def test_with_the_current_map_few_slots_move_and_staying_experts_keep_their_slot(policy):
    first, second = drifted_loads(5)
    configured = policy_class(policy=policy)
    old = configured.rebalance_experts(first, *SIZES)
    fresh = configured.rebalance_experts(second, *SIZES)
    new = configured.rebalance_experts(second, *SIZES, old)
    eplb.validate(*eplb.plan_from_phy2log(new, 256), *SIZES)
    assert_staying_experts_keep_their_slots(old.numpy(), new.numpy(), 32)
    moved = int((new != old).sum())
    assert moved < int((fresh != old).sum())
    assert configured.last_report["moved_slots"] == moved
    fresh_heaviest = eplb.evaluate(fresh, second, 32).max_gpu_load
    heaviest = eplb.evaluate(new, second, 32).max_gpu_load
    if policy == "deepseek":
        # DeepSeek's GPU contents, reordered within each GPU only.
        np.testing.assert_array_equal(heaviest, fresh_heaviest)
        np.testing.assert_array_equal(np.sort(new.view(8, 32, 9).numpy(), axis=-1),
                                      np.sort(fresh.view(8, 32, 9).numpy(), axis=-1))
    else:
        assert sum(heaviest) <= sum(fresh_heaviest) * (1 + 0.005) * (1 + 1e-9)
        assert moved < 0.5 * int((fresh != old).sum())


def test_fresh_tolerance_keeps_the_fresh_plans_gpus():
    first, second = drifted_loads(6, num_layers=3)
    configured = policy_class(tolerance="fresh")
    old = configured.rebalance_experts(first, *SIZES)
    fresh = configured.rebalance_experts(second, *SIZES)
    new = configured.rebalance_experts(second, *SIZES, old)
    np.testing.assert_array_equal(np.sort(new.view(3, 32, 9).numpy(), axis=-1),
                                  np.sort(fresh.view(3, 32, 9).numpy(), axis=-1))
    assert_staying_experts_keep_their_slots(old.numpy(), new.numpy(), 32)
    assert int((new != old).sum()) <= int((fresh != old).sum())


def test_a_current_map_of_another_shape_plans_from_scratch(caplog):
    weight = torch.from_numpy(deepseek_v3_loads(7, num_layers=2))
    old = torch.zeros(2, 256, dtype=torch.int64)
    with caplog.at_level(logging.WARNING, logger="vllm.eplb"):
        phy2log = policy_class().rebalance_experts(weight, *SIZES, old)
    assert torch.equal(phy2log, policy_class().rebalance_experts(weight, *SIZES))
    assert "planning from scratch" in caplog.text


def test_a_current_map_against_eplbs_rules_still_gives_a_valid_plan():
    # vLLM's first map (slot s holds expert s % 256) and one with two replicas on one GPU.
    weight = torch.from_numpy(deepseek_v3_loads(8, num_layers=2))
    trivial = (torch.arange(288) % 256).repeat(2, 1)
    doubled = trivial.clone()
    doubled[:, 1] = doubled[:, 0]
    doubled[:, 256] = 1
    for old in (trivial, doubled):
        new = policy_class().rebalance_experts(weight, *SIZES, old)
        eplb.validate(*eplb.plan_from_phy2log(new, 256), *SIZES)
        assert_staying_experts_keep_their_slots(old.numpy(), new.numpy(), 32)


def test_the_move_count_is_logged(caplog):
    first, second = drifted_loads(9, num_layers=2)
    old = policy_class().rebalance_experts(first, *SIZES)
    with caplog.at_level(logging.INFO, logger="vllm.eplb"):
        new = policy_class().rebalance_experts(second, *SIZES, old)
    moved = int((new != old).sum())
    assert f"eplb: {moved} of 576 slots change expert" in caplog.text


def test_preserve_intragpu_slots_has_vllms_meaning():
    # vLLM's "simple" case: GPU 0 keeps 0 and 1 in their slots; incoming 5 and 4 fill in order.
    post = eplb.vllm.EplbPolicy.preserve_intragpu_slots(
        np.array([[1, 5, 0, 4, 6, 2, 7, 3]]), 2, np.array([[0, 1, 2, 3, 4, 5, 6, 7]]))
    np.testing.assert_array_equal(post, [[0, 1, 5, 4, 2, 3, 6, 7]])
    unchanged = np.array([[1, 0, 2]])
    assert eplb.vllm.EplbPolicy.preserve_intragpu_slots(unchanged, 2, unchanged) is unchanged


def test_keep_gpu_slots_rejects_bad_input():
    with pytest.raises(eplb.InvalidArgument, match="differ in shape"):
        eplb._eplb.keep_gpu_slots(np.zeros((1, 4), np.int64), np.zeros((2, 4), np.int64), 4, 2)
    with pytest.raises(eplb.InvalidArgument, match="phy2log"):
        eplb._eplb.keep_gpu_slots(np.full((1, 4), 9, np.int64), np.zeros((1, 4), np.int64), 4, 2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_weights_give_the_cpu_plan_on_the_cpu():
    first, second = drifted_loads(10, num_layers=2)
    old = policy_class().rebalance_experts(first, *SIZES)
    on_cpu = policy_class().rebalance_experts(second, *SIZES, old)
    on_cuda = policy_class().rebalance_experts(second.cuda(), *SIZES, old.cuda())
    assert on_cuda.device.type == "cpu" and torch.equal(on_cuda, on_cpu)


def fake_vllm(monkeypatch):
    """A stand-in for vLLM's policy table (vllm.distributed.eplb.policy.EPLB_POLICIES)."""
    names = ["vllm", "vllm.distributed", "vllm.distributed.eplb", "vllm.distributed.eplb.policy"]
    fakes = {name: types.ModuleType(name) for name in names}
    fakes["vllm.distributed.eplb.policy"].EPLB_POLICIES = {"default": object}
    for parent, child in zip(names, names[1:]):
        setattr(fakes[parent], child.rsplit(".", 1)[1], fakes[child])
    for name, module in fakes.items():
        monkeypatch.setitem(sys.modules, name, module)
    return fakes["vllm.distributed.eplb.policy"].EPLB_POLICIES


def test_plugin_does_nothing_without_the_variable(monkeypatch):
    table = fake_vllm(monkeypatch)
    eplb.vllm.register_plugin()
    assert table == {"default": object}


def test_loading_the_plugin_imports_nothing_of_vllm(tmp_path):
    # vLLM imports the entry point's module in every process; without EPLB_VLLM_POLICY nothing
    # of vLLM's policy code may run (here it would raise).
    policy = tmp_path / "vllm" / "distributed" / "eplb" / "policy"
    policy.mkdir(parents=True)
    for folder in (policy, *policy.parents[:3]):
        (folder / "__init__.py").write_text("")
    (policy / "__init__.py").write_text("raise RuntimeError('vLLM policy imported')\n")
    script = ("import sys, eplb.vllm; eplb.vllm.register_plugin(); "
              "assert 'vllm.distributed.eplb.policy' not in sys.modules; print('ok')")
    env = {key: value for key, value in os.environ.items() if key not in ENV}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path)] + [p for p in sys.path if p])
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_plugin_installs_the_policy_as_default(monkeypatch, caplog):
    table = fake_vllm(monkeypatch)
    monkeypatch.setenv("EPLB_VLLM_POLICY", "global")
    with caplog.at_level(logging.INFO, logger="vllm.eplb"):
        eplb.vllm.register_plugin()
    assert table["default"] is eplb.vllm.EplbPolicy
    assert "EPLB policy 'default' is eplb" in caplog.text
    assert eplb.vllm.EplbPolicy.settings().policy == "global"


def test_plugin_refuses_a_bad_setting_before_vllm_starts(monkeypatch):
    table = fake_vllm(monkeypatch)
    monkeypatch.setenv("EPLB_VLLM_POLICY", "balanced")
    monkeypatch.setenv("EPLB_VLLM_TOLERANCE", "-1")
    with pytest.raises(eplb.InvalidArgument, match="EPLB_VLLM_TOLERANCE"):
        eplb.vllm.register_plugin()
    assert table == {"default": object}


def test_the_plugin_is_a_vllm_general_plugin_entry_point():
    points = importlib.metadata.entry_points()
    group = points.select(group="vllm.general_plugins") if hasattr(points, "select") \
        else points.get("vllm.general_plugins", [])
    found = {point.name: point.value for point in group}
    assert found.get("eplb") == "eplb.vllm:register_plugin"
    assert next(p for p in group if p.name == "eplb").load() is eplb.vllm.register_plugin
