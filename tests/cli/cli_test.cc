// End-to-end tests of the eplb binary: exit codes, messages and the files it writes.
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "eplb/io/io.h"
#include "eplb/policy.h"
#include "eplb/topology.h"
#include "cli_runner.h"

namespace eplb {
namespace {

std::string library_message(int64_t num_replicas, int64_t num_groups, int64_t num_nodes,
                            int64_t num_gpus) {
  try {
    const Topology topology(num_replicas, num_groups, num_nodes, num_gpus);
    static_cast<void>(topology);
  } catch (const InvalidArgument& error) {
    return error.what();
  }
  return "(no error)";
}

TEST_F(CliTest, HelpExitsZeroEverywhere) {
  for (const std::string args :
       {"--help", "plan --help", "eval --help", "convert --help", "gen --help", "-h"}) {
    const RunResult result = run(args);
    EXPECT_EQ(result.exit_code, 0) << args << "\n" << describe(result);
    EXPECT_NE(result.out.find("Usage"), std::string::npos) << describe(result);
  }
  EXPECT_NE(run("plan --help").out.find("--replicas"), std::string::npos);
  EXPECT_NE(run("gen --help").out.find("--prefill-probability"), std::string::npos);
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  const RunResult no_command = run("");
  EXPECT_EQ(no_command.exit_code, 2) << describe(no_command);
  const RunResult unknown = run("plan " + data("readme_loads.csv") + " --frobnicate");
  EXPECT_EQ(unknown.exit_code, 2) << describe(unknown);
  const RunResult not_a_number =
      run("plan " + data("readme_loads.csv") + " --replicas x --groups 4 --nodes 2 --gpus 8");
  EXPECT_EQ(not_a_number.exit_code, 2) << describe(not_a_number);
}

TEST_F(CliTest, MissingRequiredOptionExitsTwo) {
  const RunResult result =
      run("plan " + data("readme_loads.csv") + " --groups 4 --nodes 2 --gpus 8");
  EXPECT_EQ(result.exit_code, 2) << describe(result);
  EXPECT_NE(result.err.find("--replicas"), std::string::npos) << describe(result);
  EXPECT_EQ(run("gen --steps 3").exit_code, 2);
}

TEST_F(CliTest, BadStepRangeAndNamesAreUsageErrors) {
  const std::string plan = "plan " + data("readme_loads.csv") + " --replicas 16 --groups 4 " +
                           "--nodes 2 --gpus 8 ";
  const RunResult steps = run(plan + "--steps x:3");
  EXPECT_EQ(steps.exit_code, 2) << describe(steps);
  EXPECT_NE(steps.err.find("parse_step_range: steps = \"x:3\" must look like A:B"),
            std::string::npos)
      << describe(steps);
  EXPECT_EQ(run(plan + "--policy nonsense").exit_code, 2);
  EXPECT_EQ(run(plan + "--input-format xml").exit_code, 2);
}

TEST_F(CliTest, MissingFileExitsOneNamingIt) {
  const std::string missing = path("no_such_loads.json");
  const RunResult result =
      run("plan " + quote(missing) + " --replicas 16 --groups 4 --nodes 2 --gpus 8");
  EXPECT_EQ(result.exit_code, 1) << describe(result);
  EXPECT_EQ(result.err.rfind("eplb: error: ", 0), 0u) << describe(result);
  EXPECT_NE(result.err.find(missing), std::string::npos) << describe(result);
  const RunResult eval = run("eval " + quote(missing) + " " + data("readme_loads.csv"));
  EXPECT_EQ(eval.exit_code, 1) << describe(eval);
  EXPECT_NE(eval.err.find(missing), std::string::npos) << describe(eval);
}

// Sizes that do not divide are bad option values: a usage error, before the loads are read.
TEST_F(CliTest, BadTopologyExitsTwoWithTheLibraryMessage) {
  const std::string output = path("plan.json");
  const RunResult result = run("plan " + data("readme_loads.csv") +
                               " --replicas 30 --groups 4 --nodes 2 --gpus 8 -o " + quote(output));
  EXPECT_EQ(result.exit_code, 2) << describe(result);
  EXPECT_EQ(result.err, "eplb: error: " + library_message(30, 4, 2, 8) + "\n");
  EXPECT_FALSE(fs::exists(output));
}

TEST_F(CliTest, PlanSearchOptionsAreCheckedAndDeterministic) {
  const std::string base = "plan " + data("readme_loads.csv") + " --replicas 16 --groups 4 --nodes 2 --gpus 8";
  RunResult result = run(base + " --packer best");
  EXPECT_EQ(result.exit_code, 2) << describe(result);
  EXPECT_NE(result.err.find("parse_packing_strategy: packer = \"best\" is not one of: greedy, snake, "
                            "multistart"),
            std::string::npos)
      << describe(result);
  result = run(base + " --effort 0");
  EXPECT_EQ(result.exit_code, 2) << describe(result);
  EXPECT_NE(result.err.find("--effort: value 0 must be an integer in [1, 1000]"), std::string::npos)
      << describe(result);
  const std::string one = path("one.json"), two = path("two.json");
  ASSERT_EQ(run(base + " --effort 3 --seed 9 --threads 1 -o " + quote(one)).exit_code, 0);
  ASSERT_EQ(run(base + " --effort 3 --seed 9 --threads 2 -o " + quote(two)).exit_code, 0);
  EXPECT_EQ(eplb::io::read_plan_json(one).plan, eplb::io::read_plan_json(two).plan);
}

TEST_F(CliTest, ExcludedGpusGetEmptySlotsAndTheReportSaysWhetherTheHierarchyHeld) {
  const std::string output = path("plan.json");
  const RunResult result = run("plan " + data("readme_loads.csv") +
                               " --replicas 16 --groups 4 --nodes 2 --gpus 8 --exclude-gpus 1,6 -o " +
                               quote(output));
  ASSERT_EQ(result.exit_code, 0) << describe(result);
  EXPECT_NE(result.out.find("excluded GPUs       1, 6"), std::string::npos) << result.out;
  // Each node keeps 3 GPUs = 6 slots for its 6 experts: the hierarchy holds.
  EXPECT_NE(result.out.find("hierarchy           kept"), std::string::npos) << result.out;
  const eplb::io::PlanFile plan_file = eplb::io::read_plan_json(output);
  for (int64_t layer = 0; layer < plan_file.plan.num_layers; ++layer) {
    const auto row = plan_file.plan.phy2log_row(layer);
    for (int64_t slot = 0; slot < 16; ++slot) {
      EXPECT_EQ(row[slot] == -1, slot / 2 == 1 || slot / 2 == 6) << "slot " << slot;
    }
  }
  const RunResult bad = run("plan " + data("readme_loads.csv") +
                            " --replicas 16 --groups 4 --nodes 2 --gpus 8 --exclude-gpus 9");
  EXPECT_EQ(bad.exit_code, 2) << describe(bad);
  EXPECT_EQ(bad.err, "eplb: error: --exclude-gpus: gpu 9 must be in [0, 8)\n");
}

TEST_F(CliTest, UnwritableOutputExitsOneWithoutPartialFile) {
  const std::string output = path("missing_dir/plan.json");
  const RunResult result = run("plan " + data("readme_loads.csv") +
                               " --replicas 16 --groups 4 --nodes 2 --gpus 8 -o " + quote(output));
  EXPECT_EQ(result.exit_code, 1) << describe(result);
  EXPECT_FALSE(fs::exists(output));
  EXPECT_FALSE(fs::exists(path("missing_dir")));
}

TEST_F(CliTest, PlanReportsTheReadmeExample) {
  const RunResult result =
      run("plan " + data("readme_loads.csv") + " --replicas 16 --groups 4 --nodes 2 --gpus 8");
  ASSERT_EQ(result.exit_code, 0) << describe(result);
  EXPECT_EQ(result.err, "");
  const std::string default_policy(to_string(RebalanceOptions{}.policy));
  for (const std::string& expected :
       {std::string("2 layers x 12 experts"), std::string("16 replicas, 4 groups, 2 nodes, 8 GPUs"),
        "policy              " + default_policy, std::string("GPU balancedness"),
        std::string("slot balancedness"), std::string("gap to lower bound"), std::string(" ms")}) {
    EXPECT_NE(result.out.find(expected), std::string::npos) << expected << "\n" << describe(result);
  }
}

TEST_F(CliTest, EvalRejectsLoadsOfAnotherShape) {
  const std::string trace = path("trace.json");
  const std::string plan = path("plan.json");
  ASSERT_EQ(run("gen -o " + quote(trace) + " --steps 2 --layers 3 --experts 16").exit_code, 0);
  ASSERT_EQ(run("plan " + quote(trace) + " --replicas 16 --groups 4 --nodes 2 --gpus 8 -o " +
                quote(plan))
                .exit_code,
            0);
  const RunResult result = run("eval " + quote(plan) + " " + data("readme_loads.csv"));
  EXPECT_EQ(result.exit_code, 1) << describe(result);
  EXPECT_NE(result.err.find("[2, 12]"), std::string::npos) << describe(result);
  EXPECT_NE(result.err.find("[3, 16]"), std::string::npos) << describe(result);
}

TEST_F(CliTest, GenPlanEvalRoundTrip) {
  const std::string trace = path("trace.json");
  const std::string plan = path("plan.json");
  const RunResult gen =
      run("gen -o " + quote(trace) + " --steps 20 --layers 4 --experts 32 --seed 3");
  ASSERT_EQ(gen.exit_code, 0) << describe(gen);
  const Trace written = io::read_trace(trace);
  EXPECT_EQ(written.num_steps, 20);
  EXPECT_EQ(written.num_layers, 4);
  EXPECT_EQ(written.num_experts, 32);

  const RunResult planned = run("plan " + quote(trace) + " --steps 0:10 --replicas 40 --groups 4 " +
                                "--nodes 2 --gpus 8 --policy deepseek -o " + quote(plan));
  ASSERT_EQ(planned.exit_code, 0) << describe(planned);
  EXPECT_NE(planned.out.find("steps 0:10"), std::string::npos) << describe(planned);
  const io::PlanFile plan_file = io::read_plan_json(plan);
  EXPECT_EQ(plan_file.plan.num_layers, 4);
  EXPECT_EQ(plan_file.plan.num_experts, 32);
  EXPECT_EQ(plan_file.topology, Topology(40, 4, 2, 8));
  EXPECT_EQ(plan_file.policy, "deepseek");

  const RunResult evaluated = run("eval " + quote(plan) + " " + quote(trace) + " --steps 10:");
  ASSERT_EQ(evaluated.exit_code, 0) << describe(evaluated);
  EXPECT_NE(evaluated.out.find("GPU balancedness"), std::string::npos) << describe(evaluated);
}

TEST_F(CliTest, EvalSumsStepsOfAVllmTrace) {
  const std::string plan = path("plan.json");
  ASSERT_EQ(run("plan " + data("trace_3steps.json") + " --steps 0:1 --replicas 16 --groups 4 " +
                "--nodes 2 --gpus 8 -o " + quote(plan))
                .exit_code,
            0);
  const RunResult result = run("eval " + quote(plan) + " " + data("trace_3steps.json") +
                               " --steps 2: --input-format vllm");
  EXPECT_EQ(result.exit_code, 0) << describe(result);
  const RunResult out_of_range = run("eval " + quote(plan) + " " + data("trace_3steps.json") +
                                     " --steps 2:7");
  EXPECT_EQ(out_of_range.exit_code, 1) << describe(out_of_range);
  EXPECT_NE(out_of_range.err.find("2:7"), std::string::npos) << describe(out_of_range);
}

TEST_F(CliTest, GenIsDeterministicAndValidatesOptions) {
  const std::string first = path("first.json");
  const std::string second = path("second.json");
  const std::string options = " --steps 5 --layers 2 --experts 16 --seed 9";
  ASSERT_EQ(run("gen -o " + quote(first) + options).exit_code, 0);
  ASSERT_EQ(run("gen -o " + quote(second) + options).exit_code, 0);
  EXPECT_EQ(read_file(first), read_file(second));

  const std::string bad = path("bad.json");
  RunResult result = run("gen -o " + quote(bad) + " --top-k 0");
  EXPECT_EQ(result.exit_code, 2) << describe(result);
  EXPECT_NE(result.err.find("--top-k: value 0 must be an integer >= 1"), std::string::npos)
      << describe(result);
  EXPECT_FALSE(fs::exists(bad));
  // Checked by the generator once all options are known: still a usage error.
  result = run("gen -o " + quote(bad) + " --top-k 17 --experts 16");
  EXPECT_EQ(result.exit_code, 2) << describe(result);
  EXPECT_NE(result.err.find("eplb: error: generate_trace: top_k = 17"), std::string::npos)
      << describe(result);
  EXPECT_FALSE(fs::exists(bad));
  EXPECT_EQ(run("gen -o " + quote(bad) + " --steps many").exit_code, 2);
}

TEST_F(CliTest, GenWritesEachFamilyAndRefusesUnknownOnes) {
  const std::string options = " --steps 5 --layers 2 --experts 16 --seed 9";
  const std::string drift = path("drift.json");
  ASSERT_EQ(run("gen -o " + quote(drift) + options).exit_code, 0);
  const std::string named_drift = path("named_drift.json");
  ASSERT_EQ(run("gen -o " + quote(named_drift) + options + " --family drift").exit_code, 0);
  EXPECT_EQ(read_file(drift), read_file(named_drift));
  for (const std::string family : {"burst-topic", "switch", "daily", "stationary"}) {
    const std::string trace = path(family + ".json");
    const RunResult result = run("gen -o " + quote(trace) + options + " --family " + family);
    ASSERT_EQ(result.exit_code, 0) << describe(result);
    EXPECT_NE(result.out.find(family), std::string::npos) << describe(result);
    EXPECT_NE(read_file(trace), read_file(drift)) << family;
  }
  const std::string bad = path("bad.json");
  const RunResult result = run("gen -o " + quote(bad) + " --family bursty");
  EXPECT_EQ(result.exit_code, 2) << describe(result);
  EXPECT_NE(result.err.find("\"bursty\" is not one of: drift, burst-topic, switch, daily, "
                            "stationary"),
            std::string::npos)
      << describe(result);
  EXPECT_FALSE(fs::exists(bad));
  const std::string help = run("gen --help").out;
  EXPECT_NE(help.find("Trace families"), std::string::npos);
  EXPECT_NE(help.find("1,000-12,000 tokens"), std::string::npos);
}

std::string workload(const std::string& name) {
  return std::string(EPLB_WORKLOADS_DIR) + "/" + name;
}

TEST_F(CliTest, PlansSglangDeepSeekStatsForSglang) {
  const std::string loads = workload("sglang-deepseek-v3-ep-stats/prefill_in1024.json");
  if (!fs::exists(loads)) GTEST_SKIP() << loads << " is not present";
  const std::string output = path("plan.json");
  const RunResult result =
      run("plan " + quote(loads) +
          " --replicas 288 --groups 8 --nodes 4 --gpus 32 --format sglang -o " + quote(output));
  ASSERT_EQ(result.exit_code, 0) << describe(result);
  EXPECT_NE(result.out.find("dense layers        0, 1, 2 (trivial placement)"), std::string::npos)
      << describe(result);
  EXPECT_NE(result.out.find("plan written to     " + output + " (sglang)"), std::string::npos)
      << describe(result);
  EXPECT_EQ(read_file(output).rfind("{\"physical_to_logical_map\": [\n", 0), 0u);
  const io::PlanFile plan_file = io::read_plan(output, {.num_gpus = 32});
  EXPECT_EQ(plan_file.plan.num_layers, 61);
  EXPECT_EQ(plan_file.plan.num_experts, 256);
  EXPECT_EQ(plan_file.plan.num_replicas, 288);
  for (int64_t slot = 0; slot < 288; ++slot) {
    EXPECT_EQ(plan_file.plan.phy2log_row(0)[slot], slot % 256);  // dense: trivial placement
  }
}

TEST_F(CliTest, ConvertsBetweenEveryPlanFormat) {
  const std::string trace = path("trace.json");
  ASSERT_EQ(run("gen -o " + quote(trace) + " --steps 3 --layers 3 --experts 16").exit_code, 0);
  const std::string original = path("plan.eplb");
  // The generated rows are the model's layers, none dense; a vllm-ascend file does not say so.
  ASSERT_EQ(run("plan " + quote(trace) + " --replicas 24 --groups 4 --nodes 2 --gpus 8 " +
                "--dense-layers none -o " + quote(original))
                .exit_code,
            0);
  const io::PlanFile expected = io::read_plan(original);
  const std::string topology = " --gpus 8 --groups 4 --nodes 2 --dense-layers none";
  for (const std::string from : {"eplb", "sglang", "trtllm", "vllm-ascend"}) {
    const std::string source = path("from." + from);
    const RunResult to_source =
        run("convert " + quote(original) + " --format " + from + " -o " + quote(source));
    ASSERT_EQ(to_source.exit_code, 0) << describe(to_source);
    for (const std::string to : {"eplb", "sglang", "trtllm", "vllm-ascend"}) {
      const std::string target = path("to." + to);
      const RunResult converted = run("convert " + quote(source) + " --plan-format " + from +
                                      topology + " --format " + to + " -o " + quote(target));
      ASSERT_EQ(converted.exit_code, 0) << from << " -> " << to << "\n" << describe(converted);
      const io::PlanFile read = io::read_plan(
          target, {.num_gpus = 8, .num_groups = 4, .num_nodes = 2});
      EXPECT_EQ(read.plan, expected.plan) << from << " -> " << to;
      EXPECT_EQ(read.topology, expected.topology) << from << " -> " << to;
    }
  }
  // The converted plans score like the original.
  const RunResult evaluated =
      run("eval " + quote(path("to.trtllm")) + " " + quote(trace) + topology);
  EXPECT_EQ(evaluated.exit_code, 0) << describe(evaluated);
}

TEST_F(CliTest, ConvertNeedsWhatTheFormatDoesNotRecord) {
  const std::string plan = path("plan.json");
  ASSERT_EQ(run("plan " + data("readme_loads.csv") +
                " --replicas 16 --groups 4 --nodes 2 --gpus 8 --dense-layers none "
                "--format sglang -o " + quote(plan))
                .exit_code,
            0);
  const RunResult no_gpus = run("convert " + quote(plan) + " --format eplb -o " +
                                quote(path("out.json")));
  EXPECT_EQ(no_gpus.exit_code, 1) << describe(no_gpus);
  EXPECT_EQ(no_gpus.err, "eplb: error: read_plan: num_gpus = 0 must be given: a sglang plan does "
                         "not record the number of GPUs\n");
  EXPECT_EQ(run("convert " + quote(plan) + " -o x.json").exit_code, 2);  // --format required
  EXPECT_EQ(run("convert " + quote(plan) + " --format auto -o x.json").exit_code, 2);
  EXPECT_EQ(run("convert " + quote(plan) + " --format xml -o x.json").exit_code, 2);
  EXPECT_EQ(run("convert " + quote(plan) + " --format eplb -o x.json --dense-layers 3:1")
                .exit_code,
            2);
  // --format only makes sense with -o.
  EXPECT_EQ(run("plan " + data("readme_loads.csv") +
                " --replicas 16 --groups 4 --nodes 2 --gpus 8 --format sglang")
                .exit_code,
            2);
}

TEST_F(CliTest, ConvertPointsAtRowsThatLookDense) {
  const std::string loads = path("loads.csv");
  {
    std::ofstream(loads) << "0,0,0,0\n1,2,3,40\n90,1,1,1\n";
  }
  const std::string plan = path("plan.json");
  ASSERT_EQ(run("plan " + quote(loads) + " --replicas 8 --groups 1 --nodes 1 --gpus 2 "
                "--policy deepseek --format sglang -o " + quote(plan))
                .exit_code,
            0);
  const std::string output = path("plan.yaml");
  const RunResult hinted =
      run("convert " + quote(plan) + " --gpus 2 --format trtllm -o " + quote(output));
  EXPECT_EQ(hinted.exit_code, 0) << describe(hinted);
  EXPECT_NE(hinted.err.find("eplb: note: layers 0 hold the trivial placement"), std::string::npos)
      << describe(hinted);
  const RunResult told = run("convert " + quote(plan) +
                             " --gpus 2 --dense-layers 0 --format trtllm -o " + quote(output));
  EXPECT_EQ(told.err, "") << describe(told);
  EXPECT_EQ(read_file(output).find("  0: "), std::string::npos) << read_file(output);
}

TEST_F(CliTest, TopkTracesNeedTheLayerCount) {
  const std::string trace = path("topk.jsonl");
  {
    std::ofstream(trace) << "{\"topk_ids\": [[0, 1]]}\n{\"topk_ids\": [[1, 2]]}\n";
  }
  const RunResult missing =
      run("plan " + quote(trace) + " --replicas 4 --groups 1 --nodes 1 --gpus 2");
  EXPECT_EQ(missing.exit_code, 1) << describe(missing);
  EXPECT_NE(missing.err.find("read_loads: num_layers = 0 must be in [1, 65536]"),
            std::string::npos)
      << describe(missing);
  const RunResult planned =
      run("plan " + quote(trace) +
          " --layers 2 --experts 4 --replicas 4 --groups 1 --nodes 1 --gpus 2");
  EXPECT_EQ(planned.exit_code, 0) << describe(planned);
  EXPECT_NE(planned.out.find("2 layers x 4 experts"), std::string::npos) << describe(planned);
}

// The plot: cli_plot_test.cc.
TEST_F(CliTest, ReplayComparesPlannersAndWritesTheJson) {
  const std::string trace = path("trace.json");
  ASSERT_EQ(run("gen --steps 320 --layers 4 --experts 64 --seed 3 -o " + quote(trace)).exit_code,
            0);
  const std::string json = path("replay.json");
  const RunResult replayed =
      run("replay " + quote(trace) + " --interval 100 --gpus 8 --nodes 2 --policy "
          "deepseek,balanced@last,balanced --tolerance 0.005 --exclude-gpus 5 --json " +
          quote(json));
  ASSERT_EQ(replayed.exit_code, 0) << describe(replayed);
  // 3 full windows of 100 steps: two plans, each scored on the next window.
  EXPECT_NE(replayed.out.find("320 steps x 4 layers x 64 experts"), std::string::npos)
      << describe(replayed);
  EXPECT_NE(replayed.out.find("96 replicas, 8 groups, 2 nodes, 8 GPUs"), std::string::npos)
      << describe(replayed);
  EXPECT_NE(replayed.out.find("replan within 0.50 % of a fresh plan"), std::string::npos);
  EXPECT_NE(replayed.out.find("| balanced@last |"), std::string::npos) << describe(replayed);
  EXPECT_NE(replayed.out.find("| 1 |"), std::string::npos) << describe(replayed);
  EXPECT_EQ(replayed.out.find("| 2 |"), std::string::npos) << describe(replayed);
  EXPECT_EQ(replayed.err, "");  // no progress bar when stderr is not a terminal
  const std::string report = read_file(json);
  EXPECT_EQ(report.find("{\n  \"policy\": \"deepseek\""), 0u) << report;
  EXPECT_NE(report.find("\"moved_fraction\""), std::string::npos);
  EXPECT_NE(report.find("\"policy\": \"balanced\""), std::string::npos);
  // Threads change no plan: the same windows (the tables hold no timing).
  const std::string table = replayed.out.substr(0, replayed.out.find("| planner |"));
  const RunResult threaded =
      run("replay " + quote(trace) + " --interval 100 --gpus 8 --nodes 2 --policy "
          "deepseek,balanced@last,balanced --tolerance 0.005 --exclude-gpus 5 --threads 2");
  ASSERT_EQ(threaded.exit_code, 0) << describe(threaded);
  EXPECT_EQ(threaded.out.substr(0, threaded.out.find("| planner |")), table);
}

TEST_F(CliTest, ReplayRejectsShortTracesAndUnknownPlanners) {
  const std::string trace = path("trace.json");
  ASSERT_EQ(run("gen --steps 150 --layers 2 --experts 64 -o " + quote(trace)).exit_code, 0);
  const RunResult short_trace = run("replay " + quote(trace) + " --interval 100");
  EXPECT_EQ(short_trace.exit_code, 1);
  EXPECT_NE(short_trace.err.find("replay: the trace has 150 steps, fewer than two windows of "
                                 "interval = 100 steps"),
            std::string::npos)
      << describe(short_trace);
  const RunResult unknown = run("replay " + quote(trace) + " --interval 50 --policy best");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("best"), std::string::npos) << describe(unknown);
  const RunResult history =
      run("replay " + quote(trace) + " --interval 50 --policy balanced@window:0");
  EXPECT_EQ(history.exit_code, 2);
  EXPECT_NE(history.err.find("history = \"window:0\""), std::string::npos) << describe(history);
  const RunResult excluded =
      run("replay " + quote(trace) + " --interval 50 --gpus 8 --nodes 2 --exclude-gpus 9");
  EXPECT_EQ(excluded.exit_code, 2);
  EXPECT_NE(excluded.err.find("--exclude-gpus: gpu 9 must be in [0, 8)"), std::string::npos)
      << describe(excluded);
  // The search options are the plan command's, checked alike.
  const RunResult seed = run("replay " + quote(trace) + " --interval 50 --seed -1");
  EXPECT_EQ(seed.exit_code, 2);  // a usage error, found while parsing
  EXPECT_NE(seed.err.find("--seed: value -1 must be an integer >= 0"), std::string::npos)
      << describe(seed);
  const RunResult threads = run("replay " + quote(trace) + " --interval 50 --threads 0");
  EXPECT_EQ(threads.exit_code, 2);
  EXPECT_NE(threads.err.find("--threads: value 0 must be an integer in [1, 1024]"),
            std::string::npos)
      << describe(threads);
  const RunResult rounds = run("replay " + quote(trace) + " --interval 50 --repair-rounds -1");
  EXPECT_EQ(rounds.exit_code, 2);
  EXPECT_NE(rounds.err.find("--repair-rounds: value -1 must be an integer in [0, 1000000]"),
            std::string::npos)
      << describe(rounds);
}

// README.md's first command ends with an eplb replay of the bundled trace: run that part as
// written (the plot goes to the test's directory). Where python3 cannot draw it (no eplb or
// matplotlib, which the README's venv installs), --plot must say so before the replay, and
// the rest of the command must run.
TEST_F(CliTest, ReadmeReplayCommandRuns) {
  const std::string readme = read_file(fs::path(EPLB_TEST_DATA_DIR) / ".." / ".." / "README.md");
  const std::string marker = "&& eplb replay ";
  const size_t start = readme.find(marker);
  ASSERT_NE(start, std::string::npos);
  std::string args = readme.substr(start + marker.size() - 7,
                                   readme.find('\n', start) - start - marker.size() + 7);
  ASSERT_EQ(args.substr(0, 7), "replay ") << args;
  const size_t plot = args.find("replay.png");
  ASSERT_NE(plot, std::string::npos) << args;
  args.replace(plot, 10, quote(path("replay.png")));
  const std::string bundled = "examples/data/synthetic_trace.json";
  ASSERT_NE(args.find(bundled), std::string::npos) << args;
  args.replace(args.find(bundled), bundled.size(),
               quote((fs::path(EPLB_TEST_DATA_DIR) / ".." / ".." / bundled).string()));
  const bool can_plot = !plotting_python().empty();
  if (!can_plot) {
    const RunResult refused = run(args);
    EXPECT_EQ(refused.exit_code, 1) << describe(refused);
    EXPECT_EQ(refused.out, "") << describe(refused);
    EXPECT_NE(refused.err.find("pip install 'eplb[plot]'"), std::string::npos)
        << describe(refused);
    args.erase(args.find(" --plot "));
  }
  const RunResult replayed = run(args);
  ASSERT_EQ(replayed.exit_code, 0) << args << "\n" << describe(replayed);
  EXPECT_NE(replayed.out.find("| deepseek |"), std::string::npos) << describe(replayed);
  EXPECT_NE(replayed.out.find("| global |"), std::string::npos) << describe(replayed);
  EXPECT_EQ(fs::exists(path("replay.png")), can_plot);
}

TEST_F(CliTest, ServerFormatsRefuseExcludedGpusBeforePlanning) {
  const std::string loads = path("loads.csv");
  {
    std::ofstream(loads) << "0,0,0,0\n1,2,3,40\n90,1,1,1\n";
  }
  for (const std::string format : {"sglang", "trtllm", "vllm-ascend"}) {
    const std::string output = path("plan." + format);
    const RunResult refused =
        run("plan " + quote(loads) + " --replicas 12 --groups 1 --nodes 1 --gpus 3 "
            "--exclude-gpus 1 --format " + format + " -o " + quote(output));
    EXPECT_EQ(refused.exit_code, 1) << describe(refused);
    EXPECT_EQ(refused.err, "eplb: error: plan: --exclude-gpus 1: --format " + format +
                               " cannot leave a GPU empty, so its server would route tokens to "
                               "the excluded GPUs (docs/formats.md); restart the server on the "
                               "2 other GPUs and plan for those (--gpus 2), or write --format "
                               "eplb\n");
    EXPECT_FALSE(fs::exists(output));
  }
  // eplb's own file keeps the empty GPU, and eval reads it back.
  const std::string plan = path("plan.json");
  const RunResult written = run("plan " + quote(loads) +
                                " --replicas 12 --groups 1 --nodes 1 --gpus 3 --exclude-gpus 1 "
                                "-o " + quote(plan));
  ASSERT_EQ(written.exit_code, 0) << describe(written);
  const RunResult evaluated = run("eval " + quote(plan) + " " + quote(loads));
  EXPECT_EQ(evaluated.exit_code, 0) << describe(evaluated);
}

TEST_F(CliTest, ServerFormatsNeedTheDenseLayersOfMoeOnlyLoads) {
  const std::string trace = path("trace.json");  // 4 MoE layers, no all-zero row
  ASSERT_EQ(run("gen -o " + quote(trace) + " --steps 3 --layers 4 --experts 16").exit_code, 0);
  const std::string topology = " --replicas 32 --groups 1 --nodes 1 --gpus 4";
  const std::string sglang = path("sglang.json");
  const RunResult refused =
      run("plan " + quote(trace) + topology + " --format sglang -o " + quote(sglang));
  EXPECT_EQ(refused.exit_code, 1) << describe(refused);
  EXPECT_NE(refused.err.find("plan: --dense-layers auto: --format sglang numbers the model's "
                             "layers, but none of the 4 rows of " + trace + " is all zero"),
            std::string::npos)
      << describe(refused);
  EXPECT_FALSE(fs::exists(sglang));
  // Told where the dense layers go, the file has the model's 7 layers, dense ones trivial.
  const RunResult told = run("plan " + quote(trace) + topology +
                             " --dense-layers 0:3 --format sglang -o " + quote(sglang));
  ASSERT_EQ(told.exit_code, 0) << describe(told);
  EXPECT_NE(told.out.find("dense layers        0, 1, 2 (inserted: the 4 rows are MoE layers"),
            std::string::npos)
      << describe(told);
  const io::PlanFile model = io::read_plan(sglang, {.num_gpus = 4, .dense_layers = {0, 1, 2}});
  EXPECT_EQ(model.plan.num_layers, 7);
  // To vllm-ascend (MoE layers 0 to 3) and back: the layer ids come back only when told.
  const std::string ascend = path("expert_map.json");
  ASSERT_EQ(run("convert " + quote(sglang) + " --gpus 4 --dense-layers 0:3 --format vllm-ascend "
                "-o " + quote(ascend)).exit_code, 0);
  const std::string back = path("back.json");
  const RunResult untold = run("convert " + quote(ascend) + " --format sglang -o " + quote(back));
  EXPECT_EQ(untold.exit_code, 1) << describe(untold);
  EXPECT_NE(untold.err.find("write_plan: format sglang numbers the model's layers, but the "
                            "plan's 4 rows are MoE layers only"),
            std::string::npos)
      << describe(untold);
  ASSERT_EQ(run("convert " + quote(ascend) + " --dense-layers 0:3 --format sglang -o " +
                quote(back)).exit_code, 0);
  EXPECT_EQ(read_file(back), read_file(sglang));
  // A real MoE layer named dense is refused, not dropped from the trtllm file.
  const std::string yaml = path("plan.yaml");
  const RunResult moe_named_dense = run("convert " + quote(sglang) +
                                        " --gpus 4 --dense-layers 0:3,5 --format trtllm -o " +
                                        quote(yaml));
  EXPECT_EQ(moe_named_dense.exit_code, 1) << describe(moe_named_dense);
  EXPECT_NE(moe_named_dense.err.find("read_plan: dense_layers = [0, 1, 2, 5] names layer 5 of " +
                                     sglang + ", a MoE layer"),
            std::string::npos)
      << describe(moe_named_dense);
  EXPECT_FALSE(fs::exists(yaml));
  // --dense-layers none: the rows are the model's layers.
  EXPECT_EQ(run("plan " + quote(trace) + topology + " --dense-layers none --format trtllm -o " +
                quote(yaml)).exit_code, 0);
  EXPECT_EQ(io::read_plan(yaml, {.num_gpus = 4}).plan.num_layers, 4);
}

TEST_F(CliTest, TorchFilesPointAtThePythonPackage) {
  const std::string dump = path("expert_distribution_recorder.pt");
  {
    std::ofstream(dump) << std::string("PK\x03\x04", 4) << "archive/data.pkl";
  }
  const RunResult planned = run("plan " + quote(dump) + " --replicas 4 --groups 1 --nodes 1 "
                                "--gpus 2");
  EXPECT_EQ(planned.exit_code, 1) << describe(planned);
  EXPECT_EQ(planned.err, "eplb: error: read_loads: " + dump +
                             ": a PyTorch file (torch.save), which the Python package reads: "
                             "eplb.read_loads(path) (pip install eplb torch)\n");
}

TEST_F(CliTest, SlotCountsNeedTheDeployedPlan) {
  const std::string plan = path("plan.yaml");
  {
    std::ofstream(plan) << "num_slots: 4\nep_size: 2\ninitial_global_assignments:\n"
                           "  0: [0, 1, 2, 0]\n  1: [2, 1, 0, 1]\nlayer_updates_per_iter: 0\n";
  }
  const std::string slots = path("slots.json");  // counts per slot, as TensorRT-LLM's balancer
  {
    std::ofstream(slots) << "[[5, 1, 2, 3], [0, 4, 0, 6]]";
  }
  const RunResult refused = run("eval " + quote(plan) + " " + quote(slots));
  EXPECT_EQ(refused.exit_code, 1) << describe(refused);
  EXPECT_EQ(refused.err, "eplb: error: eval: " + slots +
                             " counts 4 per layer, the plan's num_slots, not its 3 experts: "
                             "TensorRT-LLM statistics recorded with its load balancer active "
                             "count slots; give the plan the server ran with --deployed-plan "
                             "PLAN to map them to experts\n");
  const RunResult mapped =
      run("eval " + quote(plan) + " " + quote(slots) + " --deployed-plan " + quote(plan));
  EXPECT_EQ(mapped.exit_code, 0) << describe(mapped);
  EXPECT_NE(mapped.out.find("2 layers x 3 experts"), std::string::npos) << describe(mapped);
  const RunResult planned = run("plan " + quote(slots) + " --deployed-plan " + quote(plan) +
                                " --replicas 4 --groups 1 --nodes 1 --gpus 2 --dense-layers none"
                                " --format trtllm -o " + quote(path("next.yaml")));
  EXPECT_EQ(planned.exit_code, 0) << describe(planned);
  EXPECT_EQ(io::read_plan(path("next.yaml"), {.num_gpus = 2}).plan.num_experts, 3);
}

}  // namespace
}  // namespace eplb
