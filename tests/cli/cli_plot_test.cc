// `eplb replay --plot`: the CLI checks the Python plotter (python -m eplb.plot) before the
// replay and hands it the JSON report. Stand-in interpreters (shell scripts named by
// EPLB_PYTHON) test that contract everywhere; the real plotter runs where Python has eplb and
// matplotlib.
#include <sys/stat.h>  // chmod

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli_runner.h"

namespace eplb {
namespace {

const std::string kReplay = "replay " + data("trace_3steps.json") + " --interval 1 --gpus 4 --nodes 2";

// A stand-in for python: it records each call's arguments, one a line, in calls.txt; the check
// (`-m eplb.plot --check -- OUTPUT`) runs `check`, a draw (`-m eplb.plot --title T -- REPORT
// OUTPUT`) runs `draw`, both shell code.
class CliPlotTest : public CliTest {
 protected:
  std::string fake_python(const std::string& check, const std::string& draw) const {
    const std::string script = path("python");
    {
      std::ofstream(script) << "#!/bin/sh\nprintf '%s\\n' \"$@\" >> " << quote(path("calls.txt"))
                            << "\nif [ \"$3\" = --check ]; then\n"
                            << check << "\nelse\n" << draw << "\nfi\n";
    }
    ::chmod(script.c_str(), 0755);
    return script;
  }

  // Runs `eplb args` with EPLB_PYTHON=python and TMPDIR in the test's folder tmp/.
  RunResult run_with(const std::string& python, const std::string& args) const {
    fs::create_directories(dir_ / "tmp");
    return run_shell("EPLB_PYTHON=" + quote(python) + " TMPDIR=" + quote(path("tmp")) + " " +
                     quote(EPLB_CLI_PATH) + " " + args);
  }

