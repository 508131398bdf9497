// Tests of write_plan_json and read_plan_json.
#include "eplb/io/io.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "eplb/metrics.h"
#include "eplb/plan.h"
#include "eplb/topology.h"
#include "support/check_plan.h"  // EXPECT_THROW_MESSAGE, check_plan
#include "temp_dir.h"

namespace eplb::io {
namespace {

namespace fs = std::filesystem;
using testing::read_text;
using testing::TempDir;

// What write_plan_json() writes for small_plan_file(): the layout is part of the format.
constexpr std::string_view kPlan = R"({
  "format": "eplb-plan",
  "version": 1,
  "topology": {"num_replicas": 4, "num_groups": 1, "num_nodes": 1, "num_gpus": 2},
  "policy": "global",
  "num_layers": 2,
  "num_experts": 3,
  "max_replicas": 2,
  "phy2log": [
    [0,1,2,0],
    [2,1,0,1]
  ],
  "log2phy": [
    [[0,3],[1,-1],[2,-1]],
    [[2,-1],[1,3],[0,-1]]
  ],
  "logcnt": [
    [2,1,1],
    [1,2,1]
  ]
}
)";

PlanFile small_plan_file() {
  const std::vector<int64_t> phy2log{0, 1, 2, 0, 2, 1, 0, 1};
  return PlanFile{plan_from_phy2log(phy2log, 2, 4, 3), Topology(4, 1, 1, 2), "global"};
}

