"""eplb.sglang without SGLang: its argument checks, the eplb policies it offers, and install()
into a stand-in for SGLang's planner module (the same in a process SGLang spawns)."""

import enum
import os
import runpy
import sys
import types

import numpy as np
import pytest

import eplb
import eplb.sglang

SGLANG_MODULE = "sglang.srt.eplb.eplb_algorithms"


def tokens(seed=0, steps=3, layers=4, experts=64):
    return np.random.default_rng(seed).poisson(20.0, size=(steps, layers, experts))


def test_deepseek_is_deepseeks_plan_over_all_gpus_as_one_node():
    counts = tokens(1)
    phy2log, log2phy, logcnt = eplb.sglang.rebalance_experts(counts, 80, 10, 8, 2, "deepseek")
    wanted = eplb.rebalance_experts(counts.sum(0).astype(np.float32), 80, 1, 1, 8,
                                    policy="deepseek")
    for got, expected in zip((phy2log, log2phy, logcnt), wanted):
        np.testing.assert_array_equal(got, expected)


def test_hierarchical_and_eplbs_policies_keep_groups_and_nodes():
    counts = tokens(2)
    for algorithm, policy in (("deepseek_hierarchical", "deepseek"), ("balanced", "balanced"),
                              ("global", "global")):
        got = eplb.sglang.rebalance_experts(counts, 80, 10, 8, 2, algorithm)
        wanted = eplb.rebalance_experts(counts.sum(0).astype(np.float32), 80, 8, 2, 8,
                                        policy=policy)
        for actual, expected in zip(got, wanted):
            np.testing.assert_array_equal(actual, expected)


def test_auto_and_enum_members_are_read_as_sglang_does():
    members = enum.Enum("EplbAlgorithm", ["deepseek", "deepseek_hierarchical"])
    counts = tokens(3)
    hierarchical = eplb.sglang.rebalance_experts(counts, 80, 10, 8, 2, "auto")
    np.testing.assert_array_equal(
        hierarchical[0],
        eplb.sglang.rebalance_experts(counts, 80, 10, 8, 2, members.deepseek_hierarchical)[0])
    # Groups not divisible by the nodes, or none: "auto" is the flat deepseek.
    for groups in (None, 3):
        flat = eplb.sglang.rebalance_experts(counts, 80, 10, groups, 2, "auto")
        np.testing.assert_array_equal(
            flat[0], eplb.sglang.rebalance_experts(counts, 80, 10, 8, 2, members.deepseek)[0])


@pytest.mark.parametrize("arguments, message", [
    ((tokens(0)[0], 80, 10, 8, 2, "deepseek"), r"tokens_per_expert.shape = \(4, 64\) must be 3-D"),
    ((tokens(0), 80, 0, 8, 2, "deepseek"), "num_local_physical_experts = 0"),
    ((tokens(0), 80, 7, 8, 2, "deepseek"), "num_local_physical_experts = 7"),
    ((tokens(0), 80, 10, 8, 2, "elasticity_aware"), "algorithm = 'elasticity_aware'"),
    ((tokens(0), 80, 10, None, 2, "deepseek_hierarchical"), "needs num_groups"),
])
def test_bad_arguments_name_the_argument(arguments, message):
    with pytest.raises(eplb.InvalidArgument, match=message):
        eplb.sglang.rebalance_experts(*arguments)


def test_torch_input_on_any_device_gives_cpu_int64_tensors():
    torch = pytest.importorskip("torch")
    counts = torch.from_numpy(tokens(4))
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    cpu_plan = eplb.sglang.rebalance_experts(counts, 80, 10, 8, 2, "deepseek_hierarchical")
    for device in devices:
        plan = eplb.sglang.rebalance_experts(counts.to(device), 80, 10, 8, 2,
                                             "deepseek_hierarchical")
        for got, expected in zip(plan, cpu_plan):
            assert got.device.type == "cpu" and got.dtype == torch.int64
            assert torch.equal(got, expected)


