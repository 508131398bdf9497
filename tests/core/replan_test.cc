// Planner::replan and replay().

#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "eplb/metrics.h"
#include "eplb/planner.h"
#include "eplb/replay.h"
#include "eplb/synthetic.h"
#include "support/check_plan.h"

namespace eplb {
namespace {

const Topology kTopology(72, 4, 2, 8);

Trace small_trace(int64_t num_steps, uint64_t seed) {
  return generate_trace({.num_steps = num_steps, .num_layers = 4, .num_experts = 64, .top_k = 4,
                         .prefill_probability = 0.05, .seed = seed});
}

void observe_range(Planner& planner, const Trace& trace, int64_t first, int64_t end) {
  for (int64_t step = first; step < end; ++step) planner.observe(trace.step(step));
}

double balancedness(const Plan& plan, const Loads& loads) {
  return evaluate(plan, loads.view(), kTopology).gpu_balancedness;
}

// The plan made on the first 40 steps, and a planner that has seen 40 more.
struct Scenario {
  Plan current;
  Planner planner;
};

Scenario make_scenario(Policy policy, uint64_t seed) {
  const Trace trace = small_trace(80, seed);
  PlannerOptions options{.rebalance = {.policy = policy}, .history = parse_history("robust", 40)};
  Planner planner(kTopology, trace.num_layers, trace.num_experts, options);
  observe_range(planner, trace, 0, 40);
  Plan current = planner.plan();
  observe_range(planner, trace, 40, 80);
  return {std::move(current), std::move(planner)};
}

TEST(Replan, StaysWithinTheToleranceOfAFreshPlan) {
  for (Policy policy : kAllPolicies) {
    for (uint64_t seed = 0; seed < 4; ++seed) {
      const Scenario scenario = make_scenario(policy, seed);
      const Loads loads = scenario.planner.planning_loads();
      const double fresh = balancedness(scenario.planner.plan(), loads);
      for (double tolerance : {0.0, 0.005, 0.05}) {
        const Replan replan = scenario.planner.replan(scenario.current, tolerance);
        EXPECT_EQ(testing::check_plan(replan.plan, kTopology, 64), "");
        EXPECT_GE(balancedness(replan.plan, loads), fresh / (1 + tolerance) * (1 - 1e-9))
            << to_string(policy) << " seed " << seed << " tolerance " << tolerance;
        // The migration turns the current plan into the new one.
        EXPECT_EQ(apply_migration(scenario.current, replan.migration, kTopology), replan.plan);
      }
    }
  }
}

TEST(Replan, MovesFewerSlotsWithMoreTolerance) {
  const Scenario scenario = make_scenario(Policy::global, 1);
  const int64_t fresh_moved =
      diff_plans(scenario.current, scenario.planner.plan(), kTopology).moved_slots();
  const int64_t strict = scenario.planner.replan(scenario.current, 0).migration.moved_slots();
  const int64_t loose = scenario.planner.replan(scenario.current, 0.05).migration.moved_slots();
  EXPECT_LE(strict, fresh_moved);
  EXPECT_LT(loose, fresh_moved);
  EXPECT_LE(loose, strict);
}

TEST(Replan, MovesNoMoreSlotsWithMoreRepairRounds) {
  // The rounds add a candidate per layer to those without them, and the layers' choice is
  // exact, so more rounds can only lower the moves; the plan stays within the tolerance.
  for (uint64_t seed = 0; seed < 3; ++seed) {
    const Trace trace = small_trace(80, seed);
    int64_t previous_moved = -1;
    for (int64_t rounds : {0, 40, 400}) {
      PlannerOptions options{.rebalance = {.policy = Policy::global},
                             .history = parse_history("last", 40),
                             .repair_rounds = rounds};
      Planner planner(kTopology, trace.num_layers, trace.num_experts, options);
      observe_range(planner, trace, 0, 40);
      const Plan current = planner.plan();
      observe_range(planner, trace, 40, 80);
      const Loads loads = planner.planning_loads();
      const Replan replan = planner.replan(current, 0.005);
      EXPECT_GE(balancedness(replan.plan, loads),
                balancedness(planner.plan(), loads) / 1.005 * (1 - 1e-9));
      const int64_t moved = replan.migration.moved_slots();
      if (previous_moved >= 0) {
        EXPECT_LE(moved, previous_moved) << rounds << " rounds, seed " << seed;
      }
      previous_moved = moved;
    }
  }
}

TEST(Replan, GivesTheSamePlanOnEveryRunAndThreadCount) {
  // The repairs search at random (ruin and recreate), from a seed of their own.
  const Trace trace = small_trace(80, 5);
  Plan first;
  for (int64_t threads : {1, 2, 1}) {
    PlannerOptions options{.rebalance = {.policy = Policy::global, .threads = threads},
                           .history = parse_history("last", 40)};
    Planner planner(kTopology, trace.num_layers, trace.num_experts, options);
    observe_range(planner, trace, 0, 40);
    const Plan current = planner.plan();
    observe_range(planner, trace, 40, 80);
    const Replan replan = planner.replan(current, 0.005);
    EXPECT_GT(replan.migration.moved_slots(), 0);
    if (first.num_layers == 0) first = replan.plan;
    EXPECT_EQ(replan.plan, first) << threads << " threads";
  }
}

TEST(Replan, KeepsAGoodPlanAsItIs) {
  const Trace trace = small_trace(40, 3);
  Planner planner(kTopology, 4, 64, {.history = parse_history("last", 40)});
  observe_range(planner, trace, 0, 40);
  const Plan fresh = planner.plan();
  const Replan replan = planner.replan(fresh, 0);
  EXPECT_EQ(replan.migration.moved_slots(), 0);
  EXPECT_EQ(replan.plan, fresh);
}

TEST(Replan, KeepsThePolicysRules) {
  for (Policy policy : {Policy::balanced, Policy::global}) {
    for (uint64_t seed = 0; seed < 4; ++seed) {
      const Scenario scenario = make_scenario(policy, seed);
      const Plan plan = scenario.planner.replan(scenario.current, 0.01).plan;
      EXPECT_NO_THROW(validate(plan, kTopology, {.forbid_duplicates_on_gpu = true}));
      if (policy == Policy::balanced) {
        // Strictly hierarchical: no load served outside its group's node.
        EXPECT_EQ(evaluate(plan, scenario.planner.planning_loads().view(), kTopology)
                      .off_node_load_fraction,
                  0);
      }
    }
  }
}

TEST(Replan, MovesSlotsOffAFailedGpu) {
  const Trace trace = generate_trace(
      {.num_steps = 80, .num_layers = 4, .num_experts = 48, .top_k = 4, .seed = 4});
  Planner healthy(kTopology, 4, 48, {.history = parse_history("last", 40)});
  observe_range(healthy, trace, 0, 40);
  const Plan current = healthy.plan();
  std::vector<bool> active(8, true);
  active[3] = false;
  PlannerOptions options{.rebalance = {.policy = Policy::global, .active_gpus = active},
                         .history = parse_history("last", 40)};
  Planner planner(kTopology, 4, 48, options);
  observe_range(planner, trace, 40, 80);
  const Replan replan = planner.replan(current, 0.005);
  EXPECT_GE(replan.migration.moved_slots(), 4 * 9);  // at least the failed GPU's slots
  EXPECT_NO_THROW(validate(replan.plan, kTopology, {.active_gpus = active}));
  EXPECT_EQ(apply_migration(current, replan.migration, kTopology), replan.plan);
}

TEST(Replan, RejectsBadArguments) {
  const Scenario scenario = make_scenario(Policy::global, 0);
  const Planner unfed(kTopology, 4, 64);
  try {
    unfed.replan(scenario.current, 0.01);
    FAIL();
  } catch (const InvalidArgument& error) {
    EXPECT_STREQ(error.what(), "Planner::replan: no step observed yet (call observe first)");
  }
  try {
    scenario.planner.replan(scenario.current, -0.1);
    FAIL();
  } catch (const InvalidArgument& error) {
    EXPECT_STREQ(error.what(), "Planner::replan: tolerance = -0.1 must be finite and non-negative");
  }
  for (int64_t rounds : {int64_t{-1}, kMaxRepairRounds + 1}) {
    try {
      Planner(kTopology, 4, 64, {.repair_rounds = rounds});
      FAIL();
    } catch (const InvalidArgument& error) {
      EXPECT_EQ(std::string(error.what()), "Planner: repair_rounds = " + std::to_string(rounds) +
                                               " must be in [0, 1000000]");
    }
  }
  Plan broken = scenario.current;
  broken.logcnt[0] += 1;
  EXPECT_THROW(scenario.planner.replan(broken, 0.01), InvalidArgument);
  Plan wrong_shape = scenario.current;
  wrong_shape.num_layers = 3;
  EXPECT_THROW(scenario.planner.replan(wrong_shape, 0.01), InvalidArgument);
}

TEST(Replay, ScoresEveryWindowOnTheNext) {
  const Trace trace = small_trace(130, 5);  // three windows of 40 (the last 10 steps dropped)
  const ReplayOptions options{.interval = 40,
                              .planner = {.history = parse_history("last", 40)}};
  const ReplayResult result = replay(trace, kTopology, options);
  ASSERT_EQ(result.windows.size(), 2u);
  Planner planner(kTopology, 4, 64, options.planner);
  observe_range(planner, trace, 0, 40);
  const Plan first = planner.plan();
  EXPECT_DOUBLE_EQ(result.windows[0].in_sample, balancedness(first, trace.sum_steps({0, 40})));
  EXPECT_DOUBLE_EQ(result.windows[0].next_window, balancedness(first, trace.sum_steps({40, 80})));
  EXPECT_EQ(result.windows[0].moved_slots, 0);
  observe_range(planner, trace, 40, 80);
  const Plan second = planner.plan();
  EXPECT_EQ(result.windows[1].moved_slots, diff_plans(first, second, kTopology).moved_slots());
  EXPECT_DOUBLE_EQ(result.summary.next_window,
                   (result.windows[0].next_window + result.windows[1].next_window) / 2);
  EXPECT_DOUBLE_EQ(result.summary.moved_fraction,
                   static_cast<double>(result.windows[1].moved_slots) / (4 * 72));
}

TEST(Replay, ToleranceReplansMoveFewerSlots) {
  const Trace trace = small_trace(200, 6);
  ReplayOptions options{.interval = 40, .planner = {.rebalance = {.policy = Policy::global}}};
  const ReplayResult fresh = replay(trace, kTopology, options);
  options.tolerance = 0.01;
  const ReplayResult replanned = replay(trace, kTopology, options);
  EXPECT_LT(replanned.summary.moved_fraction, fresh.summary.moved_fraction);
  // Deterministic: a second run gives the same windows.
  const ReplayResult again = replay(trace, kTopology, options);
  for (size_t idx = 0; idx < again.windows.size(); ++idx) {
    EXPECT_EQ(again.windows[idx].moved_slots, replanned.windows[idx].moved_slots);
    EXPECT_EQ(again.windows[idx].next_window, replanned.windows[idx].next_window);
  }
}

TEST(Replay, ReportsProgressAndRejectsShortTraces) {
  const Trace trace = small_trace(120, 7);
  std::vector<int64_t> reports;
  replay(trace, kTopology, {.interval = 40},
         [&](int64_t done, int64_t total) { reports.push_back(done * 10 + total); });
  EXPECT_EQ(reports, (std::vector<int64_t>{12, 22}));
  try {
    replay(trace, kTopology, {.interval = 61});
    FAIL();
  } catch (const InvalidArgument& error) {
    EXPECT_STREQ(error.what(),
                 "replay: the trace has 120 steps, fewer than two windows of interval = 61 steps");
  }
  EXPECT_THROW(replay(trace, kTopology, {.interval = 0}), InvalidArgument);
}

TEST(Replay, RejectsToleranceAndSwingWeightThatAreNotFinite) {
  // NaN compares neither >= 0 nor < 0: it used to re-plan from scratch and report 0 moves.
  const Trace trace = small_trace(120, 7);
  for (double tolerance : {std::nan(""), HUGE_VAL, -HUGE_VAL}) {
    try {
      replay(trace, kTopology, {.interval = 40, .tolerance = tolerance});
      FAIL() << tolerance;
    } catch (const InvalidArgument& error) {
      EXPECT_EQ(std::string(error.what()),
                "replay: tolerance = " + std::string(std::isnan(tolerance) ? "nan"
                                                     : tolerance > 0       ? "inf"
                                                                           : "-inf") +
                    " must be finite (negative: fresh plans)");
    }
  }
  try {
    parse_replay_planner("global", {}, "", std::nan(""));
    FAIL();
  } catch (const InvalidArgument& error) {
    EXPECT_STREQ(error.what(),
                 "replay: swing_weight = nan must be finite (negative: the history's own)");
  }
  EXPECT_THROW(parse_replay_planner("global", {}, "", HUGE_VAL), InvalidArgument);
  EXPECT_EQ(parse_replay_planner("global", {}, "", -1).options.planner.history.swing_weight, 0);
}

}  // namespace
}  // namespace eplb
