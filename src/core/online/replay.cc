// replay(): an online planner walked through a recorded trace.
#include "eplb/replay.h"

#include <chrono>
#include <optional>

#include "core/detail/check.h"
#include "eplb/metrics.h"

namespace eplb {

ReplayResult replay(const Trace& trace, const Topology& topology, const ReplayOptions& options,
                    const ReplayProgress& progress) {
  if (options.interval < 1) {
    detail::throw_invalid("replay: interval = ", options.interval, " must be positive");
  }
  const int64_t num_windows = trace.num_steps / options.interval;
  if (num_windows < 2) {
    detail::throw_invalid("replay: the trace has ", trace.num_steps, " steps, fewer than two ",
                          "windows of interval = ", options.interval, " steps");
  }
  Planner planner(topology, trace.num_layers, trace.num_experts, options.planner);
  ReplayResult result;
  std::optional<Plan> previous;
  Loads this_window = trace.sum_steps({0, options.interval});
  double total_ms = 0;
  double total_moved_fraction = 0;
  const double slots = static_cast<double>(trace.num_layers * topology.num_replicas());
  for (int64_t window = 0; window + 1 < num_windows; ++window) {
    const int64_t first_step = window * options.interval;
    for (int64_t step = first_step; step < first_step + options.interval; ++step) {
      planner.observe(trace.step(step));
    }
    const auto start = std::chrono::steady_clock::now();
    Plan plan = previous && options.tolerance >= 0
                    ? planner.replan(*previous, options.tolerance).plan
                    : planner.plan();
    total_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count();
    const Loads next_window =
        trace.sum_steps({first_step + options.interval, first_step + 2 * options.interval});
    ReplayWindow row{.window = window};
    row.in_sample = evaluate(plan, this_window.view(), topology).gpu_balancedness;
    row.next_window = evaluate(plan, next_window.view(), topology).gpu_balancedness;
    if (previous) {
      row.moved_slots = diff_plans(*previous, plan, topology).moved_slots();
      total_moved_fraction += static_cast<double>(row.moved_slots) / slots;
    }
    result.windows.push_back(row);
    previous = std::move(plan);
    this_window = next_window;
    if (progress) progress(window + 1, num_windows - 1);
  }
  const auto num_plans = static_cast<double>(result.windows.size());
  for (const ReplayWindow& row : result.windows) {
    result.summary.in_sample += row.in_sample / num_plans;
    result.summary.next_window += row.next_window / num_plans;
  }
  result.summary.moved_fraction =
      num_plans > 1 ? total_moved_fraction / (num_plans - 1) : 0;
  result.summary.plan_ms = total_ms / num_plans;
  return result;
}

}  // namespace eplb
