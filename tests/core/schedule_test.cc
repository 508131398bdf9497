// Migration::schedule(): sources in the old plan, rounds without two sends or receives per GPU,
// and as many rounds as the busiest GPU's copies.

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "eplb/migration.h"
#include "eplb/plan.h"
#include "eplb/replay.h"
#include "eplb/synthetic.h"
#include "eplb/topology.h"

namespace eplb {
namespace {

// A random plan: every expert at least once per layer, the rest random; the GPUs flagged in
// `excluded` hold -1.
Plan random_plan(const Topology& topology, int64_t num_layers, int64_t num_experts,
                 const std::vector<bool>& excluded, std::mt19937_64& rng) {
  const int64_t slots_per_gpu = topology.slots_per_gpu();
  std::vector<int64_t> phy2log;
  for (int64_t layer = 0; layer < num_layers; ++layer) {
    std::vector<int64_t> used;
    for (int64_t expert = 0; expert < num_experts; ++expert) used.push_back(expert);
    std::uniform_int_distribution<int64_t> any_expert(0, num_experts - 1);
    int64_t active_slots = 0;
    for (int64_t gpu = 0; gpu < topology.num_gpus(); ++gpu) {
      if (!excluded[gpu]) active_slots += slots_per_gpu;
    }
    while (static_cast<int64_t>(used.size()) < active_slots) used.push_back(any_expert(rng));
    std::shuffle(used.begin(), used.end(), rng);
    size_t next = 0;
    for (int64_t slot = 0; slot < topology.num_replicas(); ++slot) {
      phy2log.push_back(excluded[topology.gpu_of_slot(slot)] ? -1 : used[next++]);
    }
  }
  return plan_from_phy2log(phy2log, num_layers, topology.num_replicas(), num_experts);
}

// Checks every invariant of `schedule` for the moves `from` -> `to`; returns the failures.
std::string check_schedule(const TransferSchedule& schedule, const Plan& from, const Plan& to,
                           const Topology& topology, bool by_layer = false) {
  const int64_t num_gpus = topology.num_gpus();
  std::string failures;
  const auto fail = [&](const std::string& what) { failures += what + "; "; };
  // Staging: apply every copy to the old plan, reading sources from the old plan only.
  std::vector<int64_t> staged = from.phy2log;
  std::vector<int64_t> written(from.phy2log.size(), 0);
  std::vector<int64_t> sent(static_cast<size_t>(num_gpus), 0);
  std::vector<int64_t> received(static_cast<size_t>(num_gpus), 0);
  int64_t cross_node = 0;
  const auto apply = [&](const ExpertCopy& copy) {
    const auto row = from.phy2log_row(copy.layer);
    if (row[copy.source_slot] != copy.expert) fail("a source does not hold its expert");
    if (topology.gpu_of_slot(copy.source_slot) != copy.source_gpu ||
        topology.gpu_of_slot(copy.target_slot) != copy.target_gpu) {
      fail("a copy names the wrong GPU");
    }
    if (topology.node_of_slot(copy.source_slot) != topology.node_of_slot(copy.target_slot)) {
      ++cross_node;
      for (int64_t slot = 0; slot < topology.num_replicas(); ++slot) {
        if (row[slot] == copy.expert &&
            topology.node_of_slot(slot) == topology.node_of_slot(copy.target_slot)) {
          fail("a copy crosses nodes although the target's node holds the expert");
        }
      }
    }
    const auto entry = static_cast<size_t>(copy.layer * from.num_replicas + copy.target_slot);
    if (written[entry]++ > 0) fail("a slot is written twice");
    staged[entry] = copy.expert;
  };
  for (const ExpertCopy& copy : schedule.local_copies) {
    if (copy.source_gpu != copy.target_gpu) fail("a local copy crosses GPUs");
    apply(copy);
  }
  // Copies per GPU and layer, sent and received.
  const auto per_layer = [&](int64_t layer, int64_t gpu) {
    return static_cast<size_t>(layer * num_gpus + gpu);
  };
  std::vector<int64_t> layer_sent(static_cast<size_t>(from.num_layers * num_gpus), 0);
  std::vector<int64_t> layer_received(layer_sent.size(), 0);
  int64_t previous_layer = 0;
  for (const auto& round : schedule.rounds) {
    if (round.empty()) fail("an empty round");
    for (const ExpertCopy& copy : round) {
      ++layer_sent[per_layer(copy.layer, copy.source_gpu)];
      ++layer_received[per_layer(copy.layer, copy.target_gpu)];
      if (by_layer && copy.layer != round.front().layer) fail("a round mixes layers");
    }
    if (by_layer && !round.empty()) {
      if (round.front().layer < previous_layer) fail("layers out of order");
      previous_layer = round.front().layer;
    }
    std::vector<int64_t> round_sent(static_cast<size_t>(num_gpus), 0);
    std::vector<int64_t> round_received(static_cast<size_t>(num_gpus), 0);
    for (const ExpertCopy& copy : round) {
      if (copy.source_gpu == copy.target_gpu) fail("a network copy stays on its GPU");
      if (round_sent[copy.source_gpu]++ > 0) fail("a GPU sends twice in a round");
      if (round_received[copy.target_gpu]++ > 0) fail("a GPU receives twice in a round");
      ++sent[copy.source_gpu];
      ++received[copy.target_gpu];
      apply(copy);
    }
  }
  // Every move that needs weights has exactly one copy (written twice is caught above), and the
  // staged plan is the new one: slots that empty out are the moves without a copy.
  for (size_t entry = 0; entry < staged.size(); ++entry) {
    if (to.phy2log[entry] == -1) staged[entry] = -1;
  }
  if (staged != to.phy2log) fail("the copies do not give the new plan");
  if (sent != schedule.sent || received != schedule.received) fail("wrong per-GPU counts");
  if (cross_node != schedule.cross_node_copies) fail("wrong cross-node count");
  int64_t busiest = 0;
  for (int64_t gpu = 0; gpu < num_gpus; ++gpu) {
    busiest = std::max({busiest, sent[gpu], received[gpu]});
  }
  if (schedule.max_copies_per_gpu() != busiest) fail("wrong max_copies_per_gpu");
  // The bound: the busiest GPU's copies, over all layers or summed layer by layer.
  int64_t bound = busiest;
  if (by_layer) {
    bound = 0;
    for (int64_t layer = 0; layer < from.num_layers; ++layer) {
      int64_t layer_busiest = 0;
      for (int64_t gpu = 0; gpu < num_gpus; ++gpu) {
        layer_busiest = std::max({layer_busiest, layer_sent[per_layer(layer, gpu)],
                                  layer_received[per_layer(layer, gpu)]});
      }
      bound += layer_busiest;
    }
  }
  if (schedule.num_rounds() != bound || schedule.min_rounds != bound) {
    fail("rounds " + std::to_string(schedule.num_rounds()) + " != the bound " +
         std::to_string(bound));
  }
  return failures;
}

TEST(Schedule, RandomMigrationsMeetTheBusiestGpuBound) {
  std::mt19937_64 rng(20261204);
  int64_t schedules_with_rounds = 0;
  for (int trial = 0; trial < 400; ++trial) {
    std::uniform_int_distribution<int64_t> nodes_of(1, 3);
    std::uniform_int_distribution<int64_t> gpus_per_node_of(1, 4);
    std::uniform_int_distribution<int64_t> slots_per_gpu_of(1, 4);
    const int64_t num_nodes = nodes_of(rng);
    const int64_t num_gpus = num_nodes * gpus_per_node_of(rng);
    const int64_t num_replicas = num_gpus * slots_per_gpu_of(rng);
    const Topology topology(num_replicas, 1, num_nodes, num_gpus);
    // Sometimes one GPU is excluded from the old or the new plan.
    std::vector<bool> none(static_cast<size_t>(num_gpus), false);
    std::vector<bool> old_excluded = none;
    std::vector<bool> new_excluded = none;
    if (num_gpus > 1 && trial % 5 == 1) old_excluded[trial % num_gpus] = true;
    if (num_gpus > 1 && trial % 5 == 2) new_excluded[(trial + 1) % num_gpus] = true;
    const int64_t spare = num_gpus > 1 ? num_replicas - topology.slots_per_gpu() : num_replicas;
    std::uniform_int_distribution<int64_t> experts_of(1, spare);
    const int64_t num_experts = experts_of(rng);
    const int64_t num_layers = 1 + trial % 3;
    const Plan from = random_plan(topology, num_layers, num_experts, old_excluded, rng);
    const Plan to = random_plan(topology, num_layers, num_experts, new_excluded, rng);
    const Migration migration = diff_plans(from, to, topology);
    const TransferSchedule schedule = migration.schedule(from, topology);
    ASSERT_EQ(check_schedule(schedule, from, to, topology), "")
        << "trial " << trial << ": " << num_gpus << " GPUs, " << num_replicas << " slots, "
        << num_experts << " experts";
    EXPECT_EQ(migration.schedule(from, topology).rounds, schedule.rounds);  // deterministic
    if (schedule.num_rounds() > 1) ++schedules_with_rounds;
    const TransferSchedule layered = migration.schedule(from, topology, {.by_layer = true});
    ASSERT_EQ(check_schedule(layered, from, to, topology, /*by_layer=*/true), "")
        << "trial " << trial << " by layer";
    EXPECT_EQ(layered.network_copies(), schedule.network_copies());
  }
  EXPECT_GT(schedules_with_rounds, 100);  // the colouring had real work to do
}

TEST(Schedule, HandMadeSwapTakesOneRoundOnEachNode) {
  // 4 GPUs on 2 nodes, 2 slots each; every GPU's second slot takes an expert its node peer
  // holds, so each GPU sends one and receives one: one round, nothing crosses nodes.
  const Topology topology(8, 1, 2, 4);
  const Plan from = plan_from_phy2log(std::vector<int64_t>{0, 1, 2, 3, 0, 1, 2, 3}, 1, 8, 4);
  const Plan to = plan_from_phy2log(std::vector<int64_t>{0, 2, 2, 0, 0, 3, 2, 1}, 1, 8, 4);
  const TransferSchedule schedule = diff_plans(from, to, topology).schedule(from, topology);
  const std::vector<std::vector<ExpertCopy>> expected = {{
      {.layer = 0, .expert = 2, .source_slot = 2, .source_gpu = 1, .target_slot = 1,
       .target_gpu = 0},
      {.layer = 0, .expert = 0, .source_slot = 0, .source_gpu = 0, .target_slot = 3,
       .target_gpu = 1},
      {.layer = 0, .expert = 3, .source_slot = 7, .source_gpu = 3, .target_slot = 5,
       .target_gpu = 2},
      {.layer = 0, .expert = 1, .source_slot = 5, .source_gpu = 2, .target_slot = 7,
       .target_gpu = 3},
  }};
  EXPECT_EQ(schedule.rounds, expected);
  EXPECT_TRUE(schedule.local_copies.empty());
  EXPECT_EQ(schedule.cross_node_copies, 0);
  EXPECT_EQ(schedule.sent, (std::vector<int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(schedule.sent_bytes(1000), (std::vector<int64_t>{1000, 1000, 1000, 1000}));
}

TEST(Schedule, OneHolderSendsInAsManyRoundsAsItsCopies) {
  // Expert 3 lives on GPU 0 only and GPUs 1-3 each take it: GPU 0 sends 3, so 3 rounds. GPU 1
  // also takes expert 0, which GPUs 0 and 2 hold: it comes from GPU 2, which sends less.
  const Topology topology(8, 1, 1, 4);
  const Plan from = plan_from_phy2log(std::vector<int64_t>{3, 0, 1, 1, 0, 2, 2, 1}, 1, 8, 4);
  const Plan to = plan_from_phy2log(std::vector<int64_t>{3, 0, 3, 0, 3, 2, 3, 1}, 1, 8, 4);
  const TransferSchedule schedule = diff_plans(from, to, topology).schedule(from, topology);
  EXPECT_EQ(check_schedule(schedule, from, to, topology), "");
  EXPECT_EQ(schedule.num_rounds(), 3);
  EXPECT_EQ(schedule.sent, (std::vector<int64_t>{3, 0, 1, 0}));
  EXPECT_EQ(schedule.received, (std::vector<int64_t>{0, 2, 1, 1}));
  EXPECT_EQ(schedule.network_copies(), 4);
  EXPECT_EQ(schedule.sent_bytes(INT64_MAX / 3)[0], INT64_MAX / 3 * 3);
  EXPECT_THROW(static_cast<void>(schedule.sent_bytes(INT64_MAX / 2)), InvalidArgument);
}

TEST(Schedule, LocalCopiesNeedNoRound) {
  const Topology topology(4, 1, 1, 2);
  const Plan from = plan_from_phy2log(std::vector<int64_t>{0, 1, 2, 2}, 1, 4, 3);
  const Plan to = plan_from_phy2log(std::vector<int64_t>{0, 0, 2, 1}, 1, 4, 3);
  const TransferSchedule schedule = diff_plans(from, to, topology).schedule(from, topology);
  EXPECT_EQ(check_schedule(schedule, from, to, topology), "");
  ASSERT_EQ(schedule.local_copies.size(), 1U);
  EXPECT_EQ(schedule.local_copies[0].source_slot, 0);
  EXPECT_EQ(schedule.num_rounds(), 1);
  EXPECT_EQ(schedule.rounds[0][0].source_slot, 1);
}

TEST(Schedule, NamesTheBadArgument) {
  const Topology topology(8, 1, 2, 4);
  const Plan from = plan_from_phy2log(std::vector<int64_t>{0, 1, 2, 3, 0, 1, 2, 3}, 1, 8, 4);
  const Plan to = plan_from_phy2log(std::vector<int64_t>{0, 2, 2, 0, 0, 3, 2, 1}, 1, 8, 4);
  const Migration migration = diff_plans(from, to, topology);
  try {
    migration.schedule(from, Topology(16, 1, 2, 4));
    FAIL();
  } catch (const InvalidArgument& error) {
    EXPECT_EQ(std::string(error.what()),
              "Migration::schedule: current has 8 slots per layer but the topology has 16 "
              "(current must be the plan the moves start from)");
  }
  try {
    migration.schedule(to, topology);
    FAIL();
  } catch (const InvalidArgument& error) {
    EXPECT_EQ(std::string(error.what()),
              "Migration::schedule: moves[0] expects expert 1 in layer 0 slot 1 but current "
              "has 2");
  }
  Migration twice = migration;
  twice.moves.push_back(migration.moves[0]);
  try {
    twice.schedule(from, topology);
    FAIL();
  } catch (const InvalidArgument& error) {
    EXPECT_EQ(std::string(error.what()),
              "Migration::schedule: moves[0] and moves[4] both change layer 0 slot 1");
  }
  const TransferSchedule schedule = migration.schedule(from, topology);
  try {
    static_cast<void>(schedule.sent_bytes(-1));
    FAIL();
  } catch (const InvalidArgument& error) {
    EXPECT_EQ(std::string(error.what()),
              "TransferSchedule::sent_bytes: expert_bytes = -1 must be non-negative");
  }
}

TEST(Schedule, ReplayReportsEveryReplansSchedule) {
  const Topology topology(72, 4, 2, 8);
  const Trace trace = generate_trace(
      {.num_steps = 200, .num_layers = 4, .num_experts = 64, .top_k = 4, .seed = 3});
  ReplayOptions options{.interval = 40, .planner = {.rebalance = {.policy = Policy::global}},
                        .tolerance = 0.01, .expert_bytes = 1000};
  const ReplayResult result = replay(trace, topology, options);
  ASSERT_EQ(result.windows.size(), 4u);
  EXPECT_EQ(result.windows[0].schedule.rounds, 0);
  int64_t network = 0;
  int64_t cross_node = 0;
  int64_t max_rounds = 0;
  for (size_t idx = 1; idx < result.windows.size(); ++idx) {
    const ReplaySchedule& schedule = result.windows[idx].schedule;
    EXPECT_GT(schedule.rounds, 0);
    EXPECT_EQ(schedule.rounds, schedule.max_copies_per_gpu);
    EXPECT_EQ(schedule.rounds, std::max(schedule.max_sent, schedule.max_received));
    EXPECT_GE(schedule.rounds_by_layer, 1);
    EXPECT_EQ(schedule.network_copies + schedule.local_copies, result.windows[idx].moved_slots);
    EXPECT_EQ(schedule.max_sent_bytes, 1000 * schedule.max_sent);
    EXPECT_EQ(schedule.max_received_bytes, 1000 * schedule.max_received);
    network += schedule.network_copies;
    cross_node += schedule.cross_node_copies;
    max_rounds = std::max(max_rounds, schedule.rounds);
  }
  EXPECT_EQ(result.summary.max_rounds, max_rounds);
  EXPECT_DOUBLE_EQ(result.summary.cross_node_share,
                   static_cast<double>(cross_node) / static_cast<double>(network));
  options.expert_bytes = 0;
  EXPECT_EQ(replay(trace, topology, options).windows[1].schedule.max_sent_bytes, -1);
  options.expert_bytes = -1;
  EXPECT_THROW(replay(trace, topology, options), InvalidArgument);
}

}  // namespace
}  // namespace eplb
