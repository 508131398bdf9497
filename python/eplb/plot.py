"""Plots of replay reports, drawn with matplotlib (the optional extra: pip install 'eplb[plot]').

`plot_replay(report, path)` draws the report of `eplb.replay(...)` or of `eplb replay --json`
(a dict, or the path of the JSON file) and returns the matplotlib Figure, to restyle in a
notebook or save again. From a shell::

    python -m eplb.plot report.json replay.png [--title TITLE]

which `eplb replay --plot FILE` runs. matplotlib is imported on the first plot, never by
`import eplb` or `import eplb.plot`.
"""

import argparse
import dataclasses
import io
import json
import math
import os
import sys
from collections.abc import Mapping
from typing import Any, List, Optional, Sequence, Tuple

from . import _convert, _eplb
from ._torch_files import write_file

#: What `pip install` adds for plotting; named in the error when matplotlib is missing.
INSTALL_HINT = "pip install 'eplb[plot]' (or pip install matplotlib)"

#: Panel titles: next-window and in-sample balancedness, then the moves of each re-plan (left
#: out when the replay made one plan and no re-plan).
NEXT_WINDOW_TITLE = "GPU balancedness on the next window (what the plan serves)"
IN_SAMPLE_TITLE = "GPU balancedness on the window planned on (in-sample)"
MOVES_TITLE = "Slots moved by each re-plan"

#: Default size, in inches: this width, and this height per panel plus a band for the titles.
WIDTH = 9.6
PANEL_HEIGHT = 3.2
TITLE_BAND = 0.8


@dataclasses.dataclass
class _Run:
    """One planner's series, read from a run of the report."""

    name: str
    windows: List[float] = dataclasses.field(default_factory=list)
    in_sample: List[float] = dataclasses.field(default_factory=list)
    next_window: List[float] = dataclasses.field(default_factory=list)
    moved_percent: List[float] = dataclasses.field(default_factory=list)


def _field(value: Any, key: str, where: str, function: str) -> Any:
    """Returns `value[key]` (a dict) or `value.key` (a result object), or raises
    InvalidArgument naming `where`."""
    if isinstance(value, Mapping):
        if key in value:
            return value[key]
    elif hasattr(value, key):
        return getattr(value, key)
    raise _eplb.InvalidArgument(f'{function}: {where} has no "{key}"')


