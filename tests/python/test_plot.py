"""eplb.plot: replay reports drawn with matplotlib, from eplb.replay's result, from the JSON file
of `eplb replay --json`, with `python -m eplb.plot`, and through `eplb replay --plot`."""

import json
import os
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

import eplb
import eplb.plot
from conftest import DATA_DIR

TRACE = DATA_DIR / "cli" / "trace_3steps.json"
# trace_3steps.json: 12 experts, 44 slots on 4 GPUs in 2 nodes; interval 1 gives two windows
# scored and one re-plan.
REPLAY_ARGS = ["--interval", "1", "--gpus", "4", "--nodes", "2"]


@pytest.fixture(name="matplotlib")
def fixture_matplotlib():
    return pytest.importorskip("matplotlib")


def sample_report():
    """Two planners over three windows with made-up scores (tests/io/replay_report_test.cc's);
    the second moves twice the slots."""
    runs = []
    for run, name in enumerate(("balanced", "deepseek")):
        windows = [{"window": window, "in_sample": 0.95 - 0.01 * run,
                    "next_window": 0.75 + 0.01 * window, "moved_slots": 0 if window == 0 else
                    10 * (run + 1), "moved_fraction": 0 if window == 0 else 0.1 * (run + 1),
                    "skipped": False, "schedule": None} for window in range(3)]
        runs.append({"policy": name, "interval": 100, "windows": windows,
                     "summary": {"replans": 2}})
    return {**runs[0], "runs": runs}


def png_size(path):
    """Returns (width, height) from a PNG's IHDR, after checking its signature."""
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_plot_draws_every_planner_in_three_panels(matplotlib, tmp_path):
    path = tmp_path / "replay.png"
    figure = eplb.plot.plot_replay(sample_report(), path, title="sample")
    assert [ax.get_title() for ax in figure.axes] == [
        eplb.plot.NEXT_WINDOW_TITLE, eplb.plot.IN_SAMPLE_TITLE, eplb.plot.MOVES_TITLE]
    assert figure.get_suptitle() == "sample"
    assert figure.axes[-1].get_xlabel() == "window planned on (100 steps each)"
    for ax in figure.axes:
        assert [line.get_label() for line in ax.get_lines()] == ["balanced", "deepseek"]
        assert [text.get_text() for text in ax.get_legend().get_texts()] == [
            "balanced", "deepseek"]
    assert list(figure.axes[0].get_lines()[1].get_ydata()) == pytest.approx([0.75, 0.76, 0.77])
    # Moved slots start at the first re-plan, in percent.
    moved = figure.axes[2].get_lines()[1]
    assert list(moved.get_xdata()) == [1, 2]
    assert list(moved.get_ydata()) == pytest.approx([20, 20])
    # 9.6 x (0.8 + 3 x 3.2) inches at 100 dpi.
    assert png_size(path) == (960, 1040)


def test_one_plan_has_no_moves_panel(matplotlib, tmp_path):
    report = sample_report()
    for run in report["runs"]:
        del run["windows"][1:]
    path = tmp_path / "one.png"
    figure = eplb.plot.plot_replay(report, path)
    assert len(figure.axes) == 2
    assert all("moved" not in ax.get_title() for ax in figure.axes)
    assert "balanced, deepseek" in figure.get_suptitle()
    assert png_size(path) == (960, 720)


