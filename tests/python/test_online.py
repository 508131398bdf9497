"""eplb.Planner, eplb.Migration and eplb.replay."""

import json
import subprocess

import numpy as np
import pytest

import eplb

TOPOLOGY = {"num_replicas": 72, "num_groups": 4, "num_nodes": 2, "num_gpus": 8}


def drifting_trace(num_steps=240, num_layers=3, num_experts=64, seed=0):
    """Per-step loads whose expert popularity drifts: `[num_steps, num_layers, num_experts]`."""
    rng = np.random.default_rng(seed)
    popularity = rng.lognormal(0.0, 0.8, size=(num_layers, num_experts))
    steps = []
    for _ in range(num_steps):
        popularity *= rng.lognormal(0.0, 0.03, size=popularity.shape)
        steps.append(rng.poisson(popularity * 20.0))
    return np.array(steps, dtype=np.int64)


def make_planner(**options):
    return eplb.Planner(*TOPOLOGY.values(), interval=40, **options)


def test_history_is_the_sum_of_the_window():
    trace = drifting_trace()
    planner = make_planner(history="last")
    planner.observe(trace[:40])
    assert planner.num_observed_steps == 40
    np.testing.assert_array_equal(planner.history(), trace[:40].sum(axis=0))
    np.testing.assert_array_equal(planner.planning_loads(), planner.history())
    planner.observe(trace[40:80])
    np.testing.assert_array_equal(planner.history(), trace[40:80].sum(axis=0))
    planner.reset()
    assert planner.num_observed_steps == 0


def test_robust_history_decays_old_steps():
    trace = drifting_trace()
    planner = make_planner(history="robust")
    planner.observe(trace[:40])
    weights = 0.5 ** (np.arange(39, -1, -1) / 8.0)
    np.testing.assert_allclose(planner.history(), np.tensordot(weights, trace[:40], axes=1),
                               rtol=1e-12)


def test_share_history_sums_per_step_distributions():
    trace = drifting_trace()
    trace[3] *= 1000  # a burst weighs one step all the same
    planner = make_planner(history="share-window:40")
    planner.observe(trace[:40])
    totals = trace[:40].sum(axis=2, keepdims=True)
    expected = (trace[:40] / np.where(totals > 0, totals, 1)).sum(axis=0)
    np.testing.assert_allclose(planner.history(), expected, rtol=1e-12)
    mixed = make_planner(history="mix:8/all/0.25")
    mixed.observe(trace[:40])
    np.testing.assert_allclose(mixed.history().sum(axis=1), 1.0, rtol=1e-12)


def test_swing_weight_lifts_experts_whose_share_swings():
    trace = drifting_trace()
    planner = make_planner(history="window:40", swing_weight=0.5)
    planner.observe(trace[:40])
    ratio = planner.planning_loads() / np.maximum(planner.history(), 1e-12)
    assert np.all(ratio[planner.history() > 0] >= 1.0)
    assert np.any(ratio > 1.0)


def test_plan_matches_rebalance_experts_on_the_planning_loads():
    trace = drifting_trace()
    planner = make_planner(policy="global")
    planner.observe(trace[:40])
    expected = eplb.rebalance_experts(planner.planning_loads(), *TOPOLOGY.values(),
                                      policy="global")
    for got, want in zip(planner.plan(), expected):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("policy", ["deepseek", "balanced", "global"])
@pytest.mark.parametrize("tolerance", [0.0, 0.005, 0.05])
def test_replan_stays_within_tolerance_and_its_migration_rebuilds_it(policy, tolerance):
    trace = drifting_trace(seed=1)
    planner = make_planner(policy=policy)
    planner.observe(trace[:40])
    current, _, _ = planner.plan()
    planner.observe(trace[40:80])
    phy2log, log2phy, logcnt, migration = planner.replan(current, tolerance)
    eplb.validate(phy2log, log2phy, logcnt, *TOPOLOGY.values())
    loads = planner.planning_loads()
    fresh = eplb.evaluate(planner.plan()[0], loads, num_gpus=8).gpu_balancedness
    got = eplb.evaluate(phy2log, loads, num_gpus=8).gpu_balancedness
    assert got >= fresh / (1 + tolerance) * (1 - 1e-9)
    rebuilt = current.copy()
    for layer, slot, old, new, source in migration.moves:
        assert rebuilt[layer, slot] == old
        assert current[layer, source] == new
        rebuilt[layer, slot] = new
    np.testing.assert_array_equal(rebuilt, phy2log)
    assert migration.moved_slots == int(np.count_nonzero(current != phy2log))
    assert migration.bytes(1 << 20) == migration.moved_slots << 20
    assert 0 <= migration.cross_node_copies <= migration.moved_slots


