#pragma once
// Benchmark rows of the online planner (issue #6).

#include <filesystem>

namespace eplb::bench {

/// Prints a replay table per synthetic trace (seeds 1 and 2, 1200 steps; 400 when `quick`) and
/// for `bundled_trace` when it exists: every planner fresh and re-planning with a tolerance,
/// in-sample and next-window GPU balancedness, moved slots, time per plan. Then times the replay
/// of a 1,200-step trace file, parsing included.
void print_replay_tables(bool quick, const std::filesystem::path& bundled_trace);

/// Prints next-window GPU balancedness of `global` on every history compared (issue #17) for
/// every trace family (1,200-step traces, seeds 1 and 2; 400 steps and seed 1 when `quick`),
/// with the mean and the worst family against the last-window history.
void print_family_table(bool quick);

/// Real data (issue #17, item 4): on the SGLang DeepSeek-V3 files under `workloads_root`, each
/// file of a phase is held out in turn; the planner observes the phase's other files as steps
/// (interval 1), plans with `global` on each history, and is scored on the held-out file.
/// Prints nothing when the files are absent.
void print_real_history_table(const std::filesystem::path& workloads_root);

/// Prints, per trace family, the share of a re-plan's gain (move budget 5 % and tolerance
/// 0.005) that its first quarter and half of moved layers buy in chunk_by_layers' order and in
/// layer order (issue #19, item 4).
void print_chunk_table(bool quick);

/// Prints traffic-aware placement (issue #21) on the Qwen3-30B routing trace under
/// `workloads_root`: balance and nodes per token of `global` and of place_for_traffic at several
/// tolerances. Prints nothing when the files are absent.
void print_traffic_table(const std::filesystem::path& workloads_root);

}  // namespace eplb::bench
