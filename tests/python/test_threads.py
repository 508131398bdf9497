"""Several Python threads planning at once get the same plans as sequential calls (the core
keeps no global state and the binding releases the GIL)."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np

import eplb
from conftest import DEEPSEEK_V3, deepseek_v3_loads

JOBS = [(seed, policy) for seed in range(6) for policy in ("deepseek", "balanced", "global")]


def plan(job):
    seed, policy = job
    return eplb.rebalance_experts(deepseek_v3_loads(seed), **DEEPSEEK_V3, policy=policy,
                                  seed=seed)


def test_concurrent_calls_match_sequential_calls():
    sequential = [plan(job) for job in JOBS]
    with ThreadPoolExecutor(max_workers=6) as pool:
        concurrent = list(pool.map(plan, JOBS * 2))
    for index, result in enumerate(concurrent):
        for actual, expected in zip(result, sequential[index % len(JOBS)]):
            np.testing.assert_array_equal(actual, expected)


def test_concurrent_calls_on_one_shared_input():
    loads = deepseek_v3_loads(11).astype(np.float32)
    expected = eplb.rebalance_experts(loads, **DEEPSEEK_V3, seed=5, threads=2)

    def run(_):
        return eplb.rebalance_experts(loads, **DEEPSEEK_V3, seed=5, threads=2)

    with ThreadPoolExecutor(max_workers=4) as pool:
        for result in pool.map(run, range(8)):
            for actual, wanted in zip(result, expected):
                np.testing.assert_array_equal(actual, wanted)
