// End-to-end tests of how the eplb binary treats the paths it is given: `-` for stdout and
// stdin, symlinks, FIFOs, /dev/stdout and /dev/full, concurrent writers, outputs checked before
// the work, the input size limit and running out of memory.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>  // WIFEXITED
#include <unistd.h>    // getpid

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cli_runner.h"
#include "eplb/io/files.h"
#include "eplb/io/io.h"
#include "support/fifo_reader.h"

namespace eplb {
namespace {

const std::string kPlanArgs = "--replicas 16 --groups 4 --nodes 2 --gpus 8 --dense-layers none";

// Runs the commands in a folder of their own, work/, so that what they leave behind is seen.
class CliOutputTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    fs::create_directories(dir_ / "work");
  }

  // Runs `eplb args` in the folder work/ through the shell (so `args` may redirect); stdout and
  // stderr are captured separately, `tag` names the stderr file so that threads can run at once.
  RunResult run(const std::string& args, const std::string& tag = "") const {
    return shell(quote(EPLB_CLI_PATH) + " " + args, tag);
  }

  // Runs the shell command line `command` in work/, capturing stdout and the last stderr.
  RunResult shell(const std::string& command_line, const std::string& tag = "") const {
    return run_shell("cd " + quote((dir_ / "work").string()) + " && " + command_line, tag);
  }

  // The folder the commands run in.
  fs::path work(const std::string& name = "") const { return dir_ / "work" / name; }

  // Returns the names in work/, sorted: what a command left behind.
  std::vector<std::string> left_in_work() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(work())) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  // What `eplb plan` writes for the README loads, through a regular file outside work/.
  std::string reference_plan(const std::string& format = "eplb") const {
    const fs::path path = dir_ / ("reference." + format);
    const RunResult result = run("plan " + data("readme_loads.csv") + " " + kPlanArgs +
                                 " --format " + format + " -o " + quote(path.string()));
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return read_file(path);
  }
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_F(CliOutputTest, DashIsStdoutAndTheReportGoesToStderr) {
  const std::string loads = data("readme_loads.csv");
  const RunResult plan = run("plan " + loads + " " + kPlanArgs + " -o -");
  EXPECT_EQ(plan.exit_code, 0) << describe(plan);
  EXPECT_EQ(plan.out, reference_plan()) << describe(plan);
  EXPECT_TRUE(contains(plan.err, "GPU balancedness")) << describe(plan);
  EXPECT_TRUE(contains(plan.err, "plan written to")) << describe(plan);

  const RunResult gen = run("gen -o - --steps 3 --layers 2 --experts 8");
  EXPECT_EQ(gen.exit_code, 0) << describe(gen);
  EXPECT_TRUE(gen.out.starts_with("{\"load_history\": [")) << describe(gen);
  EXPECT_TRUE(contains(gen.err, "trace written to")) << describe(gen);

  const RunResult convert = run("convert - --format sglang -o - < " +
                                quote((dir_ / "reference.eplb").string()));
  EXPECT_EQ(convert.exit_code, 0) << describe(convert);
  EXPECT_EQ(convert.out, reference_plan("sglang")) << describe(convert);

  const RunResult replay =
      run("replay " + data("trace_3steps.json") + " --interval 1 --json -");
  EXPECT_EQ(replay.exit_code, 0) << describe(replay);
  EXPECT_TRUE(replay.out.starts_with("{\n  \"policy\": ")) << describe(replay);
  EXPECT_TRUE(contains(replay.err, "| planner |")) << describe(replay);

  // Nothing named "-" was created.
  EXPECT_TRUE(left_in_work().empty());
}

