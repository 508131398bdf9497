"""Bad input to the Python API is refused before any work, by an eplb.Error (or TypeError) that
names the Python argument and its value: floats that are NaN or infinite, options a Planner
cannot take, NaN in an array, meta and sparse tensors, ragged lists."""

import math
import re

import numpy as np
import pytest

import eplb

TOPOLOGY = (72, 4, 2, 8)
NOT_FINITE = [(math.nan, "nan"), (math.inf, "inf"), (-math.inf, "-inf")]


def raises(exception, message):
    return pytest.raises(exception, match=f"^{re.escape(message)}$")


def trace(num_steps=120, num_layers=2, num_experts=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.poisson(20.0, size=(num_steps, num_layers, num_experts)).astype(np.float64)


def observed_planner(**options):
    planner = eplb.Planner(*TOPOLOGY, interval=40, **options)
    planner.observe(trace(num_steps=40))
    return planner


@pytest.mark.parametrize("value, text", NOT_FINITE + [(-0.5, "-0.5"), (-1, "-1")])
def test_float_options_must_be_finite_and_non_negative(value, text):
    planner = observed_planner()
    phy2log = planner.plan()[0]
    with raises(eplb.InvalidArgument,
                f"replay: tolerance = {text} must be finite and non-negative"):
        eplb.replay(trace(), *TOPOLOGY, interval=40, tolerance=value)
    with raises(eplb.InvalidArgument,
                f"replay: swing_weight = {text} must be finite and non-negative"):
        eplb.replay(trace(), *TOPOLOGY, interval=40, swing_weight=value)
    with raises(eplb.InvalidArgument,
                f"Planner.replan: tolerance = {text} must be finite and non-negative"):
        planner.replan(phy2log, value)
    with raises(eplb.InvalidArgument,
                f"Planner: swing_weight = {text} must be finite and non-negative"):
        eplb.Planner(*TOPOLOGY, swing_weight=value)
    # Nothing changed: the planner still re-plans with a good tolerance.
    assert planner.replan(phy2log, 0.01)[3].moved_slots >= 0


@pytest.mark.parametrize("value, type_name", [("0.1", "str"), (True, "bool"), (None, "NoneType"),
                                              ([0.1], "list")])
def test_float_options_must_be_numbers(value, type_name):
    planner = observed_planner()
    with raises(TypeError,
                f"Planner.replan: tolerance = {value!r} must be a float, not {type_name}"):
        planner.replan(planner.plan()[0], value)
    if value is not None:  # None means "the history's own" for swing_weight
        with raises(TypeError,
                    f"replay: swing_weight = {value!r} must be a float, not {type_name}"):
            eplb.replay(trace(), *TOPOLOGY, interval=40, swing_weight=value)


def test_numpy_and_int_floats_are_accepted():
    planner = observed_planner(swing_weight=np.float32(0.5))
    phy2log = planner.plan()[0]
    assert (planner.replan(phy2log, np.float64(0.01))[0].shape ==
            planner.replan(phy2log, 0)[0].shape)


def compiled_replay(tolerance, swing_weight=-1.0):
    """The module's own replay, without eplb.replay's argument checks in front of it."""
    return eplb._eplb._replay(
        trace(), *TOPOLOGY, planners=["global"], interval=40, history="", tolerance=tolerance,
        move_budget=-1.0, min_gain=0.0, swing_weight=swing_weight, effort=1, seed=0, threads=1,
        packer="multistart", cross_node_replicas=0, repair_rounds=40)


@pytest.mark.parametrize("value, text", NOT_FINITE)
def test_the_compiled_replay_refuses_a_tolerance_that_is_not_finite(value, text):
    # The core's own check, which `eplb replay --tolerance nan` meets too: NaN once replayed
    # fresh plans and reported 0 moved slots.
    with raises(eplb.InvalidArgument,
                f"replay: tolerance = {text} must be finite (negative: fresh plans)"):
        compiled_replay(tolerance=value)
    with raises(eplb.InvalidArgument,
                f"replay: swing_weight = {text} must be finite (negative: the history's own)"):
        compiled_replay(tolerance=0.01, swing_weight=value)


def test_migration_bytes_refuses_negative_and_non_integer_sizes():
    planner = observed_planner()
    phy2log = planner.plan()[0]
    planner.observe(trace(num_steps=40, seed=1))
    migration = planner.replan(phy2log, 0.0)[3]
    assert migration.moved_slots > 0
    assert migration.bytes(4096) == 4096 * migration.moved_slots
    assert migration.bytes(np.int64(2)) == 2 * migration.moved_slots
    assert migration.bytes(0) == 0
    with raises(eplb.InvalidArgument, "Migration.bytes: expert_bytes = -1 must be non-negative"):
        migration.bytes(-1)
    with raises(TypeError, "Migration.bytes: expert_bytes = nan must be an int, not float"):
        migration.bytes(math.nan)
    with raises(TypeError, "Migration.bytes: expert_bytes = 1.5 must be an int, not float"):
        migration.bytes(1.5)


@pytest.mark.parametrize("args, options, message", [
    ((0, 1, 1, 1), {}, "Topology: num_replicas = 0 must be positive"),
    (TOPOLOGY, {"history": "decay:0"},
     'history = "decay:0" must be auto, robust, last, window:STEPS, decay:HALF_LIFE_STEPS, '
     'mix:HALF_LIFE_STEPS/LONG_HALF_LIFE_STEPS|all[/LONG_WEIGHT in [0, 1]], or those prefixed '
     'share-, sqrt- or clip- (share-decay:8), with a positive whole number of steps'),
    (TOPOLOGY, {"interval": 0}, "history: interval = 0 must be positive"),
    (TOPOLOGY, {"policy": "nope"},
     'parse_policy: policy = "nope" is not one of: deepseek, balanced, global'),
    (TOPOLOGY, {"packer": "nope"},
     'parse_packing_strategy: packer = "nope" is not one of: greedy, snake, multistart'),
    (TOPOLOGY, {"effort": 0}, "Planner: effort = 0 must be in [1, 1000]"),
    (TOPOLOGY, {"threads": 0}, "Planner: threads = 0 must be in [1, 1024]"),
    (TOPOLOGY, {"cross_node_replicas": -1},
     "Planner: cross_node_replicas = -1 must be in [0, num_replicas = 72]"),
    (TOPOLOGY, {"active_gpus": [True] * 3},
     "Planner: active_gpus has 3 entries, must have num_gpus = 8"),
    (TOPOLOGY, {"active_gpus": [False] * 8}, "Planner: active_gpus excludes every GPU"),
    (TOPOLOGY, {"repair_rounds": -1}, "Planner: repair_rounds = -1 must be in [0, 1000000]"),
    (TOPOLOGY, {"policy": "deepseek", "active_gpus": [True] * 7 + [False]},
     "Planner: active_gpus needs policy balanced or global; deepseek plans onto every GPU"),
    (TOPOLOGY, {"policy": "deepseek", "cross_node_replicas": 2},
     "Planner: cross_node_replicas = 2 needs policy balanced; deepseek keeps the strict "
     "hierarchy"),
])
def test_planner_checks_its_options_when_made(args, options, message):
    # Before the first observe(): the planner is not made at all.
    with raises(eplb.InvalidArgument, message):
        eplb.Planner(*args, **options)


def test_replay_checks_every_planner_before_the_first():
    with raises(eplb.InvalidArgument,
                'parse_policy: policy = "nope" is not one of: deepseek, balanced, global'):
        eplb.replay(trace(), *TOPOLOGY, interval=40, policy=["global", "nope"])
    with raises(eplb.InvalidArgument, "Planner: effort = 0 must be in [1, 1000]"):
        eplb.replay(trace(), *TOPOLOGY, interval=40, policy=["deepseek", "global"], effort=0)


def nan_at(shape, where):
    array = np.ones(shape)
    array[where] = math.nan
    return array


def test_value_errors_name_the_python_argument():
    weight = nan_at((2, 64), (0, 1))
    with raises(eplb.InvalidArgument,
                "rebalance_experts: weight[0][1] = nan must be finite and non-negative"):
        eplb.rebalance_experts(weight, *TOPOLOGY)
    with raises(eplb.InvalidArgument,
                "lower_bounds: weight[0][1] = nan must be finite and non-negative"):
        eplb.lower_bounds(weight, 72, 8)
    with raises(eplb.InvalidArgument,
                "find_dense_layers: weight[0][1] = nan must be finite and non-negative"):
        eplb.find_dense_layers(weight)
    phy2log = eplb.rebalance_experts(np.ones((2, 64)), *TOPOLOGY)[0]
    with raises(eplb.InvalidArgument,
                "evaluate: weight[0][1] = nan must be finite and non-negative"):
        eplb.evaluate(phy2log, weight, 8)
    with raises(eplb.InvalidArgument,
                "Planner.observe: step_loads[0][1] = nan must be finite and non-negative"):
        eplb.Planner(*TOPOLOGY).observe(weight)
    steps = trace()
    steps[70, 1, 5] = -2
    with raises(eplb.InvalidArgument,
                "replay: trace[70][1][5] = -2 must be finite and non-negative"):
        eplb.replay(steps, *TOPOLOGY, interval=40)
    with raises(eplb.InvalidArgument,
                "rebalance_experts: weight: num_experts = 0 must be positive"):
        eplb.rebalance_experts(np.ones((2, 0)), *TOPOLOGY)


@pytest.mark.parametrize("weight, where", [
    ([[1, 2, 3], [4, 5]], "weight[1] has 2 entries but weight[0] has 3 entries"),
    ([[1, 2], 3], "weight[1] has a number but weight[0] has 2 entries"),
    ([[1, [2, 3]], [4, 5]], "weight[0][1] has 2 entries but weight[0][0] has a number"),
])
def test_ragged_lists_name_the_argument_and_the_row(weight, where):
    with raises(eplb.InvalidArgument, f"rebalance_experts: weight is not rectangular: {where}"):
        eplb.rebalance_experts(weight, 4, 1, 1, 2)


def test_ragged_lists_of_every_argument():
    with raises(eplb.InvalidArgument, "validate: phy2log is not rectangular: "
                                      "phy2log[1] has 1 entries but phy2log[0] has 2 entries"):
        eplb.validate([[0, 1], [0]], [[[0], [1]]], [[1, 1]], 2, 1, 1, 1)
    with raises(eplb.InvalidArgument, "replay: trace is not rectangular: "
                                      "trace[1] has 1 entries but trace[0] has 2 entries"):
        eplb.replay([[[1, 2], [3, 4]], [[1, 2]]], interval=1)
    with raises(eplb.InvalidArgument, "Planner.observe: step_loads is not rectangular: "
                                      "step_loads[0][1] has 1 entries but step_loads[0][0] has "
                                      "2 entries"):
        eplb.Planner(*TOPOLOGY).observe([[[1, 2], [3]]])
    with raises(eplb.InvalidArgument, "rebalance_experts: active_gpus is not rectangular: "
                                      "active_gpus[1] has 2 entries but active_gpus[0] has a "
                                      "number"):
        eplb.rebalance_experts(np.ones((2, 64)), *TOPOLOGY, active_gpus=[True, [True, False]])


def test_meta_and_sparse_tensors_are_refused_naming_the_argument():
    torch = pytest.importorskip("torch")
    meta = torch.ones(2, 64, device="meta")
    with raises(eplb.InvalidArgument,
                "rebalance_experts: weight is a meta tensor, which holds no values"):
        eplb.rebalance_experts(meta, *TOPOLOGY)
    with raises(eplb.InvalidArgument,
                "Planner.observe: step_loads is a meta tensor, which holds no values"):
        eplb.Planner(*TOPOLOGY).observe(meta)
    sparse = torch.ones(2, 64).to_sparse()
    with raises(eplb.InvalidArgument,
                "rebalance_experts: weight has layout torch.sparse_coo; pass weight.to_dense()"):
        eplb.rebalance_experts(sparse, *TOPOLOGY)
    with raises(eplb.InvalidArgument,
                "evaluate: weight has layout torch.sparse_coo; pass weight.to_dense()"):
        eplb.evaluate(np.zeros((2, 72), dtype=np.int64), sparse, 8)
    phy2log = torch.zeros(2, 72, dtype=torch.int64, device="meta")
    with raises(eplb.InvalidArgument, "evaluate: phy2log is a meta tensor, which holds no values"):
        eplb.evaluate(phy2log, np.ones((2, 64)), 8)
    with raises(eplb.InvalidArgument,
                "rebalance_experts: active_gpus is a meta tensor, which holds no values"):
        eplb.rebalance_experts(np.ones((2, 64)), *TOPOLOGY,
                               active_gpus=torch.ones(8, dtype=torch.bool, device="meta"))
    # The dense tensor plans as before.
    assert eplb.rebalance_experts(sparse.to_dense(), *TOPOLOGY)[0].shape == (2, 72)
