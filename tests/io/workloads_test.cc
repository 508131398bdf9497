// Tests of the load readers on the real recordings in ../shared/workloads (skipped when absent).
#include <cstdint>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "eplb/io/io.h"
#include "eplb/io/layers.h"
#include "eplb/policy.h"
#include "eplb/topology.h"
#include "support/check_plan.h"  // check_plan
#include "temp_dir.h"

namespace eplb::io {
namespace {

namespace fs = std::filesystem;
using testing::read_text;
using testing::TempDir;

fs::path workload(const std::string& name) { return fs::path(EPLB_WORKLOADS_DIR) / name; }

#define SKIP_WITHOUT(path)                                                     \
  if (!fs::exists(path)) GTEST_SKIP() << (path).string() << " is not present"

// Returns the sum of row `layer` of step `step`.
double row_sum(const Trace& trace, int64_t step, int64_t layer) {
  const auto begin =
      trace.values.begin() + (step * trace.num_layers + layer) * trace.num_experts;
  return std::accumulate(begin, begin + trace.num_experts, 0.0);
}

TEST(WorkloadsTest, SglangDeepSeekFilesHaveThreeDenseLayers) {
  const fs::path dir = workload("sglang-deepseek-v3-ep-stats");
  SKIP_WITHOUT(dir);
  for (const char* name : {"decode_in1000out1000.json", "decode_in2000out100.json",
                           "prefill_in1000out1000.json", "prefill_in1024.json",
                           "prefill_in2000out100.json", "prefill_in512.json"}) {
    SCOPED_TRACE(name);
    const Trace trace = read_trace(dir / name);
    EXPECT_EQ(trace.num_steps, 1);
    EXPECT_EQ(trace.num_layers, 61);
    EXPECT_EQ(trace.num_experts, 256);
    const Loads loads = trace.sum_steps();
    EXPECT_EQ(find_dense_layers(loads.view()), (std::vector<int64_t>{0, 1, 2}));
  }
  const Trace prefill = read_trace(dir / "prefill_in1024.json", LoadFormat::sglang);
  for (int64_t layer = 3; layer < 61; ++layer) EXPECT_EQ(row_sum(prefill, 0, layer), 67108864);
}

TEST(WorkloadsTest, RecorderSumsHaveTheirDocumentedShapesAndSums) {
  const fs::path dir = workload("oeplb-qwen-sglang-counts");
  SKIP_WITHOUT(dir);
  struct Expected {
    const char* name;
    int64_t num_layers;
    int64_t num_experts;
    double row_sum;
  };
  for (const Expected& expected : {Expected{"counts235b.json", 94, 128, 33308480},
                                   Expected{"counts30b.json", 48, 128, 33308600},
                                   Expected{"counts57b.json", 28, 64, 33047120},
                                   Expected{"counts57b_share.json", 28, 64, 5526000}}) {
    SCOPED_TRACE(expected.name);
    const Trace trace = read_trace(dir / expected.name);
    EXPECT_EQ(trace.num_layers, expected.num_layers);
    EXPECT_EQ(trace.num_experts, expected.num_experts);
    for (int64_t layer = 0; layer < trace.num_layers; ++layer) {
      EXPECT_EQ(row_sum(trace, 0, layer), expected.row_sum);
    }
  }
}

TEST(WorkloadsTest, KimiCountsKeepTheModelLayerNumbers) {
  const fs::path path = workload("kimi-k25-imatrix-counts/unsloth_imatrix_expert_counts.jsonl");
  SKIP_WITHOUT(path);
  const Trace trace = read_trace(path);
  EXPECT_EQ(trace.num_layers, 61);  // layer 0 is dense: not in the file, a zero row
  EXPECT_EQ(trace.num_experts, 384);
  EXPECT_EQ(row_sum(trace, 0, 0), 0);
  for (int64_t layer = 1; layer < 61; ++layer) EXPECT_EQ(row_sum(trace, 0, layer), 6956072);
}

TEST(WorkloadsTest, VllmTopkTracesCountEveryToken) {
  const fs::path dir = workload("vllm-qwen3-30b-topk-trace");
  SKIP_WITHOUT(dir);
  for (const auto& [name, prefill_tokens] : {std::pair{"token_distri_8.jsonl", 2050},
                                             std::pair{"token_distri_16.jsonl", 2080}}) {
    SCOPED_TRACE(name);
    EXPECT_THROW(read_trace(dir / name), InvalidArgument);  // the layer count is not recorded
    const Trace trace = read_trace(dir / name, {.num_layers = 48});
    EXPECT_EQ(trace.num_steps, 32);
    EXPECT_EQ(trace.num_layers, 48);
    EXPECT_EQ(trace.num_experts, 128);
    for (int64_t layer = 0; layer < 48; ++layer) {
      EXPECT_EQ(row_sum(trace, 2, layer), prefill_tokens * 8);  // forward pass 2: the prefill
    }
    EXPECT_THROW(read_trace(dir / name, {.num_layers = 40}), ParseError);
  }
}

TEST(WorkloadsTest, TruncatedCopiesAreParseErrorsNamingTheFile) {
  const fs::path root = workload("");
  SKIP_WITHOUT(root);
  const TempDir dir;
  for (const char* name : {"sglang-deepseek-v3-ep-stats/prefill_in512.json",
                           "oeplb-qwen-sglang-counts/counts57b.json",
                           "kimi-k25-imatrix-counts/unsloth_imatrix_expert_counts.jsonl",
                           "vllm-qwen3-30b-topk-trace/token_distri_8.jsonl"}) {
    SCOPED_TRACE(name);
    const std::string content = read_text(root / name);
    ASSERT_FALSE(content.empty());
    const fs::path copy = dir.write(fs::path(name).filename().string(),
                                    content.substr(0, content.size() / 2 + 7));
    try {
      read_trace(copy, {.num_layers = 48});
      ADD_FAILURE() << "no error";
    } catch (const ParseError& error) {
      const std::string prefix = "read_trace: " + copy.string() + ": ";
      EXPECT_EQ(std::string(error.what()).substr(0, prefix.size()), prefix) << error.what();
    }
  }
}

TEST(WorkloadsTest, DeepSeekPlanRoundTripsThroughEveryFormat) {
  const fs::path path = workload("sglang-deepseek-v3-ep-stats/prefill_in1024.json");
  SKIP_WITHOUT(path);
  const Loads loads = read_loads(path);
  const Topology topology(288, 8, 4, 32);
  const std::vector<int64_t> dense = find_dense_layers(loads.view());
  const Plan plan =
      insert_dense_layers(rebalance_experts(remove_layers(loads, dense).view(), topology), dense);
  ASSERT_EQ(eplb::testing::check_plan(plan, topology, 256), "");
  const PlanFile written{plan, topology, "balanced", dense};
  const TempDir dir;
  for (const PlanFormat format :
       {PlanFormat::eplb, PlanFormat::sglang, PlanFormat::trtllm, PlanFormat::vllm_ascend}) {
    SCOPED_TRACE(to_string(format));
    const fs::path file = dir.path() / "plan";
    write_plan(file, written, format);
    const PlanFile read = read_plan(
        file, {.num_gpus = 32, .num_groups = 8, .num_nodes = 4,
               .dense_layers = format == PlanFormat::trtllm ? std::vector<int64_t>{} : dense});
    EXPECT_EQ(read.plan, plan);
    EXPECT_EQ(read.topology, topology);
    EXPECT_EQ(read.dense_layers, dense);
  }
}

}  // namespace
}  // namespace eplb::io