def test_plot_takes_the_replay_result_and_the_json_file(matplotlib, tmp_path):
    result = eplb.replay(str(TRACE), num_gpus=4, num_nodes=2, interval=1,
                         policy=["deepseek", "global"])
    svg = tmp_path / "replay.svg"
    figure = eplb.plot.plot_replay(result, svg, figsize=(8, 6))
    root = ElementTree.parse(svg).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert (root.get("width"), root.get("height")) == ("576pt", "432pt")  # 72 pt per inch
    assert "global" in svg.read_text()
    # The same report read from its file draws the same lines.
    report = tmp_path / "report.json"
    report.write_text(json.dumps(result))
    again = eplb.plot.plot_replay(report, tmp_path / "replay.pdf")
    assert (tmp_path / "replay.pdf").read_bytes()[:5] == b"%PDF-"
    for ax, same in zip(figure.axes, again.axes):
        for line, same_line in zip(ax.get_lines(), same.get_lines()):
            assert list(line.get_ydata()) == list(same_line.get_ydata())
    moved = [100 * w["moved_fraction"] for w in result["runs"][1]["windows"][1:]]
    assert list(figure.axes[2].get_lines()[1].get_ydata()) == pytest.approx(moved)
    # Nothing is saved without a path; the figure can be restyled and saved again.
    figure.axes[0].set_title("restyled")
    figure.savefig(tmp_path / "restyled.png")
    assert png_size(tmp_path / "restyled.png") == (800, 600)


def malformed(edit):
    report = sample_report()
    edit(report)
    return report


@pytest.mark.parametrize("report, message", [
    ([1, 2], "report must be a replay report"),
    (malformed(lambda r: r.pop("runs")), 'report has no "runs"'),
    (malformed(lambda r: r.update(runs=[])), r'report\["runs"\] is empty'),
    (malformed(lambda r: r.update(runs="x")), r'report\["runs"\] must be a list, not str'),
    (malformed(lambda r: r["runs"][1].update(windows=[])),
     r'report\["runs"\]\[1\]\["windows"\] is empty'),
    (malformed(lambda r: r["runs"][1]["windows"][2].update(next_window="x")),
     r"report\[\"runs\"\]\[1\]\[\"windows\"\]\[2\]\[\"next_window\"\] = 'x' must be a number"),
    (malformed(lambda r: r["runs"][0]["windows"][1].update(in_sample=True)),
     r'report\["runs"\]\[0\]\["windows"\]\[1\]\["in_sample"\] = True must be a number'),
    (malformed(lambda r: r["runs"][0]["windows"][1].pop("moved_fraction")),
     r'report\["runs"\]\[0\]\["windows"\]\[1\] has no "moved_fraction"'),
    (malformed(lambda r: r["runs"][0].update(interval=0)),
     r'report\["runs"\]\[0\]\["interval"\] = 0 must be a positive integer'),
    (malformed(lambda r: r["runs"][1]["windows"][2].update(window=7)),
     r'report\["runs"\]\[1\] covers other windows than report\["runs"\]\[0\]'),
    (malformed(lambda r: r["runs"][1].update(policy=3)),
     r'report\["runs"\]\[1\]\["policy"\] = 3 must be a string'),
])
def test_malformed_reports_name_the_field(report, message, tmp_path):
    with pytest.raises(eplb.InvalidArgument, match="plot_replay: " + message):
        eplb.plot.plot_replay(report, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_null_values_leave_gaps(matplotlib):
    report = sample_report()
    report["runs"][0]["windows"][1]["next_window"] = None  # what JSON holds for NaN
    figure = eplb.plot.plot_replay(report)
    assert str(figure.axes[0].get_lines()[0].get_ydata()[1]) == "nan"


def test_bad_files_and_paths_are_named(matplotlib, tmp_path):
    report = tmp_path / "report.json"
    with pytest.raises(eplb.FileNotFoundIoError, match=f"plot_replay: {report}: No such file"):
        eplb.plot.plot_replay(report)
    report.write_text('{"runs": [')
    with pytest.raises(eplb.ParseError, match=f"plot_replay: {report}: Expecting value"):
        eplb.plot.plot_replay(report)
    report.write_text(json.dumps(sample_report()))
    for bad in ("x.txt", "x", "-"):
        with pytest.raises(eplb.InvalidArgument,
                           match=f"plot_replay: path = '{bad}' must end in one of .*\\.png"):
            eplb.plot.plot_replay(report, bad)
    missing = tmp_path / "nope" / "x.png"
    with pytest.raises(eplb.FileNotFoundIoError, match=f"plot_replay: {missing}: No such file"):
        eplb.plot.plot_replay(report, missing)
    folder = tmp_path / "folder.png"
    folder.mkdir()
    with pytest.raises(eplb.IsADirectoryIoError, match=f"plot_replay: {folder}: Is a directory"):
        eplb.plot.plot_replay(report, folder)
    assert "png" in eplb.plot.supported_formats()


def run_module(*args, code=None):
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "eplb.plot"]
    return subprocess.run(command + list(args), capture_output=True, text=True, check=False)


