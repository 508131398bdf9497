"""Shared fixtures of the Python tests: the data directory and the DeepSeek golden cases."""

import json
from pathlib import Path

import numpy as np
import pytest

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
GOLDEN_PATHS = sorted((DATA_DIR / "golden").glob("*.json"))
POLICIES = ("deepseek", "balanced", "global")
# DeepSeek-V3 serving: 58 MoE layers x 256 experts, 288 slots on 32 GPUs in 4 nodes, 8 groups.
DEEPSEEK_V3 = {"num_replicas": 288, "num_groups": 8, "num_nodes": 4, "num_gpus": 32}


def load_golden(path):
    """Returns one golden case with its arrays as NumPy arrays."""
    with open(path, encoding="utf-8") as f:
        case = json.load(f)
    for key in ("weight", "phy2log", "log2phy", "logcnt"):
        case[key] = np.array(case[key])
    return case


def deepseek_v3_loads(seed=0, num_layers=58, num_experts=256):
    """Returns skewed float64 loads `[num_layers, num_experts]` of integral token counts."""
    rng = np.random.default_rng(seed)
    return np.round(rng.gamma(0.5, 1000.0, size=(num_layers, num_experts)))


@pytest.fixture
def readme_case():
    return load_golden(DATA_DIR / "golden" / "readme_example.json")
