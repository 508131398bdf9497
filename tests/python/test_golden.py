"""policy="deepseek" reproduces DeepSeek's EPLB bit for bit through the Python API."""

import numpy as np
import pytest

import eplb
from conftest import GOLDEN_PATHS, load_golden

SIZES = ("num_replicas", "num_groups", "num_nodes", "num_gpus")


def test_golden_files_present():
    assert len(GOLDEN_PATHS) >= 9


@pytest.mark.parametrize("path", GOLDEN_PATHS, ids=lambda p: p.stem)
def test_deepseek_policy_reproduces_golden_from_lists(path):
    case = load_golden(path)
    phy2log, log2phy, logcnt = eplb.rebalance_experts(
        case["weight"].tolist(), *(case[k] for k in SIZES), policy="deepseek")
    assert isinstance(phy2log, np.ndarray) and phy2log.dtype == np.int64
    np.testing.assert_array_equal(phy2log, case["phy2log"])
    np.testing.assert_array_equal(log2phy, case["log2phy"])
    np.testing.assert_array_equal(logcnt, case["logcnt"])


@pytest.mark.parametrize("path", GOLDEN_PATHS, ids=lambda p: p.stem)
def test_deepseek_policy_reproduces_golden_from_torch(path):
    torch = pytest.importorskip("torch")
    case = load_golden(path)
    # torch.tensor() of the JSON lists is what DeepSeek's reference was fed: float32 (or int64).
    weight = torch.tensor(case["weight"].tolist())
    phy2log, log2phy, logcnt = eplb.rebalance_experts(
        weight, *(case[k] for k in SIZES), policy="deepseek")
    assert isinstance(phy2log, torch.Tensor) and phy2log.dtype == torch.int64
    np.testing.assert_array_equal(phy2log.numpy(), case["phy2log"])
    np.testing.assert_array_equal(log2phy.numpy(), case["log2phy"])
    np.testing.assert_array_equal(logcnt.numpy(), case["logcnt"])


@pytest.mark.parametrize("path", GOLDEN_PATHS, ids=lambda p: p.stem)
def test_golden_plans_are_valid(path):
    case = load_golden(path)
    eplb.validate(case["phy2log"], case["log2phy"], case["logcnt"], *(case[k] for k in SIZES))
