// Migrations between plans, align_plan and keep_gpu_slots.

#include <algorithm>
#include <numeric>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "eplb/metrics.h"
#include "eplb/migration.h"
#include "eplb/policy.h"
#include "support/check_plan.h"
#include "support/generators.h"

namespace eplb {
namespace {

using testing::Distribution;
using testing::make_loads;

Plan plan_of(const Loads& loads, const Topology& topology, Policy policy) {
  return rebalance_experts(loads.view(), topology, {.policy = policy});
}

// `plan` with GPU g's slots moved to GPU permutation[g] (and each GPU's slots reversed).
Plan permute_gpus(const Plan& plan, const Topology& topology,
                  const std::vector<int64_t>& permutation) {
  const int64_t slots_per_gpu = topology.slots_per_gpu();
  std::vector<int64_t> phy2log(plan.phy2log.size());
  for (int64_t layer = 0; layer < plan.num_layers; ++layer) {
    for (int64_t slot = 0; slot < plan.num_replicas; ++slot) {
      const int64_t gpu = slot / slots_per_gpu;
      const int64_t rank = slot % slots_per_gpu;
      phy2log[layer * plan.num_replicas + permutation[gpu] * slots_per_gpu +
              (slots_per_gpu - 1 - rank)] = plan.phy2log[layer * plan.num_replicas + slot];
    }
  }
  return plan_from_phy2log(phy2log, plan.num_layers, plan.num_replicas, plan.num_experts);
}

TEST(Migration, ApplyingTheDiffGivesTheNewPlan) {
  const Topology topology(288, 8, 4, 32);
  for (Policy policy : kAllPolicies) {
    const Plan from = plan_of(make_loads(Distribution::zipf, 3, 256, 1), topology, policy);
    const Plan to = plan_of(make_loads(Distribution::lognormal, 3, 256, 2), topology, policy);
    const Migration migration = diff_plans(from, to, topology);
    EXPECT_GT(migration.moved_slots(), 0);
    const Plan applied = apply_migration(from, migration, topology);
    EXPECT_EQ(applied.phy2log, to.phy2log);
    EXPECT_EQ(applied.logcnt, to.logcnt);
    EXPECT_EQ(migration.bytes(1000), 1000 * migration.moved_slots());
    for (const SlotMove& move : migration.moves) {
      ASSERT_GE(move.source_slot, 0);
      // The source holds the new expert in the old plan, on the nearest GPU that has it.
      EXPECT_EQ(from.phy2log_row(move.layer)[move.source_slot], move.new_expert);
      const auto old_row = from.phy2log_row(move.layer);
      for (int64_t slot = 0; slot < topology.num_replicas(); ++slot) {
        if (old_row[slot] != move.new_expert) continue;
        if (topology.gpu_of_slot(slot) == topology.gpu_of_slot(move.slot)) {
          EXPECT_EQ(topology.gpu_of_slot(move.source_slot), topology.gpu_of_slot(move.slot));
        }
        if (topology.node_of_slot(slot) == topology.node_of_slot(move.slot)) {
          EXPECT_EQ(topology.node_of_slot(move.source_slot), topology.node_of_slot(move.slot));
        }
      }
    }
    EXPECT_LE(migration.cross_node_copies(topology), migration.moved_slots());
  }
}

TEST(Migration, BytesRejectsNegativeSizesAndOverflow) {
  Migration migration;
  migration.moves = {{.slot = 0, .old_expert = 1, .new_expert = 2, .source_slot = 3},
                     {.slot = 1, .old_expert = 2, .new_expert = -1}};  // no copy to a failed GPU
  EXPECT_EQ(migration.bytes(0), 0);
  EXPECT_EQ(migration.bytes(INT64_MAX), INT64_MAX);
  try {
    migration.bytes(-1);
    FAIL();
  } catch (const InvalidArgument& error) {
    EXPECT_STREQ(error.what(), "Migration::bytes: expert_bytes = -1 must be non-negative");
  }
  migration.moves.push_back(migration.moves[0]);
  try {
    migration.bytes(INT64_MAX / 2 + 1);
    FAIL();
  } catch (const InvalidArgument& error) {
    EXPECT_STREQ(error.what(), "Migration::bytes: 2 copies of expert_bytes = 4611686018427387904 "
                               "bytes overflow int64");
  }
  EXPECT_EQ(migration.bytes(INT64_MAX / 2), INT64_MAX - 1);
}

TEST(Migration, IdenticalPlansMoveNothing) {
  const Topology topology(16, 4, 2, 8);
  const Plan plan = plan_of(make_loads(Distribution::uniform, 2, 12, 3), topology,
                            Policy::balanced);
  EXPECT_EQ(diff_plans(plan, plan, topology).moved_slots(), 0);
}

TEST(Migration, RejectsMovesThatDoNotFit) {
  const Topology topology(16, 4, 2, 8);
  const Plan plan = plan_of(make_loads(Distribution::uniform, 2, 12, 3), topology,
                            Policy::balanced);
  Migration migration;
  migration.moves.push_back({.layer = 1, .slot = 0, .old_expert = plan.phy2log_row(1)[0] + 1,
                             .new_expert = 0, .source_slot = -1});
  try {
    apply_migration(plan, migration, topology);
    FAIL();
  } catch (const InvalidArgument& error) {
    EXPECT_EQ(std::string(error.what()),
              "apply_migration: moves[0] expects expert " +
                  std::to_string(plan.phy2log_row(1)[0] + 1) + " in layer 1 slot 0 but the " +
                  "plan has " + std::to_string(plan.phy2log_row(1)[0]));
  }
  migration.moves[0].slot = 16;
  EXPECT_THROW(apply_migration(plan, migration, topology), InvalidArgument);
  const Plan other = plan_of(make_loads(Distribution::uniform, 3, 12, 3), topology,
                             Policy::balanced);
  EXPECT_THROW(diff_plans(plan, other, topology), InvalidArgument);
}

TEST(AlignPlan, UndoesAPermutationOfGpus) {
  const Topology topology(288, 8, 4, 32);
  const Plan plan = plan_of(make_loads(Distribution::zipf, 2, 256, 5), topology, Policy::global);
  std::vector<int64_t> permutation(32);
  std::iota(permutation.begin(), permutation.end(), 0);
  std::reverse(permutation.begin(), permutation.end());
  std::rotate(permutation.begin(), permutation.begin() + 5, permutation.end());
  const Plan permuted = permute_gpus(plan, topology, permutation);
  EXPECT_GT(diff_plans(permuted, plan, topology).moved_slots(), 0);
  EXPECT_EQ(align_plan(plan, permuted, topology, /*keep_nodes=*/false), permuted);
}

TEST(AlignPlan, KeepsEveryGpuLoadAndTheHierarchy) {
  const Topology topology(288, 8, 4, 32);
  const Loads loads = make_loads(Distribution::lognormal, 4, 256, 7);
  const Plan current = plan_of(make_loads(Distribution::lognormal, 4, 256, 8), topology,
                               Policy::balanced);
  const Plan fresh = plan_of(loads, topology, Policy::balanced);
  const Plan aligned = align_plan(fresh, current, topology, /*keep_nodes=*/true);
  EXPECT_EQ(testing::check_plan(aligned, topology, 256), "");
  EXPECT_EQ(aligned.logcnt, fresh.logcnt);
  const PlanMetrics fresh_metrics = evaluate(fresh, loads.view(), topology);
  const PlanMetrics aligned_metrics = evaluate(aligned, loads.view(), topology);
  EXPECT_EQ(aligned_metrics.max_gpu_load, fresh_metrics.max_gpu_load);
  EXPECT_EQ(aligned_metrics.off_node_load_fraction, 0);  // still strictly hierarchical
  EXPECT_LE(diff_plans(current, aligned, topology).moved_slots(),
            diff_plans(current, fresh, topology).moved_slots());
}

// Replicas two GPU contents share (multiset intersection).
int64_t shared(std::vector<int64_t> first, std::vector<int64_t> second) {
  std::sort(first.begin(), first.end());
  std::sort(second.begin(), second.end());
  std::vector<int64_t> common;
  std::set_intersection(first.begin(), first.end(), second.begin(), second.end(),
                        std::back_inserter(common));
  return static_cast<int64_t>(common.size());
}

TEST(AlignPlan, KeepsTheMostReplicasOnSmallInstances) {
  // Four GPUs: the matching must equal the best of all 24 GPU permutations.
  const Topology topology(12, 1, 1, 4);
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const Plan current = plan_of(make_loads(Distribution::lognormal, 1, 8, seed), topology,
                                 Policy::global);
    const Plan fresh = plan_of(make_loads(Distribution::zipf, 1, 8, seed + 100), topology,
                               Policy::global);
    const auto contents = [&](const Plan& plan, int64_t gpu) {
      const auto row = plan.phy2log_row(0);
      return std::vector<int64_t>(row.begin() + gpu * 3, row.begin() + gpu * 3 + 3);
    };
    std::vector<int64_t> permutation = {0, 1, 2, 3};
    int64_t best = 0;
    do {
      int64_t kept = 0;
      for (int64_t gpu = 0; gpu < 4; ++gpu) {
        kept += shared(contents(fresh, gpu), contents(current, permutation[gpu]));
      }
      best = std::max(best, kept);
    } while (std::next_permutation(permutation.begin(), permutation.end()));
    const Plan aligned = align_plan(fresh, current, topology, false);
    EXPECT_EQ(12 - diff_plans(current, aligned, topology).moved_slots(), best) << seed;
  }
}

TEST(KeepGpuSlots, StayingExpertsKeepTheirSlotsAndGpusTheirContents) {
  // GPU 0 keeps experts 1 and 3 (one replica of 1), GPU 1 keeps 6 twice; the rest are new.
  const Topology topology(8, 1, 1, 2);
  const Plan current = plan_from_phy2log(std::vector<int64_t>{0, 1, 1, 3, 6, 6, 5, 4}, 1, 8, 8);
  const Plan fresh = plan_from_phy2log(std::vector<int64_t>{3, 2, 7, 1, 6, 0, 6, 7}, 1, 8, 8);
  const Plan kept = keep_gpu_slots(fresh, current, topology);
  EXPECT_EQ(kept.phy2log, (std::vector<int64_t>{2, 1, 7, 3, 6, 6, 0, 7}));
  EXPECT_EQ(diff_plans(current, kept, topology).moved_slots(), 4);
}

TEST(KeepGpuSlots, MovesNoMoreThanTheFreshPlanAndKeepsItsLoads) {
  const Topology topology(48, 4, 2, 8);
  for (uint64_t seed = 0; seed < 10; ++seed) {
    const Loads loads = make_loads(Distribution::zipf, 3, 32, seed + 7);
    const Plan current = plan_of(make_loads(Distribution::lognormal, 3, 32, seed), topology,
                                 Policy::deepseek);
    const Plan fresh = plan_of(loads, topology, Policy::deepseek);
    const Plan kept = keep_gpu_slots(fresh, current, topology);
    EXPECT_EQ(testing::check_plan(kept, topology, 32), "");
    EXPECT_LE(diff_plans(current, kept, topology).moved_slots(),
              diff_plans(current, fresh, topology).moved_slots());
    EXPECT_EQ(evaluate(kept, loads.view(), topology).max_gpu_load,
              evaluate(fresh, loads.view(), topology).max_gpu_load);
    for (int64_t layer = 0; layer < 3; ++layer) {
      const auto old_row = current.phy2log_row(layer);
      const auto new_row = kept.phy2log_row(layer);
      for (int64_t gpu = 0; gpu < 8; ++gpu) {
        std::vector<int64_t> before(old_row.begin() + gpu * 6, old_row.begin() + gpu * 6 + 6);
        std::vector<int64_t> after(new_row.begin() + gpu * 6, new_row.begin() + gpu * 6 + 6);
        std::vector<int64_t> fresh_gpu(fresh.phy2log_row(layer).begin() + gpu * 6,
                                       fresh.phy2log_row(layer).begin() + gpu * 6 + 6);
        std::sort(after.begin(), after.end());
        std::sort(fresh_gpu.begin(), fresh_gpu.end());
        EXPECT_EQ(after, fresh_gpu) << "GPU " << gpu << " changed contents";
        // Each slot whose old expert is still on the GPU (and not already matched) keeps it.
        for (int64_t rank = 0; rank < 6; ++rank) {
          const int64_t expert = before[rank];
          const auto old_copies = std::count(before.begin(), before.begin() + rank + 1, expert);
          const auto new_copies = std::count(fresh_gpu.begin(), fresh_gpu.end(), expert);
          if (old_copies <= new_copies) {
            EXPECT_EQ(new_row[gpu * 6 + rank], expert) << "layer " << layer << " gpu " << gpu;
          }
        }
      }
    }
  }
}

TEST(KeepGpuSlots, RejectsPlansOfAnotherShape) {
  const Topology topology(8, 1, 1, 2);
  const Plan current = plan_from_phy2log(std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}, 1, 8, 8);
  const Plan other = plan_from_phy2log(
      std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7}, 2, 8, 8);
  EXPECT_THROW(keep_gpu_slots(other, current, topology), InvalidArgument);
}

}  // namespace
}  // namespace eplb
