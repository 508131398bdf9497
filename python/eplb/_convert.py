"""Thin conversions between the caller's arrays (torch tensors, NumPy arrays, nested lists) and
the C-contiguous CPU arrays the compiled core takes and returns.

Nothing here computes a plan: loads are handed to C++ without a copy when they already are
C-contiguous float64, float32, int32 or int64 on the CPU, and results go back as int64 in the
caller's framework and on the caller's device.
"""

import operator
import sys
from typing import Any, Callable, List, Sequence, Tuple

import numpy as np

from . import _eplb

#: The element types the core reads directly (eplb::LoadMatrix's four constructors).
_DIRECT_LOAD_DTYPES = (np.float64, np.float32, np.int32, np.int64)


def _torch_tensor_type() -> Any:
    """Returns torch.Tensor if torch is already imported, else None (never imports torch)."""
    torch = sys.modules.get("torch")
    return None if torch is None else torch.Tensor


def _is_tensor(value: Any) -> bool:
    tensor_type = _torch_tensor_type()
    return tensor_type is not None and isinstance(value, tensor_type)


def _numpy_load_dtype(dtype: np.dtype, function: str, name: str) -> np.dtype:
    """Returns the dtype the core reads loads of `dtype` as; raises TypeError for non-numbers."""
    if dtype.type in _DIRECT_LOAD_DTYPES:
        return dtype.newbyteorder("=")  # the core reads native byte order
    if dtype.kind == "f":
        # float16 widens to float32 exactly; wider floats are read as float64.
        return np.dtype(np.float32 if dtype.itemsize < 4 else np.float64)
    if dtype.kind == "i" or (dtype.kind == "u" and dtype.itemsize < 8):
        return np.dtype(np.int64)
    if dtype.kind == "u":
        return np.dtype(np.float64)
    raise TypeError(f"{function}: {name}.dtype = {dtype} must be a real number type (int or float)")


def _tensor_to_numpy(tensor: Any, function: str, name: str) -> np.ndarray:
    """Returns a CPU NumPy view (or, when the dtype or layout must change, a copy) of `tensor`."""
    import torch  # already imported: `tensor` is a torch.Tensor

    dtype = tensor.dtype
    if dtype == torch.bool or dtype.is_complex:
        raise TypeError(
            f"{function}: {name}.dtype = {dtype} must be a real number type (int or float)")
    tensor = tensor.detach().cpu()
    if dtype not in (torch.float64, torch.float32, torch.int32, torch.int64):
        if dtype.is_floating_point:
            # float16, bfloat16 and the float8 types widen to float32 exactly.
            tensor = tensor.to(torch.float32 if dtype.itemsize < 4 else torch.float64)
        elif dtype == torch.uint64:
            tensor = tensor.to(torch.float64)
        else:
            tensor = tensor.to(torch.int64)
    return tensor.resolve_neg().contiguous().numpy()


def as_loads(weight: Any, function: str, name: str = "weight") -> np.ndarray:
    """Returns `weight` `[num_layers, num_experts]` as a C-contiguous CPU NumPy array of float64,
    float32, int32 or int64, without a copy when it already is one.

    Raises InvalidArgument (a ValueError) unless `weight` is 2-D, and TypeError when its elements
    are not real numbers. Values (NaN, negative, ...) are checked by the core.
    """
    shape = tuple(weight.shape) if _is_tensor(weight) else np.shape(weight)
    if len(shape) != 2:
        raise _eplb.InvalidArgument(
            f"{function}: {name}.shape = {shape} must be 2-D [num_layers, num_experts]")
    if _is_tensor(weight):
        return _tensor_to_numpy(weight, function, name)
    array = np.asarray(weight)
    array = array.astype(_numpy_load_dtype(array.dtype, function, name), copy=False)
    return np.ascontiguousarray(array)


def shape_of(value: Any) -> Tuple[int, ...]:
    """Returns the shape of a torch tensor, NumPy array or nested list without converting it."""
    return tuple(value.shape) if _is_tensor(value) else np.shape(value)


