"""PyTorch `.pt` files, which the compiled readers do not parse (they are pickles): SGLang's
expert distribution recorder dumps and plans saved as DeepSeek's three tensors.

torch is imported inside these functions on first use, never by `import eplb`. Files are read
with `torch.load(weights_only=True)`, which loads tensors and plain containers only. Nothing
here plans or sums: values are checked and handed to the core as NumPy arrays.
"""

import os
from typing import Any, Tuple

import numpy as np

from . import _convert, _eplb

#: The keys of a plan saved with `format="torch"`: DeepSeek's three arrays, as int64 tensors.
PLAN_KEYS = ("phy2log", "log2phy", "logcnt")

#: The file name endings read as PyTorch files when the format is "auto".
_SUFFIXES = (".pt", ".pth")


def is_torch_file(path: str) -> bool:
    """Returns true when `path` names a PyTorch file (`.pt` or `.pth`)."""
    return path.lower().endswith(_SUFFIXES)


def _import_torch(function: str, what: str) -> Any:
    try:
        import torch
    except ImportError as error:
        raise ImportError(
            f"{function}: {what} needs PyTorch, which is not installed (pip install torch)"
        ) from error
    return torch


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


def _load(path: str, function: str, what: str) -> Any:
    """Returns the object saved in `path`, with tensors on the CPU. Raises IoError when the file
    cannot be read and ParseError when torch.load(weights_only=True) refuses its content."""
    torch = _import_torch(function, what)
    try:
        with open(path, "rb") as file:
            return torch.load(file, map_location="cpu", weights_only=True)
    except OSError as error:
        raise _convert.io_error(f"{function}: {path}: {error.strerror or error}",
                                error) from error
    except Exception as error:  # torch.load raises many types for content it cannot unpickle
        raise _eplb.ParseError(
            f"{function}: {path}: not a file torch.load(weights_only=True) reads: "
            f"{_first_line(error)}") from error


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a dict with keys " + ", ".join(repr(key) for key in value)
    return f"a {type(value).__name__}"


def _value_text(value: float) -> str:
    """Formats a load as the core's messages do: integral values without a fraction."""
    return str(int(value)) if np.isfinite(value) and value == int(value) else repr(float(value))


def read_sglang_dump(path: str, function: str) -> np.ndarray:
    """Reads the `logical_count` of an SGLang expert distribution dump (`torch.save` of a dict,
    as the recorder's stat mode writes it) as float64 `[num_steps, num_layers, num_experts]`; a
    2-D count is one step.

    Raises ParseError naming `path` when the dict, the key, the shape or a value (negative or
    not finite) is wrong.
    """
    torch = _import_torch(function, "reading a .pt file")
    data = _load(path, function, "reading a .pt file")
    if not isinstance(data, dict) or "logical_count" not in data:
        raise _eplb.ParseError(
            f'{function}: {path}: expected a dict with "logical_count" (an SGLang expert '
            f"distribution dump), found {_describe(data)}")
    count = data["logical_count"]
    if not isinstance(count, torch.Tensor):
        raise _eplb.ParseError(
            f"{function}: {path}: logical_count must be a tensor, not {type(count).__name__}")
    shape = tuple(count.shape)
    if len(shape) not in (2, 3) or 0 in shape:
        raise _eplb.ParseError(
            f"{function}: {path}: logical_count.shape = {list(shape)} must be [num_layers, "
            "num_experts] or [num_steps, num_layers, num_experts], none of them 0")
    if count.dtype == torch.bool or count.dtype.is_complex:
        raise _eplb.ParseError(
            f"{function}: {path}: logical_count.dtype = {count.dtype} must be a real number type")
    values = count.detach().to(torch.float64).contiguous().numpy()
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        where = "".join(f"[{i}]" for i in index)
        raise _eplb.ParseError(
            f"{function}: {path}: logical_count{where}: value {_value_text(values[index])} "
            "must be finite and non-negative")
    return values if values.ndim == 3 else values[np.newaxis]


def save_plan(path: str, arrays: Tuple[np.ndarray, ...], function: str) -> None:
    """Saves `(phy2log, log2phy, logcnt)` as a dict of int64 tensors (PLAN_KEYS) with
    torch.save, to a temporary name that is then renamed. Raises IoError."""
    torch = _import_torch(function, 'format = "torch"')
    tensors = {key: torch.tensor(array, dtype=torch.int64) for key, array in zip(PLAN_KEYS, arrays)}
    temporary = path + ".tmp"
    try:
        with open(temporary, "wb") as file:
            torch.save(tensors, file)
        os.replace(temporary, path)
    except OSError as error:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise _eplb.IoError(f"{function}: {path}: {error.strerror or error}") from error


def load_plan(path: str, function: str) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reads the three tensors save_plan() writes as C-contiguous int64 NumPy arrays. Raises
    IoError, and ParseError naming `path` when a key is missing or not an integer tensor; the
    caller validates the plan."""
    torch = _import_torch(function, 'format = "torch"')
    data = _load(path, function, 'format = "torch"')
    if not isinstance(data, dict):
        raise _eplb.ParseError(
            f'{function}: {path}: expected a dict of tensors "phy2log", "log2phy" and "logcnt", '
            f"found {_describe(data)}")
    arrays = []
    for key in PLAN_KEYS:
        if key not in data:
            raise _eplb.ParseError(f'{function}: {path}: missing key "{key}"')
        tensor = data[key]
        integral = isinstance(tensor, torch.Tensor) and not (
            tensor.dtype == torch.bool or tensor.dtype.is_floating_point or tensor.dtype.is_complex)
        if not integral:
            found = tensor.dtype if isinstance(tensor, torch.Tensor) else type(tensor).__name__
            raise _eplb.ParseError(
                f"{function}: {path}: {key} must be an integer tensor, found {found}")
        arrays.append(tensor.to(torch.int64).contiguous().numpy())
    return arrays[0], arrays[1], arrays[2]
