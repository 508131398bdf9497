#pragma once
// Writing replay results: the JSON report (which eplb.plot, in the Python package, draws).

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

#include "eplb/error.h"  // the exceptions the writers throw
#include "eplb/replay.h"

namespace eplb::io {

/// One planner's replay, under the name reports show for it (e.g. "balanced").
struct ReplayRun {
  std::string name;
  int64_t interval = 0;
  /// ReplayOptions::layers_per_chunk of the run: when positive, every window reports "chunks".
  int64_t layers_per_chunk = 0;
  ReplayResult result;
};

/// Returns the JSON report of `runs` (at least one): the first run as
/// `{"policy", "interval", "windows": [{"window", "in_sample", "next_window", "moved_slots",
/// "moved_fraction", "skipped", "history", "schedule"}...],
/// "summary": {"in_sample", "next_window", "replans", "moved_fraction", "mean_rounds",
/// "max_rounds", "cross_node_share", "plan_ms", "observe_ms"}}`, plus every run in the same form under "runs".
/// A re-plan's "schedule" is its ReplaySchedule (`{"rounds", "max_copies_per_gpu",
/// "rounds_by_layer", "max_sent", "max_received", "max_sent_bytes", "max_received_bytes",
/// "network_copies", "local_copies", "cross_node_copies"}`, bytes null without an expert
/// size); the first plan's is null. A run with `layers_per_chunk` gives every window "chunks":
/// `[{"layers", "moved_slots", "balancedness_after"}...]` (ReplayChunk; empty for the first
/// plan and a skipped re-plan). Throws InvalidArgument when `runs` is empty.
std::string replay_json(std::span<const ReplayRun> runs);

/// Writes replay_json(runs) to `path` as eplb/io/files.h says. Throws IoError naming the path.
void write_replay_json(const std::filesystem::path& path, std::span<const ReplayRun> runs);

}  // namespace eplb::io