def as_index_array(value: Any, function: str, name: str) -> np.ndarray:
    """Returns integer `value` (phy2log, log2phy or logcnt) as a C-contiguous CPU int64 NumPy
    array; raises TypeError when its elements are not integers."""
    if _is_tensor(value):
        import torch  # already imported: `value` is a torch.Tensor

        if value.dtype == torch.bool or value.dtype.is_floating_point or value.dtype.is_complex:
            raise TypeError(f"{function}: {name}.dtype = {value.dtype} must be an integer type")
        return value.detach().cpu().to(torch.int64).contiguous().numpy()
    array = np.asarray(value)
    if array.size == 0 and array.dtype == np.float64:
        array = array.astype(np.int64)  # np.asarray([]) is float64
    if array.dtype.kind not in "iu":
        raise TypeError(f"{function}: {name}.dtype = {array.dtype} must be an integer type")
    return np.ascontiguousarray(array, dtype=np.int64)


def as_int(value: Any, function: str, name: str) -> int:
    """Returns `value` as a Python int that fits int64; bool is not an int here (TypeError)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{function}: {name} = {value!r} must be an int, not bool")
    try:
        result = operator.index(value)
    except TypeError:
        raise TypeError(
            f"{function}: {name} = {value!r} must be an int, not {type(value).__name__}"
        ) from None
    if not -(2**63) <= result < 2**63:
        raise _eplb.InvalidArgument(f"{function}: {name} = {result} does not fit in int64")
    return result


def as_seed(value: Any, function: str) -> int:
    """Returns `value` as an int in [0, 2**64) (the core's uint64 seed)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{function}: seed = {value!r} must be an int, not bool")
    try:
        result = operator.index(value)
    except TypeError:
        raise TypeError(
            f"{function}: seed = {value!r} must be an int, not {type(value).__name__}") from None
    if not 0 <= result < 2**64:
        raise _eplb.InvalidArgument(f"{function}: seed = {result} must be in [0, 2**64)")
    return result


def as_str(value: Any, function: str, name: str) -> str:
    """Returns `value` if it is a str; raises TypeError otherwise."""
    if not isinstance(value, str):
        raise TypeError(f"{function}: {name} = {value!r} must be a str")
    return value


def as_choice(value: Any, choices: Sequence[str], function: str, name: str) -> str:
    """Returns `value` if it is one of `choices`; raises InvalidArgument (TypeError for a
    non-str) naming them, e.g. `save_plan: format = "yaml" must be one of eplb, sglang`."""
    text = as_str(value, function, name)
    if text not in choices:
        raise _eplb.InvalidArgument(
            f'{function}: {name} = "{text}" must be one of {", ".join(choices)}')
    return text


def as_layer_list(value: Any, function: str, name: str) -> List[int]:
    """Returns `value` (None, or an iterable of ints such as a list, a range or a 1-D array) as a
    list of ints; the core checks order and range."""
    if value is None:
        return []
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{function}: {name} = {value!r} must be a sequence of ints")
    if _is_tensor(value) or isinstance(value, np.ndarray):
        value = value.tolist()
    try:
        items = list(value)
    except TypeError:
        raise TypeError(
            f"{function}: {name} = {value!r} must be a sequence of ints, not "
            f"{type(value).__name__}") from None
    return [as_int(item, function, f"{name}[{i}]") for i, item in enumerate(items)]


def output_like(template: Any) -> Callable[[np.ndarray], Any]:
    """Returns a function that moves a NumPy result into `template`'s framework and device:
    a torch tensor on the same device for a torch `template`, else the NumPy array itself."""
    if not _is_tensor(template):
        return lambda array: array
    import torch  # already imported: `template` is a torch.Tensor

    device = template.device
    if device.type == "cpu":
        return torch.from_numpy
    return lambda array: torch.from_numpy(array).to(device)


def as_bool_list(value: Any, function: str, name: str) -> List[bool]:
    """Returns `value` (None, or a 1-D sequence, NumPy array or torch tensor of bools) as a list
    of bools; None gives the empty list (every GPU active)."""
    if value is None:
        return []
    if hasattr(value, "detach"):  # a torch tensor, on any device
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.ndim != 1 or array.dtype != np.bool_:
        raise TypeError(
            f"{function}: {name} must be a 1-D sequence of bools, got {array.dtype} "
            f"with shape {tuple(array.shape)}"
        )
    return [bool(flag) for flag in array]
