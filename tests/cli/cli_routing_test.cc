// End-to-end tests of `eplb plan --routing` and `eplb eval --routing`.
#include <fstream>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "cli_runner.h"

namespace eplb {
namespace {

// Two layers of 16 experts, top-2, one forward pass of 400 tokens in two topics (experts 0-7
// and 8-15): a topk-jsonl file of two lines.
std::string write_two_topics(const std::string& path) {
  std::mt19937_64 random(5);
  std::ofstream file(path);
  for (int layer = 0; layer < 2; ++layer) {
    file << "{\"topk_ids\": [";
    for (int token = 0; token < 400; ++token) {
      const int base = 8 * (token % 2);
      const int first = base + static_cast<int>(random() % 8);
      const int second = base + (first - base + 1 + static_cast<int>(random() % 7)) % 8;
      file << (token > 0 ? ", " : "") << "[" << first << ", " << second << "]";
    }
    file << "]}\n";
  }
  return path;
}

double field(const std::string& text, const std::string& name) {
  const size_t at = text.find(name);
  EXPECT_NE(at, std::string::npos) << name << " not in\n" << text;
  return at == std::string::npos ? -1 : std::stod(text.substr(at + name.size()));
}

TEST_F(CliTest, PlanAndEvalWithRouting) {
  const std::string routing = write_two_topics(path("routing.jsonl"));
  const std::string loads = quote(routing) + " --input-format topk-jsonl --layers 2";
  const std::string shape = " --replicas 16 --groups 1 --nodes 2 --gpus 4 --dense-layers none";
  const RunResult plain = run("plan " + loads + shape + " --policy global -o " + quote(path("plain.json")));
  ASSERT_EQ(plain.exit_code, 0) << describe(plain);
  const RunResult placed = run("plan " + loads + shape + " --policy global --routing " +
                               quote(routing) + " --json " + quote(path("report.json")) + " -o " +
                               quote(path("placed.json")));
  ASSERT_EQ(placed.exit_code, 0) << describe(placed);
  EXPECT_NE(placed.out.find("nodes per token"), std::string::npos) << describe(placed);
  EXPECT_NE(placed.out.find("warning             only 400 tokens"), std::string::npos)
      << describe(placed);
  const std::string report = read_file(path("report.json"));
  EXPECT_NE(report.find("\"traffic\": {"), std::string::npos) << report;
  EXPECT_NE(report.find("\"tokens\": 400"), std::string::npos) << report;

  // Each topic gathers on a node: fewer nodes per token than the traffic-unaware plan.
  const std::string eval = " " + loads + " --routing " + quote(routing);
  const RunResult plain_eval = run("eval " + quote(path("plain.json")) + eval);
  const RunResult placed_eval = run("eval " + quote(path("placed.json")) + eval);
  ASSERT_EQ(plain_eval.exit_code, 0) << describe(plain_eval);
  ASSERT_EQ(placed_eval.exit_code, 0) << describe(placed_eval);
  EXPECT_LT(field(placed_eval.out, "nodes per token"), field(plain_eval.out, "nodes per token"))
      << placed_eval.out << plain_eval.out;
  EXPECT_GE(field(placed_eval.out, "GPU balancedness"),
            field(plain_eval.out, "GPU balancedness") / 1.005 - 1e-4);
  const RunResult without = run("eval " + quote(path("plain.json")) + " " + loads + " --json -");
  EXPECT_NE(without.out.find("\"traffic\": null"), std::string::npos) << describe(without);
}

TEST_F(CliTest, RoutingErrorsAreClear) {
  const std::string routing = write_two_topics(path("routing.jsonl"));
  const std::string loads = quote(routing) + " --input-format topk-jsonl --layers 2";
  const std::string shape = " --replicas 16 --groups 1 --nodes 2 --gpus 4 --dense-layers none";
  const RunResult balanced = run("plan " + loads + shape + " --policy balanced --routing " + quote(routing));
  EXPECT_EQ(balanced.exit_code, 2) << describe(balanced);
  EXPECT_NE(balanced.err.find("--routing places replicas across nodes"), std::string::npos)
      << describe(balanced);
  std::ofstream(path("bad.jsonl")) << "{\"topk_ids\": [[0, 1]]}\n{\"topk_ids\": [[2, 99]]}\n";
  const RunResult bad = run("plan " + loads + shape + " --policy global --routing " + quote(path("bad.jsonl")));
  EXPECT_NE(bad.exit_code, 0) << describe(bad);
  EXPECT_NE(bad.err.find("line 2: /topk_ids/0/1: expert id 99 must be in [0, 16)"),
            std::string::npos)
      << describe(bad);
  const RunResult passes = run("plan " + loads + shape + " --policy global --routing " +
                               quote(routing) + " --routing-passes 3:");
  EXPECT_NE(passes.exit_code, 0) << describe(passes);
  EXPECT_NE(passes.err.find("out of range for a file of 1 forward passes"), std::string::npos)
      << describe(passes);
}

}  // namespace
}  // namespace eplb
