"""Every bad input raises ValueError (eplb.InvalidArgument) or TypeError with the core's
message, unchanged."""

import re

import numpy as np
import pytest

import eplb

WEIGHT = np.arange(1, 25, dtype=np.float64).reshape(2, 12)
TOPOLOGY = (16, 4, 2, 8)


def raises(exception, message):
    return pytest.raises(exception, match=f"^{re.escape(message)}$")


@pytest.mark.parametrize(
    "value, text", [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf"), (-1.0, "-1")])
def test_bad_load_value(value, text):
    weight = WEIGHT.copy()
    weight[1, 5] = value
    message = f"rebalance_experts: weight[1][5] = {text} must be finite and non-negative"
    with raises(eplb.InvalidArgument, message):
        eplb.rebalance_experts(weight, *TOPOLOGY)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_bad_load_value_in_torch(dtype):
    torch = pytest.importorskip("torch")
    weight = torch.from_numpy(WEIGHT).to(getattr(torch, dtype))
    weight[0, 3] = float("nan")
    with raises(ValueError,
                "rebalance_experts: weight[0][3] = nan must be finite and non-negative"):
        eplb.rebalance_experts(weight, *TOPOLOGY)


def test_negative_integer_load():
    weight = WEIGHT.astype(np.int64)
    weight[0, 0] = -3
    with raises(ValueError,
                "rebalance_experts: weight[0][0] = -3 must be finite and non-negative"):
        eplb.rebalance_experts(weight, *TOPOLOGY)


@pytest.mark.parametrize("weight, shape", [
    (np.ones(12), "(12,)"),
    (np.ones((2, 3, 12)), "(2, 3, 12)"),
    (5.0, "()"),
    ([], "(0,)"),
])
def test_weight_must_be_2d(weight, shape):
    with raises(eplb.InvalidArgument,
                f"rebalance_experts: weight.shape = {shape} must be 2-D [num_layers, num_experts]"):
        eplb.rebalance_experts(weight, *TOPOLOGY)


def test_torch_weight_must_be_2d():
    torch = pytest.importorskip("torch")
    with raises(ValueError,
                "rebalance_experts: weight.shape = (12,) must be 2-D [num_layers, num_experts]"):
        eplb.rebalance_experts(torch.ones(12), *TOPOLOGY)


@pytest.mark.parametrize("shape, message", [
    ((0, 12), "rebalance_experts: weight: num_layers = 0 must be positive"),
    ((2, 0), "rebalance_experts: weight: num_experts = 0 must be positive"),
])
def test_empty_weight(shape, message):
    with raises(ValueError, message):
        eplb.rebalance_experts(np.zeros(shape), *TOPOLOGY)


@pytest.mark.parametrize("sizes, message", [
    ((8, 4, 2, 8), "rebalance_experts: num_replicas = 8 must be at least num_experts = 12"),
    ((16, 4, 2, 6), "Topology: num_replicas = 16 must be a multiple of num_gpus = 6"),
    ((16, 3, 3, 8), "Topology: num_gpus = 8 must be a multiple of num_nodes = 3"),
    ((16, 8, 2, 8), "rebalance_experts: num_experts = 12 must be a multiple of num_groups = 8"),
    ((16, 4, 2, 32), "Topology: num_gpus = 32 must not exceed num_replicas = 16"),
    ((0, 4, 2, 8), "Topology: num_replicas = 0 must be positive"),
    ((16, 0, 2, 8), "Topology: num_groups = 0 must be positive"),
    ((16, 4, 0, 8), "Topology: num_nodes = 0 must be positive"),
    ((16, 4, 2, 0), "Topology: num_gpus = 0 must be positive"),
    ((-16, 4, 2, 8), "Topology: num_replicas = -16 must be positive"),
    ((16, 4, 2, -8), "Topology: num_gpus = -8 must be positive"),
])
def test_bad_sizes(sizes, message):
    for policy in ("deepseek", "balanced", "global"):
        with raises(eplb.InvalidArgument, message):
            eplb.rebalance_experts(WEIGHT, *sizes, policy=policy)


# The size conditions DeepSeek's rebalance_experts asserts: code written around it catches
# AssertionError (vLLM's own test does, for num_replicas not divisible by the GPUs).
ASSERTED_SIZES = [
    (8, 4, 2, 8),  # fewer slots than experts
    (16, 4, 2, 6),  # num_replicas not a multiple of num_gpus
    (16, 3, 3, 8),  # hierarchical (groups divide nodes), num_gpus not a multiple of num_nodes
    (16, 8, 2, 8),  # hierarchical, num_experts not a multiple of num_groups
    (16, 4, 2, 32),  # more GPUs than slots
]


@pytest.mark.parametrize("sizes", ASSERTED_SIZES)
@pytest.mark.parametrize("policy", ["deepseek", "balanced", "global"])
def test_asserted_sizes_raise_invalid_sizes(sizes, policy):
    for caught in (AssertionError, ValueError, eplb.InvalidArgument, eplb.InvalidSizes, eplb.Error):
        with pytest.raises(caught):
            eplb.rebalance_experts(WEIGHT, *sizes, policy=policy)


def test_invalid_sizes_is_an_invalid_argument_and_an_assertion_error():
    assert issubclass(eplb.InvalidSizes, eplb.InvalidArgument)
    assert issubclass(eplb.InvalidSizes, ValueError)
    assert issubclass(eplb.InvalidSizes, AssertionError)
    assert eplb.InvalidSizes.__name__ == "InvalidSizes"
    assert eplb.InvalidSizes.__module__ == "eplb"


def test_other_invalid_arguments_are_not_assertion_errors():
    # Conditions the reference does not assert keep a plain InvalidArgument.
    for sizes in [(0, 4, 2, 8), (16, 4, 0, 8)]:
        with pytest.raises(eplb.InvalidArgument) as error:
            eplb.rebalance_experts(WEIGHT, *sizes)
        assert not isinstance(error.value, AssertionError)
    with pytest.raises(eplb.InvalidArgument) as error:
        eplb.rebalance_experts(WEIGHT, *TOPOLOGY, effort=0)
    assert not isinstance(error.value, AssertionError)


def test_replicas_not_divisible_by_gpus_as_vllm_tests_it():
    # vLLM's test_eplb_algo.py: `with pytest.raises(AssertionError)` around the call.
    with pytest.raises(AssertionError):
        eplb.rebalance_experts(np.array([[1.0, 2.0, 3.0]]), 7, 1, 1, 2)


def test_groups_not_dividing_experts_is_fine_on_the_global_path():
    # num_groups % num_nodes != 0: DeepSeek's reference never looks at num_groups again.
    plan = eplb.rebalance_experts(np.ones((1, 4)), 8, 3, 2, 4, policy="deepseek")
    phy2log, log2phy, logcnt = plan
    eplb.validate(phy2log, log2phy, logcnt, 8, 3, 2, 4)


@pytest.mark.parametrize("options, message", [
    ({"policy": "fast"}, 'parse_policy: policy = "fast" is not one of: deepseek, balanced, global'),
    ({"packer": "best"},
     'parse_packing_strategy: packer = "best" is not one of: greedy, snake, multistart'),
    ({"effort": 0}, "rebalance_experts: effort = 0 must be in [1, 1000]"),
    ({"effort": 1001}, "rebalance_experts: effort = 1001 must be in [1, 1000]"),
    ({"threads": 0}, "rebalance_experts: threads = 0 must be in [1, 1024]"),
    ({"seed": -1}, "rebalance_experts: seed = -1 must be in [0, 2**64)"),
    ({"seed": 2**64}, f"rebalance_experts: seed = {2**64} must be in [0, 2**64)"),
])
def test_bad_options(options, message):
    with raises(eplb.InvalidArgument, message):
        eplb.rebalance_experts(WEIGHT, *TOPOLOGY, **options)


def test_huge_size_is_a_value_error():
    message = f"rebalance_experts: num_gpus = {2**70} does not fit in int64"
    with raises(eplb.InvalidArgument, message):
        eplb.rebalance_experts(WEIGHT, 16, 4, 2, 2**70)


@pytest.mark.parametrize("position, name", enumerate(
    ["num_replicas", "num_groups", "num_nodes", "num_gpus"]))
@pytest.mark.parametrize("value, type_name", [
    (True, "bool"), (np.bool_(True), "bool"), (8.0, "float"), ("8", "str"), (None, "NoneType")])
def test_sizes_must_be_ints(position, name, value, type_name):
    sizes = list(TOPOLOGY)
    sizes[position] = value
    message = f"rebalance_experts: {name} = {value!r} must be an int, not {type_name}"
    with raises(TypeError, message):
        eplb.rebalance_experts(WEIGHT, *sizes)


def test_policy_must_be_a_str():
    with raises(TypeError, "rebalance_experts: policy = 1 must be a str"):
        eplb.rebalance_experts(WEIGHT, *TOPOLOGY, policy=1)


@pytest.mark.parametrize("weight, dtype", [
    (np.ones((2, 12), dtype=bool), "bool"),
    (np.ones((2, 12), dtype=complex), "complex128"),
    ([["a"] * 12] * 2, "<U1"),
    ([[None] * 12] * 2, "object"),
])
def test_weight_must_hold_real_numbers(weight, dtype):
    message = f"rebalance_experts: weight.dtype = {dtype} must be a real number type (int or float)"
    with raises(TypeError, message):
        eplb.rebalance_experts(weight, *TOPOLOGY)


def test_torch_bool_weight_is_a_type_error():
    torch = pytest.importorskip("torch")
    message = ("rebalance_experts: weight.dtype = torch.bool must be a real number type "
               "(int or float)")
    with raises(TypeError, message):
        eplb.rebalance_experts(torch.ones(2, 12, dtype=torch.bool), *TOPOLOGY)


def test_ragged_weight_is_a_value_error():
    with pytest.raises(ValueError):
        eplb.rebalance_experts([[1, 2, 3], [4, 5]], 4, 1, 1, 2)


def test_errors_share_one_hierarchy():
    assert issubclass(eplb.InvalidArgument, eplb.Error)
    assert issubclass(eplb.InvalidArgument, ValueError)
    assert issubclass(eplb.ParseError, eplb.Error)
    assert issubclass(eplb.ParseError, ValueError)
    assert issubclass(eplb.IoError, eplb.Error)
    assert issubclass(eplb.IoError, OSError)
    assert issubclass(eplb.Error, Exception)
    assert eplb.InvalidArgument.__module__ == "eplb"
    assert eplb.InvalidArgument.__name__ == "InvalidArgument"


def test_an_invalid_argument_is_caught_as_eplb_error():
    with pytest.raises(eplb.Error):
        eplb.rebalance_experts(WEIGHT, 16, 4, 2, 6)


def test_compiled_module_checks_rank_and_dtype_itself():
    from eplb import _eplb

    with raises(eplb.InvalidArgument,
                "rebalance_experts: weight.ndim = 1 must be 2 ([num_layers, num_experts])"):
        _eplb.rebalance_experts(np.ones(12), *TOPOLOGY)
    with raises(eplb.InvalidArgument,
                "rebalance_experts: weight.dtype = float16 must be float64, float32, int32 or "
                "int64"):
        _eplb.rebalance_experts(WEIGHT.astype(np.float16), *TOPOLOGY)
    with pytest.raises(TypeError):  # no silent copy of a non-contiguous array
        _eplb.rebalance_experts(np.repeat(WEIGHT, 2, axis=1)[:, ::2], *TOPOLOGY)
    with pytest.raises(TypeError):  # no silent float -> int conversion of a plan
        _eplb.plan_from_phy2log(np.zeros((2, 16)), 12)
