"""vLLM's own policy tests (tests/distributed/test_eplb_algo.py of the vllm 0.34.0 sdist, read
from PyPI at test time) pass against eplb.vllm.EplbPolicy.

The file runs in a subprocess against a small stand-in for the vllm package: its
`DefaultEplbPolicy` is EplbPolicy built on vLLM's real `AbstractEplbPolicy` (policy/abstract.py
of the same sdist), `compute_logical_maps` is eplb.plan_from_phy2log in torch tensors, and
`current_platform` reports no XPU. Skips when PyPI cannot be reached.
"""

import importlib.util
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import eplb
import eplb.vllm
import upstream
from conftest import deepseek_v3_loads

torch = pytest.importorskip("torch")

VLLM_VERSION = "0.34.0"
TEST_FILE = "tests/distributed/test_eplb_algo.py"
ABSTRACT = "vllm/distributed/eplb/policy/abstract.py"
DEFAULT = "vllm/distributed/eplb/policy/default.py"
# Tests of vLLM internals, not of a policy: the load statistics reduction and vLLM's own
# compute_logical_maps (here it would test the stand-in).
INTERNAL_TESTS = ("test_eplb_load_stats_reduce_across_ranks",
                  "test_compute_logical_maps_with_negative_indices")
# Tests of DeepSeek's plans rather than of the contract, skipped for eplb's own policies:
# test_basic_rebalance asserts DeepSeek's exact plan of its README example; under "balanced"'s
# strict hierarchy (no two replicas of an expert on one GPU) the dominant expert of
# test_extreme_weight_imbalance gets one replica per GPU of its node, 2, as many as expert 1
# (the spare slots cannot lower the heaviest GPU, 500, either way).
DEEPSEEK_PLAN_TESTS = {
    "deepseek": (),
    "global": ("test_basic_rebalance",),
    "balanced": ("test_basic_rebalance", "test_extreme_weight_imbalance"),
}

SHIM = {
    "vllm/__init__.py": "",
    "vllm/distributed/__init__.py": "",
    "vllm/distributed/eplb/__init__.py": "",
    "vllm/platforms/__init__.py": '''
        class _Platform:
            def is_xpu(self):
                return False

            def is_rocm(self):
                return False

        current_platform = _Platform()
    ''',
    "vllm/distributed/eplb/eplb_state.py": '''
        import torch

        import eplb


        def compute_logical_maps(physical_to_logical_map, num_logical_experts):
            _, log2phy, logcnt = eplb.plan_from_phy2log(physical_to_logical_map,
                                                        num_logical_experts)
            return log2phy, logcnt


        def _compute_eplb_load_stats(num_tokens_per_rank):
            raise NotImplementedError("vLLM internal: not part of the stand-in")
    ''',
    "vllm/distributed/eplb/policy/__init__.py": '''
        from .abstract import AbstractEplbPolicy
        from .default import DefaultEplbPolicy

        EPLB_POLICIES = {"default": DefaultEplbPolicy}
    ''',
    "vllm/distributed/eplb/policy/default.py": '''
        import os

        import eplb.vllm

        from .abstract import AbstractEplbPolicy

        _Base = eplb.vllm.make_policy_class(AbstractEplbPolicy)
        assert issubclass(_Base, AbstractEplbPolicy) and _Base.contract == "phy2log"


        class DefaultEplbPolicy(_Base):
            policy = os.environ["EPLB_TEST_POLICY"]
    ''',
}


@pytest.fixture(scope="module")
def vllm_sources():
    folder = upstream.sdist_files("vllm", VLLM_VERSION, [TEST_FILE, ABSTRACT, DEFAULT])
    if folder is None:
        pytest.skip(f"vllm {VLLM_VERSION} sdist not reachable through pip")
    return folder


def make_shim(root: Path, sources: Path) -> None:
    for name, text in SHIM.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    (root / ABSTRACT).write_text((sources / ABSTRACT).read_text())


def run_vllm_tests(tmp_path, sources, policy, deselect):
    shim = tmp_path / "shim"
    make_shim(shim, sources)
    test_file = tmp_path / "test_eplb_algo.py"
    test_file.write_text((sources / TEST_FILE).read_text())
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rA",
               test_file.name]
    for name in deselect:
        command += ["--deselect", f"{test_file.name}::{name}"]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(shim)] + [p for p in sys.path if p]), EPLB_TEST_POLICY=policy)
    env.pop("EPLB_VLLM_POLICY", None)
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=600, check=False)
    counts = {kind: int(number) for number, kind in
              re.findall(r"(\d+) (passed|failed|skipped|deselected|error)", result.stdout)}
    return result, counts


@pytest.mark.parametrize("policy", ["deepseek", "balanced", "global"])
def test_vllm_policy_tests_pass(tmp_path, vllm_sources, policy):
    deselect = INTERNAL_TESTS + DEEPSEEK_PLAN_TESTS[policy]
    result, counts = run_vllm_tests(tmp_path, vllm_sources, policy, deselect)
    print(f"vLLM's test_eplb_algo.py under {policy}: {counts}")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    # 17 tests in the file: 2 internal, the CUDA and XPU device cases skip without a device
    # (CUDA runs where one is); under "deepseek" every other test passes.
    skipped = counts.get("skipped", 0)
    assert counts.get("deselected", 0) == len(deselect)
    assert counts.get("failed", 0) == 0 and counts.get("error", 0) == 0
    assert counts["passed"] + skipped + len(deselect) == 17, result.stdout[-2000:]
    assert skipped <= 2  # test_device_compatibility[cuda] and [xpu], without those devices
    assert "preserve_intragpu_slots" in result.stdout  # vLLM's slot tests ran against eplb


