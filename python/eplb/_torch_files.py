"""PyTorch `.pt` files, which the compiled readers do not parse (they are pickles): SGLang's
expert distribution recorder dumps and plans saved as DeepSeek's three tensors.

torch is imported inside these functions on first use, never by `import eplb`. Files are read
with `torch.load(weights_only=True)`, which loads tensors and plain containers only. Nothing
here plans or sums: values are checked and handed to the core as NumPy arrays.
"""

import contextlib
import errno
import io
import os
import secrets
import stat
import sys
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
        if path == "-":  # standard input, as for the compiled readers
            return torch.load(io.BytesIO(sys.stdin.buffer.read()), map_location="cpu",
                              weights_only=True)
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


def _real_tensor(torch: Any, value: Any, name: str, path: str, function: str,
                 ndims: Tuple[int, ...]) -> np.ndarray:
    """Returns tensor `value` as float64 NumPy, checking its type and number of dimensions."""
    if not isinstance(value, torch.Tensor):
        raise _eplb.ParseError(
            f"{function}: {path}: {name} must be a tensor, not {type(value).__name__}")
    shape = tuple(value.shape)
    if len(shape) not in ndims or 0 in shape:
        dims = " or ".join(f"{n}-D" for n in ndims)
        raise _eplb.ParseError(
            f"{function}: {path}: {name}.shape = {list(shape)} must be {dims}, no dimension 0")
    if value.dtype == torch.bool or value.dtype.is_complex:
        raise _eplb.ParseError(
            f"{function}: {path}: {name}.dtype = {value.dtype} must be a real number type")
    return value.detach().to(torch.float64).contiguous().numpy()


def _check_counts(values: np.ndarray, name: str, path: str, function: str) -> None:
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        where = "".join(f"[{i}]" for i in index)
        raise _eplb.ParseError(
            f"{function}: {path}: {name}{where}: value {_value_text(values[index])} "
            "must be finite and non-negative")


def _read_pass_records(torch: Any, data: dict, path: str, function: str) -> np.ndarray:
    """Reads a `per_pass` / `per_token` dump: `records`, one dict per forward pass holding
    `forward_pass_id` and `global_physical_count` `[layers, physical experts]`, mapped to logical
    experts through `last_physical_to_logical_map` `[layers, physical experts]` (SGLang's
    recorder keeps the map of the end of the recording). Passes are the steps, in
    `forward_pass_id` order; records of one pass are summed."""
    records = data["records"]
    if not isinstance(records, (list, tuple)) or not records:
        raise _eplb.ParseError(f"{function}: {path}: records must be a non-empty list of dicts")
    if "last_physical_to_logical_map" not in data:
        raise _eplb.ParseError(
            f'{function}: {path}: missing "last_physical_to_logical_map" (needed to map the '
            "records' physical slots to logical experts)")
    phy2log = _real_tensor(torch, data["last_physical_to_logical_map"],
                           "last_physical_to_logical_map", path, function, (2,))
    if (phy2log < 0).any() or (phy2log != np.floor(phy2log)).any():
        raise _eplb.ParseError(
            f"{function}: {path}: last_physical_to_logical_map must hold expert ids >= 0")
    phy2log = phy2log.astype(np.int64)
    num_layers, num_slots = phy2log.shape
    num_experts = int(phy2log.max()) + 1
    passes: dict = {}
    for i, record in enumerate(records):
        name = f"records[{i}]"
        if not isinstance(record, dict) or "global_physical_count" not in record:
            raise _eplb.ParseError(
                f'{function}: {path}: {name} must be a dict with "global_physical_count", found '
                f"{_describe(record)}")
        count = _real_tensor(torch, record["global_physical_count"],
                             f"{name}.global_physical_count", path, function, (2,))
        if count.shape != (num_layers, num_slots):
            raise _eplb.ParseError(
                f"{function}: {path}: {name}.global_physical_count.shape = {list(count.shape)} "
                f"must equal last_physical_to_logical_map's {[num_layers, num_slots]}")
        _check_counts(count, f"{name}.global_physical_count", path, function)
        pass_id = record.get("forward_pass_id", i)
        if not isinstance(pass_id, int):
            raise _eplb.ParseError(
                f"{function}: {path}: {name}.forward_pass_id must be an int, not "
                f"{type(pass_id).__name__}")
        logical = np.zeros((num_layers, num_experts))
        for layer in range(num_layers):
            np.add.at(logical[layer], phy2log[layer], count[layer])
        if pass_id in passes:
            passes[pass_id] += logical
        else:
            passes[pass_id] = logical
    return np.stack([passes[pass_id] for pass_id in sorted(passes)])


