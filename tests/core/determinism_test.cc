// Determinism is part of the contract: the same inputs, options and seed give a byte-identical
// plan whatever the thread count and however often they are planned.

#include <cstdint>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "eplb/load_matrix.h"
#include "eplb/packing.h"
#include "eplb/plan.h"
#include "eplb/policy.h"
#include "eplb/topology.h"
#include "support/check_plan.h"
#include "support/generators.h"

namespace eplb {
namespace {

struct Shape {
  const char* name;
  int64_t num_layers, num_experts, num_replicas, num_groups, num_nodes, num_gpus;
};

constexpr Shape kShapes[] = {
    {"deepseek_v3", 58, 256, 288, 8, 4, 32},
    {"global_fallback", 7, 60, 64, 5, 2, 8},  // 5 groups on 2 nodes: the global path
    {"fewer_layers_than_threads", 3, 24, 48, 4, 2, 8},
    {"heavy_replication", 9, 12, 48, 1, 1, 6},
};

constexpr PackingStrategy kStrategies[] = {PackingStrategy::greedy, PackingStrategy::snake,
                                           PackingStrategy::multistart};

// Returns true when the two plans hold the same bytes (sizes and all three arrays).
bool byte_identical(const Plan& a, const Plan& b) {
  const auto same = [](const std::vector<int64_t>& x, const std::vector<int64_t>& y) {
    return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof x[0]) == 0;
  };
  return a.num_layers == b.num_layers && a.num_experts == b.num_experts &&
         a.num_replicas == b.num_replicas && a.max_replicas == b.max_replicas &&
         same(a.phy2log, b.phy2log) && same(a.log2phy, b.log2phy) && same(a.logcnt, b.logcnt);
}

TEST(DeterminismTest, SamePlanForEveryThreadCountAndRun) {
  const testing::Distribution distributions[] = {testing::Distribution::zipf,
                                                 testing::Distribution::integer_ties};
  for (const Shape& shape : kShapes) {
    const Topology topology(shape.num_replicas, shape.num_groups, shape.num_nodes, shape.num_gpus);
    for (const auto distribution : distributions) {
      const Loads loads =
          testing::make_loads(distribution, shape.num_layers, shape.num_experts, 17);
      for (Policy policy : kAllPolicies) {
        for (PackingStrategy packer : kStrategies) {
          // deepseek packs greedily whatever the packer option says.
          if (policy == Policy::deepseek && packer != PackingStrategy::greedy) continue;
          SCOPED_TRACE(::testing::Message()
                       << shape.name << " " << testing::to_string(distribution) << " "
                       << to_string(policy) << " packer=" << to_string(packer));
          const RebalanceOptions options{.policy = policy, .packer = packer, .seed = 7};
          const Plan reference = rebalance_experts(loads.view(), topology, options);
          ASSERT_EQ(testing::check_plan(reference, topology, shape.num_experts), "");
          for (int64_t threads : {1, 2, 4, 1, 4}) {
            RebalanceOptions threaded = options;
            threaded.threads = threads;
            EXPECT_TRUE(byte_identical(rebalance_experts(loads.view(), topology, threaded),
                                       reference))
                << "threads = " << threads;
          }
        }
      }
    }
  }
}

TEST(DeterminismTest, SamePlanForEveryElementType) {
  // The same integral loads as double, float, int32 and int64 give the same plan.
  const Shape& shape = kShapes[0];
  const Topology topology(shape.num_replicas, shape.num_groups, shape.num_nodes, shape.num_gpus);
  const Loads loads = testing::make_loads(testing::Distribution::integer_ties, shape.num_layers,
                                          shape.num_experts, 5);
  const std::vector<float> f32(loads.values.begin(), loads.values.end());
  const std::vector<int32_t> i32(loads.values.begin(), loads.values.end());
  const std::vector<int64_t> i64(loads.values.begin(), loads.values.end());
  const int64_t num_layers = shape.num_layers, num_experts = shape.num_experts;
  for (Policy policy : kAllPolicies) {
    SCOPED_TRACE(to_string(policy));
    const RebalanceOptions options{.policy = policy, .seed = 3, .threads = 2};
    const Plan reference = rebalance_experts(loads.view(), topology, options);
    for (const LoadMatrix& view :
         {LoadMatrix(std::span<const float>(f32), num_layers, num_experts),
          LoadMatrix(std::span<const int32_t>(i32), num_layers, num_experts),
          LoadMatrix(std::span<const int64_t>(i64), num_layers, num_experts)}) {
      EXPECT_TRUE(byte_identical(rebalance_experts(view, topology, options), reference));
    }
  }
}

}  // namespace
}  // namespace eplb