  std::vector<std::string> calls() const {
    std::vector<std::string> lines;
    std::ifstream file(path("calls.txt"));
    for (std::string line; std::getline(file, line);) lines.push_back(line);
    return lines;
  }
};

TEST_F(CliPlotTest, HandsTheReportAndTitleToThePlotter) {
  const std::string python = fake_python("exit 0", "cp \"$6\" \"$7\"");
  const std::string plot = path("replay.png");
  const std::string json = path("replay.json");
  const RunResult replayed =
      run_with(python, kReplay + " --policy deepseek,global --plot " + quote(plot) + " --json " +
                           quote(json));
  ASSERT_EQ(replayed.exit_code, 0) << describe(replayed);
  EXPECT_NE(replayed.out.find("plot written to"), std::string::npos) << describe(replayed);
  // The plotter reads what --json writes.
  EXPECT_EQ(read_file(plot), read_file(json));
  const std::vector<std::string> args = calls();
  ASSERT_EQ(args.size(), 12u);
  EXPECT_EQ(std::vector<std::string>(args.begin(), args.begin() + 4),
            (std::vector<std::string>{"-m", "eplb.plot", "--check", "--"}));
  EXPECT_EQ(args[4], plot);
  EXPECT_EQ(std::vector<std::string>(args.begin() + 5, args.begin() + 8),
            (std::vector<std::string>{"-m", "eplb.plot", "--title"}));
  EXPECT_EQ(args[8], "Replay of trace_3steps.json: 44 slots on 4 GPUs");
  EXPECT_EQ(args[9], "--");
  EXPECT_EQ(args[10].find(path("tmp")), 0u) << args[10];
  EXPECT_EQ(args[11], plot);
  // The report's temporary file is gone.
  EXPECT_TRUE(fs::is_empty(dir_ / "tmp"));
  // Quiet: no report, and still the plot.
  fs::remove(plot);
  const RunResult quiet = run_with(python, kReplay + " -q --plot " + quote(plot));
  EXPECT_EQ(quiet.exit_code, 0) << describe(quiet);
  EXPECT_EQ(quiet.out, "");
  EXPECT_EQ(quiet.err, "");
  EXPECT_NE(read_file(plot).find("\"windows\""), std::string::npos);
}

TEST_F(CliPlotTest, MissingPythonFailsBeforeTheReplay) {
  // The trace does not exist: the plotter is checked before anything is read.
  const std::string missing_trace = "replay " + quote(path("no_trace.json")) + " --plot " +
                                    quote(path("replay.png"));
  const RunResult none = run_with(path("no/python3"), missing_trace);
  EXPECT_EQ(none.exit_code, 1) << describe(none);
  EXPECT_EQ(none.out, "");
  EXPECT_EQ(none.err, "eplb: error: --plot: " + path("replay.png") +
                          ": plots are drawn by eplb's Python package with matplotlib, and "
                          "EPLB_PYTHON=" + path("no/python3") +
                          " cannot be run (No such file or directory); install eplb's plotting "
                          "extra into that Python (pip install 'eplb[plot]'), or set "
                          "EPLB_PYTHON to a Python that has it\n");
  // A Python without matplotlib: its own last line is quoted.
  const std::string without = fake_python(
      "echo 'Traceback (most recent call last):' >&2\n"
      "echo \"ModuleNotFoundError: No module named 'matplotlib'\" >&2\nexit 1",
      "exit 0");
  const RunResult no_matplotlib = run_with(without, missing_trace);
  EXPECT_EQ(no_matplotlib.exit_code, 1) << describe(no_matplotlib);
  EXPECT_EQ(no_matplotlib.out, "");
  EXPECT_NE(no_matplotlib.err.find("cannot draw them (exit status 1: ModuleNotFoundError: No "
                                   "module named 'matplotlib'); install eplb's plotting extra"),
            std::string::npos)
      << describe(no_matplotlib);
  EXPECT_EQ(calls().size(), 5u);  // the check only
}

TEST_F(CliPlotTest, BadPlotPathsFailBeforeTheReplay) {
  const std::string python = fake_python(
      "echo \"eplb.plot: error: plot_replay: path = 'x.txt' must end in one of .pdf, .png\" >&2\n"
      "exit 2",
      "exit 0");
  // A format the plotter does not write is a usage error; no JSON is written.
  const RunResult txt =
      run_with(python, kReplay + " --plot x.txt --json " + quote(path("r.json")));
  EXPECT_EQ(txt.exit_code, 2) << describe(txt);
  EXPECT_EQ(txt.err, "eplb: error: --plot: plot_replay: path = 'x.txt' must end in one of .pdf, "
                     ".png\n");
  EXPECT_FALSE(fs::exists(path("r.json")));
  // Standard output is refused while parsing, a folder that does not exist before the check.
  const RunResult dash = run_with(python, kReplay + " --plot -");
  EXPECT_EQ(dash.exit_code, 2) << describe(dash);
  EXPECT_NE(dash.err.find("not to standard output"), std::string::npos) << describe(dash);
  const RunResult folder = run_with(python, kReplay + " --plot " + quote(path("nope/x.png")));
  EXPECT_EQ(folder.exit_code, 1) << describe(folder);
  EXPECT_EQ(folder.err, "eplb: error: --plot: " + path("nope/x.png") +
                            ": No such file or directory\n");
  EXPECT_EQ(calls().size(), 5u);  // only the .txt was handed to the plotter
  // The report's temporary file is made before the replay too.
  const RunResult no_tmp = run_shell("EPLB_PYTHON=" + quote(fake_python("exit 0", "exit 0")) +
                                     " TMPDIR=" + quote(path("no_tmp")) + " " +
                                     quote(EPLB_CLI_PATH) + " " + kReplay + " --plot x.png");
  EXPECT_EQ(no_tmp.exit_code, 1) << describe(no_tmp);
  EXPECT_EQ(no_tmp.out, "");
  EXPECT_NE(no_tmp.err.find("eplb: error: --plot: the folder for the plotter's report: TMPDIR = " +
                            path("no_tmp") + ": "),
            std::string::npos)
      << describe(no_tmp);
}

TEST_F(CliPlotTest, AFailedPlotKeepsTheJsonReport) {
  const std::string python =
      fake_python("exit 0", "echo 'eplb.plot: error: plot_replay: disk full' >&2\nexit 1");
  const std::string json = path("replay.json");
  const RunResult failed =
      run_with(python, kReplay + " --plot " + quote(path("x.svg")) + " --json " + quote(json));
  EXPECT_EQ(failed.exit_code, 1) << describe(failed);
  EXPECT_EQ(failed.err, "eplb: error: --plot: " + path("x.svg") + ": EPLB_PYTHON=" + python +
                            " -m eplb.plot failed (exit status 1: plot_replay: disk full)\n");
  EXPECT_NE(read_file(json).find("\"moved_fraction\""), std::string::npos);
  EXPECT_TRUE(fs::is_empty(dir_ / "tmp"));
}

TEST_F(CliPlotTest, DrawsWithThePythonPackage) {
  const std::string python = plotting_python();
  if (python.empty()) {
    GTEST_SKIP() << "EPLB_PYTHON or python3 cannot import eplb.plot and matplotlib (pip install "
                    "'.[plot]')";
  }
  const std::string plot = path("replay.png");
  const RunResult replayed = run_with(python, kReplay + " --plot " + quote(plot));
  ASSERT_EQ(replayed.exit_code, 0) << describe(replayed);
  const std::string png = read_file(plot);
  ASSERT_GE(png.size(), 24u);
  EXPECT_EQ(png.substr(0, 8), "\x89PNG\r\n\x1a\n");
  // IHDR: the width, big-endian, at byte 16: 960 pixels.
  EXPECT_EQ(png.substr(16, 4), std::string("\0\0\x03\xc0", 4));
  const RunResult svg = run_with(python, kReplay + " --plot " + quote(path("replay.svg")));
  ASSERT_EQ(svg.exit_code, 0) << describe(svg);
  EXPECT_NE(read_file(path("replay.svg")).find("<svg"), std::string::npos);
  const RunResult txt = run_with(python, kReplay + " --plot " + quote(path("replay.txt")));
  EXPECT_EQ(txt.exit_code, 2) << describe(txt);
  EXPECT_NE(txt.err.find("--plot: plot_replay: path = '" + path("replay.txt") +
                         "' must end in one of"),
            std::string::npos)
      << describe(txt);
  EXPECT_EQ(txt.out, "");  // refused before the replay
}

}  // namespace
}  // namespace eplb
