"""validate(), plan_from_phy2log(), evaluate() and lower_bounds()."""

import re

import numpy as np
import pytest

import eplb

# Reference, section 5: DeepSeek's plan for these loads (16 slots, 8 GPUs, one group and node)
# has its heaviest GPU at 232; no plan can go below max(total / GPUs, 145 * 1.25) = 181.25.
SKEWED = np.array([[600, 560, 120, 120, 20, 10, 10, 10]], dtype=np.float64)


def raises(exception, message):
    return pytest.raises(exception, match=f"^{re.escape(message)}$")


def test_evaluate_deepseek_plan_of_the_skewed_example():
    phy2log, _, _ = eplb.rebalance_experts(SKEWED, 16, 1, 1, 8, policy="deepseek")
    metrics = eplb.evaluate(phy2log, SKEWED, 8)
    assert isinstance(metrics, eplb.PlanMetrics)
    np.testing.assert_array_equal(metrics.max_gpu_load, [232.0])
    np.testing.assert_array_equal(metrics.lower_bound, [181.25])
    assert metrics.gpu_balancedness == pytest.approx(181.25 / 232.0)
    assert metrics.gap == pytest.approx(232.0 / 181.25 - 1)
    assert "gpu_balancedness=" in repr(metrics)
    np.testing.assert_array_equal(eplb.lower_bounds(SKEWED, 16, 8), [181.25])


def test_evaluate_matches_a_direct_computation(readme_case):
    weight, phy2log, logcnt = readme_case["weight"], readme_case["phy2log"], readme_case["logcnt"]
    num_gpus = readme_case["num_gpus"]
    metrics = eplb.evaluate(phy2log, weight, num_gpus)
    slot_loads = np.take_along_axis(weight / logcnt, phy2log, axis=1)
    gpu_loads = slot_loads.reshape(len(weight), num_gpus, -1).sum(axis=2)
    np.testing.assert_allclose(metrics.max_gpu_load, gpu_loads.max(axis=1))
    expected = gpu_loads.mean(axis=1).sum() / gpu_loads.max(axis=1).sum()
    assert metrics.gpu_balancedness == pytest.approx(expected)
    assert metrics.slot_balancedness == pytest.approx(
        slot_loads.mean(axis=1).sum() / slot_loads.max(axis=1).sum())


def test_evaluate_on_torch_inputs(readme_case):
    torch = pytest.importorskip("torch")
    metrics = eplb.evaluate(torch.from_numpy(readme_case["phy2log"]),
                            torch.from_numpy(readme_case["weight"]).to(torch.bfloat16), 8)
    expected = eplb.evaluate(readme_case["phy2log"], readme_case["weight"], 8)
    assert metrics.gpu_balancedness == expected.gpu_balancedness


def test_lower_bounds_follow_the_caller_framework():
    torch = pytest.importorskip("torch")
    bounds = eplb.lower_bounds(torch.from_numpy(SKEWED), 16, 8)
    assert isinstance(bounds, torch.Tensor) and bounds.dtype == torch.float64
    assert bounds.tolist() == [181.25]


def test_evaluate_rejects_invalid_plans(readme_case):
    phy2log = readme_case["phy2log"].copy()
    phy2log[0, :] = 0  # every slot holds expert 0; the others have no replica
    message = "validate: logcnt[0][1] = 0 must be in [1, max_replicas = 16]"
    with raises(eplb.InvalidArgument, message):
        eplb.evaluate(phy2log, readme_case["weight"], 8)
    with raises(eplb.InvalidArgument, "plan_from_phy2log: phy2log[0][14] = 12 must be -1 or in [0, 12)"):
        eplb.evaluate(readme_case["phy2log"] + 1, readme_case["weight"], 8)
    message = "evaluate: loads shape [1, 12] must match the plan's [2, 12]"
    with raises(eplb.InvalidArgument, message):
        eplb.evaluate(readme_case["phy2log"], readme_case["weight"][:1], 8)
    with raises(eplb.InvalidArgument, "evaluate: phy2log.ndim = 1 must be 2"):
        eplb.evaluate(readme_case["phy2log"][0], readme_case["weight"], 8)
    with raises(TypeError, "evaluate: phy2log.dtype = float64 must be an integer type"):
        eplb.evaluate(readme_case["phy2log"].astype(float), readme_case["weight"], 8)


def test_validate_accepts_numpy_torch_and_lists(readme_case):
    arrays = [readme_case[key] for key in ("phy2log", "log2phy", "logcnt")]
    eplb.validate(*arrays, 16, 4, 2, 8)
    eplb.validate(*(array.tolist() for array in arrays), 16, 4, 2, 8)
    eplb.validate(*(array.astype(np.int32) for array in arrays), 16, 4, 2, 8)
    torch = pytest.importorskip("torch")
    eplb.validate(*(torch.from_numpy(array) for array in arrays), 16, 4, 2, 8)


