"""read_loads() and read_trace(): load files into NumPy arrays, and their errors."""

import json
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
