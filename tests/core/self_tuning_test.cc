// The self-tuning history ("auto"): the forecast error, the capped outlier steps, which
// candidate it plans on and when, bad options, idle steps, and determinism.

#include <cmath>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/detail/forecast_scores.h"
#include "eplb/error.h"
#include "eplb/planner.h"
#include "eplb/replay.h"
#include "eplb/synthetic.h"
#include "support/check_plan.h"

namespace eplb {
namespace {

const Topology kTopology(4, 1, 1, 2);

void observe(Planner& planner, const std::vector<double>& loads) {
  planner.observe(LoadMatrix(std::span<const double>(loads), 1,
                             static_cast<int64_t>(loads.size())));
}

PlannerOptions self_tuning(std::vector<std::string> candidates, int64_t interval) {
  PlannerOptions options;
  options.history = parse_history("auto", interval);
  options.history.candidates = std::move(candidates);
  return options;
}

TEST(ForecastError, WeighsEachExpertsErrorByItsReplicas) {
  const std::vector<double> forecast = {1, 1}, actual = {1, 3};
  // Shares 0.5 / 0.5 against 0.25 / 0.75; with 2 slots each expert has one replica.
  EXPECT_DOUBLE_EQ(detail::forecast_error(forecast, actual, 2), std::sqrt(0.125));
  // With 8 slots each expert has 4: the error is spread over 4 GPUs.
  EXPECT_DOUBLE_EQ(detail::forecast_error(forecast, actual, 8), std::sqrt(0.125 / 4));
  // A forecast without load reads as uniform; traffic without load scores 0.
  EXPECT_DOUBLE_EQ(detail::forecast_error(std::vector<double>{0, 0}, actual, 2),
                   std::sqrt(0.125));
  EXPECT_EQ(detail::forecast_error(forecast, std::vector<double>{0, 0}, 2), 0);
}

TEST(ClipHistory, CapsStepsAboveTheMedianStep) {
  // Totals 10, 10, 1000: the median of the window is 10, so the burst enters as 10.
  Planner planner(kTopology, 1, 3, PlannerOptions{.history = parse_history("clip-window:3", 3)});
  observe(planner, {5, 5, 0});
  observe(planner, {4, 6, 0});
  observe(planner, {0, 0, 1000});
  EXPECT_EQ(planner.history().values, (std::vector<double>{9, 11, 10}));
  // A decode step smaller than the median keeps its size.
  Planner decay(kTopology, 1, 3, PlannerOptions{.history = parse_history("clip-decay:1", 3)});
  observe(decay, {10, 0, 0});
  observe(decay, {0, 2, 0});
  EXPECT_DOUBLE_EQ(decay.history().values[0], 5);
  EXPECT_DOUBLE_EQ(decay.history().values[1], 2);
}

TEST(SelfTuning, PlansOnTheFirstCandidateUntilAForecastIsScored) {
  Planner planner(kTopology, 1, 4, self_tuning({"window:8", "decay:1"}, 4));
  EXPECT_EQ(planner.chosen_history(), "window:8");
  // Forecasts are taken every block (4 steps / 4 blocks = 1 step) and scored 4 steps later.
  for (int step = 0; step < 4; ++step) {
    observe(planner, {1, 0, 0, 0});
    EXPECT_EQ(planner.chosen_history(), "window:8") << step;
    EXPECT_EQ(planner.history_scores(), (std::vector<double>{0, 0})) << step;
  }
  observe(planner, {1, 0, 0, 0});
  EXPECT_EQ(planner.history_scores().size(), 2u);
  // A fixed history names no choice.
  Planner fixed(kTopology, 1, 4, PlannerOptions{.history = parse_history("last", 4)});
  EXPECT_EQ(fixed.chosen_history(), "");
  EXPECT_TRUE(fixed.history_scores().empty());
}

TEST(SelfTuning, ChoosesOnHalfAHorizonBeforeTheFirstWholeOne) {
  Planner planner(kTopology, 1, 4, self_tuning({"window:40", "decay:1"}, 4));
  observe(planner, {100, 0, 0, 0});
  observe(planner, {0, 100, 0, 0});
  observe(planner, {0, 100, 0, 0});
  // The forecast after step 2 ({0.5, 0.5} against decay:1's {1/3, 2/3}) has seen one step of
  // expert 1: less than half the horizon, so nothing is chosen by it yet.
  EXPECT_EQ(planner.chosen_history(), "window:40");
  observe(planner, {0, 100, 0, 0});
  // Now it has seen two of four steps, all on expert 1: decay:1 forecast them better. No
  // forecast has seen a whole horizon, so the reported scores are still 0.
  EXPECT_EQ(planner.chosen_history(), "decay:1");
  EXPECT_EQ(planner.history_scores(), (std::vector<double>{0, 0}));
}

// Every step routes all its tokens to one expert: drawn uniformly (stationary noise), or the
// same one for `regime_steps` steps before the next takes over (abrupt switches).
std::vector<double> one_hot_step(int64_t step, int64_t num_experts, int64_t regime_steps) {
  std::vector<double> loads(static_cast<size_t>(num_experts), 0);
  const uint64_t mixed = (static_cast<uint64_t>(step) + 1) * 0x9E3779B97F4A7C15ull;
  const int64_t expert = regime_steps > 0
                             ? (step / regime_steps) % num_experts
                             : static_cast<int64_t>((mixed >> 33) % static_cast<uint64_t>(num_experts));
  loads[static_cast<size_t>(expert)] = 100;
  return loads;
}

TEST(SelfTuning, PicksTheLongWindowOnStationaryNoise) {
  Planner planner(kTopology, 1, 4, self_tuning({"decay:1", "window:40"}, 4));
  for (int64_t step = 0; step < 200; ++step) observe(planner, one_hot_step(step, 4, 0));
  EXPECT_EQ(planner.chosen_history(), "window:40");
  const std::vector<double> scores = planner.history_scores();
  EXPECT_LT(scores[1], scores[0]);
  // Plans are made on the chosen candidate's history.
  Planner window(kTopology, 1, 4, PlannerOptions{.history = parse_history("window:40", 4)});
  for (int64_t step = 0; step < 200; ++step) observe(window, one_hot_step(step, 4, 0));
  EXPECT_EQ(planner.history().values, window.history().values);
  EXPECT_EQ(planner.plan().phy2log, window.plan().phy2log);
}

TEST(SelfTuning, PicksTheShortDecayWhenTheWorkloadSwitches) {
  Planner planner(kTopology, 1, 4, self_tuning({"window:40", "decay:1"}, 4));
  for (int64_t step = 0; step < 200; ++step) observe(planner, one_hot_step(step, 4, 40));
  EXPECT_EQ(planner.chosen_history(), "decay:1");
  // The choice follows the workload: the noise that follows moves it to the long window.
  for (int64_t step = 0; step < 400; ++step) observe(planner, one_hot_step(step, 4, 0));
  EXPECT_EQ(planner.chosen_history(), "window:40");
  // reset() forgets the scores with the steps.
  planner.reset();
  EXPECT_EQ(planner.chosen_history(), "window:40");
  EXPECT_EQ(planner.history_scores(), (std::vector<double>{0, 0}));
}

TEST(SelfTuning, IdleStepsNeverMakeANaN) {
  Planner planner(kTopology, 2, 3, self_tuning({"last", "share-decay:2", "clip-decay:2"}, 2));
  for (int64_t step = 0; step < 12; ++step) {
    planner.observe(LoadMatrix(std::span<const double>(step % 3 == 0
                                                           ? std::vector<double>(6, 0)
                                                           : std::vector<double>{1, 2, 3, 0, 0, 0}),
                               2, 3));
    for (const double score : planner.history_scores()) EXPECT_TRUE(std::isfinite(score));
    for (const double value : planner.history().values) EXPECT_TRUE(std::isfinite(value));
  }
  EXPECT_EQ(testing::check_plan(planner.plan(), kTopology, 3), "");
}

TEST(SelfTuning, RefusesBadCandidatesAndOptions) {
  for (const std::vector<std::string>& candidates :
       {std::vector<std::string>{"last", "auto"}, std::vector<std::string>{"decay:x"},
        std::vector<std::string>{"window:0"}}) {
    EXPECT_THROW(Planner(kTopology, 1, 3, self_tuning(candidates, 4)), InvalidArgument)
        << candidates.back();
  }
  try {
    Planner(kTopology, 1, 3, self_tuning({"last", "auto"}, 4));
    ADD_FAILURE();
  } catch (const InvalidArgument& error) {
    EXPECT_NE(std::string(error.what()).find("history.candidates"), std::string::npos);
  }
  for (const double half_life : {0.0, -1.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    PlannerOptions options = self_tuning({"last"}, 4);
    options.history.score_half_life_windows = half_life;
    EXPECT_THROW(Planner(kTopology, 1, 3, options), InvalidArgument) << half_life;
  }
  for (const double cap : {-1.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    PlannerOptions options;
    options.history.step_cap = cap;
    EXPECT_THROW(Planner(kTopology, 1, 3, options), InvalidArgument) << cap;
  }
}

TEST(SelfTuning, ReplayIsTheSameOnEveryThreadCount) {
  const Trace trace = generate_trace({.num_steps = 120, .num_layers = 4, .num_experts = 32,
                                      .seed = 5, .family = TraceFamily::burst_topic});
  const Topology topology = replay_topology(32);
  std::vector<ReplayResult> results;
  for (const int64_t threads : {1, 2, 3}) {
    ReplayOptions options{.interval = 20};
    options.planner.rebalance.policy = Policy::global;
    options.planner.rebalance.threads = threads;
    options.planner.history = parse_history("auto", 20);
    results.push_back(replay(trace, topology, options));
  }
  for (const ReplayResult& result : results) {
    ASSERT_EQ(result.windows.size(), results[0].windows.size());
    for (size_t idx = 0; idx < result.windows.size(); ++idx) {
      EXPECT_EQ(result.windows[idx].history, results[0].windows[idx].history);
      EXPECT_FALSE(result.windows[idx].history.empty());
      EXPECT_EQ(result.windows[idx].next_window, results[0].windows[idx].next_window);
    }
  }
}

}  // namespace
}  // namespace eplb