def test_replan_move_budget_and_min_gain():
    trace = drifting_trace(seed=2)
    planner = make_planner(policy="global")
    planner.observe(trace[:40])
    current, _, _ = planner.plan()
    planner.observe(trace[40:80])
    total = current.size
    previous = -1.0
    for budget in [0.0, 0.02, 0.05, 0.2, 1.0]:
        phy2log, _, _, migration = planner.replan(current, move_budget=budget)
        assert migration.moved_slots <= int(budget * total)
        assert migration.balancedness_after >= previous - 1e-12
        assert migration.balancedness_after == pytest.approx(eplb.evaluate(
            phy2log, planner.planning_loads(), num_gpus=8).gpu_balancedness)
        previous = migration.balancedness_after
        assert not migration.skipped
    # A gain larger than the re-plan can buy keeps the plan.
    phy2log, _, _, migration = planner.replan(current, move_budget=0.05, min_gain=1.0)
    assert migration.skipped and migration.moved_slots == 0
    np.testing.assert_array_equal(phy2log, current)
    for bad, match in [(dict(move_budget=1.5), "move_budget = 1.5 must be in \\[0, 1\\]"),
                       (dict(move_budget=float("nan")), "move_budget = nan"),
                       (dict(min_gain=-1.0), "min_gain = -1.0 must be finite")]:
        with pytest.raises(eplb.InvalidArgument, match=match):
            planner.replan(current, **bad)
    report = eplb.replay(trace, **TOPOLOGY, interval=40, policy="global", move_budget=0.05,
                         min_gain=1.0)
    assert report["summary"]["skipped"] == report["summary"]["replans"] > 0
    assert all(window["moved_slots"] == 0 for window in report["windows"])
    with pytest.raises(eplb.InvalidArgument, match="replay: move_budget = 2"):
        eplb.replay(trace, interval=40, move_budget=2)
    # A skip rule without a re-plan mode would be ignored: refused instead.
    with pytest.raises(eplb.InvalidArgument, match="replay: min_gain = 0.5 applies to re-plans"):
        eplb.replay(trace, interval=40, min_gain=0.5)


def test_replan_layer_chunks():
    trace = drifting_trace(seed=3)
    planner = make_planner(policy="global")
    planner.observe(trace[:40])
    current, _, _ = planner.plan()
    planner.observe(trace[40:80])
    _, _, _, plain = planner.replan(current, move_budget=0.3)
    assert plain.chunks == ()
    phy2log, _, _, migration = planner.replan(current, move_budget=0.3, layers_per_chunk=1)
    assert migration.moved_slots > 0
    assert len(migration.chunks) == len(np.unique(migration.moves[:, 0]))
    rows = np.concatenate([chunk.migration.moves for chunk in migration.chunks])
    # Every move once, in chunks of one layer each.
    assert sorted(map(tuple, rows)) == sorted(map(tuple, migration.moves))
    for chunk in migration.chunks:
        assert chunk.layers.shape == (1,)
        assert np.all(chunk.migration.moves[:, 0] == chunk.layers[0])
        assert chunk.migration.topology == migration.topology
    assert migration.chunks[-1].balancedness_after == pytest.approx(migration.balancedness_after)
    # The first chunk applied alone balances as it says.
    first = np.array(current)
    for layer, slot, _, expert, _ in migration.chunks[0].migration.moves:
        first[layer, slot] = expert
    assert eplb.evaluate(first, planner.planning_loads(), num_gpus=8).gpu_balancedness == (
        pytest.approx(migration.chunks[0].balancedness_after))
    for bad in (0, -2):
        with pytest.raises(eplb.InvalidArgument, match=f"layers_per_chunk = {bad} must be"):
            planner.replan(current, move_budget=0.3, layers_per_chunk=bad)
    with pytest.raises(TypeError, match="layers_per_chunk"):
        planner.replan(current, move_budget=0.3, layers_per_chunk=1.5)


