// Planner: history windows, decay, swing weighting and the checks on its options.

#include <cmath>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "eplb/planner.h"
#include "eplb/policy.h"

namespace eplb {
namespace {

// One layer, three experts: step `step` has loads {step + 1, 10 * (step + 1), 0}.
std::vector<double> step_loads(int64_t step) {
  return {static_cast<double>(step + 1), 10.0 * static_cast<double>(step + 1), 0.0};
}

void observe_steps(Planner& planner, int64_t first, int64_t count) {
  for (int64_t step = first; step < first + count; ++step) {
    const std::vector<double> loads = step_loads(step);
    planner.observe(LoadMatrix(std::span<const double>(loads), 1, 3));
  }
}

PlannerOptions plain_history(int64_t window_steps, int64_t num_blocks) {
  PlannerOptions options;
  options.history = {.window_steps = window_steps, .half_life_steps = 0, .num_blocks = num_blocks,
                     .swing_weight = 0};
  return options;
}

const Topology kTopology(4, 1, 1, 2);

TEST(PlannerHistory, WindowSumsTheLastSteps) {
  // One block of two steps: full after steps 0 and 1, then it starts over.
  Planner planner(kTopology, 1, 3, plain_history(2, 1));
  observe_steps(planner, 0, 2);
  EXPECT_EQ(planner.history().values, (std::vector<double>{1 + 2, 10 + 20, 0}));
  observe_steps(planner, 2, 2);
  EXPECT_EQ(planner.num_observed_steps(), 4);
  EXPECT_EQ(planner.history().values, (std::vector<double>{3 + 4, 30 + 40, 0}));
}

TEST(PlannerHistory, BlocksKeepTheCurrentBlockWhileItFills) {
  // Window 4 in blocks of 2: after 5 steps the window holds steps 2, 3 (a full block) and 4
  // (the block that is filling).
  Planner planner(kTopology, 1, 3, plain_history(4, 2));
  observe_steps(planner, 0, 4);
  EXPECT_EQ(planner.history().values[0], 1 + 2 + 3 + 4);
  observe_steps(planner, 4, 1);
  EXPECT_EQ(planner.history().values[0], 3 + 4 + 5);
  observe_steps(planner, 5, 1);
  EXPECT_EQ(planner.history().values[0], 3 + 4 + 5 + 6);
}

TEST(PlannerHistory, DecayHalvesPerHalfLife) {
  PlannerOptions options = plain_history(4, 1);
  options.history.half_life_steps = 1;
  Planner planner(kTopology, 1, 3, options);
  observe_steps(planner, 0, 3);  // loads of expert 0: 1, 2, 3
  EXPECT_DOUBLE_EQ(planner.history().values[0], 1 * 0.25 + 2 * 0.5 + 3);
  EXPECT_DOUBLE_EQ(planner.planning_loads().values[0], planner.history().values[0]);
}

TEST(PlannerHistory, ResetForgetsEverything) {
  Planner planner(kTopology, 1, 3, plain_history(2, 1));
  observe_steps(planner, 0, 2);
  planner.reset();
  EXPECT_EQ(planner.num_observed_steps(), 0);
  EXPECT_EQ(planner.history().values, (std::vector<double>{0, 0, 0}));
}

TEST(PlannerHistory, SwingWeightsExpertsWhoseShareMoves) {
  PlannerOptions options;
  options.history = {.window_steps = 2, .half_life_steps = 0, .num_blocks = 2, .swing_weight = 0.5};
  Planner planner(kTopology, 1, 4, options);
  // Expert 0 keeps half the layer; expert 1 takes 1/4 then 0 of it, expert 2 0 then 1/4, and
  // expert 3 keeps 1/4.
  const std::vector<double> first = {2, 1, 0, 1};
  const std::vector<double> second = {4, 0, 2, 2};
  planner.observe(LoadMatrix(std::span<const double>(first), 1, 4));
  planner.observe(LoadMatrix(std::span<const double>(second), 1, 4));
  const std::vector<double> planning = planner.planning_loads().values;
  // Shares 1/4 and 0: mean 1/8, standard deviation 1/8, so cv = 1 and the factor is 1.5.
  EXPECT_DOUBLE_EQ(planning[0], 6);
  EXPECT_DOUBLE_EQ(planning[1], 1 * 1.5);
  EXPECT_DOUBLE_EQ(planning[2], 2 * 1.5);
  EXPECT_DOUBLE_EQ(planning[3], 3);
}

TEST(PlannerHistory, SwingNeedsTwoBlocksWithTraffic) {
  PlannerOptions options;
  options.history = {.window_steps = 2, .half_life_steps = 0, .num_blocks = 2, .swing_weight = 1};
  Planner planner(kTopology, 1, 3, options);
  observe_steps(planner, 0, 1);
  EXPECT_EQ(planner.planning_loads().values, planner.history().values);
}

TEST(Planner, PlansItsPlanningLoads) {
  Planner planner(Topology(6, 1, 1, 2), 1, 3, plain_history(2, 1));
  observe_steps(planner, 0, 2);
  const Plan plan = planner.plan();
  const Loads loads = planner.planning_loads();
  EXPECT_EQ(plan, rebalance_experts(loads.view(), planner.topology(), planner.options().rebalance));
}

TEST(Planner, RejectsBadUse) {
  Planner planner(kTopology, 1, 3);
  EXPECT_THROW(
      {
        try {
          planner.plan();
        } catch (const InvalidArgument& error) {
          EXPECT_STREQ(error.what(), "Planner::plan: no step observed yet (call observe first)");
          throw;
        }
      },
      InvalidArgument);
  const std::vector<double> loads(4, 1.0);
  EXPECT_THROW(planner.observe(LoadMatrix(std::span<const double>(loads), 1, 4)),
               InvalidArgument);
  EXPECT_THROW(Planner(kTopology, 0, 3), InvalidArgument);
  EXPECT_THROW(Planner(kTopology, 1, 5), InvalidArgument);  // more experts than slots
}

TEST(Planner, RejectsBadHistoryOptions) {
  const auto message_of = [](HistoryOptions history) {
    try {
      Planner(kTopology, 1, 3, {.history = history});
    } catch (const InvalidArgument& error) {
      return std::string(error.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(message_of({.window_steps = 10, .num_blocks = 4}),
            "Planner: history.window_steps = 10 must be a positive multiple of "
            "history.num_blocks = 4");
  EXPECT_EQ(message_of({.window_steps = 0, .num_blocks = 1}),
            "Planner: history.window_steps = 0 must be a positive multiple of "
            "history.num_blocks = 1");
  EXPECT_EQ(message_of({.num_blocks = 0}), "Planner: history.num_blocks = 0 must be at least 1");
  EXPECT_EQ(message_of({.half_life_steps = -1}),
            "Planner: history.half_life_steps = -1 must be finite and non-negative");
  EXPECT_EQ(message_of({.swing_weight = std::nan("")}),
            "Planner: history.swing_weight = nan must be finite and non-negative");
}

TEST(Planner, ChecksItsRebalanceOptionsWhenMade) {
  // Before the first plan: a Planner with bad options fails when it is made.
  const auto message_of = [](RebalanceOptions rebalance) {
    const PlannerOptions options{.rebalance = rebalance};
    std::string checked = "no error";
    try {
      check_planner_options(kTopology, options);
    } catch (const InvalidArgument& error) {
      checked = error.what();
    }
    try {
      Planner(kTopology, 1, 3, options);
    } catch (const InvalidArgument& error) {
      EXPECT_EQ(checked, error.what());
      return checked;
    }
    return std::string("Planner accepted what check_planner_options said: ") + checked;
  };
  EXPECT_EQ(message_of({.effort = 0}), "Planner: effort = 0 must be in [1, 1000]");
  EXPECT_EQ(message_of({.threads = 0}), "Planner: threads = 0 must be in [1, 1024]");
  EXPECT_EQ(message_of({.cross_node_replicas = 5}),
            "Planner: cross_node_replicas = 5 must be in [0, num_replicas = 4]");
  EXPECT_EQ(message_of({.active_gpus = {true}}),
            "Planner: active_gpus has 1 entries, must have num_gpus = 2");
  EXPECT_EQ(message_of({.active_gpus = {false, false}}),
            "Planner: active_gpus excludes every GPU");
  EXPECT_EQ(message_of({.policy = Policy::deepseek, .active_gpus = {true, true}}),
            "Planner: active_gpus needs policy balanced or global; deepseek plans onto every GPU");
  EXPECT_NO_THROW(check_planner_options(kTopology, {}));
  EXPECT_THROW(check_planner_options(kTopology, {.repair_rounds = -1}), InvalidArgument);
  EXPECT_THROW(check_planner_options(kTopology, {.history = {.half_life_steps = NAN}}),
               InvalidArgument);
}

TEST(ParseHistory, ReadsEveryForm) {
  const HistoryOptions robust = parse_history("robust", 100);
  EXPECT_EQ(robust.half_life_steps, HistoryOptions{}.half_life_steps);
  EXPECT_GT(robust.half_life_steps, 0);
  EXPECT_EQ(robust.window_steps, 100);
  EXPECT_EQ(robust.num_blocks, 4);
  const HistoryOptions last = parse_history("last", 100);
  EXPECT_EQ(last.window_steps, 100);
  EXPECT_EQ(last.half_life_steps, 0);
  EXPECT_EQ(last.swing_weight, 0);
  const HistoryOptions window = parse_history("window:300", 100);
  EXPECT_EQ(window.window_steps, 300);
  EXPECT_EQ(window.half_life_steps, 0);
  EXPECT_EQ(window.num_blocks, 4);
  EXPECT_EQ(parse_history("window:90", 100).num_blocks, 3);
  EXPECT_EQ(parse_history("window:50", 100).num_blocks, 2);
  EXPECT_EQ(parse_history("window:7", 100).num_blocks, 1);
  const HistoryOptions decay = parse_history("decay:250", 100);
  EXPECT_EQ(decay.half_life_steps, 250);
  EXPECT_EQ(decay.window_steps, 100);
  EXPECT_EQ(default_history(Policy::deepseek, 50).half_life_steps, 0);
  EXPECT_EQ(default_history(Policy::global, 50).candidates,
            std::vector<std::string>(std::begin(kAutoHistoryCandidates),
                                     std::end(kAutoHistoryCandidates)));
  EXPECT_TRUE(default_history(Policy::deepseek, 50).candidates.empty());
  EXPECT_THROW(parse_history("last", 0), InvalidArgument);
}

TEST(ParseHistory, RejectsMalformedSpecs) {
  for (const char* spec : {"", "window", "window:", "window:0", "window:-3", "decay:x", "lastt",
                           "share-", "share-last", "share-decay:0", "share-window:x", "sqrt-robust",
                           "mix:8", "mix:8/", "mix:0/50", "mix:8/x", "mix:8/all/2", "mix:8/50/",
                           "mix:8,100", "clip-", "clip-auto", "share-auto", "auto:8"}) {
    try {
      parse_history(spec, 100);
      ADD_FAILURE() << spec;
    } catch (const InvalidArgument& error) {
      EXPECT_EQ(std::string(error.what()),
                std::string("history = \"") + spec +
                    "\" must be auto, robust, last, window:STEPS, decay:HALF_LIFE_STEPS, "
                    "mix:HALF_LIFE_STEPS/LONG_HALF_LIFE_STEPS|all[/LONG_WEIGHT in [0, 1]], "
                    "or those prefixed share-, sqrt- or clip- (share-decay:8), with a "
                    "positive whole number of steps");
    }
  }
}

}  // namespace
}  // namespace eplb
