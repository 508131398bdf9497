// End-to-end tests of the eplb binary's option checks: every bad value is a usage error (exit 2)
// named before any work, and options that are accepted are honoured.
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli_runner.h"
#include "eplb/io/io.h"

namespace eplb {
namespace {

// A trace of `steps` steps of 2 layers x 64 experts, made by `eplb gen`.
std::string make_trace(const CliTest& test, const std::string& name, int steps) {
  const std::string trace = test.path(name);
  const RunResult made = test.run("gen --steps " + std::to_string(steps) +
                                  " --layers 2 --experts 64 --seed 3 -o " + quote(trace));
  EXPECT_EQ(made.exit_code, 0) << describe(made);
  return trace;
}

// Expects a usage error whose message holds `message`.
void expect_usage_error(const RunResult& result, const std::string& message) {
  EXPECT_EQ(result.exit_code, 2) << describe(result);
  EXPECT_NE(result.err.find(message), std::string::npos) << describe(result);
  EXPECT_EQ(result.out, "") << describe(result);
}

TEST_F(CliTest, NonFiniteFloatOptionsAreUsageErrors) {
  const std::string trace = make_trace(*this, "trace.json", 150);
  const std::string replay = "replay " + quote(trace) + " --interval 50";
  for (const std::string value : {"nan", "NaN", "inf", "-inf", "1e999", "-0.5", "x"}) {
    expect_usage_error(run(replay + " --tolerance " + value),
                       "--tolerance: value " + value + " must be a finite number >= 0");
    expect_usage_error(run(replay + " --swing-weight " + value),
                       "--swing-weight: value " + value + " must be a finite number >= 0");
  }
  const std::string out = path("gen.json");
  for (const std::string value : {"nan", "inf", "1.5", "-0.1"}) {
    expect_usage_error(run("gen -o " + quote(out) + " --prefill-probability " + value),
                       "--prefill-probability: value " + value +
                           " must be a finite number in [0, 1]");
  }
  EXPECT_FALSE(fs::exists(out));
  // The accepted boundary values still run.
  EXPECT_EQ(run(replay + " --tolerance 0 --swing-weight 0").exit_code, 0);
}

TEST_F(CliTest, IntegerRangesNameReadableLimits) {
  const std::string trace = make_trace(*this, "trace.json", 150);
  const std::string plan = "plan " + quote(trace) + " --replicas 96 --groups 8 --nodes 2 --gpus 8";
  expect_usage_error(run(plan + " --cross-node-replicas -1"),
                     "--cross-node-replicas: value -1 must be an integer >= 0\n");
  expect_usage_error(run(plan + " --threads 2000"),
                     "--threads: value 2000 must be an integer in [1, 1024]\n");
  expect_usage_error(run("replay " + quote(trace) + " --interval 0"),
                     "--interval: value 0 must be an integer >= 1\n");
  expect_usage_error(run("replay " + quote(trace) + " --gpus -8"),
                     "--gpus: value -8 must be an integer >= 0\n");
  // Found by fuzz_cli_options: the default slot count once overflowed on a huge GPU count.
  expect_usage_error(run("replay " + quote(trace) + " --gpus 9223372036854775807"),
                     "num_gpus = 9223372036854775807 exceeds the limit of 1048576");
  expect_usage_error(run(plan + " --seed 18446744073709551616"),
                     "--seed: value 18446744073709551616 must be an integer >= 0\n");
  // No limit is printed as a 300-digit number any more.
  for (const std::string& args : {plan + " --cross-node-replicas -1", plan + " --seed -1",
                                 plan + " --gpus 0", "replay " + quote(trace) + " --interval 0"}) {
    EXPECT_LT(run(args).err.size(), 200U) << args;
  }
  // The largest seed is accepted.
  EXPECT_EQ(run(plan + " --seed 18446744073709551615").exit_code, 0);
}

TEST_F(CliTest, UnknownSubcommandIsNamed) {
  expect_usage_error(run("foo"),
                     "eplb: error: unknown subcommand 'foo' (one of: plan, eval, convert, gen, "
                     "replay)");
  expect_usage_error(run("plna --help"), "unknown subcommand 'plna'");
}

TEST_F(CliTest, DuplicateExcludedGpusAreRefused) {
  const std::string trace = make_trace(*this, "trace.json", 150);
  const std::string output = path("plan.json");
  expect_usage_error(run("plan " + quote(trace) +
                         " --replicas 96 --groups 8 --nodes 2 --gpus 8 --exclude-gpus 0,3,0 -o " +
                         quote(output)),
                     "eplb: error: --exclude-gpus: gpu 0 is listed twice\n");
  EXPECT_FALSE(fs::exists(output));
  expect_usage_error(run("replay " + quote(trace) + " --interval 50 --gpus 8 --nodes 2 "
                         "--exclude-gpus 5,5"),
                     "--exclude-gpus: gpu 5 is listed twice");
}

TEST_F(CliTest, ReplayHonoursSteps) {
  const std::string trace = make_trace(*this, "trace.json", 400);
  const std::string json_all = path("all.json"), json_part = path("part.json");
  // Planning on the last window alone, so that the plans do not depend on the steps before.
  const std::string replay = "replay " + quote(trace) + " --interval 50 --policy global@last";
  const RunResult all = run(replay + " --json " + quote(json_all));
  ASSERT_EQ(all.exit_code, 0) << describe(all);
  const RunResult part = run(replay + " --steps 100:300 --json " + quote(json_part));
  ASSERT_EQ(part.exit_code, 0) << describe(part);
  EXPECT_NE(part.out.find("(steps 100:300: 200 steps x 2 layers x 64 experts)"), std::string::npos)
      << describe(part);
  // 200 steps are 4 windows, 3 plans (the last window only scores); all 400 give 7.
  const auto count_windows = [](const std::string& text) {
    size_t count = 0;
    for (size_t at = 0; (at = text.find("{\"window\": ", at)) != std::string::npos; ++at) ++count;
    return count;
  };
  // Each window appears twice in the report: under the first run and under "runs".
  EXPECT_EQ(count_windows(read_file(json_part)), 2U * 3U);
  EXPECT_EQ(count_windows(read_file(json_all)), 2U * 7U);
  // Window 0 of the slice is steps 100:150 of the trace: the same balance as window 2 of all.
  const std::string all_report = read_file(json_all), part_report = read_file(json_part);
  const std::string window2 = all_report.substr(all_report.find("{\"window\": 2"));
  const std::string window0 = part_report.substr(part_report.find("{\"window\": 0"));
  EXPECT_EQ(window2.substr(window2.find("\"in_sample\""), 80),
            window0.substr(window0.find("\"in_sample\""), 80));
  const RunResult outside = run("replay " + quote(trace) + " --interval 50 --steps 300:900");
  EXPECT_EQ(outside.exit_code, 1) << describe(outside);
  EXPECT_NE(outside.err.find("--steps 300:900 of " + trace +
                             ": slice_steps: steps = 300:900 out of range for a trace of 400 "
                             "steps"),
            std::string::npos)
      << describe(outside);
}

TEST_F(CliTest, ReplayWithoutReplanSaysSo) {
  const std::string trace = make_trace(*this, "trace.json", 100);
  const std::string json = path("replay.json");
  const RunResult result = run("replay " + quote(trace) + " --interval 50 --json " + quote(json));
  ASSERT_EQ(result.exit_code, 0) << describe(result);
  EXPECT_NE(result.out.find("none (one plan, no re-plan)"), std::string::npos) << describe(result);
  EXPECT_EQ(result.out.find("0.00 %"), std::string::npos) << describe(result);
  const std::string report = read_file(json);
  EXPECT_NE(report.find("\"replans\": 0, \"skipped\": 0, \"moved_fraction\": null"),
            std::string::npos)
      << report;
  // With a re-plan, the fraction is a number again.
  const std::string longer = make_trace(*this, "longer.json", 150);
  ASSERT_EQ(run("replay " + quote(longer) + " --interval 50 --json " + quote(json)).exit_code, 0);
  EXPECT_NE(read_file(json).find("\"replans\": 1, \"skipped\": 0, \"moved_fraction\": 0."),
            std::string::npos)
      << read_file(json);
}

TEST_F(CliTest, ReportWordsAgreeInNumber) {
  const RunResult result =
      run("plan " + data("readme_loads.csv") + " --replicas 16 --groups 1 --nodes 1 --gpus 1");
  ASSERT_EQ(result.exit_code, 0) << describe(result);
  EXPECT_NE(result.out.find("16 replicas, 1 group, 1 node, 1 GPU (16 slots per GPU; one node)"),
            std::string::npos)
      << result.out;
  const RunResult two = run("plan " + data("readme_loads.csv") +
                            " --replicas 16 --groups 3 --nodes 2 --gpus 8");
  ASSERT_EQ(two.exit_code, 0) << describe(two);
  EXPECT_NE(two.out.find("groups do not divide among the nodes: planned as one level"),
            std::string::npos)
      << two.out;
  EXPECT_NE(two.out.find("(mean GPU load / heaviest GPU's)"), std::string::npos) << two.out;
}

TEST_F(CliTest, PlanAndEvalWriteJsonReports) {
  const std::string trace = make_trace(*this, "trace.json", 150);
  const std::string plan_file = path("plan.json"), plan_report = path("plan_report.json");
  const RunResult planned = run("plan " + quote(trace) +
                                " --replicas 96 --groups 8 --nodes 2 --gpus 8 --steps 0:50 -o " +
                                quote(plan_file) + " --json " + quote(plan_report));
  ASSERT_EQ(planned.exit_code, 0) << describe(planned);
  EXPECT_NE(planned.out.find("report written to   " + plan_report), std::string::npos)
      << describe(planned);
  const std::string report = read_file(plan_report);
  for (const std::string field :
       {"\"command\": \"plan\"", "\"steps\": \"0:50\"", "\"num_layers\": 2",
        "\"num_experts\": 64", "\"num_replicas\": 96", "\"slots_per_gpu\": 12",
        "\"hierarchical\": true", "\"policy\": \"balanced\"", "\"format\": \"eplb\"",
        "\"gpu_balancedness\": 0.", "\"max_gpu_load\": [", "\"excluded_gpus\": []"}) {
    EXPECT_NE(report.find(field), std::string::npos) << field << "\n" << report;
  }
  // The report's metrics are the plan file's.
  const io::PlanFile saved = io::read_plan_json(plan_file);
  EXPECT_EQ(saved.plan.num_layers, 2);
  const std::string eval_report = path("eval_report.json");
  const RunResult evaluated = run("eval " + quote(plan_file) + " " + quote(trace) +
                                  " --steps 50:100 --json " + quote(eval_report));
  ASSERT_EQ(evaluated.exit_code, 0) << describe(evaluated);
  const std::string scored = read_file(eval_report);
  EXPECT_NE(scored.find("\"command\": \"eval\""), std::string::npos) << scored;
  EXPECT_NE(scored.find("\"plan_ms\": null"), std::string::npos) << scored;
  EXPECT_NE(scored.find("\"path\": " + std::string("\"") + plan_file + "\""), std::string::npos)
      << scored;
  // Scored on the next window, the balance differs from the report made in-sample.
  const auto balancedness = [](const std::string& text) {
    const size_t at = text.find("\"gpu_balancedness\": ") + 20;
    return std::stod(text.substr(at, 20));
  };
  EXPECT_LT(balancedness(scored), balancedness(report));
  EXPECT_NE(evaluated.out.find(std::to_string(balancedness(scored)).substr(0, 5)),
            std::string::npos)
      << describe(evaluated);
}

// `--json -`: the JSON alone on stdout, the report on stderr.
TEST_F(CliTest, JsonReportsGoToStdoutWithDash) {
  const std::string trace = make_trace(*this, "trace.json", 150);
  const std::string plan_file = path("plan.json");
  const RunResult planned = run("plan " + quote(trace) +
                                " --replicas 96 --groups 8 --nodes 2 --gpus 8 -o " +
                                quote(plan_file) + " --json -");
  ASSERT_EQ(planned.exit_code, 0) << describe(planned);
  EXPECT_EQ(planned.out.substr(0, 2), "{\n") << describe(planned);
  EXPECT_EQ(planned.out.substr(planned.out.size() - 2), "}\n") << describe(planned);
  EXPECT_NE(planned.err.find("GPU balancedness"), std::string::npos) << describe(planned);
  const RunResult evaluated = run("eval " + quote(plan_file) + " " + quote(trace) + " --json - -q");
  ASSERT_EQ(evaluated.exit_code, 0) << describe(evaluated);
  EXPECT_NE(evaluated.out.find("\"command\": \"eval\""), std::string::npos)
      << describe(evaluated);
  EXPECT_EQ(evaluated.err, "");
}

TEST_F(CliTest, QuietSilencesEveryReport) {
  const std::string trace = path("trace.json");
  const RunResult generated = run("gen -q --steps 150 --layers 2 --experts 64 -o " + quote(trace));
  ASSERT_EQ(generated.exit_code, 0) << describe(generated);
  EXPECT_EQ(generated.out, "");
  const std::string plan_file = path("plan.json");
  const std::vector<std::string> commands = {
      "plan -q " + quote(trace) + " --replicas 96 --groups 8 --nodes 2 --gpus 8 -o " +
          quote(plan_file),
      "eval --quiet " + quote(plan_file) + " " + quote(trace),
      "convert -q " + quote(plan_file) + " --dense-layers none --format sglang -o " +
          quote(path("plan.sglang.json")),
      "replay -q " + quote(trace) + " --interval 50 --json " + quote(path("replay.json"))};
  for (const std::string& command : commands) {
    const RunResult result = run(command);
    EXPECT_EQ(result.exit_code, 0) << command << "\n" << describe(result);
    EXPECT_EQ(result.out, "") << command;
    EXPECT_EQ(result.err, "") << command;
  }
  EXPECT_TRUE(fs::exists(path("replay.json")));
  EXPECT_TRUE(fs::exists(path("plan.sglang.json")));
}

TEST_F(CliTest, InputFormatMeansTheLoadFileEverywhere) {
  const std::string trace = make_trace(*this, "trace.json", 150);
  const std::string plan_file = path("plan.json");
  ASSERT_EQ(run("plan -q " + quote(trace) + " --replicas 96 --groups 8 --nodes 2 --gpus 8 -o " +
                quote(plan_file))
                .exit_code,
            0);
  const std::string output = path("out.json");
  expect_usage_error(
      run("convert " + quote(plan_file) + " --input-format eplb --format sglang -o " +
          quote(output)),
      "convert reads a plan: name its format with --plan-format (--input-format is a load "
      "file's format)");
  EXPECT_FALSE(fs::exists(output));
  EXPECT_EQ(run("convert -q " + quote(plan_file) +
                " --plan-format eplb --dense-layers none --format sglang -o " + quote(output))
                .exit_code,
            0);
  const std::string help = run("plan --help").out;
  EXPECT_NE(help.find("deepseek|balanced|global"), std::string::npos) << help;
}

// A long gen shows its progress on a terminal only; `script` gives the run one.
TEST_F(CliTest, GenShowsProgressOnATerminalOnly) {
  const std::string trace = path("trace.json");
  const std::string gen = "gen --steps 200 --layers 2 --experts 16 -o " + quote(trace);
  const RunResult piped = run(gen);
  ASSERT_EQ(piped.exit_code, 0) << describe(piped);
  EXPECT_EQ(piped.err, "");
  if (std::system("command -v script >/dev/null 2>&1") != 0) GTEST_SKIP() << "no script(1)";
  const std::string command = std::string(EPLB_CLI_PATH) + " " + gen;
  const RunResult terminal = run_shell("script -qec " + quote(command) + " /dev/null");
  ASSERT_EQ(terminal.exit_code, 0) << describe(terminal);
  EXPECT_NE(terminal.out.find("generating"), std::string::npos) << describe(terminal);
  EXPECT_NE(terminal.out.find("200/200 steps"), std::string::npos) << describe(terminal);
  EXPECT_NE(terminal.out.find("writing " + trace), std::string::npos) << describe(terminal);
  const RunResult quiet = run_shell("script -qec " + quote(command + " -q") + " /dev/null");
  EXPECT_EQ(quiet.out, "") << describe(quiet);
}

}  // namespace
}  // namespace eplb