@pytest.mark.parametrize("corrupt, message", [
    (lambda p, l, c: c.__setitem__((0, 5), 0),
     "validate: logcnt[0][5] = 0 must be in [1, max_replicas = 2]"),
    (lambda p, l, c: l.__setitem__((1, 0, 1), 3),
     "validate: log2phy[1][0][1] = 3 must be -1 past logcnt = 1"),
    (lambda p, l, c: p.__setitem__((0, 0), 6),
     "validate: log2phy[0][5][0] = 0 must be a slot whose phy2log entry is 5"),
])
def test_validate_names_the_first_violation(readme_case, corrupt, message):
    arrays = [readme_case[key].copy() for key in ("phy2log", "log2phy", "logcnt")]
    corrupt(*arrays)
    with raises(eplb.InvalidArgument, message):
        eplb.validate(*arrays, 16, 4, 2, 8)


def test_validate_checks_shapes_and_topology(readme_case):
    phy2log, log2phy, logcnt = (readme_case[key] for key in ("phy2log", "log2phy", "logcnt"))
    with raises(ValueError, "validate: log2phy.ndim = 2 must be 3"):
        eplb.validate(phy2log, log2phy[:, :, 0], logcnt, 16, 4, 2, 8)
    with raises(ValueError, "validate: logcnt.shape[0] = 1 must equal num_layers = 2"):
        eplb.validate(phy2log, log2phy, logcnt[:1], 16, 4, 2, 8)
    message = "validate: num_replicas = 16 must equal the topology's num_replicas = 32"
    with raises(ValueError, message):
        eplb.validate(phy2log, log2phy, logcnt, 32, 4, 2, 8)
    with raises(ValueError, "Topology: num_replicas = 16 must be a multiple of num_gpus = 3"):
        eplb.validate(phy2log, log2phy, logcnt, 16, 4, 1, 3)


def test_validate_can_forbid_two_replicas_on_one_gpu():
    phy2log, log2phy, logcnt = eplb.rebalance_experts(SKEWED, 16, 1, 1, 8, policy="deepseek")
    eplb.validate(phy2log, log2phy, logcnt, 16, 1, 1, 8)
    with pytest.raises(eplb.InvalidArgument, match="has two replicas on gpu"):
        eplb.validate(phy2log, log2phy, logcnt, 16, 1, 1, 8, forbid_duplicates_on_gpu=True)


def test_plan_from_phy2log_rebuilds_the_plan(readme_case):
    phy2log, log2phy, logcnt = eplb.plan_from_phy2log(readme_case["phy2log"], 12)
    np.testing.assert_array_equal(phy2log, readme_case["phy2log"])
    np.testing.assert_array_equal(logcnt, readme_case["logcnt"])
    np.testing.assert_array_equal(np.sort(np.where(log2phy < 0, 99, log2phy), axis=2),
                                  np.sort(np.where(readme_case["log2phy"] < 0, 99,
                                                   readme_case["log2phy"]), axis=2))
    eplb.validate(phy2log, log2phy, logcnt, 16, 4, 2, 8)


def test_plan_from_phy2log_follows_the_caller_framework(readme_case):
    torch = pytest.importorskip("torch")
    arrays = eplb.plan_from_phy2log(torch.from_numpy(readme_case["phy2log"]), 12)
    assert all(isinstance(array, torch.Tensor) and array.dtype == torch.int64 for array in arrays)


@pytest.mark.parametrize("policy", ["deepseek", "balanced", "global"])
@pytest.mark.parametrize("effort", [1, 8])
def test_second_copy_on_one_gpu_where_it_lowers_the_heaviest(policy, effort):
    # Any plan without a duplicate splits an expert and leaves 3.5 + 4 on a GPU; two copies of
    # expert 1 on one GPU leave 7 there and 1 + 4 on the other.
    weight = np.array([[1.0, 7.0, 4.0]])
    phy2log, _, _ = eplb.rebalance_experts(weight, 4, 1, 1, 2, policy=policy, effort=effort)
    metrics = eplb.evaluate(phy2log, weight, 2)
    assert metrics.max_gpu_load[0] == 7.0
    assert metrics.duplicate_slots == 1
    assert "duplicate_slots=1" in repr(metrics)


def test_duplicate_slots_are_zero_where_they_do_not_help():
    weight = np.array([[6.0, 3.0, 3.0], [1.0, 7.0, 4.0]])
    phy2log, _, _ = eplb.rebalance_experts(weight, 4, 1, 1, 2)
    metrics = eplb.evaluate(phy2log, weight, 2)
    np.testing.assert_array_equal(metrics.max_gpu_load, [6.0, 7.0])
    assert metrics.duplicate_slots == 1  # layer 1 only
