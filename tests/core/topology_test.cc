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
  EXPECT_THROW_MESSAGE(Topology(30, 1, 1, 8), InvalidArgument,
                       "Topology: num_replicas = 30 must be a multiple of num_gpus = 8");
  EXPECT_THROW_MESSAGE(Topology(36, 1, 4, 6), InvalidArgument,
                       "Topology: num_gpus = 6 must be a multiple of num_nodes = 4");
}

TEST(TopologyTest, RejectsMoreGpusThanSlots) {
  EXPECT_THROW_MESSAGE(Topology(8, 1, 1, 16), InvalidArgument,
                       "Topology: num_gpus = 16 must not exceed num_replicas = 8");
}

TEST(TopologyTest, RejectsSizesAboveTheLimits) {
  EXPECT_THROW_MESSAGE(Topology(int64_t{1} << 40, 1, 1, 1), InvalidArgument,
                       "Topology: num_replicas = 1099511627776 exceeds the limit of 1048576");
}

TEST(TopologyTest, ChecksExpertsAgainstReplicasAndGroups) {
  const Topology topology(16, 4, 2, 8);
  EXPECT_NO_THROW(topology.check_experts(12, "f"));
  EXPECT_THROW_MESSAGE(topology.check_experts(20, "f"), InvalidArgument,
                       "f: num_replicas = 16 must be at least num_experts = 20");
  EXPECT_THROW_MESSAGE(topology.check_experts(10, "f"), InvalidArgument,
                       "f: num_experts = 10 must be a multiple of num_groups = 4");
  EXPECT_THROW_MESSAGE(topology.check_experts(0, "f"), InvalidArgument,
                       "f: num_experts = 0 must be positive");
  // The global fallback ignores groups, as DeepSeek's reference does.
  EXPECT_NO_THROW(Topology(32, 3, 2, 8).check_experts(4, "f"));
}

}  // namespace
}  // namespace eplb
