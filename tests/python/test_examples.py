"""The Python examples run, on inputs shaped like DeepSeek-V3 serving."""

import enum
import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import eplb
from conftest import DEEPSEEK_V3, deepseek_v3_loads

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "python"
SIZES = tuple(DEEPSEEK_V3.values())


def load_example(name):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_plan_from_trace(tmp_path, capsys):
    example = load_example("plan_from_trace")
    rng = np.random.default_rng(0)
    steps = rng.poisson(deepseek_v3_loads(1) / 50, size=(4, 58, 256))
    trace = tmp_path / "trace.json"
    trace.write_text(json.dumps(
        {"load_history": [{"logical_expert_load": step.tolist()} for step in steps]}))
    results = example.main([str(trace), "--window", "2"])
    assert set(results) == {"deepseek", "balanced"}
    for metrics in results.values():
        assert 0 < metrics.gpu_balancedness <= 1
    assert "plan on steps 0:2, score on 2:4" in capsys.readouterr().out


def test_vllm_policy_with_torch():
    torch = pytest.importorskip("torch")
    example = load_example("vllm_policy")
    weight = torch.from_numpy(deepseek_v3_loads(2)).to(torch.bfloat16)
    phy2log, log2phy, logcnt = example.EplbPolicy.rebalance_experts(weight, *SIZES)
    assert phy2log.shape == (58, 288) and logcnt.shape == (58, 256)
    assert phy2log.dtype == torch.int64 and phy2log.device == weight.device
    eplb.validate(phy2log, log2phy, logcnt, *SIZES)
    example.main([])


def test_vllm_policy_registers_into_vllm(monkeypatch):
    example = load_example("vllm_policy")
    assert example.register() is ("vllm" in sys.modules or _has_vllm())
    # A stand-in for vLLM's policy table, to check what register() does to it.
    names = ["vllm", "vllm.distributed", "vllm.distributed.eplb", "vllm.distributed.eplb.policy"]
    fakes = {name: types.ModuleType(name) for name in names}
    fakes["vllm.distributed.eplb.policy"].EPLB_POLICIES = {"default": object}
    for parent, child in zip(names, names[1:]):
        setattr(fakes[parent], child.rsplit(".", 1)[1], fakes[child])
    for name, module in fakes.items():
        monkeypatch.setitem(sys.modules, name, module)
    assert example.register()
    assert fakes["vllm.distributed.eplb.policy"].EPLB_POLICIES["default"] is example.EplbPolicy


def _has_vllm():
    return importlib.util.find_spec("vllm") is not None


def test_sglang_policy_with_torch():
    torch = pytest.importorskip("torch")
    example = load_example("sglang_policy")
    tokens = torch.from_numpy(np.random.default_rng(3).poisson(5.0, size=(10, 58, 256)))
    for algorithm in ("deepseek_hierarchical", "deepseek"):
        phy2log, log2phy, logcnt = example.rebalance_experts(tokens, 288, 9, 8, 4, algorithm)
        assert isinstance(phy2log, torch.Tensor) and phy2log.shape == (58, 288)
        eplb.validate(phy2log, log2phy, logcnt, *SIZES)
    example.main([])


def test_sglang_policy_takes_an_enum_and_no_groups():
    example = load_example("sglang_policy")
    algorithm = enum.Enum("EplbAlgorithm", ["deepseek", "deepseek_hierarchical"])
    tokens = np.random.default_rng(4).poisson(5.0, size=(3, 58, 256))
    hierarchical = example.rebalance_experts(tokens, 288, 9, 8, 4,
                                             algorithm.deepseek_hierarchical)
    expected = eplb.rebalance_experts(tokens.sum(0), *SIZES, policy="balanced")
    for actual, wanted in zip(hierarchical, expected):
        np.testing.assert_array_equal(actual, wanted)
    flat = example.rebalance_experts(tokens, 288, 9, None, 4, algorithm.deepseek)
    eplb.validate(*flat, 288, 1, 4, 32)