def _number(value: Any, where: str, function: str) -> float:
    """Returns `value` as a float; None (JSON null) is NaN, a gap in the line."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _eplb.InvalidArgument(
            f"{function}: {where} = {value!r} must be a number")
    return float(value)


def _sequence(value: Any, where: str, function: str) -> Sequence[Any]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise _eplb.InvalidArgument(
            f"{function}: {where} must be a list, not {type(value).__name__}")
    return value


def _read_run(run: Any, where: str, function: str) -> _Run:
    name = _field(run, "policy", where, function)
    if not isinstance(name, str):
        raise _eplb.InvalidArgument(
            f"{function}: {where}[\"policy\"] = {name!r} must be a string")
    windows = _sequence(_field(run, "windows", where, function), f'{where}["windows"]', function)
    if not windows:
        raise _eplb.InvalidArgument(f'{function}: {where}["windows"] is empty')
    series = _Run(name)
    for index, window in enumerate(windows):
        at = f'{where}["windows"][{index}]'
        x = _number(_field(window, "window", at, function), f'{at}["window"]', function)
        series.windows.append(x)
        for key, values in (("in_sample", series.in_sample),
                            ("next_window", series.next_window)):
            values.append(_number(_field(window, key, at, function), f'{at}["{key}"]', function))
        # The first plan moves nothing from a previous one: no point.
        if index > 0:
            fraction = _number(_field(window, "moved_fraction", at, function),
                               f'{at}["moved_fraction"]', function)
            series.moved_percent.append(100 * fraction)
    return series


def _read_report(report: Any, function: str) -> Tuple[List[_Run], int]:
    """Returns the runs of `report` (a dict, a result object or a JSON file's path) and its
    interval, or raises InvalidArgument, ParseError or IoError naming what is wrong."""
    if isinstance(report, (str, os.PathLike)):
        path = os.fspath(report)
        try:
            with open(path, "rb") as file:
                text = file.read()
        except OSError as error:
            raise _convert.io_error(f"{function}: {path}: {error.strerror or error}",
                                    error) from error
        try:
            report = json.loads(text)
        except ValueError as error:
            raise _eplb.ParseError(f"{function}: {path}: {error}") from error
        where = path
    else:
        where = "report"
    if not isinstance(report, Mapping) and not hasattr(report, "runs"):
        raise _eplb.InvalidArgument(
            f"{function}: {where} must be a replay report (a dict with \"runs\"), not "
            f"{type(report).__name__}")
    runs = _sequence(_field(report, "runs", where, function), f'{where}["runs"]', function)
    if not runs:
        raise _eplb.InvalidArgument(f'{function}: {where}["runs"] is empty')
    result = [_read_run(run, f'{where}["runs"][{i}]', function) for i, run in enumerate(runs)]
    interval = _field(runs[0], "interval", f'{where}["runs"][0]', function)
    if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
        raise _eplb.InvalidArgument(
            f'{function}: {where}["runs"][0]["interval"] = {interval!r} must be a positive '
            "integer")
    for i, run in enumerate(result[1:], start=1):
        if run.windows != result[0].windows:
            raise _eplb.InvalidArgument(
                f'{function}: {where}["runs"][{i}] covers other windows than '
                f'{where}["runs"][0]')
    return result, interval


def _figure_class(function: str) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(f"{function} needs matplotlib: {INSTALL_HINT}") from error
    return Figure


def _integer_locator() -> Any:
    """Ticks on whole windows only."""
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def supported_formats() -> List[str]:
    """Returns the file name endings (without the dot) that matplotlib writes here, such as
    "png", "svg" and "pdf". Raises ImportError when matplotlib is missing."""
    figure = _figure_class("eplb.plot")()
    return sorted(figure.canvas.get_supported_filetypes())


def check_output(path: Any, function: str = "plot_replay") -> str:
    """Returns the format of `path` (its ending, lower-case) when matplotlib writes it, or
    raises InvalidArgument naming `path` (`-`, no ending, or one matplotlib does not write) and
    ImportError when matplotlib is missing."""
    name = os.fspath(path)
    formats = supported_formats()
    extension = os.path.splitext(name)[1].lower().lstrip(".")
    if name == "-" or extension not in formats:
        raise _eplb.InvalidArgument(
            f"{function}: path = {name!r} must end in one of ." + ", .".join(formats) +
            " (the format to write; a plot goes to a named file, not to standard output)")
    return extension


def plot_replay(report: Any, path: Any = None, *, title: Optional[str] = None,
                figsize: Optional[Tuple[float, float]] = None, dpi: float = 100) -> Any:
    """Draws a replay report: next-window and in-sample GPU balancedness of every window, and
    the slots each re-plan moves (% of all slots), one line per planner, in stacked panels that
    share the x axis (the window planned on). A replay of two windows (one plan, no re-plan)
    has no moves panel.

    Arguments:
        report: what `eplb.replay(...)` returns, the JSON report of `eplb replay --json` read
            as a dict, or the path of that JSON file.
        path: where to save the figure, its format from the ending (png, svg, pdf, and any
            other matplotlib writes); None saves nothing. Written as the other eplb writers
            write (a unique temporary file renamed over the target).
        title: the figure's title (None: the planners and the interval).
        figsize: (width, height) in inches; None: 9.6 wide, 3.2 per panel plus 0.8.
        dpi: pixels per inch of a raster format (png: 960 pixels wide by default).

    Returns:
        The matplotlib Figure (not registered with pyplot); its axes are the panels, in order.

    Raises InvalidArgument naming the field of a malformed report or a `path` matplotlib cannot
    write, ParseError and IoError naming the report's file, IoError naming `path`, and
    ImportError when matplotlib is missing (pip install 'eplb[plot]'). The report and the
    format of `path` are checked before the figure is drawn.
    """
    function = "plot_replay"
    runs, interval = _read_report(report, function)
    image_format = None if path is None else check_output(path, function)
    moves = len(runs[0].windows) > 1
    panels = [(NEXT_WINDOW_TITLE, "balancedness", "next_window"),
              (IN_SAMPLE_TITLE, "balancedness", "in_sample")]
    if moves:
        panels.append((MOVES_TITLE, "% of slots", "moved_percent"))
    if figsize is None:
        figsize = (WIDTH, TITLE_BAND + PANEL_HEIGHT * len(panels))
    figure = _figure_class(function)(figsize=figsize, dpi=dpi, layout="constrained")
    axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (panel_title, y_label, key) in zip(axes, panels):
        for run in runs:
            x = run.windows[1:] if key == "moved_percent" else run.windows
            ax.plot(x, getattr(run, key), marker="o", markersize=4, label=run.name)
        ax.set_title(panel_title)
        ax.set_ylabel(y_label)
        ax.grid(True, color="0.9")
        ax.legend(loc="best", fontsize="small")
    axes[-1].xaxis.set_major_locator(_integer_locator())
    axes[-1].set_xlabel(f"window planned on ({interval} steps each)")
    if title is None:
        title = f"Replay of {', '.join(run.name for run in runs)}, re-planned every {interval} steps"
    figure.suptitle(title)
    if path is not None:
        buffer = io.BytesIO()
        figure.savefig(buffer, format=image_format, dpi=dpi)
        write_file(os.fspath(path), buffer.getvalue(), function)
    return figure


def main(argv: Optional[Sequence[str]] = None) -> int:
    """`python -m eplb.plot REPORT OUTPUT [--title TITLE]`, or `--check OUTPUT` to test that
    matplotlib is here and writes OUTPUT's format. Exits 0, 1 after an error (printed as
    `eplb.plot: error: ...`), or 2 for a usage error (OUTPUT's format among them)."""
    parser = argparse.ArgumentParser(
        prog="python -m eplb.plot",
        description="Draws the JSON report of `eplb replay --json` (or eplb.replay) as PNG, SVG, "
                    "PDF or any format matplotlib writes.")
    parser.add_argument("report", nargs="?", help="the replay report (JSON)")
    parser.add_argument("output", help="the image to write; its ending names the format")
    parser.add_argument("--title", help="the figure's title")
    parser.add_argument("--check", action="store_true",
                        help="only check that matplotlib is installed and writes OUTPUT's format")
    arguments = parser.parse_args(argv)
    if arguments.check != (arguments.report is None):
        parser.error("give REPORT and OUTPUT, or --check OUTPUT")
    try:
        check_output(arguments.output)
    except _eplb.InvalidArgument as error:
        print(f"eplb.plot: error: {error}", file=sys.stderr)
        return 2
    except ImportError as error:
        print(f"eplb.plot: error: {error}", file=sys.stderr)
        return 1
    if arguments.check:
        return 0
    try:
        plot_replay(arguments.report, arguments.output, title=arguments.title)
    except (_eplb.Error, ImportError) as error:
        print(f"eplb.plot: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
