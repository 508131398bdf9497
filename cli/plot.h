#pragma once
// `eplb replay --plot`: the plot is drawn by the Python package's plotter (`python -m
// eplb.plot`, with matplotlib) from the JSON report; the C++ tree draws no images.

#include <string>
#include <string_view>

namespace eplb::cli {

/// The Python interpreter that runs eplb.plot, and where it was found (for messages).
struct PlotPython {
  std::string program;
  std::string origin;
};

/// Returns the interpreter for `--plot`: `$EPLB_PYTHON` when set and not empty; else the
/// `python3` beside this executable, the bin/ of the virtual environment that installed eplb;
/// else `python3` on PATH.
PlotPython find_plot_python();

/// A Python that can draw `--plot output`, checked before the replay's work.
class Plotter {
 public:
  /// Runs `python -m eplb.plot --check output`: the interpreter must start, import eplb.plot
  /// and matplotlib, and write the format that `output`'s ending names. Throws Error naming
  /// --plot, the interpreter and what to install (pip install 'eplb[plot]'), or UsageError
  /// when matplotlib does not write that format.
  /// The report's temporary file (in TMPDIR) is created here too, so that it cannot fail
  /// after the replay; the destructor removes it.
  explicit Plotter(std::string output);
  Plotter(const Plotter&) = delete;
  Plotter& operator=(const Plotter&) = delete;
  ~Plotter();

  /// Writes `report_json` to the temporary file and runs `python -m eplb.plot` on it, titled
  /// `title`. Throws Error with the plotter's message when it fails.
  void draw(std::string_view report_json, const std::string& title) const;

 private:
  PlotPython python_;
  std::string output_;
  std::string report_path_;
};

}  // namespace eplb::cli
