"""vLLM's own policy tests (tests/distributed/test_eplb_algo.py of the vllm 0.34.0 sdist, read
from PyPI at test time) pass against eplb.vllm.EplbPolicy.

The file runs in a subprocess against a small stand-in for the vllm package: its
`DefaultEplbPolicy` is EplbPolicy built on vLLM's real `AbstractEplbPolicy` (policy/abstract.py
of the same sdist), `compute_logical_maps` is eplb.plan_from_phy2log in torch tensors, and
`current_platform` reports no XPU. Skips when PyPI cannot be reached.
"""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import upstream

pytest.importorskip("torch")

VLLM_VERSION = "0.34.0"
TEST_FILE = "tests/distributed/test_eplb_algo.py"
ABSTRACT = "vllm/distributed/eplb/policy/abstract.py"
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
    folder = upstream.sdist_files("vllm", VLLM_VERSION, [TEST_FILE, ABSTRACT])
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
