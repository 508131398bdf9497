#include "eplb/plan.h"

#include <vector>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "support/check_plan.h"

namespace eplb {
namespace {

Plan two_gpu_plan() { return plan_from_phy2log(std::vector<int64_t>{0, 1, 0, 2}, 1, 4, 3); }

TEST(PlanTest, BuildsCountsAndSlotListsFromPhy2log) {
  const Plan plan = two_gpu_plan();
  EXPECT_EQ(plan.max_replicas, 2);
  EXPECT_EQ(plan.logcnt, (std::vector<int64_t>{2, 1, 1}));
  EXPECT_EQ(plan.log2phy, (std::vector<int64_t>{0, 2, 1, -1, 3, -1}));
  EXPECT_NO_THROW(validate(plan, Topology(4, 1, 1, 2)));
}

TEST(PlanTest, RejectsOutOfRangeExperts) {
  EXPECT_THROW_MESSAGE(plan_from_phy2log(std::vector<int64_t>{0, 5}, 1, 2, 2), InvalidArgument,
                       "plan_from_phy2log: phy2log[0][1] = 5 must be -1 or in [0, 2)");
}

TEST(PlanTest, ValidateRejectsExpertWithoutReplica) {
  const Plan plan = plan_from_phy2log(std::vector<int64_t>{0, 0, 0, 2}, 1, 4, 3);
  EXPECT_THROW_MESSAGE(validate(plan, Topology(4, 1, 1, 2)), InvalidArgument,
                       "validate: logcnt[0][1] = 0 must be in [1, max_replicas = 3]");
}

TEST(PlanTest, ValidateRejectsInconsistentMaps) {
  const Topology topology(4, 1, 1, 2);
  Plan plan = two_gpu_plan();
  plan.log2phy[1] = 1;  // expert 0's second replica pointing at expert 1's slot
  EXPECT_THROW_MESSAGE(validate(plan, topology), InvalidArgument,
                       "validate: log2phy[0][0][1] = 1 must be a slot whose phy2log entry is 0");
  plan = two_gpu_plan();
  plan.log2phy[1] = 0;
  EXPECT_THROW_MESSAGE(validate(plan, topology), InvalidArgument,
                       "validate: log2phy[0][0][1] = 0 lists a slot twice");
  plan = two_gpu_plan();
  plan.log2phy[3] = 2;
  EXPECT_THROW_MESSAGE(validate(plan, topology), InvalidArgument,
                       "validate: log2phy[0][1][1] = 2 must be -1 past logcnt = 1");
  plan = two_gpu_plan();
  plan.logcnt[0] = 1;
  EXPECT_THROW_MESSAGE(validate(plan, topology), InvalidArgument,
                       "validate: log2phy[0][0][1] = 2 must be -1 past logcnt = 1");
}

TEST(PlanTest, ValidateRejectsWrongShapesAndMaxReplicas) {
  const Topology topology(4, 1, 1, 2);
  Plan plan = two_gpu_plan();
  plan.phy2log.pop_back();
  EXPECT_THROW_MESSAGE(validate(plan, topology), InvalidArgument,
                       "validate: phy2log size = 3 must be 4");
  plan = two_gpu_plan();
  EXPECT_THROW_MESSAGE(validate(plan, Topology(8, 1, 1, 2)), InvalidArgument,
                       "validate: num_replicas = 4 must equal the topology's num_replicas = 8");
  plan = plan_from_phy2log(std::vector<int64_t>{0, 1, 2, 3}, 1, 4, 4);
  plan.max_replicas = 2;
  plan.log2phy.assign(8, -1);
  for (int64_t e = 0; e < 4; ++e) plan.log2phy[e * 2] = e;
  EXPECT_THROW_MESSAGE(validate(plan, topology), InvalidArgument,
                       "validate: max_replicas = 2 must equal the largest logcnt = 1");
}

TEST(PlanTest, ValidateCanForbidDuplicatesOnAGpu) {
  const Plan plan = plan_from_phy2log(std::vector<int64_t>{0, 0, 1, 2}, 1, 4, 3);
  EXPECT_NO_THROW(validate(plan, Topology(4, 1, 1, 2)));
  EXPECT_THROW_MESSAGE(validate(plan, Topology(4, 1, 1, 2), {.forbid_duplicates_on_gpu = true}),
                       InvalidArgument, "validate: expert 0 of layer 0 has two replicas on gpu 0");
}

}  // namespace
}  // namespace eplb
