// balanced and global take a second replica of an expert on one GPU when that lowers the
// heaviest GPU, so they are never heavier than deepseek.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "eplb/metrics.h"
#include "eplb/policy.h"
#include "support/check_plan.h"

namespace eplb {
namespace {

struct Case {
  std::vector<double> loads;  // [num_layers, num_experts]
  int64_t num_layers, num_experts;
  Topology topology;
};

// Small random cases: few experts, few slots per GPU, one to three nodes, loads that tie or
// differ widely.
Case random_case(std::mt19937_64& engine) {
  const auto pick = [&](int64_t lo, int64_t hi) { return lo + int64_t(engine() % uint64_t(hi - lo + 1)); };
  const int64_t num_nodes = pick(1, 3);
  const int64_t num_gpus = num_nodes * pick(1, 3);
  const int64_t groups_per_node = pick(1, 2);
  const int64_t num_groups = num_nodes * groups_per_node + (pick(0, 4) == 0 ? 1 : 0);
  const int64_t group_size = pick(1, 3);
  const int64_t num_experts = num_groups * group_size;
  const int64_t per_gpu = (num_experts + num_gpus - 1) / num_gpus + pick(0, 2);
  const int64_t num_layers = pick(1, 2);
  std::vector<double> loads(num_layers * num_experts);
  const int64_t kind = pick(0, 2);
  for (double& load : loads) {
    if (kind == 0) load = double(pick(0, 9));
    if (kind == 1) load = double(pick(1, 1000));
    if (kind == 2) load = std::exp(2.0 * double(pick(0, 1000)) / 1000.0 * 3);
  }
  return {loads, num_layers, num_experts,
          Topology(num_gpus * per_gpu, num_groups, num_nodes, num_gpus)};
}

double heaviest(const Plan& plan, const LoadMatrix& loads, const Topology& topology, int64_t layer) {
  const auto gpu = gpu_loads(plan, loads, topology, layer);
  return *std::max_element(gpu.begin(), gpu.end());
}

TEST(DuplicatesTest, SecondCopyOnOneGpuBeatsSplittingTheHeavyExpert) {
  // Expert 1 split over both GPUs leaves 3.5 + 4 on one; DeepSeek's two copies of it on GPU 1
  // carry 7 there, with 1 + 4 on GPU 0.
  const std::vector<double> loads{1, 7, 4};
  const LoadMatrix view(std::span<const double>(loads), 1, 3);
  const Topology topology(4, 1, 1, 2);
  for (Policy policy : {Policy::deepseek, Policy::balanced, Policy::global}) {
    for (int64_t effort : {1, 10}) {
      if (policy == Policy::deepseek && effort > 1) continue;
      const Plan plan = rebalance_experts(view, topology, {.policy = policy, .effort = effort});
      const PlanMetrics metrics = evaluate(plan, view, topology);
      EXPECT_DOUBLE_EQ(metrics.max_gpu_load[0], 7.0) << to_string(policy);
      EXPECT_EQ(metrics.duplicate_slots, 1) << to_string(policy);
      EXPECT_THROW(validate(plan, topology, {.forbid_duplicates_on_gpu = true}), InvalidArgument);
    }
  }
}

TEST(DuplicatesTest, SecondCopyOnOneGpuBeatsAnySplit) {
  // Without a duplicate the best is 9 (4 + 5 with expert 0 split); with one, 8 on each GPU.
  const std::vector<double> loads{8, 3, 5};
  const LoadMatrix view(std::span<const double>(loads), 1, 3);
  const Topology topology(4, 1, 1, 2);
  for (Policy policy : {Policy::balanced, Policy::global}) {
    const PlanMetrics metrics =
        evaluate(rebalance_experts(view, topology, {.policy = policy}), view, topology);
    EXPECT_DOUBLE_EQ(metrics.max_gpu_load[0], 8.0);
    EXPECT_EQ(metrics.duplicate_slots, 1);
  }
}

TEST(DuplicatesTest, NoDuplicatesWhenTheyDoNotHelp) {
  // Splitting expert 0 (6 = 3 + 3) balances perfectly; a second copy on one GPU would not.
  const std::vector<double> loads{6, 3, 3};
  const LoadMatrix view(std::span<const double>(loads), 1, 3);
  const Topology topology(4, 1, 1, 2);
  for (Policy policy : {Policy::balanced, Policy::global}) {
    const Plan plan = rebalance_experts(view, topology, {.policy = policy});
    const PlanMetrics metrics = evaluate(plan, view, topology);
    EXPECT_DOUBLE_EQ(metrics.max_gpu_load[0], 6.0);
    EXPECT_EQ(metrics.duplicate_slots, 0);
  }
}

TEST(DuplicatesTest, SearchPoliciesAreNeverHeavierThanDeepseek) {
  std::mt19937_64 engine(2026);
  int64_t worse = 0, better = 0, compared = 0, with_duplicates = 0;
  for (int trial = 0; trial < 6000; ++trial) {
    const Case c = random_case(engine);
    const LoadMatrix view(std::span<const double>(c.loads), c.num_layers, c.num_experts);
    const Plan deepseek = rebalance_experts(view, c.topology, {.policy = Policy::deepseek});
    for (Policy policy : {Policy::balanced, Policy::global}) {
      const Plan plan = rebalance_experts(view, c.topology, {.policy = policy, .seed = uint64_t(trial)});
      EXPECT_EQ(testing::check_plan(plan, c.topology, c.num_experts), "") << "trial " << trial;
      for (int64_t layer = 0; layer < c.num_layers; ++layer) {
        const double ours = heaviest(plan, view, c.topology, layer);
        const double theirs = heaviest(deepseek, view, c.topology, layer);
        worse += ours > theirs * (1 + 1e-9);
        better += ours < theirs * (1 - 1e-9);
        ++compared;
        EXPECT_LE(ours, theirs * (1 + 1e-9)) << "trial " << trial << " " << to_string(policy);
      }
      with_duplicates += evaluate(plan, view, c.topology).duplicate_slots > 0;
    }
  }
  EXPECT_EQ(worse, 0);
  EXPECT_GT(better, 0);
  std::printf("layers lighter than deepseek: %lld of %lld, plans with duplicate slots: %lld\n",
              static_cast<long long>(better), static_cast<long long>(compared),
              static_cast<long long>(with_duplicates));
}

}  // namespace
}  // namespace eplb
