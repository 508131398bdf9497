// Planning around failed or excluded GPUs (RebalanceOptions::active_gpus).

#include <vector>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "eplb/metrics.h"
#include "eplb/policy.h"
#include "support/check_plan.h"
#include "support/generators.h"

namespace eplb {
namespace {

std::vector<bool> all_but(int64_t num_gpus, std::vector<int64_t> excluded) {
  std::vector<bool> active(num_gpus, true);
  for (int64_t g : excluded) active[g] = false;
  return active;
}

void expect_excluded_slots_unused(const Plan& plan, const Topology& topology,
                                  const std::vector<bool>& active) {
  for (int64_t layer = 0; layer < plan.num_layers; ++layer) {
    for (int64_t slot = 0; slot < plan.num_replicas; ++slot) {
      const bool used = plan.phy2log_row(layer)[slot] >= 0;
      EXPECT_EQ(used, bool(active[topology.gpu_of_slot(slot)])) << "layer " << layer << " slot " << slot;
    }
  }
  for (int64_t slot : plan.log2phy) {
    if (slot >= 0) {
      EXPECT_TRUE(active[topology.gpu_of_slot(slot)]) << "log2phy points at slot " << slot;
    }
  }
}

TEST(ActiveGpusTest, PlansOntoTheHealthyGpusOnly) {
  const Topology topology(288, 8, 4, 32);
  const Loads loads = testing::make_loads(testing::Distribution::zipf, 6, 256, 4);
  const std::vector<bool> active = all_but(32, {3, 17});
  for (Policy policy : {Policy::balanced, Policy::global}) {
    SCOPED_TRACE(to_string(policy));
    const Plan plan = rebalance_experts(loads.view(), topology, {.policy = policy, .active_gpus = active});
    ASSERT_EQ(testing::check_plan(plan, topology, 256), "");
    EXPECT_NO_THROW(validate(plan, topology, {.forbid_duplicates_on_gpu = true, .active_gpus = active}));
    expect_excluded_slots_unused(plan, topology, active);
    // 30 GPUs, 270 slots: the bound and the gap are those of the healthy GPUs.
    const PlanMetrics metrics = evaluate(plan, loads.view(), topology);
    if (policy == Policy::global) {
      EXPECT_LT(metrics.gap, 0.01);
    }
  }
  // With 9 slots per GPU a node that loses a GPU keeps 63 slots for its 64 experts: the
  // hierarchy cannot hold and balanced plans globally on the healthy GPUs.
  EXPECT_FALSE(uses_hierarchy(topology, 256, {.active_gpus = active}));
}

TEST(ActiveGpusTest, KeepsTheHierarchyWhenNodesStillFitTheirExperts) {
  // 10 slots per GPU: a node that loses a GPU keeps 70 slots for its 64 experts.
  const Topology topology(320, 8, 4, 32);
  const Loads loads = testing::make_loads(testing::Distribution::zipf, 6, 256, 4);
  const std::vector<bool> active = all_but(32, {3, 17});
  EXPECT_TRUE(uses_hierarchy(topology, 256, {.active_gpus = active}));
  const Plan plan = rebalance_experts(loads.view(), topology, {.active_gpus = active});
  ASSERT_EQ(testing::check_plan(plan, topology, 256), "");
  EXPECT_NO_THROW(validate(plan, topology, {.forbid_duplicates_on_gpu = true, .active_gpus = active}));
  expect_excluded_slots_unused(plan, topology, active);
  const PlanMetrics metrics = evaluate(plan, loads.view(), topology);
  EXPECT_GE(metrics.hierarchical_gap, 0.0);  // groups stayed on their nodes
  EXPECT_LT(metrics.hierarchical_gap, 0.01);
}

TEST(ActiveGpusTest, FallsBackToOneLevelWhenANodeLosesTooMuch) {
  // 12 slots per GPU; node 1 (GPUs 8-15) keeps two GPUs: 24 slots for its 64 experts.
  const Topology topology(384, 8, 4, 32);
  const Loads loads = testing::make_loads(testing::Distribution::lognormal, 3, 256, 2);
  const std::vector<bool> active = all_but(32, {8, 9, 10, 11, 12, 13});
  EXPECT_FALSE(uses_hierarchy(topology, 256, {.active_gpus = active}));
  const Plan plan = rebalance_experts(loads.view(), topology, {.active_gpus = active});
  ASSERT_EQ(testing::check_plan(plan, topology, 256), "");
  EXPECT_NO_THROW(validate(plan, topology, {.forbid_duplicates_on_gpu = true, .active_gpus = active}));
  expect_excluded_slots_unused(plan, topology, active);
}

TEST(ActiveGpusTest, AllTrueIsThePlainPlan) {
  const Topology topology(96, 8, 2, 16);
  const Loads loads = testing::make_loads(testing::Distribution::zipf, 4, 64, 1);
  EXPECT_EQ(rebalance_experts(loads.view(), topology, {.active_gpus = std::vector<bool>(16, true)}),
            rebalance_experts(loads.view(), topology));
}

TEST(ActiveGpusTest, RejectsBadMasks) {
  const Topology topology(96, 8, 2, 16);
  const Loads loads = testing::make_loads(testing::Distribution::uniform, 2, 64, 0);
  EXPECT_THROW_MESSAGE(rebalance_experts(loads.view(), topology, {.active_gpus = std::vector<bool>(15, true)}),
                       InvalidArgument, "rebalance_experts: active_gpus has 15 entries, must have num_gpus = 16");
  EXPECT_THROW_MESSAGE(rebalance_experts(loads.view(), topology, {.active_gpus = std::vector<bool>(16, false)}),
                       InvalidArgument, "rebalance_experts: active_gpus excludes every GPU");
  std::vector<bool> ten_slots(16, false);
  ten_slots[0] = ten_slots[1] = true;
  EXPECT_THROW_MESSAGE(rebalance_experts(loads.view(), topology, {.active_gpus = ten_slots}), InvalidArgument,
                       "rebalance_experts: active_gpus leaves 12 slots on 2 GPUs, fewer than num_experts = 64");
  EXPECT_THROW_MESSAGE(
      rebalance_experts(loads.view(), topology, {.policy = Policy::deepseek, .active_gpus = all_but(16, {2})}),
      InvalidArgument, "rebalance_experts: active_gpus needs policy balanced or global; deepseek plans onto every GPU");
}

TEST(ActiveGpusTest, ValidateChecksExcludedGpus) {
  const Topology topology(96, 8, 2, 16);
  const Loads loads = testing::make_loads(testing::Distribution::uniform, 1, 64, 0);
  const std::vector<bool> active = all_but(16, {5});
  Plan plan = rebalance_experts(loads.view(), topology, {.policy = Policy::global, .active_gpus = active});
  EXPECT_THROW_MESSAGE(validate(plan, topology, {.active_gpus = std::vector<bool>(16, true)}), InvalidArgument,
                       "validate: gpu 5 of layer 0 is unused but active in active_gpus");
  // Half a GPU unused is not an exclusion.
  Plan broken = rebalance_experts(loads.view(), topology, {.policy = Policy::global});
  const int64_t expert = broken.phy2log[0];
  broken.phy2log[0] = -1;
  broken = plan_from_phy2log(broken.phy2log, 1, 96, 64);
  if (broken.logcnt[expert] > 0) {
    EXPECT_THROW(validate(broken, topology), InvalidArgument);
  }
}

}  // namespace
}  // namespace eplb
