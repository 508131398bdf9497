"""Inputs in every framework, dtype and layout give the same plan, returned in the caller's
framework as int64."""

import numpy as np
import pytest

import eplb
from conftest import DEEPSEEK_V3

# Small integral loads: exact in every dtype below, bfloat16 included (integers up to 256).
LOADS = np.random.default_rng(1).integers(0, 200, size=(6, 64)).astype(np.float64)
TOPOLOGY = (96, 8, 2, 16)


def reference_plan(policy="balanced"):
    return eplb.rebalance_experts(LOADS, *TOPOLOGY, policy=policy)


def assert_same_plan(plan, expected):
    for actual, wanted in zip(plan, expected):
        np.testing.assert_array_equal(np.asarray(actual), wanted)


@pytest.mark.parametrize("policy", ["deepseek", "balanced"])
@pytest.mark.parametrize("dtype", ["float64", "float32", "int32", "int64", "float16", "int16",
                                   "uint8", "uint32", "uint64", "longdouble"])
def test_numpy_dtypes_give_numpy_int64(dtype, policy):
    plan = eplb.rebalance_experts(LOADS.astype(dtype), *TOPOLOGY, policy=policy)
    for array in plan:
        assert isinstance(array, np.ndarray)
        assert array.dtype == np.int64
        assert array.flags.c_contiguous
    assert_same_plan(plan, reference_plan(policy))


@pytest.mark.parametrize("policy", ["deepseek", "balanced"])
@pytest.mark.parametrize("dtype", ["float32", "float64", "bfloat16", "float16", "int32", "int64",
                                   "int16", "int8", "uint8"])
def test_torch_dtypes_give_torch_int64_on_the_same_device(dtype, policy):
    torch = pytest.importorskip("torch")
    weight = torch.from_numpy(LOADS.clip(max=127)).to(getattr(torch, dtype))
    plan = eplb.rebalance_experts(weight, *TOPOLOGY, policy=policy)
    for array in plan:
        assert isinstance(array, torch.Tensor)
        assert array.dtype == torch.int64
        assert array.device == weight.device
    expected = eplb.rebalance_experts(LOADS.clip(max=127), *TOPOLOGY, policy=policy)
    assert_same_plan(plan, expected)


def test_lists_give_numpy():
    plan = eplb.rebalance_experts(LOADS.astype(int).tolist(), *TOPOLOGY)
    assert all(isinstance(array, np.ndarray) for array in plan)
    assert_same_plan(plan, reference_plan())


def test_tuples_and_read_only_arrays_are_accepted():
    frozen = LOADS.copy()
    frozen.flags.writeable = False
    assert_same_plan(eplb.rebalance_experts(frozen, *TOPOLOGY), reference_plan())
    as_tuples = tuple(tuple(row) for row in LOADS.tolist())
    assert_same_plan(eplb.rebalance_experts(as_tuples, *TOPOLOGY), reference_plan())


def test_big_endian_numpy_input():
    assert_same_plan(eplb.rebalance_experts(LOADS.astype(">f8"), *TOPOLOGY), reference_plan())
    assert_same_plan(eplb.rebalance_experts(LOADS.astype(">i4"), *TOPOLOGY), reference_plan())


def test_non_contiguous_numpy_inputs():
    transposed = np.ascontiguousarray(LOADS.T).T
    assert not transposed.flags.c_contiguous
    assert_same_plan(eplb.rebalance_experts(transposed, *TOPOLOGY), reference_plan())
    wide = np.repeat(LOADS, 2, axis=1)
    strided = wide[:, ::2]
    assert not strided.flags.c_contiguous
    assert_same_plan(eplb.rebalance_experts(strided, *TOPOLOGY), reference_plan())


def test_non_contiguous_torch_inputs():
    torch = pytest.importorskip("torch")
    base = torch.from_numpy(LOADS)
    transposed = base.t().contiguous().t()
    assert not transposed.is_contiguous()
    assert_same_plan(eplb.rebalance_experts(transposed, *TOPOLOGY), reference_plan())
    sliced = torch.from_numpy(np.repeat(LOADS, 2, axis=1)).to(torch.bfloat16)[:, ::2]
    assert not sliced.is_contiguous()
    assert_same_plan(eplb.rebalance_experts(sliced, *TOPOLOGY), reference_plan())


def test_torch_tensor_that_requires_grad():
    torch = pytest.importorskip("torch")
    weight = torch.from_numpy(LOADS).requires_grad_()
    assert_same_plan(eplb.rebalance_experts(weight, *TOPOLOGY), reference_plan())


def test_numpy_sizes_and_torch_scalars_are_ints():
    torch = pytest.importorskip("torch")
    sizes = (np.int64(96), np.int32(8), torch.tensor(2), 16)
    assert_same_plan(eplb.rebalance_experts(LOADS, *sizes), reference_plan())


def test_same_input_and_seed_give_the_same_plan():
    loads = np.random.default_rng(5).gamma(0.5, 1000.0, size=(58, 256))
    for policy in ("balanced", "global"):
        first = eplb.rebalance_experts(loads, **DEEPSEEK_V3, policy=policy, seed=7, effort=4)
        second = eplb.rebalance_experts(loads, **DEEPSEEK_V3, policy=policy, seed=7, effort=4)
        assert_same_plan(first, second)


def test_plan_does_not_depend_on_threads():
    loads = np.random.default_rng(6).gamma(0.5, 1000.0, size=(58, 256))
    single = eplb.rebalance_experts(loads, **DEEPSEEK_V3, seed=3, threads=1)
    for threads in (2, 4, 64):
        assert_same_plan(eplb.rebalance_experts(loads, **DEEPSEEK_V3, seed=3, threads=threads),
                         single)


def test_plan_arrays_index_each_other():
    phy2log, log2phy, logcnt = reference_plan()
    num_layers, num_experts, _ = log2phy.shape
    for layer in range(num_layers):
        for expert in range(num_experts):
            slots = log2phy[layer, expert, : logcnt[layer, expert]]
            assert (phy2log[layer, slots] == expert).all()
            assert (log2phy[layer, expert, logcnt[layer, expert]:] == -1).all()
