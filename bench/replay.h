#pragma once
// Benchmark rows of the online planner (issue #6).

#include <filesystem>

namespace eplb::bench {

/// Prints a replay table per synthetic trace (seeds 1 and 2, 1200 steps; 400 when `quick`) and
/// for `bundled_trace` when it exists: every planner fresh and re-planning with a tolerance,
/// in-sample and next-window GPU balancedness, moved slots, time per plan. Then times the replay
/// of a 1,200-step trace file, parsing included.
void print_replay_tables(bool quick, const std::filesystem::path& bundled_trace);

}  // namespace eplb::bench