def replan_second_window(trace, **options):
    """Plans on the first 40 steps, then re-plans after 40 more within 0.5 %: `(phy2log,
    migration)`."""
    planner = make_planner(policy="global", **options)
    planner.observe(trace[:40])
    current, _, _ = planner.plan()
    planner.observe(trace[40:80])
    phy2log, _, _, migration = planner.replan(current, 0.005)
    return phy2log, migration


def test_threads_change_no_plan_or_replay():
    trace = drifting_trace(num_steps=120, num_layers=4, seed=2)
    results = []
    for threads in (1, 2):
        phy2log, migration = replan_second_window(trace, threads=threads)
        assert migration.moved_slots > 0
        report = eplb.replay(trace, **TOPOLOGY, interval=40, policy="global", tolerance=0.005,
                             threads=threads)
        results.append((phy2log, [w["moved_slots"] for w in report["windows"]]))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]
    with pytest.raises(eplb.InvalidArgument, match="threads = 0"):
        eplb.replay(trace, **TOPOLOGY, interval=40, threads=0)


def test_repair_rounds_reach_the_core():
    trace = drifting_trace(num_steps=120, num_layers=4, seed=3)
    moved = [replan_second_window(trace, repair_rounds=rounds)[1].moved_slots
             for rounds in (0, 200)]
    # More rounds only add candidates (docs/online.md), and here they find fewer moves.
    assert moved[1] < moved[0]
    reports = [eplb.replay(trace, **TOPOLOGY, interval=40, policy="global", tolerance=0.005,
                           repair_rounds=rounds)["summary"]["moved_fraction"]
               for rounds in (0, 200)]
    assert reports[1] <= reports[0]
    with pytest.raises(eplb.InvalidArgument, match=r"repair_rounds = -1 must be in \[0, 1000000\]"):
        make_planner(repair_rounds=-1)
    with pytest.raises(TypeError, match="replay: repair_rounds = 'many' must be an int"):
        eplb.replay(trace, **TOPOLOGY, interval=40, repair_rounds="many")


def test_planner_errors():
    planner = make_planner()
    with pytest.raises(eplb.InvalidArgument, match="no step observed yet"):
        planner.plan()
    planner.observe(drifting_trace()[:5])
    with pytest.raises(eplb.InvalidArgument, match="Planner::observe: step_loads is"):
        planner.observe(np.ones((2, 64)))
    with pytest.raises(eplb.InvalidArgument, match="tolerance = -1 must be finite"):
        planner.replan(planner.plan()[0], -1)
    with pytest.raises(eplb.InvalidArgument, match="must be 2-D"):
        planner.observe(np.ones(64))
    with pytest.raises(eplb.InvalidArgument, match="history = \"sometimes\""):
        eplb.Planner(72, 4, 2, 8, history="sometimes")
    with pytest.raises(eplb.InvalidArgument, match="swing_weight = -1"):
        eplb.Planner(72, 4, 2, 8, swing_weight=-1)
    with pytest.raises(eplb.InvalidArgument, match="interval = 0 must be positive"):
        eplb.Planner(72, 4, 2, 8, interval=0)
    with pytest.raises(eplb.InvalidArgument, match="must be finite and non-negative"):
        planner.observe(np.full((3, 64), np.nan))


def test_replay_returns_the_cli_report(tmp_path):
    trace = drifting_trace(num_steps=200, num_layers=2)
    report = eplb.replay(trace, **TOPOLOGY, interval=50, policy=["deepseek", "global"],
                         tolerance=0.01)
    assert report["policy"] == "deepseek"
    assert [run["policy"] for run in report["runs"]] == ["deepseek", "global"]
    assert len(report["windows"]) == 3
    assert report["windows"][0]["moved_slots"] == 0
    summary = report["runs"][1]["summary"]
    next_windows = [w["next_window"] for w in report["runs"][1]["windows"]]
    assert summary["next_window"] == pytest.approx(np.mean(next_windows))
    assert 0 <= summary["moved_fraction"] < 1
    assert summary["replans"] == 2
    # Two windows make one plan and no re-plan: nothing moved, and the report says so.
    single = eplb.replay(trace[:100], **TOPOLOGY, interval=50, policy="global")
    assert single["summary"]["replans"] == 0
    assert single["summary"]["moved_fraction"] is None
    # The same numbers as the command line on the same trace (plan_ms aside).
    path = tmp_path / "trace.json"
    path.write_text(json.dumps({"load_history": [
        {"logical_expert_load": step.tolist()} for step in trace]}))
    from_file = eplb.replay(str(path), **TOPOLOGY, interval=50, policy="global", tolerance=0.01)
    assert [w["moved_slots"] for w in from_file["windows"]] == [
        w["moved_slots"] for w in report["runs"][1]["windows"]]