// Returns kPlan with its first `from` replaced by `to`.
std::string edited_plan(std::string_view from, std::string_view to) {
  std::string text(kPlan);
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

// Expects reading `content` to throw ParseError `read_plan_json: <path>: <what>`.
void expect_parse_error(const TempDir& dir, std::string_view content, const std::string& what) {
  const fs::path path = dir.write("plan.json", content);
  EXPECT_THROW_MESSAGE(read_plan_json(path), ParseError,
                       "read_plan_json: " + path.string() + ": " + what);
}

// Expects reading `content` to throw InvalidArgument whose message starts with `prefix`.
void expect_invalid(const TempDir& dir, std::string_view content, const std::string& prefix) {
  const fs::path path = dir.write("plan.json", content);
  try {
    read_plan_json(path);
    ADD_FAILURE() << "no InvalidArgument";
  } catch (const InvalidArgument& error) {
    EXPECT_EQ(std::string(error.what()).substr(0, prefix.size()), prefix) << error.what();
  }
}

TEST(PlanJsonTest, WritesStableLayout) {
  const TempDir dir;
  const fs::path path = dir.path() / "plan.json";
  write_plan_json(path, small_plan_file());
  EXPECT_EQ(read_text(path), kPlan);
  EXPECT_FALSE(fs::exists(dir.path() / "plan.json.tmp"));
}

TEST(PlanJsonTest, WriteThenReadRoundTrips) {
  const TempDir dir;
  const Topology topology(8, 2, 2, 4);
  const std::vector<int64_t> phy2log{0, 1, 2, 3, 4, 5, 0, 0,  //
                                     5, 4, 3, 2, 1, 0, 5, 1,  //
                                     0, 1, 2, 3, 4, 5, 3, 4};
  const PlanFile written{plan_from_phy2log(phy2log, 3, 8, 6), topology,
                         "hierarchical \"snake\"\\\n\x01"};
  ASSERT_EQ(eplb::testing::check_plan(written.plan, topology, 6), "");
  const fs::path path = dir.path() / "plan.json";
  write_plan_json(path, written);
  const PlanFile read = read_plan_json(path);
  EXPECT_EQ(read.plan, written.plan);
  EXPECT_EQ(read.topology, topology);
  EXPECT_EQ(read.policy, written.policy);
}

TEST(PlanJsonTest, WritesMetricsWhenGiven) {
  const TempDir dir;
  const fs::path path = dir.path() / "plan.json";
  PlanMetrics metrics;
  metrics.gpu_balancedness = 0.75;
  metrics.slot_balancedness = 0.5;
  metrics.max_gpu_load = {3, 4.5};
  metrics.lower_bound = {2.5, 4};
  metrics.gap = 1.0 / 3;
  metrics.mean_layer_gap = 0;
  write_plan_json(path, small_plan_file(), metrics);
  const std::string text = read_text(path);
  EXPECT_NE(text.find("  ],\n  \"metrics\": {\n    \"gpu_balancedness\": 0.75,\n"
                      "    \"slot_balancedness\": 0.5,\n    \"gap\": 0.3333333333333333,\n"
                      "    \"mean_layer_gap\": 0,\n    \"max_gpu_load\": [3,4.5],\n"
                      "    \"lower_bound\": [2.5,4]\n  }\n}\n"),
            std::string::npos)
      << text;
  const PlanFile read = read_plan_json(path);
  EXPECT_EQ(read.plan, small_plan_file().plan);
}

TEST(PlanJsonTest, WritesHierarchicalGapWhenPresent) {
  const TempDir dir;
  const fs::path path = dir.path() / "plan.json";
  PlanMetrics metrics;
  metrics.max_gpu_load = {3, 4.5};
  metrics.lower_bound = {2.5, 4};
  metrics.hierarchical_bound = {3, 4};
  metrics.hierarchical_gap = 0.125;
  write_plan_json(path, small_plan_file(), metrics);
  const std::string text = read_text(path);
  EXPECT_NE(text.find("    \"hierarchical_gap\": 0.125,\n"), std::string::npos);
  EXPECT_NE(text.find("    \"lower_bound\": [2.5,4],\n    \"hierarchical_bound\": [3,4]\n  }\n}\n"),
            std::string::npos);
}

TEST(PlanJsonTest, WriteRejectsPlanNotMatchingTopology) {
  const TempDir dir;
  const fs::path path = dir.path() / "plan.json";
  PlanFile plan_file = small_plan_file();
  plan_file.topology = Topology(8, 1, 1, 2);
  EXPECT_THROW_MESSAGE(write_plan_json(path, plan_file), InvalidArgument,
                       "write_plan_json: plan.num_replicas = 4 must equal "
                       "topology.num_replicas() = 8");
  plan_file = small_plan_file();
  plan_file.plan.logcnt.pop_back();
  EXPECT_THROW_MESSAGE(write_plan_json(path, plan_file), InvalidArgument,
                       "write_plan_json: logcnt size = 5 must be 6");
  EXPECT_FALSE(fs::exists(path));
}

TEST(PlanJsonTest, WriteFailureIsIoError) {
  const TempDir dir;
  const fs::path path = dir.path() / "missing" / "plan.json";
  EXPECT_THROW_MESSAGE(write_plan_json(path, small_plan_file()), IoError,
                       "write_plan_json: " + path.string() + ": No such file or directory");
}

TEST(PlanJsonTest, MissingFileIsIoError) {
  const TempDir dir;
  const fs::path path = dir.path() / "plan.json";
  EXPECT_THROW_MESSAGE(read_plan_json(path), IoError,
                       "read_plan_json: " + path.string() + ": No such file or directory");
}

TEST(PlanJsonTest, MalformedJsonIsParseError) {
  const TempDir dir;
  expect_parse_error(dir, "", "empty file");
  expect_parse_error(dir, "[1, 2]", "expected an object");
  const fs::path path = dir.write("plan.json", kPlan.substr(0, 200));
  EXPECT_THROW(read_plan_json(path), ParseError);
}

TEST(PlanJsonTest, MissingOrMistypedFieldNamesItsPointer) {
  const TempDir dir;
  expect_parse_error(dir, edited_plan("\"logcnt\"", "\"counts\""), "missing field \"logcnt\"");
  expect_parse_error(dir, edited_plan("\"num_groups\"", "\"groups\""),
                     "/topology: missing field \"num_groups\"");
  expect_parse_error(dir, edited_plan("\"eplb-plan\"", "\"other\""),
                     "/format: expected \"eplb-plan\"");
  expect_parse_error(dir, edited_plan("\"version\": 1", "\"version\": 2"),
                     "/version: unsupported version 2 (expected 1)");
  expect_parse_error(dir, edited_plan("\"num_layers\": 2", "\"num_layers\": \"2\""),
                     "/num_layers: expected an integer");
  expect_parse_error(dir, edited_plan("\"num_layers\": 2", "\"num_layers\": -2"),
                     "/num_layers: expected a non-negative integer");
  expect_parse_error(dir, edited_plan("\"num_gpus\": 2", "\"num_gpus\": 2.0"),
                     "/topology/num_gpus: expected an integer");
  expect_parse_error(dir, edited_plan("\"policy\": \"global\"", "\"policy\": 5"),
                     "/policy: expected a string");
  expect_parse_error(dir, edited_plan("{\"num_replicas\": 4", "[{\"num_replicas\": 4"),
                     "malformed or truncated JSON");
}

TEST(PlanJsonTest, ArrayShapesAreChecked) {
  const TempDir dir;
  expect_parse_error(dir, edited_plan("[2,1,0,1]", "[2,1,0]"),
                     "/phy2log/1: expected 4 entries, got 3");
  expect_parse_error(dir, edited_plan("[0,1,2,0]", "[0,1,\"2\",0]"),
                     "/phy2log/0/2: expected an integer");
  expect_parse_error(dir, edited_plan("[[0,3],[1,-1],[2,-1]],", ""),
                     "/log2phy: expected 2 entries, got 1");
  expect_parse_error(dir, edited_plan("[[0,3],", "[[0,3,-1],"),
                     "/log2phy/0/0: expected 2 entries, got 3");
  expect_parse_error(dir, edited_plan("[2,1,1]", "{}"), "/logcnt/0: expected an array");
}

TEST(PlanJsonTest, InconsistentPlanIsInvalidArgument) {
  const TempDir dir;
  expect_invalid(dir, edited_plan("[2,1,1]", "[1,2,1]"), "validate: ");
  expect_invalid(dir, edited_plan("\"num_gpus\": 2", "\"num_gpus\": 3"), "Topology: ");
}

}  // namespace
}  // namespace eplb::io