def test_the_stand_in_is_what_the_tests_import(tmp_path, vllm_sources):
    # Every module and name the vLLM test file imports from vllm is provided by the stand-in,
    # and nothing else of vLLM's is needed: a changed import list fails here first.
    text = (vllm_sources / TEST_FILE).read_text()
    imports = re.findall(r"^from (vllm[\w.]*) import", text, flags=re.M)
    assert sorted(set(imports)) == ["vllm.distributed.eplb.eplb_state",
                                    "vllm.distributed.eplb.policy.default", "vllm.platforms"]
    tests = re.findall(r"^def (test_\w+)", text, flags=re.M)
    assert set(INTERNAL_TESTS + DEEPSEEK_PLAN_TESTS["balanced"]) <= set(tests)


def vllm_default_policy(sources, monkeypatch):
    """vLLM's DefaultEplbPolicy, loaded from the sdist (it needs only NumPy, torch and its
    abstract base)."""
    package = "vllm_sdist_policy"
    folder = sources / "vllm/distributed/eplb/policy"
    spec = importlib.util.spec_from_file_location(package, folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    monkeypatch.setitem(sys.modules, package, importlib.util.module_from_spec(spec))
    for name in ("abstract", "default"):
        spec = importlib.util.spec_from_file_location(f"{package}.{name}", folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, f"{package}.{name}", module)
        spec.loader.exec_module(module)
    return sys.modules[f"{package}.default"].DefaultEplbPolicy


@pytest.mark.parametrize("seed", [0, 1])
def test_fewer_moves_than_vllms_default_on_drifted_deepseek_v3_loads(vllm_sources, monkeypatch,
                                                                     seed):
    # 8 layers x 256 experts, 288 slots, 8 groups, 4 nodes, 32 GPUs: 2,304 slots. Each policy
    # re-plans the drifted window from its own plan of the first window.
    default = vllm_default_policy(vllm_sources, monkeypatch)
    sizes = (288, 8, 4, 32)
    first = deepseek_v3_loads(seed, num_layers=8)
    second = np.round(first * np.random.default_rng(seed + 1000).lognormal(0, 0.3, first.shape))
    first, second = torch.from_numpy(first), torch.from_numpy(second)
    old = default.rebalance_experts(first, *sizes)
    new = default.rebalance_experts(second, *sizes, old)
    vllm_moved = int((new != old).sum())
    vllm_heaviest = sum(eplb.evaluate(new, second, 32).max_gpu_load)
    assert vllm_moved > 1500  # vLLM's default moves most slots on such a drift
    for policy in ("balanced", "global"):
        configured = type("Configured", (eplb.vllm.EplbPolicy,), {"policy": policy})
        own_old = configured.rebalance_experts(first, *sizes)
        own_new = configured.rebalance_experts(second, *sizes, own_old)
        moved = int((own_new != own_old).sum())
        heaviest = sum(eplb.evaluate(own_new, second, 32).max_gpu_load)
        print(f"seed {seed}: vLLM default {vllm_moved} slots moved; eplb {policy} {moved}")
        assert moved < vllm_moved / 3
        if policy == "global":  # no hierarchy: better balance as well
            assert heaviest < vllm_heaviest
        else:  # within the 0.5 % tolerance of a fresh plan, which is as good as vLLM's
            assert heaviest <= vllm_heaviest * 1.01
    # "deepseek" is vLLM's default in eplb: same GPU contents up to ties, same slot keeping.
    deepseek = type("Configured", (eplb.vllm.EplbPolicy,), {"policy": "deepseek"})
    ours = deepseek.rebalance_experts(second, *sizes, old)
    assert sum(eplb.evaluate(ours, second, 32).max_gpu_load) == pytest.approx(vllm_heaviest)


def test_slot_keeping_equals_vllms_preserve_intragpu_slots(vllm_sources, monkeypatch):
    default = vllm_default_policy(vllm_sources, monkeypatch)
    rng = np.random.default_rng(11)
    for _ in range(200):
        num_gpus = int(rng.integers(1, 6))
        slots = num_gpus * int(rng.integers(1, 6))
        num_experts = int(rng.integers(1, slots + 1))
        old = rng.integers(0, num_experts, size=(3, slots))
        new = rng.integers(0, num_experts, size=(3, slots))
        np.testing.assert_array_equal(
            eplb.vllm.EplbPolicy.preserve_intragpu_slots(new, num_gpus, old),
            default.preserve_intragpu_slots(new, num_gpus, old))


def test_deepseek_equals_vllms_default_on_loads_without_ties(vllm_sources, monkeypatch):
    # vLLM's NumPy port of DeepSeek's EPLB breaks ties its own way; without ties the plans agree.
    default = vllm_default_policy(vllm_sources, monkeypatch)
    deepseek = type("Configured", (eplb.vllm.EplbPolicy,), {"policy": "deepseek"})
    rng = np.random.default_rng(12)
    for _ in range(100):
        num_nodes = int(rng.choice([1, 2, 4]))
        num_groups = num_nodes * int(rng.choice([1, 2]))
        num_experts = num_groups * int(rng.integers(1, 5))
        num_gpus = num_nodes * int(rng.integers(1, 3))
        num_replicas = num_gpus * (-(-num_experts // num_gpus) + int(rng.integers(0, 3)))
        weight = torch.from_numpy(rng.random((2, num_experts)) * 100)
        sizes = (num_replicas, num_groups, num_nodes, num_gpus)
        assert torch.equal(deepseek.rebalance_experts(weight, *sizes),
                           default.rebalance_experts(weight, *sizes))