def read_sglang_dump(path: str, function: str) -> np.ndarray:
    """Reads an SGLang expert distribution dump (`torch.save` of a dict) as float64
    `[num_steps, num_layers, num_experts]`: stat mode's `logical_count` (a 2-D count is one
    step), or the `records` of `per_pass` and `per_token` modes (one step per forward pass; see
    _read_pass_records; those files hold one rank's tokens each).

    Raises ParseError naming `path` when the dict, a key, a shape or a value (negative or not
    finite) is wrong.
    """
    torch = _import_torch(function, "reading a .pt file")
    data = _load(path, function, "reading a .pt file")
    if isinstance(data, dict) and "records" in data and "logical_count" not in data:
        return _read_pass_records(torch, data, path, function)
    if not isinstance(data, dict) or "logical_count" not in data:
        raise _eplb.ParseError(
            f'{function}: {path}: expected a dict with "logical_count" or "records" (an SGLang '
            f"expert distribution dump), found {_describe(data)}")
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
    _check_counts(values, "logical_count", path, function)
    return values if values.ndim == 3 else values[np.newaxis]


def _write_through(path: str, data: bytes) -> None:
    """Writes `data` to what `path` opens: a FIFO's reader, a device, a dangling link's target."""
    with open(path, "wb") as file:
        file.write(data)


def _write_stdout(data: bytes) -> None:
    """Writes `data` to file descriptor 1, as the compiled writers do for `-`."""
    sys.stdout.flush()
    view = memoryview(data)
    while view:
        view = view[os.write(1, view):]


def _replace(path: str, data: bytes) -> None:
    """Writes `data` to a new file with a unique name next to the file `path` resolves to and
    renames it over that file, so a reader or a concurrent writer never sees a partial file and
    a file of the user's (such as `plan.pt.tmp`) is never touched."""
    target = os.path.realpath(path) if os.path.islink(path) else path
    folder, name = os.path.split(target)
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        mode = None
    for _ in range(100):
        temporary = os.path.join(folder, f".{name}.eplb-{os.getpid()}-{secrets.token_hex(6)}.tmp")
        try:
            # 0o666 less the umask, as for any new file; O_EXCL never opens an existing one.
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(errno.EEXIST, "no unused temporary name", target)
    try:
        with os.fdopen(fd, "wb") as file:
            if mode is not None:
                os.fchmod(file.fileno(), mode)  # replacing a file keeps its permissions
            file.write(data)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


def write_file(path: str, data: bytes, function: str) -> None:
    """Writes `data` to `path` the way the compiled writers do (eplb/io/files.h): `-` is
    standard output; a regular file (or a new one, or a symlink's target) is replaced through a
    unique temporary file and a rename; a FIFO, a device or a path under /dev or /proc is
    written straight through. Raises IoError naming `path`."""
    try:
        if path == "-":
            _write_stdout(data)
            return
        try:
            info = os.stat(path)
            exists = True
        except FileNotFoundError:
            info, exists = None, False
        if os.path.isdir(path):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        if exists and not os.access(path, os.W_OK):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), path)
        special = path.startswith(("/dev/", "/proc/"))
        dangling = not exists and os.path.islink(path)
        if (exists and not stat.S_ISREG(info.st_mode)) or special or dangling:
            _write_through(path, data)
        else:
            _replace(path, data)
    except OSError as error:
        raise _convert.io_error(f"{function}: {path}: {error.strerror or error}",
                                error) from error


def save_plan(path: str, arrays: Tuple[np.ndarray, ...], function: str) -> None:
    """Saves `(phy2log, log2phy, logcnt)` as a dict of int64 tensors (PLAN_KEYS) with
    torch.save, through write_file(). Raises IoError."""
    torch = _import_torch(function, 'format = "torch"')
    tensors = {key: torch.tensor(array, dtype=torch.int64) for key, array in zip(PLAN_KEYS, arrays)}
    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    write_file(path, buffer.getvalue(), function)


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
