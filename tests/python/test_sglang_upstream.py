"""eplb.sglang against SGLang's own planner: SGLang 0.5.10.post1's `eplb_algorithms` package
(its dispatcher and DeepSeek algorithms, from the sdist on PyPI, read at test time) loaded under
a stand-in for the rest of sglang. Skips when PyPI cannot be reached."""

import importlib.util
import sys
import types

import numpy as np
import pytest

import eplb
import eplb.sglang
import upstream

torch = pytest.importorskip("torch")

SGLANG_VERSION = "0.5.10.post1"
FOLDER = "sglang/srt/eplb/eplb_algorithms"
MEMBERS = [f"{FOLDER}/{name}.py" for name in
           ("__init__", "deepseek", "deepseek_vec", "elasticity_aware")]


class _ElasticEPStateManager:
    """What the dispatcher asks of SGLang's elastic EP state: no elastic EP running."""

    @staticmethod
    def instance():
        return None

    @staticmethod
    def healthy_rank_state():
        return None


@pytest.fixture(scope="module")
def sglang_sources():
    folder = upstream.sdist_files("sglang", SGLANG_VERSION, MEMBERS)
    if folder is None:
        pytest.skip(f"sglang {SGLANG_VERSION} sdist not reachable through pip")
    return folder


@pytest.fixture
def sglang_algorithms(sglang_sources, monkeypatch):
    """SGLang's `sglang.srt.eplb.eplb_algorithms`, real, with stand-ins for its parents."""
    for name in ("sglang", "sglang.srt", "sglang.srt.eplb", "sglang.srt.elastic_ep"):
        module = types.ModuleType(name)
        module.__path__ = []
        monkeypatch.setitem(sys.modules, name, module)
    elastic = types.ModuleType("sglang.srt.elastic_ep.elastic_ep")
    elastic.ElasticEPStateManager = _ElasticEPStateManager
    monkeypatch.setitem(sys.modules, "sglang.srt.elastic_ep.elastic_ep", elastic)
    name = "sglang.srt.eplb.eplb_algorithms"
    spec = importlib.util.spec_from_file_location(
        name, sglang_sources / FOLDER / "__init__.py",
        submodule_search_locations=[str(sglang_sources / FOLDER)])
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    for child in ("deepseek", "deepseek_vec", "elasticity_aware"):
        monkeypatch.delitem(sys.modules, f"{name}.{child}", raising=False)
    spec.loader.exec_module(module)
    sys.modules["sglang.srt.eplb"].eplb_algorithms = module
    yield module
    eplb.sglang.uninstall()


def random_case(rng):
    """A topology SGLang's DeepSeek algorithms take and `[steps, layers, experts]` counts, often
    tied (small counts, zeros, repeated rows)."""
    num_nodes = int(rng.choice([1, 2, 4]))
    num_groups = num_nodes * int(rng.choice([1, 2, 4]))
    num_experts = num_groups * int(rng.integers(1, 5))
    num_gpus = num_nodes * int(rng.integers(1, 4))
    slots_per_gpu = -(-num_experts // num_gpus) + int(rng.integers(0, 3))
    steps, layers = int(rng.integers(1, 5)), int(rng.integers(1, 4))
    kind = rng.integers(0, 3)
    if kind == 0:
        tokens = rng.integers(0, 4, size=(steps, layers, num_experts))
    elif kind == 1:
        tokens = rng.poisson(rng.gamma(0.5, 200.0, size=(1, layers, num_experts)),
                             size=(steps, layers, num_experts))
    else:
        tokens = np.repeat(rng.integers(0, 50, size=(steps, 1, num_experts)), layers, axis=1)
    return (torch.from_numpy(tokens), num_gpus * slots_per_gpu, slots_per_gpu, num_groups,
            num_nodes)


def test_deepseek_algorithms_equal_sglangs_on_300_random_cases(sglang_algorithms):
    rng = np.random.default_rng(2026)
    mismatches = []
    for case in range(300):
        tokens, num_physical, num_local, num_groups, num_nodes = random_case(rng)
        algorithm = sglang_algorithms.EplbAlgorithm[
            "deepseek_hierarchical" if case % 2 else "deepseek"]
        wanted = sglang_algorithms.rebalance_experts(
            tokens, num_physical, num_local, num_groups, num_nodes, algorithm)
        actual = eplb.sglang.rebalance_experts(
            tokens, num_physical, num_local, num_groups, num_nodes, algorithm)
        for name, got, expected in zip(("phy2log", "log2phy", "logcnt"), actual, wanted):
            assert got.dtype == torch.int64 and got.device.type == "cpu"
            if got.shape != expected.shape or not torch.equal(got, expected):
                mismatches.append((case, algorithm.name, name))
    assert mismatches == []


def test_algorithm_names_and_auto_follow_sglang(sglang_algorithms):
    tokens, num_physical, num_local, num_groups, num_nodes = random_case(
        np.random.default_rng(5))
    for raw in ("auto", "deepseek", "deepseek_hierarchical"):
        algorithm = sglang_algorithms.compute_algorithm(raw, num_groups, num_nodes)
        wanted = sglang_algorithms.rebalance_experts(tokens, num_physical, num_local,
                                                     num_groups, num_nodes, algorithm)
        for given in (raw, algorithm):
            actual = eplb.sglang.rebalance_experts(tokens, num_physical, num_local, num_groups,
                                                   num_nodes, given)
            for got, expected in zip(actual, wanted):
                assert torch.equal(got, expected)


def test_install_replaces_sglangs_planner_and_uninstall_restores_it(sglang_algorithms):
    original = sglang_algorithms.rebalance_experts
    tokens = torch.from_numpy(np.random.default_rng(6).poisson(30.0, size=(4, 3, 64)))
    installed = eplb.sglang.install("global")
    assert sglang_algorithms.rebalance_experts is installed
    algorithm = sglang_algorithms.EplbAlgorithm.deepseek_hierarchical
    planned = sglang_algorithms.rebalance_experts(tokens, 80, 10, 8, 2, algorithm)
    for got, expected in zip(planned, eplb.rebalance_experts(tokens.sum(0).float(), 80, 8, 2, 8,
                                                             policy="global")):
        assert torch.equal(got, expected)
    # Algorithms eplb does not stand in for stay SGLang's own.
    vec = sglang_algorithms.EplbAlgorithm.deepseek_vec
    for got, expected in zip(sglang_algorithms.rebalance_experts(tokens, 80, 10, 8, 2, vec),
                             original(tokens, 80, 10, 8, 2, vec)):
        assert torch.equal(got, expected)
    eplb.sglang.uninstall()
    assert sglang_algorithms.rebalance_experts is original


def test_installed_deepseek_is_sglangs_plan(sglang_algorithms):
    original = sglang_algorithms.rebalance_experts
    tokens = torch.from_numpy(np.random.default_rng(7).poisson(30.0, size=(2, 3, 64)))
    eplb.sglang.install("deepseek")
    for name in ("deepseek", "deepseek_hierarchical"):
        algorithm = sglang_algorithms.EplbAlgorithm[name]
        for got, expected in zip(sglang_algorithms.rebalance_experts(tokens, 80, 10, 8, 2,
                                                                     algorithm),
                                 original(tokens, 80, 10, 8, 2, algorithm)):
            assert torch.equal(got, expected)
