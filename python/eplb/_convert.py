"""Thin conversions between the caller's arrays (torch tensors, NumPy arrays, nested lists) and
the C-contiguous CPU arrays the compiled core takes and returns.

Nothing here computes a plan: loads are handed to C++ without a copy when they already are
C-contiguous float64, float32, int32 or int64 on the CPU, and results go back as int64 in the
caller's framework and on the caller's device.
"""

import math
import numbers
import operator
import sys
from typing import Any, Callable, List, Optional, Sequence, Tuple

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


def _check_tensor(tensor: Any, function: str, name: str) -> None:
    """Raises InvalidArgument for a tensor that holds no values to read (meta) or is not a plain
    strided one (sparse, nested)."""
    import torch  # already imported: `tensor` is a torch.Tensor

    if tensor.is_meta:
        raise _eplb.InvalidArgument(
            f"{function}: {name} is a meta tensor, which holds no values")
    if tensor.layout != torch.strided:
        raise _eplb.InvalidArgument(
            f"{function}: {name} has layout {tensor.layout}; pass {name}.to_dense()")


def _length(value: Any) -> Optional[int]:
    """Returns the entries of a list, tuple, array or tensor of at least one dimension, else
    None (a number)."""
    if isinstance(value, (list, tuple)):
        return len(value)
    if isinstance(value, np.ndarray) or _is_tensor(value):
        return len(value) if value.ndim > 0 else None
    return None


def _describe_length(length: Optional[int]) -> str:
    return "a number" if length is None else f"{length} entries"


def _ragged_entry(value: Any, name: str) -> Optional[str]:
    """Returns where nested sequences `value` stop being rectangular, e.g. `weight[1] has 3
    entries but weight[0] has 2 entries`, or None when they do not."""
    rows = list(value)
    lengths = [_length(row) for row in rows]
    for i, length in enumerate(lengths):
        if length != lengths[0]:
            return (f"{name}[{i}] has {_describe_length(length)} but {name}[0] has "
                    f"{_describe_length(lengths[0])}")
    for i, row in enumerate(rows):
        where = None if lengths[i] is None else _ragged_entry(row, f"{name}[{i}]")
        if where is not None:
            return where
    return None


def shape_of(value: Any, function: str, name: str) -> Tuple[int, ...]:
    """Returns the shape of a torch tensor, NumPy array or nested list without converting it.

    Raises InvalidArgument naming `name` for meta and sparse tensors and for ragged lists.
    """
    if _is_tensor(value):
        _check_tensor(value, function, name)
        return tuple(value.shape)
    try:
        return np.shape(value)
    except ValueError as error:  # NumPy's "inhomogeneous shape"
        where = _ragged_entry(value, name) if _length(value) is not None else None
        raise _eplb.InvalidArgument(
            f"{function}: {name} is not rectangular: {where or error}") from None


def _as_numpy(value: Any, function: str, name: str) -> np.ndarray:
    """np.asarray(value) for a NumPy array or nested lists; ragged lists raise InvalidArgument."""
    shape_of(value, function, name)
    return np.asarray(value)


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
    shape = shape_of(weight, function, name)
    if len(shape) != 2:
        raise _eplb.InvalidArgument(
            f"{function}: {name}.shape = {shape} must be 2-D [num_layers, num_experts]")
    if _is_tensor(weight):
        return _tensor_to_numpy(weight, function, name)
    array = np.asarray(weight)
    array = array.astype(_numpy_load_dtype(array.dtype, function, name), copy=False)
    return np.ascontiguousarray(array)


def as_index_array(value: Any, function: str, name: str) -> np.ndarray:
    """Returns integer `value` (phy2log, log2phy or logcnt) as a C-contiguous CPU int64 NumPy
    array; raises TypeError when its elements are not integers."""
    if _is_tensor(value):
        import torch  # already imported: `value` is a torch.Tensor

        _check_tensor(value, function, name)
        if value.dtype == torch.bool or value.dtype.is_floating_point or value.dtype.is_complex:
            raise TypeError(f"{function}: {name}.dtype = {value.dtype} must be an integer type")
        return value.detach().cpu().to(torch.int64).contiguous().numpy()
    array = _as_numpy(value, function, name)
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


def as_float(value: Any, function: str, name: str) -> float:
    """Returns `value` (an int or float, NumPy's included) as a float; raises TypeError for
    other types, bool and str among them."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{function}: {name} = {value!r} must be a float, not {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:  # an int beyond float's range
        raise _eplb.InvalidArgument(f"{function}: {name} = {value} must be finite") from None


def as_non_negative(value: Any, function: str, name: str) -> float:
    """Returns `value` as a float; raises InvalidArgument unless it is finite and non-negative
    (NaN compares false both ways, so a plain `>= 0` test would let it through)."""
    number = as_float(value, function, name)
    if not (math.isfinite(number) and number >= 0):
        shown = value if isinstance(value, numbers.Integral) else number
        raise _eplb.InvalidArgument(
            f"{function}: {name} = {shown} must be finite and non-negative")
    return number


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
    if _is_tensor(value):  # on any device
        _check_tensor(value, function, name)
        value = value.detach().cpu().numpy()
    array = _as_numpy(value, function, name)
    if array.ndim != 1 or array.dtype != np.bool_:
        raise TypeError(
            f"{function}: {name} must be a 1-D sequence of bools, got {array.dtype} "
            f"with shape {tuple(array.shape)}"
        )
    return [bool(flag) for flag in array]


def io_error(message: str, error: OSError) -> Exception:
    """Returns the eplb.IoError for `error` raised by Python's own file calls, as the core raises
    them: FileNotFoundIoError, PermissionIoError, IsADirectoryIoError, NotADirectoryIoError
    (each also the OSError subclass of its name) or IoError, with `error`'s errno, strerror and
    filename."""
    io_type = _eplb.IoError
    for os_type, eplb_type in ((FileNotFoundError, _eplb.FileNotFoundIoError),
                               (PermissionError, _eplb.PermissionIoError),
                               (IsADirectoryError, _eplb.IsADirectoryIoError),
                               (NotADirectoryError, _eplb.NotADirectoryIoError)):
        if isinstance(error, os_type):
            io_type = eplb_type
    result = io_type(message)
    result.errno, result.strerror, result.filename = error.errno, error.strerror, error.filename
    return result
