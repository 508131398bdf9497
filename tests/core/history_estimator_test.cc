// Planner histories weighing steps by their size (share-, sqrt-) and mixing two horizons (mix:):
// hand-made steps with known answers, idle layers, bad options, and parsing.

#include <cmath>
#include <limits>
#include <span>
#include <vector>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "eplb/planner.h"
#include "support/check_plan.h"

namespace eplb {
namespace {

const Topology kTopology(4, 1, 1, 2);

void observe(Planner& planner, const std::vector<double>& loads, int64_t num_layers) {
  planner.observe(LoadMatrix(std::span<const double>(loads), num_layers,
                             static_cast<int64_t>(loads.size()) / num_layers));
}

PlannerOptions share_history(std::string_view spec, int64_t interval) {
  PlannerOptions options;
  options.history = parse_history(spec, interval);
  return options;
}

TEST(ShareHistory, WindowAveragesDistributionsNotTokens) {
  // A 10,000-token prefill on expert 2, then a 100-token decode step on experts 0 and 1: each
  // counts as one distribution.
  Planner shares(kTopology, 1, 3, share_history("share-window:2", 2));
  observe(shares, {0, 0, 10000}, 1);
  observe(shares, {25, 75, 0}, 1);
  EXPECT_EQ(shares.history().values, (std::vector<double>{0.25, 0.75, 1.0}));
  // The raw window is all prefill.
  Planner raw(kTopology, 1, 3, share_history("window:2", 2));
  observe(raw, {0, 0, 10000}, 1);
  observe(raw, {25, 75, 0}, 1);
  EXPECT_EQ(raw.history().values, (std::vector<double>{25, 75, 10000}));
}

TEST(ShareHistory, WindowForgetsOldSteps) {
  Planner planner(kTopology, 1, 3, share_history("share-window:2", 2));
  observe(planner, {4, 0, 0}, 1);
  observe(planner, {0, 8, 0}, 1);
  observe(planner, {0, 0, 2}, 1);
  observe(planner, {1, 1, 2}, 1);
  EXPECT_EQ(planner.history().values, (std::vector<double>{0.25, 0.25, 1.5}));
}

TEST(ShareHistory, DecayWeighsDistributionsByAge) {
  Planner planner(kTopology, 1, 3, share_history("share-decay:1", 4));
  observe(planner, {1, 1, 2}, 1);      // shares 0.25, 0.25, 0.5
  observe(planner, {0, 4000, 0}, 1);   // shares 0, 1, 0
  EXPECT_DOUBLE_EQ(planner.history().values[0], 0.125);
  EXPECT_DOUBLE_EQ(planner.history().values[1], 1.125);
  EXPECT_DOUBLE_EQ(planner.history().values[2], 0.25);
  EXPECT_EQ(planner.planning_loads().values, planner.history().values);
}

TEST(ShareHistory, IdleLayersAddNothingAndNeverNaN) {
  // Two layers; layer 1 is idle on the first step, both are idle on the second.
  Planner window(kTopology, 2, 3, share_history("share-window:3", 3));
  Planner decay(kTopology, 2, 3, share_history("share-decay:1", 3));
  for (Planner* planner : {&window, &decay}) {
    observe(*planner, {2, 2, 0, 0, 0, 0}, 2);
    observe(*planner, {0, 0, 0, 0, 0, 0}, 2);
    observe(*planner, {0, 0, 3, 0, 1, 1}, 2);
    for (const double value : planner->history().values) EXPECT_TRUE(std::isfinite(value));
  }
  EXPECT_EQ(window.history().values, (std::vector<double>{0.5, 0.5, 1, 0, 0.5, 0.5}));
  // Under the decay the idle step still ages the first one: 0.5 * 0.25.
  EXPECT_EQ(decay.history().values, (std::vector<double>{0.125, 0.125, 1, 0, 0.5, 0.5}));
  const Plan plan = decay.plan();
  EXPECT_EQ(testing::check_plan(plan, kTopology, 3), "");
}

TEST(ShareHistory, SqrtWeighsStepsByTheRootOfTheirSize) {
  // Totals 100 and 4: rows scaled to sum to 10 and 2.
  Planner planner(kTopology, 1, 3, share_history("sqrt-window:2", 2));
  observe(planner, {0, 0, 100}, 1);
  observe(planner, {1, 3, 0}, 1);
  EXPECT_EQ(planner.history().values, (std::vector<double>{0.5, 1.5, 10}));
}

TEST(ShareHistory, RejectsAnExponentOutsideZeroToOne) {
  for (const double exponent : {-0.5, 1.5, std::nan("")}) {
    PlannerOptions options;
    options.history.step_weight_exponent = exponent;
    EXPECT_THROW(Planner(kTopology, 1, 3, options), InvalidArgument) << exponent;
  }
}

TEST(MixedHistory, MixesTheSharesOfTwoHorizons) {
  // decay:1 holds {0.5, 4.5, 1} (shares 1/12, 9/12, 2/12); the long-run sum {1, 5, 2} (shares
  // 1/8, 5/8, 2/8); half and half.
  Planner planner(kTopology, 1, 3, share_history("mix:1/all", 4));
  observe(planner, {1, 1, 2}, 1);
  observe(planner, {0, 4, 0}, 1);
  const std::vector<double> history = planner.history().values;
  EXPECT_DOUBLE_EQ(history[0], 5.0 / 48);
  EXPECT_DOUBLE_EQ(history[1], 33.0 / 48);
  EXPECT_DOUBLE_EQ(history[2], 10.0 / 48);
}

TEST(MixedHistory, WeightMovesFromTheShortToTheLongHorizon) {
  for (const double weight : {0.0, 0.25, 1.0}) {
    PlannerOptions options = share_history("mix:1/2", 4);
    options.history.long_weight = weight;
    Planner planner(kTopology, 1, 3, options);
    observe(planner, {4, 0, 0}, 1);
    observe(planner, {0, 4, 0}, 1);
    // decay:1: {2, 4, 0} (shares 1/3, 2/3); half-life 2: {4 / sqrt(2), 4, 0}.
    const double long_share = (4 / std::sqrt(2.0)) / (4 / std::sqrt(2.0) + 4);
    const std::vector<double> history = planner.history().values;
    EXPECT_NEAR(history[0], (1 - weight) / 3 + weight * long_share, 1e-12) << weight;
    EXPECT_NEAR(history[1], (1 - weight) * 2 / 3 + weight * (1 - long_share), 1e-12) << weight;
    EXPECT_EQ(history[2], 0);
  }
}

TEST(MixedHistory, LayersWithoutTrafficStayZero) {
  Planner planner(kTopology, 2, 3, share_history("share-mix:4/all/0.3", 4));
  observe(planner, {0, 0, 0, 1, 3, 0}, 2);
  observe(planner, {0, 0, 0, 0, 0, 0}, 2);
  const std::vector<double> history = planner.history().values;
  for (const double value : history) EXPECT_TRUE(std::isfinite(value));
  EXPECT_EQ(std::vector<double>(history.begin(), history.begin() + 3),
            (std::vector<double>{0, 0, 0}));
  EXPECT_DOUBLE_EQ(history[3] + history[4] + history[5], 1);
  EXPECT_DOUBLE_EQ(history[4], 0.75);
}

TEST(MixedHistory, RejectsBadOptions) {
  PlannerOptions options;
  options.history.long_half_life_steps = -1;
  EXPECT_THROW(Planner(kTopology, 1, 3, options), InvalidArgument);
  options.history.long_half_life_steps = std::nan("");
  EXPECT_THROW(Planner(kTopology, 1, 3, options), InvalidArgument);
  options.history.long_half_life_steps = 10;
  options.history.long_weight = 1.5;
  EXPECT_THROW(Planner(kTopology, 1, 3, options), InvalidArgument);
}

TEST(ShareHistory, ParsesShareForms) {
  const HistoryOptions window = parse_history("share-window:200", 100);
  EXPECT_EQ(window.step_weight_exponent, 0);
  EXPECT_EQ(window.window_steps, 200);
  EXPECT_EQ(window.half_life_steps, 0);
  const HistoryOptions decay = parse_history("share-decay:50", 100);
  EXPECT_EQ(decay.step_weight_exponent, 0);
  EXPECT_EQ(decay.half_life_steps, 50);
  EXPECT_EQ(decay.window_steps, 100);
  EXPECT_EQ(parse_history("sqrt-decay:8", 100).step_weight_exponent, 0.5);
  EXPECT_EQ(parse_history("sqrt-window:40", 100).window_steps, 40);
  const HistoryOptions mix = parse_history("mix:8/all/0.3", 100);
  EXPECT_EQ(mix.half_life_steps, 8);
  EXPECT_EQ(mix.long_half_life_steps, std::numeric_limits<double>::infinity());
  EXPECT_EQ(mix.long_weight, 0.3);
  EXPECT_EQ(parse_history("mix:8/100", 100).long_half_life_steps, 100);
  EXPECT_EQ(parse_history("mix:8/100", 100).long_weight, 0.5);
  EXPECT_EQ(parse_history("decay:8", 100).long_half_life_steps, 0);
  for (const char* spec : {"robust", "last", "window:10", "decay:8"}) {
    EXPECT_EQ(parse_history(spec, 100).step_weight_exponent, 1) << spec;
  }
}

}  // namespace
}  // namespace eplb