def test_module_entry_point(matplotlib, tmp_path):
    report = tmp_path / "report.json"
    report.write_text(json.dumps(sample_report()))
    out = tmp_path / "out.png"
    drawn = run_module("--title", "T", "--", str(report), str(out))
    assert (drawn.returncode, drawn.stdout, drawn.stderr) == (0, "", "")
    assert png_size(out) == (960, 1040)
    assert run_module("--check", "--", str(tmp_path / "x.svg")).returncode == 0
    assert not (tmp_path / "x.svg").exists()
    unknown = run_module("--check", "x.txt")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("eplb.plot: error: plot_replay: path = 'x.txt' must end in")
    report.write_text('{"runs": []}')
    bad = run_module(str(report), str(out))
    assert bad.returncode == 1
    assert bad.stderr == f'eplb.plot: error: plot_replay: {report}["runs"] is empty\n'
    assert run_module(str(report)).returncode == 2  # no output: a usage error
    assert run_module("--check").returncode == 2


def test_missing_matplotlib_says_what_to_install(tmp_path):
    # Importing eplb or eplb.plot loads no matplotlib; plotting without it names the extra.
    blocked = ("import sys; sys.modules['matplotlib'] = None; import eplb, eplb.plot; "
               "assert 'matplotlib.figure' not in sys.modules; ")
    plot = run_module(code=blocked + "eplb.plot.plot_replay(" + repr(sample_report()) + ")")
    assert plot.returncode == 1
    assert "ImportError: plot_replay needs matplotlib: pip install 'eplb[plot]'" in plot.stderr
    check = run_module("x.png", code=blocked + "sys.exit(eplb.plot.main(['--check', 'x.png']))")
    assert check.returncode == 1
    assert check.stderr == ("eplb.plot: error: eplb.plot needs matplotlib: pip install "
                            "'eplb[plot]' (or pip install matplotlib)\n")


def installed_cli():
    beside = Path(sys.executable).parent / "eplb"
    found = beside if beside.exists() else shutil.which("eplb")
    if found is None:
        pytest.skip("the eplb command is not installed with this Python")
    return Path(found)


def test_cli_plot_runs_this_python(matplotlib, tmp_path):
    cli = installed_cli()
    out = tmp_path / "replay.png"
    env = {**os.environ, "EPLB_PYTHON": sys.executable}
    replayed = subprocess.run([str(cli), "replay", str(TRACE), *REPLAY_ARGS, "--policy",
                               "deepseek,global", "--plot", str(out)],
                              capture_output=True, text=True, env=env, check=False)
    assert replayed.returncode == 0, replayed.stderr
    assert f"plot written to    {out}" in replayed.stdout
    assert png_size(out) == (960, 1040)
    # Without EPLB_PYTHON, the python3 beside the installed eplb (a virtual environment's bin/).
    beside = cli.parent / "python3"
    if beside.exists() and os.path.samefile(beside, sys.executable):
        del env["EPLB_PYTHON"]
        out.unlink()
        again = subprocess.run([str(cli), "replay", str(TRACE), *REPLAY_ARGS, "-q", "--plot",
                                str(out)], capture_output=True, text=True, env=env, check=False)
        assert (again.returncode, again.stdout, again.stderr) == (0, "", "")
        assert png_size(out) == (960, 1040)

