"""read_loads() and read_trace(): load files into NumPy arrays, and their errors."""

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest

import eplb
from conftest import DATA_DIR

TRACE = DATA_DIR / "io" / "vllm_trace.json"


def trace_steps():
    with open(TRACE, encoding="utf-8") as f:
        history = json.load(f)["load_history"]
    return np.array([step["logical_expert_load"] for step in history], dtype=np.float64)


def test_read_trace_returns_every_step():
    trace = eplb.read_trace(TRACE)
    assert trace.dtype == np.float64 and trace.flags.c_contiguous
    np.testing.assert_array_equal(trace, trace_steps())


@pytest.mark.parametrize("steps, begin, end", [
    (None, 0, None), ("0:1", 0, 1), ("1:", 1, None), (":2", 0, 2), (slice(1, 3), 1, 3),
    (slice(None, 1), 0, 1), ((1, None), 1, None), ((0, 2), 0, 2)])
def test_read_loads_sums_the_chosen_steps(steps, begin, end):
    loads = eplb.read_loads(TRACE, steps=steps)
    np.testing.assert_array_equal(loads, trace_steps()[begin:end].sum(axis=0))


def test_read_loads_takes_str_and_pathlike_paths():
    np.testing.assert_array_equal(eplb.read_loads(str(TRACE)), eplb.read_loads(Path(TRACE)))


def test_read_loads_of_csv_and_npy_files(readme_case):
    csv = eplb.read_loads(DATA_DIR / "cli" / "readme_loads.csv")
    np.testing.assert_array_equal(csv, readme_case["weight"])
    npy = eplb.read_loads(DATA_DIR / "io" / "loads_i8_v2.npy", format="npy")
    np.testing.assert_array_equal(npy, np.load(DATA_DIR / "io" / "loads_i8_v2.npy"))
    steps = eplb.read_trace(DATA_DIR / "io" / "steps_i4.npy")
    np.testing.assert_array_equal(steps, np.load(DATA_DIR / "io" / "steps_i4.npy"))


def test_loads_read_from_a_file_plan_like_the_array(readme_case):
    loads = eplb.read_loads(DATA_DIR / "cli" / "readme_loads.csv")
    plan = eplb.rebalance_experts(loads, 16, 4, 2, 8, policy="deepseek")
    np.testing.assert_array_equal(plan[0], readme_case["phy2log"])


def test_missing_file_is_an_io_error(tmp_path):
    missing = tmp_path / "missing.json"
    with pytest.raises(eplb.IoError) as info:
        eplb.read_loads(missing)
    assert isinstance(info.value, OSError)
    assert str(missing) in str(info.value)


def assert_os_error(error, os_type, number, path, message):
    """`error` is an eplb.IoError and the OSError subclass Python raises for `number`, with
    errno, strerror and filename set, and its message unchanged."""
    assert isinstance(error, eplb.IoError) and isinstance(error, os_type)
    assert (error.errno, error.strerror, error.filename) == (number, os.strerror(number), path)
    assert str(error) == message
    assert error.args == (message,)


def test_io_errors_are_the_os_errors_of_their_errno(tmp_path):
    missing = tmp_path / "missing.json"
    with pytest.raises(FileNotFoundError) as info:
        eplb.read_loads(missing)
    assert_os_error(info.value, eplb.FileNotFoundIoError, errno.ENOENT, str(missing),
                    f"read_loads: {missing}: No such file or directory")
    with pytest.raises(IsADirectoryError) as info:
        eplb.read_trace(tmp_path, format="json")
    assert_os_error(info.value, eplb.IsADirectoryIoError, errno.EISDIR, str(tmp_path),
                    f"read_trace: {tmp_path}: Is a directory")
    not_a_folder = tmp_path / "file.json"
    not_a_folder.write_text("[[1, 2]]")
    with pytest.raises(NotADirectoryError) as info:
        eplb.read_loads(not_a_folder / "loads.json")
    assert_os_error(info.value, eplb.NotADirectoryIoError, errno.ENOTDIR,
                    str(not_a_folder / "loads.json"),
                    f"read_loads: {not_a_folder / 'loads.json'}: Not a directory")
    # The file is still read as before.
    np.testing.assert_array_equal(eplb.read_loads(not_a_folder), [[1, 2]])


def test_forbidden_file_is_a_permission_error(tmp_path):
    if os.geteuid() == 0:  # root writes anywhere but in sysfs
        target = Path("/sys/eplb-plan.json")
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        target = locked / "plan.json"
    plan = eplb.rebalance_experts([[1, 2, 3, 4]], 4, 1, 1, 2)
    with pytest.raises(eplb.IoError) as info:
        eplb.save_plan(plan, target, num_gpus=2)
    if info.value.errno != errno.EACCES:
        pytest.skip(f"{target} fails with {info.value.strerror}, not EACCES, here")
    assert isinstance(info.value, PermissionError)
    assert isinstance(info.value, eplb.PermissionIoError)
    assert info.value.strerror == os.strerror(errno.EACCES) and str(target) in str(info.value)
    assert not target.exists()


def test_os_errors_of_python_file_calls_become_the_same_io_errors(tmp_path):
    from eplb import _convert

    for os_error, io_type in [(FileNotFoundError(errno.ENOENT, "gone", "a.pt"),
                               eplb.FileNotFoundIoError),
                              (PermissionError(errno.EACCES, "no", "b.pt"),
                               eplb.PermissionIoError),
                              (OSError(errno.EIO, "broken", "c.pt"), eplb.IoError)]:
        error = _convert.io_error("save_plan: x: failed", os_error)
        assert type(error) is io_type
        assert (error.errno, error.strerror, error.filename) == (
            os_error.errno, os_error.strerror, os_error.filename)
        assert str(error) == "save_plan: x: failed"


def test_malformed_file_is_a_parse_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"load_history": [{"logical_expert_load": [[1, "x"]]}]}')
    with pytest.raises(eplb.ParseError) as info:
        eplb.read_loads(bad)
    assert isinstance(info.value, ValueError)
    assert str(bad) in str(info.value)


def test_negative_value_in_a_file_is_a_parse_error(tmp_path):
    bad = tmp_path / "negative.csv"
    bad.write_text("1,2\n3,-4\n")
    with pytest.raises(eplb.ParseError):
        eplb.read_loads(bad)


@pytest.mark.parametrize("steps", ["2:9", "x", "-1:"])
def test_bad_step_range_is_an_invalid_argument(steps):
    with pytest.raises(eplb.InvalidArgument):
        eplb.read_loads(TRACE, steps=steps)


def test_bad_steps_and_format_arguments():
    with pytest.raises(eplb.InvalidArgument, match="must not have a step"):
        eplb.read_loads(TRACE, steps=slice(0, 2, 2))
    with pytest.raises(TypeError):
        eplb.read_loads(TRACE, steps=3)
    with pytest.raises(eplb.InvalidArgument):
        eplb.read_loads(TRACE, format="xml")
    with pytest.raises(TypeError):
        eplb.read_loads(42)
