#include "eplb/topology.h"

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "support/check_plan.h"

namespace eplb {
namespace {

TEST(TopologyTest, DerivesSlotsAndGpusPerNode) {
  const Topology topology(288, 8, 4, 32);
  EXPECT_EQ(topology.slots_per_gpu(), 9);
  EXPECT_EQ(topology.gpus_per_node(), 8);
  EXPECT_EQ(topology.slots_per_node(), 72);
  EXPECT_TRUE(topology.is_hierarchical());
  EXPECT_EQ(topology.gpu_of_slot(17), 1);
  EXPECT_EQ(topology.node_of_slot(72), 1);
  EXPECT_FALSE(Topology(32, 3, 2, 8).is_hierarchical());
}

TEST(TopologyTest, RejectsNonPositiveSizes) {
  EXPECT_THROW_MESSAGE(Topology(0, 1, 1, 1), InvalidArgument,
                       "Topology: num_replicas = 0 must be positive");
  EXPECT_THROW_MESSAGE(Topology(8, -1, 1, 1), InvalidArgument,
                       "Topology: num_groups = -1 must be positive");
  EXPECT_THROW_MESSAGE(Topology(8, 1, 0, 1), InvalidArgument,
                       "Topology: num_nodes = 0 must be positive");
  EXPECT_THROW_MESSAGE(Topology(8, 1, 1, 0), InvalidArgument,
                       "Topology: num_gpus = 0 must be positive");
}

TEST(TopologyTest, RejectsSizesThatDoNotDivide) {
  // InvalidSizes: the conditions DeepSeek's reference asserts.
  EXPECT_THROW_MESSAGE(Topology(30, 1, 1, 8), InvalidSizes,
                       "Topology: num_replicas = 30 must be a multiple of num_gpus = 8");
  EXPECT_THROW_MESSAGE(Topology(36, 4, 4, 6), InvalidSizes,
                       "Topology: num_gpus = 6 must be a multiple of num_nodes = 4");
}

TEST(TopologyTest, GlobalFallbackAcceptsGpusThatNodesCannotShare) {
  // Groups do not divide nodes, so the reference plans globally and never checks num_gpus
  // against num_nodes; the topology is then the fallback's own: one group on one node.
  const Topology topology(6, 3, 2, 3);
  EXPECT_EQ(topology.num_groups(), 1);
  EXPECT_EQ(topology.num_nodes(), 1);
  EXPECT_EQ(topology.gpus_per_node(), 3);
  EXPECT_EQ(topology.node_of_slot(5), 0);
  EXPECT_EQ(topology, Topology(6, 1, 1, 3));
  EXPECT_NO_THROW(topology.check_experts(5, "f"));
  // Groups dividing nodes: the hierarchical path asserts the rule.
  EXPECT_THROW(Topology(6, 2, 2, 3), InvalidSizes);
  // Nodes sharing GPUs evenly keep their meaning even when groups do not divide them.
  EXPECT_EQ(Topology(32, 3, 2, 8).num_nodes(), 2);
}

TEST(TopologyTest, RejectsMoreGpusThanSlots) {
  EXPECT_THROW_MESSAGE(Topology(8, 1, 1, 16), InvalidSizes,
                       "Topology: num_gpus = 16 must not exceed num_replicas = 8");
}

TEST(TopologyTest, RejectsSizesAboveTheLimits) {
  EXPECT_THROW_MESSAGE(Topology(int64_t{1} << 40, 1, 1, 1), InvalidArgument,
                       "Topology: num_replicas = 1099511627776 exceeds the limit of 1048576");
}

TEST(TopologyTest, ChecksExpertsAgainstReplicasAndGroups) {
  const Topology topology(16, 4, 2, 8);
  EXPECT_NO_THROW(topology.check_experts(12, "f"));
  EXPECT_THROW_MESSAGE(topology.check_experts(20, "f"), InvalidSizes,
                       "f: num_replicas = 16 must be at least num_experts = 20");
  EXPECT_THROW_MESSAGE(topology.check_experts(10, "f"), InvalidSizes,
                       "f: num_experts = 10 must be a multiple of num_groups = 4");
  EXPECT_THROW_MESSAGE(topology.check_experts(0, "f"), InvalidArgument,
                       "f: num_experts = 0 must be positive");
  // The global fallback ignores groups, as DeepSeek's reference does.
  EXPECT_NO_THROW(Topology(32, 3, 2, 8).check_experts(4, "f"));
}

}  // namespace
}  // namespace eplb
