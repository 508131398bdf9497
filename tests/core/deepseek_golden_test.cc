// The deepseek policy must reproduce every output of DeepSeek's reference exactly.

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <simdjson.h>

#include "eplb/policy.h"
#include "support/check_plan.h"

namespace eplb {
namespace {

struct Golden {
  std::string name;
  int64_t num_replicas = 0, num_groups = 0, num_nodes = 0, num_gpus = 0;
  int64_t num_layers = 0, num_experts = 0, max_replicas = 0;
  std::vector<double> weight;
  std::vector<int64_t> phy2log, log2phy, logcnt;
};

// Appends every number under `value` (nested arrays) to `out`, returning the nesting sizes.
template <typename T>
void flatten(simdjson::dom::element value, std::vector<T>& out, std::vector<int64_t>& shape,
             size_t depth = 0) {
  if (value.is_array()) {
    simdjson::dom::array array = value.get_array();
    if (shape.size() <= depth) shape.push_back(static_cast<int64_t>(array.size()));
    for (simdjson::dom::element item : array) flatten(item, out, shape, depth + 1);
    return;
  }
  out.push_back(static_cast<T>(value.is_double() ? double(value) : double(int64_t(value))));
}

Golden read_golden(const std::filesystem::path& path) {
  simdjson::dom::parser parser;
  simdjson::dom::element root = parser.load(path.string());
  Golden golden;
  golden.name = std::string(std::string_view(root["name"]));
  golden.num_replicas = int64_t(root["num_replicas"]);
  golden.num_groups = int64_t(root["num_groups"]);
  golden.num_nodes = int64_t(root["num_nodes"]);
  golden.num_gpus = int64_t(root["num_gpus"]);
  std::vector<int64_t> shape;
  flatten(root["weight"], golden.weight, shape);
  golden.num_layers = shape[0];
  golden.num_experts = shape[1];
  shape.clear();
  flatten(root["phy2log"], golden.phy2log, shape);
  shape.clear();
  flatten(root["log2phy"], golden.log2phy, shape);
  golden.max_replicas = shape[2];
  shape.clear();
  flatten(root["logcnt"], golden.logcnt, shape);
  return golden;
}

std::vector<std::filesystem::path> golden_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::filesystem::path(EPLB_TEST_DATA_DIR) / "golden")) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(DeepseekGoldenTest, FindsAllGoldenFiles) { EXPECT_EQ(golden_files().size(), 9u); }

TEST(DeepseekGoldenTest, ReproducesEveryGoldenFileExactly) {
  for (const auto& path : golden_files()) {
    SCOPED_TRACE(path.filename().string());
    const Golden golden = read_golden(path);
    const Topology topology(golden.num_replicas, golden.num_groups, golden.num_nodes,
                            golden.num_gpus);
    const LoadMatrix loads(std::span<const double>(golden.weight), golden.num_layers,
                           golden.num_experts);
    const Plan plan = rebalance_experts(loads, topology, {.policy = Policy::deepseek});
    EXPECT_EQ(testing::check_plan(plan, topology, golden.num_experts), "");
    EXPECT_EQ(plan.max_replicas, golden.max_replicas);
    EXPECT_EQ(plan.phy2log, golden.phy2log);
    EXPECT_EQ(plan.log2phy, golden.log2phy);
    EXPECT_EQ(plan.logcnt, golden.logcnt);
  }
}

TEST(DeepseekGoldenTest, FloatInputGivesTheSamePlanAsDoubleInput) {
  for (const auto& path : golden_files()) {
    SCOPED_TRACE(path.filename().string());
    const Golden golden = read_golden(path);
    const Topology topology(golden.num_replicas, golden.num_groups, golden.num_nodes,
                            golden.num_gpus);
    std::vector<float> as_float(golden.weight.begin(), golden.weight.end());
    const Plan plan = rebalance_experts(
        LoadMatrix(std::span<const float>(as_float), golden.num_layers, golden.num_experts),
        topology, {.policy = Policy::deepseek});
    EXPECT_EQ(plan.phy2log, golden.phy2log);
  }
}

}  // namespace
}  // namespace eplb
