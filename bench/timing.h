#pragma once
// Timing one planning call the way every bench table does.

#include <algorithm>
#include <chrono>
#include <vector>

#include "eplb/policy.h"

namespace eplb::bench {

/// Plans `loads` `repeats` times (at least once) and returns the plan; `median_ms` gets the
/// median wall time of one call in milliseconds.
inline Plan plan_timed(const LoadMatrix& loads, const Topology& topology,
                       const RebalanceOptions& options, int repeats, double& median_ms) {
  std::vector<double> times;
  Plan plan;
  for (int r = 0; r < std::max(repeats, 1); ++r) {
    const auto start = std::chrono::steady_clock::now();
    plan = rebalance_experts(loads, topology, options);
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  median_ms = times[times.size() / 2];
  return plan;
}

}  // namespace eplb::bench
