// RebalanceOptions::should_stop: long calls stop between layers (and replay between windows)
// when it says so, ask it on the caller's thread only, and plan the same when it never does.

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "eplb/planner.h"
#include "eplb/policy.h"
#include "eplb/replay.h"
#include "eplb/synthetic.h"

namespace eplb {
namespace {

const Topology kTopology(72, 4, 2, 8);

Trace test_trace(int64_t num_steps) {
  return generate_trace({.num_steps = num_steps, .num_layers = 6, .num_experts = 64, .top_k = 4,
                         .prefill_probability = 0.05, .seed = 3});
}

// A stop check that says "stop" on its `stop_at`-th question and counts questions and the
// questions asked off the thread that made it.
struct StopAfter {
  int64_t stop_at;
  std::thread::id caller = std::this_thread::get_id();
  std::atomic<int64_t> asked = 0;
  std::atomic<int64_t> asked_elsewhere = 0;

  std::function<bool()> check() {
    return [this] {
      if (std::this_thread::get_id() != caller) ++asked_elsewhere;
      return ++asked >= stop_at;
    };
  }
};

std::string cancelled_message(const std::function<void()>& call) {
  try {
    call();
  } catch (const Cancelled& error) {
    return error.what();
  }
  return "not cancelled";
}

TEST(ShouldStop, StopsRebalanceBetweenLayersOnTheCallersThread) {
  const Trace trace = test_trace(1);
  for (int64_t threads : {1, 3}) {
    StopAfter stop{.stop_at = 2};
    const RebalanceOptions options{.threads = threads, .should_stop = stop.check()};
    EXPECT_EQ(cancelled_message([&] { rebalance_experts(trace.step(0), kTopology, options); }),
              "rebalance_experts: stopped by its should_stop check");
    EXPECT_EQ(stop.asked.load(), 2);
    EXPECT_EQ(stop.asked_elsewhere.load(), 0);
  }
}

TEST(ShouldStop, ACheckThatNeverStopsChangesNoPlan) {
  const Trace trace = test_trace(1);
  for (int64_t threads : {1, 4}) {
    StopAfter never{.stop_at = INT64_MAX};
    const RebalanceOptions options{.threads = threads, .should_stop = never.check()};
    EXPECT_EQ(rebalance_experts(trace.step(0), kTopology, options),
              rebalance_experts(trace.step(0), kTopology, {.threads = threads}));
    // The caller's thread takes layers 0, threads, 2 * threads, ... of the six.
    EXPECT_EQ(never.asked.load(), (6 + threads - 1) / threads);
    EXPECT_EQ(never.asked_elsewhere.load(), 0);
  }
}

TEST(ShouldStop, StopsReplanAndReplay) {
  const Trace trace = test_trace(120);
  Planner planner(kTopology, 6, 64);
  for (int64_t step = 0; step < 40; ++step) planner.observe(trace.step(step));
  const Plan current = planner.plan();
  StopAfter in_replan{.stop_at = 7};  // the fresh plan's six layers, then the first repair
  PlannerOptions stopping;
  stopping.rebalance.should_stop = in_replan.check();
  Planner stopped(kTopology, 6, 64, stopping);
  for (int64_t step = 0; step < 40; ++step) stopped.observe(trace.step(step));
  EXPECT_EQ(cancelled_message([&] { stopped.replan(current, 0.01); }),
            "Planner::replan: stopped by its should_stop check");
  EXPECT_EQ(in_replan.asked.load(), 7);

  StopAfter in_replay{.stop_at = 2};  // replay asks before each window, then each plan's layers
  ReplayOptions options{.interval = 40, .tolerance = 0.01};
  options.planner.rebalance.should_stop = in_replay.check();
  EXPECT_EQ(cancelled_message([&] { replay(trace, kTopology, options); }),
            "rebalance_experts: stopped by its should_stop check");
  StopAfter between_windows{.stop_at = 8};  // window 0: 1 + 6 layers; window 1 stops at once
  options.planner.rebalance.should_stop = between_windows.check();
  EXPECT_EQ(cancelled_message([&] { replay(trace, kTopology, options); }),
            "replay: stopped by its should_stop check");
  StopAfter never{.stop_at = INT64_MAX};
  options.planner.rebalance.should_stop = never.check();
  const ReplayResult checked = replay(trace, kTopology, options);
  options.planner.rebalance.should_stop = {};
  const ReplayResult unchecked = replay(trace, kTopology, options);
  ASSERT_EQ(checked.windows.size(), unchecked.windows.size());
  for (size_t idx = 0; idx < checked.windows.size(); ++idx) {
    EXPECT_EQ(checked.windows[idx].moved_slots, unchecked.windows[idx].moved_slots);
    EXPECT_EQ(checked.windows[idx].next_window, unchecked.windows[idx].next_window);
  }
  EXPECT_GT(never.asked.load(), 2);
}

}  // namespace
}  // namespace eplb
