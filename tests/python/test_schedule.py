"""Migration.schedule: the copies of a re-plan in rounds without two sends or receives per GPU."""

import numpy as np
import pytest

import eplb

from test_online import TOPOLOGY, drifting_trace, make_planner

SLOTS_PER_GPU = TOPOLOGY["num_replicas"] // TOPOLOGY["num_gpus"]
GPUS_PER_NODE = TOPOLOGY["num_gpus"] // TOPOLOGY["num_nodes"]


def replanned(policy="global"):
    trace = drifting_trace(num_steps=160, seed=4)
    planner = make_planner(policy=policy)
    planner.observe(trace[:80])
    current, _, _ = planner.plan()
    planner.observe(trace[80:])
    new_phy2log, _, _, migration = planner.replan(current, tolerance=0.0)
    return current, new_phy2log, migration


@pytest.mark.parametrize("by_layer", [False, True])
def test_schedule_copies_every_move_once_from_the_old_plan(by_layer):
    current, new_phy2log, migration = replanned()
    assert migration.moved_slots > 0
    schedule = migration.schedule(current, expert_bytes=1000, by_layer=by_layer)
    assert isinstance(schedule, eplb.TransferSchedule)
    staged = current.copy()
    written = np.zeros_like(current)
    sent = np.zeros(TOPOLOGY["num_gpus"], dtype=np.int64)
    received = np.zeros_like(sent)
    layer_counts = {}
    for copies in [schedule.local_copies, *schedule.rounds]:
        for layer, expert, source_slot, source_gpu, target_slot, target_gpu in copies.tolist():
            assert current[layer, source_slot] == expert  # the source holds it in the old plan
            assert source_gpu == source_slot // SLOTS_PER_GPU
            assert target_gpu == target_slot // SLOTS_PER_GPU
            written[layer, target_slot] += 1
            staged[layer, target_slot] = expert
    for copies in schedule.rounds:
        assert len(copies) > 0
        # In a round no GPU sends twice and none receives twice.
        assert len(set(copies[:, 3].tolist())) == len(copies)
        assert len(set(copies[:, 5].tolist())) == len(copies)
        assert (copies[:, 3] != copies[:, 5]).all()
        if by_layer:
            assert len(set(copies[:, 0].tolist())) == 1
        for layer, _, _, source_gpu, _, target_gpu in copies.tolist():
            sent[source_gpu] += 1
            received[target_gpu] += 1
            counts = layer_counts.setdefault(layer, np.zeros((2, len(sent)), dtype=np.int64))
            counts[0, source_gpu] += 1
            counts[1, target_gpu] += 1
    assert written.max() == 1
    np.testing.assert_array_equal(staged, new_phy2log)
    np.testing.assert_array_equal(schedule.sent, sent)
    np.testing.assert_array_equal(schedule.received, received)
    np.testing.assert_array_equal(schedule.sent_bytes, 1000 * sent)
    np.testing.assert_array_equal(schedule.received_bytes, 1000 * received)
    if by_layer:
        bound = sum(int(counts.max()) for counts in layer_counts.values())
    else:
        bound = int(max(sent.max(), received.max()))
        assert schedule.max_copies_per_gpu == bound
    assert schedule.num_rounds == bound
    crossing = sum(int(((copies[:, 3] // GPUS_PER_NODE) != (copies[:, 5] // GPUS_PER_NODE)).sum())
                   for copies in schedule.rounds)
    assert schedule.cross_node_copies == crossing
    assert schedule.network_copies + len(schedule.local_copies) == migration.moved_slots


def test_schedule_without_expert_bytes_counts_copies_only():
    current, _, migration = replanned("balanced")
    schedule = migration.schedule(current)
    assert schedule.sent_bytes is None and schedule.received_bytes is None
    assert schedule.num_rounds == schedule.max_copies_per_gpu
    assert migration.schedule(current).rounds[0].tolist() == schedule.rounds[0].tolist()


def test_schedule_names_the_bad_argument():
    current, new_phy2log, migration = replanned()
    with pytest.raises(eplb.InvalidArgument, match="current has 64 slots per layer but the "
                       "topology has 72"):
        migration.schedule(current[:, :64])
    with pytest.raises(eplb.InvalidArgument, match=r"moves\[0\] expects expert"):
        migration.schedule(new_phy2log)
    with pytest.raises(eplb.InvalidArgument, match="current.shape"):
        migration.schedule(current[0])
    for size in (-1, float("nan"), -2.0, 1.5):
        with pytest.raises(eplb.InvalidArgument, match="expert_bytes"):
            migration.schedule(current, expert_bytes=size)
    with pytest.raises(TypeError, match="expert_bytes"):
        migration.schedule(current, expert_bytes="1k")
    with pytest.raises(eplb.InvalidArgument, match="overflows"):
        migration.schedule(current, expert_bytes=2**62)
    with pytest.raises(eplb.InvalidArgument, match="no topology"):
        eplb.Migration(migration.moves, migration.cross_node_copies).schedule(current)


def test_replay_reports_each_replans_schedule():
    trace = drifting_trace(num_steps=160, seed=5)
    report = eplb.replay(trace, *TOPOLOGY.values(), interval=40, tolerance=0.01,
                         expert_bytes=1000)
    assert report["windows"][0]["schedule"] is None
    for window in report["windows"][1:]:
        schedule = window["schedule"]
        assert schedule["rounds"] == schedule["max_copies_per_gpu"]
        assert schedule["rounds"] == max(schedule["max_sent"], schedule["max_received"])
        assert schedule["network_copies"] + schedule["local_copies"] == window["moved_slots"]
        assert schedule["max_sent_bytes"] == 1000 * schedule["max_sent"]
        assert schedule["max_received_bytes"] == 1000 * schedule["max_received"]
    assert report["summary"]["max_rounds"] == max(
        window["schedule"]["rounds"] for window in report["windows"][1:])
    unknown = eplb.replay(trace, *TOPOLOGY.values(), interval=40, tolerance=0.01)
    assert unknown["windows"][1]["schedule"]["max_sent_bytes"] is None
    with pytest.raises(eplb.InvalidArgument, match="expert_bytes"):
        eplb.replay(trace, *TOPOLOGY.values(), interval=40, expert_bytes=float("nan"))
