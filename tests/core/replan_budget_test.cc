// Planner::replan in budget mode (ReplanOptions::move_budget) and its skip rule (min_gain).

#include <cmath>
#include <limits>
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
constexpr int64_t kLayers = 4;

// A plan made on the first 40 steps of a trace, and a planner that has seen 40 more.
struct Scenario {
  Plan current;
  Planner planner;
};

Scenario make_scenario(Policy policy, uint64_t seed) {
  const Trace trace = generate_trace({.num_steps = 80, .num_layers = kLayers, .num_experts = 64,
                                      .top_k = 4, .prefill_probability = 0.05, .seed = seed});
  PlannerOptions options{.rebalance = {.policy = policy}, .history = parse_history("last", 40)};
  Planner planner(kTopology, trace.num_layers, trace.num_experts, options);
  for (int64_t step = 0; step < 40; ++step) planner.observe(trace.step(step));
  Plan current = planner.plan();
  for (int64_t step = 40; step < 80; ++step) planner.observe(trace.step(step));
  return {std::move(current), std::move(planner)};
}

double sum_of_heaviest(const Plan& plan, const Planner& planner) {
  const PlanMetrics metrics = evaluate(plan, planner.planning_loads().view(), kTopology);
  double sum = 0;
  for (const double heaviest : metrics.max_gpu_load) sum += heaviest;
  return sum;
}

TEST(ReplanBudget, NeverExceedsTheBudgetAndMoreNeverLoses) {
  const auto total = static_cast<double>(kLayers * kTopology.num_replicas());
  for (const Policy policy : kAllPolicies) {
    for (uint64_t seed = 0; seed < 3; ++seed) {
      const Scenario scenario = make_scenario(policy, seed);
      double previous = std::numeric_limits<double>::infinity();
      for (const double budget : {0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 1.0}) {
        const Replan replan =
            scenario.planner.replan(scenario.current, ReplanOptions{.move_budget = budget});
        EXPECT_EQ(testing::check_plan(replan.plan, kTopology, 64), "");
        EXPECT_LE(replan.migration.moved_slots(), static_cast<int64_t>(budget * total))
            << to_string(policy) << " seed " << seed << " budget " << budget;
        const double heaviest = sum_of_heaviest(replan.plan, scenario.planner);
        EXPECT_LE(heaviest, previous * (1 + 1e-12))
            << to_string(policy) << " seed " << seed << " budget " << budget;
        previous = heaviest;
        EXPECT_GE(replan.balancedness_after, replan.balancedness_before - 1e-12);
        EXPECT_FALSE(replan.skipped);
      }
    }
  }
}

TEST(ReplanBudget, ZeroBudgetKeepsTheCurrentPlan) {
  const Scenario scenario = make_scenario(Policy::balanced, 5);
  const Replan replan =
      scenario.planner.replan(scenario.current, ReplanOptions{.move_budget = 0});
  EXPECT_EQ(replan.plan, scenario.current);
  EXPECT_EQ(replan.migration.moved_slots(), 0);
  EXPECT_DOUBLE_EQ(replan.balancedness_after, replan.balancedness_before);
}

// A whole budget reaches the balance of a fresh plan on the planning loads.
TEST(ReplanBudget, AWholeBudgetReachesTheFreshPlansBalance) {
  for (const Policy policy : kAllPolicies) {
    const Scenario scenario = make_scenario(policy, 2);
    const Replan replan =
        scenario.planner.replan(scenario.current, ReplanOptions{.move_budget = 1});
    EXPECT_LE(sum_of_heaviest(replan.plan, scenario.planner),
              sum_of_heaviest(scenario.planner.plan(), scenario.planner) * (1 + 1e-9))
        << to_string(policy);
  }
}

