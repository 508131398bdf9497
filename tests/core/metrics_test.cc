#include "eplb/metrics.h"

#include <vector>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "support/check_plan.h"

namespace eplb {
namespace {

// Layer 0: experts 0,1,2 with loads 8, 4, 4 on 4 slots / 2 GPUs; expert 0 has two replicas.
Plan small_plan() {
  const std::vector<int64_t> phy2log{0, 1, 0, 2};
  return plan_from_phy2log(phy2log, 1, 4, 3);
}

TEST(MetricsTest, ComputesGpuAndSlotBalancedness) {
  const Topology topology(4, 1, 1, 2);
  const std::vector<double> values{8, 4, 4};
  const LoadMatrix loads(std::span<const double>(values), 1, 3);
  const PlanMetrics metrics = evaluate(small_plan(), loads, topology);
  // GPU 0 = 4 + 4, GPU 1 = 4 + 4: perfect; every slot carries 4.
  EXPECT_DOUBLE_EQ(metrics.gpu_balancedness, 1.0);
  EXPECT_DOUBLE_EQ(metrics.slot_balancedness, 1.0);
  EXPECT_DOUBLE_EQ(metrics.max_gpu_load[0], 8.0);
  EXPECT_DOUBLE_EQ(metrics.gap, 0.0);
  const std::vector<double> skewed{8, 8, 0};
  const PlanMetrics other = evaluate(small_plan(), LoadMatrix(std::span<const double>(skewed), 1, 3), topology);
  // GPU 0 = 4 + 8 = 12, GPU 1 = 4 + 0: mean 8, max 12.
  EXPECT_DOUBLE_EQ(other.gpu_balancedness, 8.0 / 12.0);
  EXPECT_DOUBLE_EQ(gpu_loads(small_plan(), LoadMatrix(std::span<const double>(skewed), 1, 3), topology, 0)[1], 4.0);
  // Slots carry 4, 8, 4, 0: mean 4, max 8.
  EXPECT_DOUBLE_EQ(other.slot_balancedness, 0.5);
  // Bound: max(16 / 2, optimal replica load 8 / 1) = 8.
  EXPECT_DOUBLE_EQ(other.lower_bound[0], 8.0);
  EXPECT_DOUBLE_EQ(other.gap, 0.5);
}

TEST(MetricsTest, SumsOverLayersAndSkipsZeroLayers) {
  const Topology topology(4, 1, 1, 2);
  const std::vector<int64_t> phy2log{0, 1, 0, 2, 0, 1, 0, 2, 0, 1, 0, 2};
  const Plan plan = plan_from_phy2log(phy2log, 3, 4, 3);
  const std::vector<double> values{8, 4, 4, 0, 0, 0, 8, 8, 0};
  const PlanMetrics metrics = evaluate(plan, LoadMatrix(std::span<const double>(values), 3, 3), topology);
  EXPECT_DOUBLE_EQ(metrics.gpu_balancedness, (8.0 + 8.0) / (8.0 + 12.0));
  const std::vector<double> zeros(9, 0.0);
  EXPECT_DOUBLE_EQ(evaluate(plan, LoadMatrix(std::span<const double>(zeros), 3, 3), topology).gpu_balancedness, 1.0);
}

TEST(MetricsTest, ReportsTheHierarchicalGapOfStrictlyHierarchicalPlans) {
  // 4 experts in 2 groups on 2 nodes of 1 GPU with 2 slots each: group 0 (experts 0, 1) on
  // node 0, group 1 on node 1.
  const Topology topology(4, 2, 2, 2);
  const std::vector<double> values{6, 2, 1, 1};
  const LoadMatrix loads(std::span<const double>(values), 1, 4);
  const PlanMetrics strict = evaluate(plan_from_phy2log(std::vector<int64_t>{0, 1, 2, 3}, 1, 4, 4), loads, topology);
  // Node 0 must carry 8 on its one GPU whatever it does: the plan is optimal for its placement.
  EXPECT_DOUBLE_EQ(strict.hierarchical_bound[0], 8.0);
  EXPECT_DOUBLE_EQ(strict.hierarchical_gap, 0.0);
  // Globally: 4 slots leave no room for a second replica, so expert 0's 6 bounds it: 8 / 6 - 1.
  EXPECT_DOUBLE_EQ(strict.gap, 1.0 / 3.0);
  // Expert 1 (group 0) on node 1: not strictly hierarchical, no hierarchical bound.
  const PlanMetrics mixed = evaluate(plan_from_phy2log(std::vector<int64_t>{0, 2, 1, 3}, 1, 4, 4), loads, topology);
  EXPECT_TRUE(mixed.hierarchical_bound.empty());
  EXPECT_EQ(mixed.hierarchical_gap, -1);
}

TEST(MetricsTest, ZeroLayersDoNotBreakTheNodeMetrics) {
  // Layer 0 is dense (all zero) with groups spread over nodes; layer 1 keeps groups at home.
  const Topology topology(4, 2, 2, 2);
  const std::vector<double> values{0, 0, 0, 0, 6, 2, 1, 1};
  const LoadMatrix loads(std::span<const double>(values), 2, 4);
  const Plan plan = plan_from_phy2log(std::vector<int64_t>{0, 2, 1, 3, 0, 1, 2, 3}, 2, 4, 4);
  const PlanMetrics metrics = evaluate(plan, loads, topology);
  EXPECT_DOUBLE_EQ(metrics.hierarchical_gap, 0.0);
  EXPECT_DOUBLE_EQ(metrics.off_node_load_fraction, 0.0);
}

TEST(MetricsTest, RejectsMismatchedShapes) {
  const std::vector<double> values{1, 2, 3, 4};
  EXPECT_THROW_MESSAGE(evaluate(small_plan(), LoadMatrix(std::span<const double>(values), 1, 4), Topology(4, 1, 1, 2)),
                       InvalidArgument, "evaluate: loads shape [1, 4] must match the plan's [1, 3]");
  const std::vector<double> three{1, 2, 3};
  EXPECT_THROW_MESSAGE(evaluate(small_plan(), LoadMatrix(std::span<const double>(three), 1, 3), Topology(8, 1, 1, 2)),
                       InvalidArgument,
                       "evaluate: plan num_replicas = 4 must equal the topology's num_replicas = 8");
}

}  // namespace
}  // namespace eplb
