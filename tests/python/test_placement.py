"""Placement options beyond DeepSeek's: cross-node replicas and excluded GPUs."""

import numpy as np
import pytest

import eplb


def skewed_loads(seed=0):
    rng = np.random.default_rng(seed)
    loads = rng.lognormal(3.0, 1.0, size=(4, 64))
    loads[:, :16] *= 6  # groups 0 and 1 are hot, so their node is too
    return loads


def test_cross_node_replicas_buy_balance_and_report_off_node_load():
    loads = skewed_loads()
    strict = eplb.rebalance_experts(loads, 96, 8, 4, 16)
    relaxed = eplb.rebalance_experts(loads, 96, 8, 4, 16, cross_node_replicas=32)
    eplb.validate(*relaxed, 96, 8, 4, 16)
    assert (
        eplb.evaluate(relaxed[0], loads, 16).gpu_balancedness
        > eplb.evaluate(strict[0], loads, 16).gpu_balancedness + 0.05
    )


def test_active_gpus_leave_excluded_slots_empty():
    loads = skewed_loads(1)
    active = [True] * 16
    active[5] = False
    for policy in ("balanced", "global"):
        phy2log, log2phy, logcnt = eplb.rebalance_experts(
            loads, 96, 8, 4, 16, policy=policy, active_gpus=active
        )
        assert (phy2log[:, 30:36] == -1).all()
        assert (np.delete(phy2log, range(30, 36), axis=1) >= 0).all()
        assert not np.isin(log2phy, np.arange(30, 36)).any()
        assert (logcnt.sum(axis=1) == 90).all()


def test_active_gpus_accepts_numpy_and_torch_masks():
    torch = pytest.importorskip("torch")
    loads = skewed_loads(2)
    mask = np.ones(16, dtype=bool)
    mask[0] = False
    a = eplb.rebalance_experts(loads, 96, 8, 4, 16, active_gpus=mask)
    b = eplb.rebalance_experts(loads, 96, 8, 4, 16, active_gpus=torch.from_numpy(mask))
    np.testing.assert_array_equal(a[0], b[0])


def test_bad_placement_options_raise_with_the_core_message():
    loads = skewed_loads()
    with pytest.raises(ValueError, match=r"active_gpus has 3 entries, must have num_gpus = 16"):
        eplb.rebalance_experts(loads, 96, 8, 4, 16, active_gpus=[True, True, False])
    with pytest.raises(ValueError, match=r"active_gpus excludes every GPU"):
        eplb.rebalance_experts(loads, 96, 8, 4, 16, active_gpus=[False] * 16)
    with pytest.raises(TypeError, match=r"active_gpus must be a 1-D sequence of bools"):
        eplb.rebalance_experts(loads, 96, 8, 4, 16, active_gpus=[1, 0])
    with pytest.raises(ValueError, match=r"cross_node_replicas = -1 must be in \[0, num_replicas = 96\]"):
        eplb.rebalance_experts(loads, 96, 8, 4, 16, cross_node_replicas=-1)