TEST(ReplanBudget, MinGainKeepsThePlanWhenTheGainIsSmall) {
  const Scenario scenario = make_scenario(Policy::global, 1);
  const Replan full = scenario.planner.replan(scenario.current, ReplanOptions{.tolerance = 0});
  const double gain = full.balancedness_after - full.balancedness_before;
  ASSERT_GT(gain, 0);
  EXPECT_FALSE(full.skipped);
  // Asking for more than the re-plan gains keeps the plan; asking for less re-plans.
  const Replan kept = scenario.planner.replan(
      scenario.current, ReplanOptions{.tolerance = 0, .min_gain = gain * 1.01});
  EXPECT_TRUE(kept.skipped);
  EXPECT_EQ(kept.plan, scenario.current);
  EXPECT_EQ(kept.migration.moved_slots(), 0);
  const Replan made = scenario.planner.replan(
      scenario.current, ReplanOptions{.tolerance = 0, .min_gain = gain * 0.99});
  EXPECT_FALSE(made.skipped);
  EXPECT_EQ(made.plan, full.plan);
  // The same rule in budget mode.
  const Replan budget = scenario.planner.replan(
      scenario.current, ReplanOptions{.move_budget = 0.05, .min_gain = 1});
  EXPECT_TRUE(budget.skipped);
  EXPECT_EQ(budget.migration.moved_slots(), 0);
}

TEST(ReplanBudget, BadOptionsNameTheArgument) {
  const Scenario scenario = make_scenario(Policy::balanced, 0);
  const auto message = [&](const ReplanOptions& options) {
    try {
      scenario.planner.replan(scenario.current, options);
    } catch (const InvalidArgument& error) {
      return std::string(error.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(message({.move_budget = 1.5}).find("move_budget = 1.5 must be in [0, 1]"),
            std::string::npos);
  EXPECT_NE(message({.move_budget = std::nan("")}).find("move_budget = nan"), std::string::npos);
  EXPECT_NE(message({.min_gain = -0.1}).find("min_gain = -0.1 must be finite and non-negative"),
            std::string::npos);
  EXPECT_NE(message({.min_gain = INFINITY}).find("min_gain = inf"), std::string::npos);
  EXPECT_NE(message({.tolerance = std::nan("")}).find("tolerance = nan"), std::string::npos);
}

TEST(ReplanBudget, ReplayCountsTheSkippedReplans) {
  const Trace trace = generate_trace({.num_steps = 200, .num_layers = kLayers, .num_experts = 64,
                                      .top_k = 4, .prefill_probability = 0.05, .seed = 4});
  const ReplayResult budgeted =
      replay(trace, kTopology, {.interval = 40, .move_budget = 0.05});
  EXPECT_EQ(budgeted.summary.num_skipped, 0);
  for (const ReplayWindow& window : budgeted.windows) {
    EXPECT_LE(window.moved_slots, static_cast<int64_t>(0.05 * kLayers * 72));
  }
  const ReplayResult kept =
      replay(trace, kTopology, {.interval = 40, .move_budget = 0.05, .min_gain = 1});
  EXPECT_EQ(kept.summary.num_skipped, kept.summary.num_replans);
  for (const ReplayWindow& window : kept.windows) EXPECT_EQ(window.moved_slots, 0);
}

// The core refuses what the CLI and Python refuse first, so no caller replays fresh plans for
// a budget or a skip rule it asked for.
TEST(ReplanBudget, ReplayRefusesBudgetsAndGainsItCannotHonour) {
  const Trace trace = generate_trace({.num_steps = 80, .num_layers = kLayers, .num_experts = 64,
                                      .top_k = 4, .prefill_probability = 0.05, .seed = 4});
  const auto message = [&](const ReplayOptions& options) {
    try {
      replay(trace, kTopology, options);
    } catch (const InvalidArgument& error) {
      return std::string(error.what());
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(message({.interval = 40, .move_budget = std::nan("")}),
            "replay: move_budget = nan must be in [0, 1], or negative for none");
  EXPECT_EQ(message({.interval = 40, .move_budget = 1.5}),
            "replay: move_budget = 1.5 must be in [0, 1], or negative for none");
  EXPECT_EQ(message({.interval = 40, .min_gain = INFINITY}),
            "replay: min_gain = inf must be finite and non-negative");
  EXPECT_EQ(message({.interval = 40, .min_gain = 0.01}),
            "replay: min_gain = 0.01 applies to re-plans: give a tolerance or a move_budget");
  EXPECT_EQ(message({.interval = 40, .tolerance = 0, .min_gain = 0.01}), "(no error)");
}

}  // namespace
}  // namespace eplb