def test_self_tuning_history_names_its_choice():
    trace = drifting_trace()
    planner = make_planner(policy="global")  # history "auto" by default
    assert planner.chosen_history is None and planner.history_scores is None
    planner.observe(trace[:20])
    candidates = list(planner.history_scores)
    # No forecast (one per 10 steps) has seen half an interval yet: the first candidate.
    assert planner.chosen_history == candidates[0]
    assert set(planner.history_scores.values()) == {0.0}
    planner.observe(trace[20:200])
    scores = planner.history_scores
    assert all(score > 0 for score in scores.values())
    assert planner.chosen_history == min(scores, key=scores.get)
    # It plans on the chosen candidate's history.
    fixed = make_planner(policy="global", history=planner.chosen_history)
    fixed.observe(trace[:200])
    np.testing.assert_array_equal(planner.history(), fixed.history())
    np.testing.assert_array_equal(planner.plan()[0], fixed.plan()[0])
    assert fixed.chosen_history is None and fixed.history_scores is None
    # The replay report names each window's choice, and null for a fixed history.
    report = eplb.replay(trace, **TOPOLOGY, interval=40, policy=["global", "global@robust"])
    assert all(w["history"] in candidates for w in report["runs"][0]["windows"])
    assert all(w["history"] is None for w in report["runs"][1]["windows"])
    assert report["runs"][0]["summary"]["observe_ms"] >= 0


def test_replay_defaults_and_errors():
    trace = drifting_trace(num_steps=120, num_layers=2)
    report = eplb.replay(trace, interval=40)  # reference topology: 96 slots on 32 GPUs
    assert report["policy"] == eplb._eplb.DEFAULT_REPLAY_PLANNER
    with pytest.raises(eplb.InvalidArgument, match="fewer than two windows"):
        eplb.replay(trace, interval=100)
    with pytest.raises(eplb.InvalidArgument, match="must be 3-D"):
        eplb.replay(trace[0], interval=10)
    with pytest.raises(eplb.InvalidArgument, match="replay: swing_weight = -0.5 must be finite"):
        eplb.replay(trace, interval=40, swing_weight=-0.5)
    with pytest.raises(eplb.InvalidArgument, match="history = \"window:0\""):
        eplb.replay(trace, interval=40, policy="global@window:0")
    with pytest.raises(eplb.InvalidArgument, match="interval = 0 must be positive"):
        eplb.replay(trace, interval=0)
    with pytest.raises(eplb.InvalidArgument, match="unknown|policy"):
        eplb.replay(trace, interval=40, policy="best")


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_planner_returns_torch_tensors_on_the_observed_device(device):
    torch = pytest.importorskip("torch")
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    trace = drifting_trace(num_steps=80)
    planner = make_planner()
    planner.observe(torch.from_numpy(trace[:40]).to(device))
    reference = make_planner()
    reference.observe(trace[:40])
    plan = planner.plan()
    reference_plan = reference.plan()
    for tensor, expected in zip(plan, reference_plan):
        assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.int64
        assert tensor.device.type == device
        np.testing.assert_array_equal(tensor.cpu().numpy(), expected)
    planner.observe(torch.from_numpy(trace[40:]).to(device))
    reference.observe(trace[40:])
    replanned = planner.replan(plan[0], 0.01)
    expected = reference.replan(reference_plan[0], 0.01)
    for tensor, array in zip(replanned[:3], expected[:3]):
        assert isinstance(tensor, torch.Tensor) and tensor.device.type == device
        np.testing.assert_array_equal(tensor.cpu().numpy(), array)
    assert isinstance(replanned[3].moves, np.ndarray)
    np.testing.assert_array_equal(replanned[3].moves, expected[3].moves)
