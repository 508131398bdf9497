"""The Python examples run, on inputs shaped like DeepSeek-V3 serving."""

import importlib.util
import json
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


def test_vllm_policy(capsys):
    pytest.importorskip("torch")
    example = load_example("vllm_policy")
    current, replanned = example.main(["--policy", "global"])
    assert current.shape == replanned.shape == (58, 288)
    eplb.validate(*eplb.plan_from_phy2log(replanned, 256), *SIZES)
    moved = int((replanned != current).sum())
    assert 0 < moved < 58 * 288 // 4
    assert f"global: phy2log (58, 288), {moved} of 16704 slots change expert" in \
        capsys.readouterr().out


def test_sglang_policy():
    torch = pytest.importorskip("torch")
    example = load_example("sglang_policy")
    results = example.main([])
    assert set(results) == {"deepseek", "deepseek_hierarchical", "balanced", "global"}
    for phy2log, log2phy, logcnt in results.values():
        assert isinstance(phy2log, torch.Tensor) and phy2log.shape == (58, 288)
        eplb.validate(phy2log, log2phy, logcnt, *SIZES)