TEST_F(CliOutputTest, DashIsStdinForLoadAndPlanFiles) {
  const std::string loads = data("readme_loads.csv");
  const RunResult plan = run("plan - " + kPlanArgs + " -o plan.json < " + loads);
  EXPECT_EQ(plan.exit_code, 0) << describe(plan);
  EXPECT_EQ(read_file(work("plan.json")), reference_plan());
  const RunResult eval = run("eval plan.json - < " + loads);
  EXPECT_EQ(eval.exit_code, 0) << describe(eval);
  EXPECT_TRUE(contains(eval.out, "GPU balancedness")) << describe(eval);
  const RunResult eval_plan = run("eval - " + loads + " < plan.json");
  EXPECT_EQ(eval_plan.exit_code, 0) << describe(eval_plan);
  EXPECT_EQ(eval_plan.out.substr(eval_plan.out.find("GPU")), eval.out.substr(eval.out.find("GPU")));
  const RunResult both = run("eval - - < plan.json");
  EXPECT_EQ(both.exit_code, 2) << describe(both);
  EXPECT_EQ(both.err, "eplb: error: eval: the plan and the load file cannot both be - (stdin is "
                      "read once)\n");
  const RunResult bad = run("plan - " + kPlanArgs + " < plan.json");
  EXPECT_EQ(bad.exit_code, 1) << describe(bad);
  EXPECT_TRUE(contains(bad.err, "read_loads: <stdin>: ")) << describe(bad);
}

TEST_F(CliOutputTest, DevStdoutStaysAndGetsThePlan) {
  const RunResult result =
      run("plan " + data("readme_loads.csv") + " " + kPlanArgs + " -o /dev/stdout");
  EXPECT_EQ(result.exit_code, 0) << describe(result);
  EXPECT_EQ(result.out, reference_plan()) << describe(result);  // the report went to stderr
  EXPECT_TRUE(fs::is_symlink("/dev/stdout"));
}

TEST_F(CliOutputTest, FailedWritesToStdoutExitOne) {
  const std::string plan = "plan " + data("readme_loads.csv") + " " + kPlanArgs;
  for (const std::string& args :
       {plan + " > /dev/full", plan + " -o - > /dev/full", plan + " -o /dev/full",
        std::string("gen -o - --steps 2 --layers 2 --experts 8 > /dev/full")}) {
    const RunResult result = run(args);
    EXPECT_EQ(result.exit_code, 1) << args << "\n" << describe(result);
    EXPECT_TRUE(contains(result.err, "No space left on device")) << args << describe(result);
  }
  // The report is printed only once the file is written.
  const RunResult full = run(plan + " -o /dev/full");
  EXPECT_EQ(full.out, "") << describe(full);
  EXPECT_TRUE(fs::is_character_file("/dev/full"));
}

TEST_F(CliOutputTest, SymlinkAndUsersTmpFileAreKept) {
  std::ofstream(work("real.json")) << "old";
  fs::create_symlink("real.json", work("link.json"));
  std::ofstream(work("plan.json.tmp")) << "mine";
  const std::string plan = "plan " + data("readme_loads.csv") + " " + kPlanArgs;
  EXPECT_EQ(run(plan + " -o link.json").exit_code, 0);
  EXPECT_EQ(run(plan + " -o plan.json").exit_code, 0);
  EXPECT_TRUE(fs::is_symlink(work("link.json")));
  EXPECT_EQ(read_file(work("real.json")), reference_plan());
  EXPECT_EQ(read_file(work("plan.json.tmp")), "mine");
  EXPECT_EQ(left_in_work(),
            (std::vector<std::string>{"link.json", "plan.json", "plan.json.tmp", "real.json"}));
}

TEST_F(CliOutputTest, FifoReaderGetsTheBytes) {
  ASSERT_EQ(::mkfifo(work("plan.fifo").c_str(), 0600), 0);
  testing::FifoReader reader(work("plan.fifo"));
  const RunResult result =
      run("plan " + data("readme_loads.csv") + " " + kPlanArgs + " -o plan.fifo");
  const std::string received = reader.finish();
  EXPECT_EQ(result.exit_code, 0) << describe(result);
  EXPECT_EQ(received, reference_plan());
  EXPECT_TRUE(fs::is_fifo(work("plan.fifo")));
}