@pytest.fixture
def fake_sglang(monkeypatch):
    """A stand-in for SGLang's planner module, recording the calls its own planner gets."""
    calls = []
    module = types.ModuleType(SGLANG_MODULE)

    def sglang_planner(*arguments):
        calls.append(arguments[-1])
        return "sglang's plan"

    module.rebalance_experts = sglang_planner
    for name in ("sglang", "sglang.srt", "sglang.srt.eplb"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, SGLANG_MODULE, module)
    monkeypatch.delenv("EPLB_SGLANG_POLICY", raising=False)
    yield module, calls
    eplb.sglang.uninstall()


def test_install_plans_deepseek_requests_with_eplb(fake_sglang, monkeypatch):
    module, calls = fake_sglang
    monkeypatch.setenv("EPLB_SGLANG_POLICY", "global")
    installed = eplb.sglang.install()
    assert module.rebalance_experts is installed and installed.eplb_policy == "global"
    counts = tokens(5)
    plan = module.rebalance_experts(counts, 80, 10, 8, 2, "deepseek_hierarchical")
    np.testing.assert_array_equal(plan[0], eplb.sglang.rebalance_experts(
        counts, 80, 10, 8, 2, "global")[0])
    assert module.rebalance_experts(counts, 80, 10, 8, 2, "elasticity_aware") == "sglang's plan"
    assert calls == ["elasticity_aware"]
    eplb.sglang.uninstall()
    assert module.rebalance_experts(counts, 80, 10, 8, 2, "deepseek") == "sglang's plan"


def test_install_refuses_an_unknown_policy(fake_sglang, monkeypatch):
    module, _ = fake_sglang
    before = module.rebalance_experts
    monkeypatch.setenv("EPLB_SGLANG_POLICY", "fast")
    with pytest.raises(eplb.InvalidArgument, match="EPLB_SGLANG_POLICY = 'fast'"):
        eplb.sglang.install()
    with pytest.raises(eplb.InvalidArgument, match="policy = 'fast'"):
        eplb.sglang.install("fast")
    assert module.rebalance_experts is before


@pytest.mark.filterwarnings("ignore:'eplb.sglang' found in sys.modules:RuntimeWarning")
def test_a_process_sglang_spawns_installs_eplb_too(fake_sglang, monkeypatch):
    # Under `python -m eplb.sglang`, SGLang's spawned processes import this module as
    # __mp_main__ with the launcher's environment.
    module, _ = fake_sglang
    monkeypatch.setenv("EPLB_SGLANG_POLICY", "balanced")
    runpy.run_module("eplb.sglang", run_name="__mp_main__")
    assert getattr(module.rebalance_experts, "eplb_policy", None) == "balanced"


def test_install_without_sglang_is_an_import_error(monkeypatch):
    monkeypatch.setitem(sys.modules, SGLANG_MODULE, None)
    with pytest.raises(ImportError):
        eplb.sglang.install("balanced")


def test_the_launcher_installs_eplb_then_runs_sglangs_server(fake_sglang, monkeypatch):
    module, _ = fake_sglang
    ran = []
    launch = types.ModuleType("sglang.launch_server")
    launch.run_server = lambda server_args: ran.append(
        (server_args, getattr(module.rebalance_experts, "eplb_policy", None)))
    server_args = types.ModuleType("sglang.srt.server_args")
    server_args.prepare_server_args = lambda argv: ("parsed", tuple(argv))
    utils = types.ModuleType("sglang.srt.utils")
    utils.kill_process_tree = lambda pid, include_parent: ran.append(("killed", include_parent))
    for module_name, fake in (("sglang.launch_server", launch),
                              ("sglang.srt.server_args", server_args),
                              ("sglang.srt.utils", utils)):
        monkeypatch.setitem(sys.modules, module_name, fake)
    monkeypatch.setenv("EPLB_SGLANG_POLICY", "")
    eplb.sglang.main(["--policy", "global", "--", "--model-path", "m", "--enable-eplb"])
    assert ran == [(("parsed", ("--model-path", "m", "--enable-eplb")), "global"),
                   ("killed", False)]
    # Spawned processes inherit the policy through the environment.
    assert os.environ["EPLB_SGLANG_POLICY"] == "global"
