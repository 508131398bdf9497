"""policy="deepseek" equals DeepSeek's reference, run in torch (deepseek_reference.py), on random
inputs built to make float32 roundings decide: groups holding the same loads in other orders,
loads near 2^24, non-integer loads, ties, zeros, and groups long enough for torch's vectorized
and cascaded sums."""

import numpy as np
import pytest

import eplb

torch = pytest.importorskip("torch")
from deepseek_reference import rebalance_experts as reference  # noqa: E402

NUM_CASES = 2400


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """The oracle's many small torch calls run far faster on one thread. Its sums do not depend
    on it: torch splits a reduction with more than one output between threads by outputs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_loads(rng, num_layers, num_groups, group_size):
    """Returns float64 loads [num_layers, num_groups * group_size] of one of several kinds."""
    shape = (num_layers, num_groups * group_size)
    kind = rng.integers(7)
    if kind == 0:  # every group the same multiset of decimals, shuffled: equal sums but for rounding
        base = rng.integers(1, 4, size=group_size) / 10
        rows = [np.concatenate([rng.permutation(base) for _ in range(num_groups)])
                for _ in range(num_layers)]
        return np.array(rows)
    if kind == 1:  # integers around 2^24, where float32 stops holding every integer
        return 2.0**24 + rng.integers(-40, 40, size=shape)
    if kind == 2:  # large integers whose group sums pass 2^24 many times over
        return rng.integers(2**20, 2**24, size=shape).astype(np.float64)
    if kind == 3:  # uniform non-integers
        return rng.random(shape) * 10
    if kind == 4:  # skewed non-integers with a fraction of zeros
        loads = rng.gamma(0.4, 300.0, size=shape) * 1.37
        return np.where(rng.random(shape) < 0.2, 0.0, loads)
    if kind == 5:  # few distinct small integers: ties everywhere
        return rng.integers(0, 3, size=shape).astype(np.float64)
    # the same decimals in every group, reversed or rotated
    base = rng.random(group_size).astype(np.float32).astype(np.float64)
    rows = [np.concatenate([np.roll(base, rng.integers(group_size)) for _ in range(num_groups)])
            for _ in range(num_layers)]
    return np.array(rows)


def random_case(rng):
    """Returns (loads, (num_replicas, num_groups, num_nodes, num_gpus)) the reference accepts."""
    num_nodes = int(rng.choice([1, 1, 2, 4]))
    groups_per_node = int(rng.choice([1, 2, 2, 3, 4]))
    num_groups = num_nodes * groups_per_node
    if rng.random() < 0.15:
        num_groups += 1  # groups do not divide nodes: the reference's global fallback
    sizes = [1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 24, 31, 33, 40]
    group_size = int(rng.choice(sizes))
    if rng.random() < 0.01:
        group_size = int(rng.choice([64, 130, 517, 700]))  # 8-lane blocks in 16-row cascades
    num_experts = num_groups * group_size
    gpus_per_node = int(rng.choice([1, 2, 3, 4]))
    num_gpus = num_nodes * gpus_per_node
    per_gpu = -(-num_experts // num_gpus)  # at least one slot per expert
    num_replicas = num_gpus * (per_gpu + int(rng.integers(0, 3)))
    if num_experts > 200:
        num_replicas = num_gpus * per_gpu  # keep the reference's Python loops short
    num_layers = int(rng.integers(1, 4))
    loads = random_loads(rng, num_layers, num_groups, group_size)
    return loads, (num_replicas, num_groups, num_nodes, num_gpus)


def mismatches(plan, expected):
    return [name for name, got, want in zip(("phy2log", "log2phy", "logcnt"), plan, expected)
            if not np.array_equal(got, want.numpy())]


def test_reproducer_of_float32_group_sums():
    # Both groups sum to 0.8 in exact arithmetic; torch's float32 sum makes group 1 heavier.
    weight = np.array([[0.1, 0.2, 0.1, 0.2, 0.2, 0.3, 0.1, 0.1, 0.1, 0.2]], dtype=np.float32)
    phy2log, _, _ = eplb.rebalance_experts(weight, 10, 2, 1, 1, policy="deepseek")
    np.testing.assert_array_equal(phy2log, [[5, 9, 1, 3, 4, 6, 7, 8, 0, 2]])
    expected, _, _ = reference(torch.from_numpy(weight), 10, 2, 1, 1)
    np.testing.assert_array_equal(phy2log, expected.numpy())


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64])
def test_deepseek_equals_reference_on_random_cases(dtype):
    rng = np.random.default_rng(20 + dtype.itemsize)
    failures = []
    for case in range(NUM_CASES // 3):
        loads, sizes = random_case(rng)
        weight = torch.from_numpy(loads).to(dtype)
        plan = eplb.rebalance_experts(weight, *sizes, policy="deepseek")
        wrong = mismatches([p.numpy() for p in plan], reference(weight, *sizes))
        if wrong:
            failures.append((case, sizes, wrong))
    assert failures == []


def test_deepseek_equals_reference_on_large_groups():
    # Group sums of torch's cascade: 16 rows of 4 blocks of 8 lanes carry into the next level.
    rng = np.random.default_rng(7)
    for group_size in (512, 520, 1031, 2048 + 8 * 5 + 3):
        values = rng.random(group_size).astype(np.float32)
        loads = np.stack([np.concatenate([rng.permutation(values) for _ in range(4)])])
        sizes = (4 * group_size, 4, 2, 2)
        weight = torch.from_numpy(loads)
        plan = eplb.rebalance_experts(weight, *sizes, policy="deepseek")
        assert mismatches([p.numpy() for p in plan], reference(weight, *sizes)) == []


@pytest.mark.parametrize("weight", [[[1, 2, 3, 4, 5, 6]], [[5, 0, 9, 9, 1, 2], [0, 0, 0, 0, 0, 0]]])
def test_global_fallback_with_gpus_that_nodes_cannot_share(weight):
    # 3 groups on 2 nodes: the reference plans globally and never checks num_gpus % num_nodes.
    sizes = (6, 3, 2, 3)
    weight = torch.tensor(weight, dtype=torch.float32)
    plan = eplb.rebalance_experts(weight, *sizes, policy="deepseek")
    assert mismatches([p.numpy() for p in plan], reference(weight, *sizes)) == []
    for policy in ("balanced", "global"):
        phy2log, log2phy, logcnt = eplb.rebalance_experts(weight, *sizes, policy=policy)
        eplb.validate(phy2log, log2phy, logcnt, *sizes)
    # The same sizes with groups dividing nodes take the hierarchical path, which asserts.
    with pytest.raises(AssertionError):
        reference(weight, 6, 2, 2, 3)
    with pytest.raises(AssertionError):
        eplb.rebalance_experts(weight, 6, 2, 2, 3, policy="deepseek")