TEST_F(CliOutputTest, ConcurrentWritersAllSucceed) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 5;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int thread = 0; thread < kThreads; ++thread) {
    threads.emplace_back([&, thread] {
      for (int round = 0; round < kRounds; ++round) {
        const RunResult result = run("plan " + data("readme_loads.csv") + " " +
                                         kPlanArgs + " -o plan.json",
                                     std::to_string(thread));
        if (result.exit_code != 0) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(read_file(work("plan.json")), reference_plan());
  EXPECT_EQ(left_in_work(), std::vector<std::string>{"plan.json"});
}

TEST_F(CliOutputTest, BadOutputsFailBeforeTheWork) {
  const std::string trace = data("trace_3steps.json");
  // A plot into a folder that does not exist: no replay, no JSON (checked before the plotter,
  // cli_plot_test.cc).
  const RunResult plot = run("replay " + trace + " --interval 1 --plot nope/x.png --json r.json");
  EXPECT_EQ(plot.exit_code, 1) << describe(plot);
  EXPECT_EQ(plot.err, "eplb: error: --plot: nope/x.png: No such file or directory\n");
  EXPECT_FALSE(fs::exists(work("r.json")));
  const RunResult dash_plot = run("replay " + trace + " --interval 1 --plot -");
  EXPECT_EQ(dash_plot.exit_code, 2) << describe(dash_plot);
  EXPECT_TRUE(contains(dash_plot.err, "not to standard output")) << describe(dash_plot);
  // A folder that does not exist, or a path that is a folder: before the input is even read.
  const RunResult json = run("replay " + trace + " --interval 1 --json nope/r.json");
  EXPECT_EQ(json.exit_code, 1) << describe(json);
  EXPECT_EQ(json.err, "eplb: error: --json: nope/r.json: No such file or directory\n");
  EXPECT_EQ(json.out, "");
  const RunResult plan = run("plan missing.csv " + kPlanArgs + " -o nope/plan.json");
  EXPECT_EQ(plan.err, "eplb: error: --output: nope/plan.json: No such file or directory\n");
  const RunResult folder = run("gen -o . --steps 2 --layers 2 --experts 8");
  EXPECT_EQ(folder.exit_code, 1) << describe(folder);
  EXPECT_EQ(folder.err, "eplb: error: --output: .: Is a directory\n");
  const RunResult convert = run("convert missing.json --format sglang -o nope/x.json");
  EXPECT_EQ(convert.err, "eplb: error: --output: nope/x.json: No such file or directory\n");
  EXPECT_TRUE(left_in_work().empty());
}

TEST_F(CliOutputTest, InputAboveTheLimitIsRefused) {
  const fs::path big = work("big.npy");
  std::ofstream(big) << "\x93NUMPY";
  fs::resize_file(big, static_cast<uintmax_t>(io::kMaxInputBytes) + 1);  // sparse
  const RunResult result = run("plan big.npy " + kPlanArgs);
  EXPECT_EQ(result.exit_code, 1) << describe(result);
  EXPECT_EQ(result.err,
            "eplb: error: read_loads: big.npy: size 4294967297 bytes is more than the limit of "
            "4294967296 bytes (4 GiB) for an input file (docs/limits.md)\n");
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif

TEST_F(CliOutputTest, OutOfMemoryNamesWhatWasBuilt) {
  if (kAddressSanitizer) GTEST_SKIP() << "ASan reserves more address space than the limit";
  // A 47 MB .npy (sparse: zeros) of 100 steps x 58 layers x 1024 experts as float64: reading it
  // and building its trace cannot fit in 100 MB of address space.
  std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (100, 58, 1024), }";
  header.resize(117, ' ');
  header += '\n';
  {
    std::ofstream file(work("big.npy"), std::ios::binary);
    file << "\x93NUMPY\x01" << '\0' << static_cast<char>(header.size()) << '\0' << header;
  }
  fs::resize_file(work("big.npy"), 128 + uintmax_t{100} * 58 * 1024 * 8);
  const RunResult limited = shell("ulimit -v 100000 && " + quote(EPLB_CLI_PATH) +
                                  " plan big.npy --replicas 1056 --groups 8 --nodes 4 --gpus 32");
  EXPECT_EQ(limited.exit_code, 1) << describe(limited);
  EXPECT_TRUE(contains(limited.err, "eplb: error: read_loads: big.npy: out of memory "))
      << describe(limited);
  EXPECT_FALSE(contains(limited.err, "internal error")) << describe(limited);
}

}  // namespace
}  // namespace eplb
