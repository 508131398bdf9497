// chunk_by_layers and ReplanOptions::layers_per_chunk: a re-plan's moves in layer chunks.

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "eplb/metrics.h"
#include "eplb/planner.h"
#include "eplb/synthetic.h"

namespace eplb {
namespace {

const Topology kTopology(72, 4, 2, 8);
constexpr int64_t kLayers = 6;

// A planner that has seen 40 steps after the plan `current` was made on the 40 before.
struct Scenario {
  Plan current;
  Planner planner;
};

Scenario make_scenario(uint64_t seed) {
  const Trace trace = generate_trace({.num_steps = 80, .num_layers = kLayers, .num_experts = 64,
                                      .top_k = 4, .prefill_probability = 0.05, .seed = seed,
                                      .family = TraceFamily::workload_switch});
  Planner planner(kTopology, trace.num_layers, trace.num_experts,
                  PlannerOptions{.history = parse_history("last", 40)});
  for (int64_t step = 0; step < 40; ++step) planner.observe(trace.step(step));
  Plan current = planner.plan();
  for (int64_t step = 40; step < 80; ++step) planner.observe(trace.step(step));
  return {std::move(current), std::move(planner)};
}

std::string move_key(const SlotMove& move) {
  return std::to_string(move.layer) + "/" + std::to_string(move.slot) + "/" +
         std::to_string(move.old_expert) + "/" + std::to_string(move.new_expert) + "/" +
         std::to_string(move.source_slot);
}

TEST(MigrationChunks, PartitionTheMovesAndBuyTheMostBalanceFirst) {
  for (uint64_t seed = 0; seed < 4; ++seed) {
    const Scenario scenario = make_scenario(seed);
    const Loads loads = scenario.planner.planning_loads();
    for (const int64_t layers_per_chunk : {1, 2, 4, 100}) {
      const Replan replan = scenario.planner.replan(
          scenario.current, ReplanOptions{.move_budget = 0.3, .layers_per_chunk = layers_per_chunk});
      ASSERT_GT(replan.migration.moved_slots(), 0) << "seed " << seed;
      std::multiset<std::string> expected, chunked;
      for (const SlotMove& move : replan.migration.moves) expected.insert(move_key(move));
      std::set<int64_t> seen_layers;
      const PlanMetrics before = evaluate(scenario.current, loads.view(), kTopology);
      const PlanMetrics after = evaluate(replan.plan, loads.view(), kTopology);
      double previous_gain = 1e300;
      for (const MigrationChunk& chunk : replan.chunks) {
        ASSERT_FALSE(chunk.layers.empty());
        EXPECT_LE(static_cast<int64_t>(chunk.layers.size()), layers_per_chunk);
        for (const int64_t layer : chunk.layers) {
          EXPECT_TRUE(seen_layers.insert(layer).second) << "layer " << layer << " twice";
          const double gain = before.max_gpu_load[static_cast<size_t>(layer)] -
                              after.max_gpu_load[static_cast<size_t>(layer)];
          EXPECT_LE(gain, previous_gain) << "layer " << layer << " ranked after a smaller gain";
          previous_gain = gain;
        }
        for (const SlotMove& move : chunk.migration.moves) {
          EXPECT_NE(std::find(chunk.layers.begin(), chunk.layers.end(), move.layer),
                    chunk.layers.end());
          chunked.insert(move_key(move));
        }
      }
      EXPECT_EQ(chunked, expected) << "seed " << seed << ", " << layers_per_chunk << " per chunk";
      ASSERT_FALSE(replan.chunks.empty());
      EXPECT_NEAR(replan.chunks.back().balancedness_after, replan.balancedness_after, 1e-12);
      // The first chunk, applied alone, scores as the chunk says.
      const Plan first = apply_migration(scenario.current, replan.chunks.front().migration,
                                         kTopology);
      EXPECT_NEAR(evaluate(first, loads.view(), kTopology).gpu_balancedness,
                  replan.chunks.front().balancedness_after, 1e-12);
    }
  }
}

TEST(MigrationChunks, EachPrefixBeatsTheLayersInIndexOrder) {
  for (uint64_t seed = 0; seed < 4; ++seed) {
    const Scenario scenario = make_scenario(seed);
    const Loads loads = scenario.planner.planning_loads();
    const Replan replan = scenario.planner.replan(
        scenario.current, ReplanOptions{.tolerance = 0, .layers_per_chunk = 1});
    ASSERT_GE(replan.chunks.size(), 2U) << "seed " << seed;
    std::vector<int64_t> moved_layers;
    for (const MigrationChunk& chunk : replan.chunks) moved_layers.push_back(chunk.layers[0]);
    std::sort(moved_layers.begin(), moved_layers.end());
    // Applying the first k chunks balances at least as well as the moves of the first k moved
    // layers by index (no GPU is excluded, so each layer's mean stays).
    for (size_t count = 1; count <= moved_layers.size(); ++count) {
      Migration in_index_order;
      for (const SlotMove& move : replan.migration.moves) {
        if (std::find(moved_layers.begin(), moved_layers.begin() + static_cast<std::ptrdiff_t>(count),
                      move.layer) != moved_layers.begin() + static_cast<std::ptrdiff_t>(count)) {
          in_index_order.moves.push_back(move);
        }
      }
      const double by_index =
          evaluate(apply_migration(scenario.current, in_index_order, kTopology), loads.view(),
                   kTopology)
              .gpu_balancedness;
      EXPECT_GE(replan.chunks[count - 1].balancedness_after, by_index - 1e-12)
          << "seed " << seed << ", " << count << " chunks";
    }
  }
}

TEST(MigrationChunks, NoChunksUnlessAsked) {
  const Scenario scenario = make_scenario(2);
  EXPECT_TRUE(scenario.planner.replan(scenario.current, ReplanOptions{.move_budget = 0.3})
                  .chunks.empty());
  // A budget of 0 moves nothing: no chunk.
  EXPECT_TRUE(scenario.planner
                  .replan(scenario.current, ReplanOptions{.move_budget = 0, .layers_per_chunk = 2})
                  .chunks.empty());
}

TEST(MigrationChunks, BadArgumentsNameThemselves) {
  const Scenario scenario = make_scenario(3);
  try {
    (void)scenario.planner.replan(scenario.current, ReplanOptions{.layers_per_chunk = -1});
    FAIL() << "no error";
  } catch (const InvalidArgument& error) {
    EXPECT_NE(std::string(error.what()).find("layers_per_chunk = -1"), std::string::npos)
        << error.what();
  }
  const Loads loads = scenario.planner.planning_loads();
  try {
    (void)chunk_by_layers(Migration{}, scenario.current, loads.view(), kTopology, 0);
    FAIL() << "no error";
  } catch (const InvalidArgument& error) {
    EXPECT_NE(std::string(error.what()).find("layers_per_chunk = 0"), std::string::npos)
        << error.what();
  }
  Migration wrong;
  wrong.moves.push_back({.layer = 0, .slot = 0, .old_expert = -7, .new_expert = 1});
  EXPECT_THROW((void)chunk_by_layers(wrong, scenario.current, loads.view(), kTopology, 1),
               InvalidArgument);
}

}  // namespace
}  // namespace eplb
