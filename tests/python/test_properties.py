"""Property: every plan returned for a valid input is a valid placement, for every policy, and
the same input and seed give the same plan."""

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import eplb  # noqa: E402
from conftest import POLICIES  # noqa: E402


@st.composite
def problems(draw):
    """Draws a topology, loads that fit it, a policy and a seed."""
    num_nodes = draw(st.integers(1, 4))
    num_gpus = num_nodes * draw(st.integers(1, 4))
    num_replicas = num_gpus * draw(st.integers(1, 5))
    if draw(st.booleans()):
        # Hierarchical: whole groups per node, so num_experts is a multiple of num_groups.
        num_groups = num_nodes * draw(st.integers(1, 3))
        max_per_group = num_replicas // num_groups
        if max_per_group == 0:
            num_groups, max_per_group = num_nodes, num_replicas // num_nodes
        num_experts = num_groups * draw(st.integers(1, max_per_group))
    else:
        num_groups = draw(st.integers(1, 8))
        num_experts = draw(st.integers(1, num_replicas))
        if num_groups % num_nodes == 0 and num_experts % num_groups != 0:
            num_groups = 1  # keep it fitting: the hierarchical path needs divisibility
    num_layers = draw(st.integers(1, 3))
    values = st.one_of(st.integers(0, 1000).map(float),
                       st.floats(0, 1e6, allow_nan=False, allow_infinity=False))
    loads = np.array(draw(st.lists(values, min_size=num_layers * num_experts,
                                   max_size=num_layers * num_experts)))
    policy = draw(st.sampled_from(POLICIES))
    seed = draw(st.integers(0, 2**64 - 1))
    sizes = (num_replicas, num_groups, num_nodes, num_gpus)
    return loads.reshape(num_layers, num_experts), sizes, policy, seed


@settings(max_examples=300, deadline=None)
@given(problems())
def test_every_plan_is_valid(problem):
    loads, sizes, policy, seed = problem
    phy2log, log2phy, logcnt = eplb.rebalance_experts(loads, *sizes, policy=policy, seed=seed)
    num_layers, num_experts = loads.shape
    assert phy2log.shape == (num_layers, sizes[0])
    assert logcnt.shape == (num_layers, num_experts)
    assert log2phy.shape[:2] == (num_layers, num_experts)
    assert log2phy.shape[2] == logcnt.max()
    assert (logcnt.sum(axis=1) == sizes[0]).all()
    eplb.validate(phy2log, log2phy, logcnt, *sizes)
    again = eplb.rebalance_experts(loads, *sizes, policy=policy, seed=seed)
    for first, second in zip((phy2log, log2phy, logcnt), again):
        np.testing.assert_array_equal(first, second)


@settings(max_examples=100, deadline=None)
@given(problems())
def test_heaviest_gpu_is_at_least_the_lower_bound(problem):
    loads, sizes, policy, seed = problem
    phy2log, _, _ = eplb.rebalance_experts(loads, *sizes, policy=policy, seed=seed)
    metrics = eplb.evaluate(phy2log, loads, sizes[3])
    bounds = eplb.lower_bounds(loads, sizes[0], sizes[3])
    np.testing.assert_array_equal(metrics.lower_bound, bounds)
    # Shares of subnormal loads underflow (5e-324 / 2 == 0), hence the absolute slack.
    assert (metrics.max_gpu_load >= bounds * (1 - 1e-12) - 1e-300).all()
    assert 0 <= metrics.gpu_balancedness <= 1 + 1e-12
