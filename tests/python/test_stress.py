"""Stress: 16 Python threads calling eplb.rebalance_experts at once, on different inputs with
every policy and packer (and some bad inputs), get exactly what single-threaded calls get."""

import threading

import numpy as np
import pytest

import eplb
from conftest import DEEPSEEK_V3, POLICIES, deepseek_v3_loads

torch = pytest.importorskip("torch")

NUM_THREADS = 16
PACKERS = ("multistart", "greedy", "snake")
# (num_layers, num_experts, sizes): DeepSeek-V3, a global-fallback shape (5 groups on 2 nodes)
# and a small heavily replicated one.
SHAPES = [
    (58, 256, DEEPSEEK_V3),
    (7, 60, {"num_replicas": 64, "num_groups": 5, "num_nodes": 2, "num_gpus": 8}),
    (9, 12, {"num_replicas": 48, "num_groups": 1, "num_nodes": 1, "num_gpus": 6}),
]
# Every input type the binding accepts without a copy, plus a torch tensor.
CONVERSIONS = [
    lambda loads: loads,
    lambda loads: loads.astype(np.float32),
    lambda loads: loads.astype(np.int64),
    lambda loads: torch.from_numpy(loads.astype(np.int32)),
]


def make_jobs():
    """Returns distinct requests: each shape x policy x packer on its own seeded loads."""
    jobs = []
    for shape_idx, (num_layers, num_experts, sizes) in enumerate(SHAPES):
        for policy in POLICIES:
            for packer in PACKERS if policy != "deepseek" else ("greedy",):
                index = len(jobs)
                loads = deepseek_v3_loads(index, num_layers, num_experts)
                jobs.append({"weight": CONVERSIONS[index % len(CONVERSIONS)](loads), **sizes,
                             "policy": policy, "packer": packer, "seed": index,
                             "threads": 1 + index % 3})
    return jobs


def run(job):
    """Plans `job`, or returns the error it raises as (type, message)."""
    try:
        return tuple(np.asarray(array) for array in eplb.rebalance_experts(**job))
    except eplb.Error as error:
        return type(error), str(error)


def bad_jobs():
    """Returns requests that must fail the same way under load: NaN, a negative value, sizes
    that do not fit."""
    nan_loads = deepseek_v3_loads(1, 3, 256)
    nan_loads[2, 5] = np.nan
    negative = deepseek_v3_loads(2, 3, 256).astype(np.int64)
    negative[0, 7] = -4
    return [{"weight": nan_loads, **DEEPSEEK_V3},
            {"weight": negative, **DEEPSEEK_V3, "policy": "global"},
            {"weight": deepseek_v3_loads(3, 2, 256), **{**DEEPSEEK_V3, "num_replicas": 100}}]


def assert_same(actual, expected):
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected):
        if isinstance(want, np.ndarray):
            np.testing.assert_array_equal(got, want)
        else:
            assert got == want


def test_many_threads_match_single_threaded_runs():
    jobs = make_jobs() + bad_jobs()
    expected = [run(job) for job in jobs]
    assert all(isinstance(result[0], type) for result in expected[-3:])
    # Every job three times, shuffled and dealt to 16 threads that start together.
    order = list(range(len(jobs))) * 3
    np.random.default_rng(0).shuffle(order)
    results = [None] * len(order)
    barrier = threading.Barrier(NUM_THREADS)

    def work(thread_idx):
        barrier.wait()
        for position in range(thread_idx, len(order), NUM_THREADS):
            results[position] = run(jobs[order[position]])

    threads = [threading.Thread(target=work, args=(t,)) for t in range(NUM_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for position, index in enumerate(order):
        assert_same(results[position], expected[index])
