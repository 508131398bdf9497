#pragma once
// Replaying a trace through a Planner: re-plan every interval, score each plan on the next one.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "eplb/planner.h"
#include "eplb/topology.h"
#include "eplb/trace.h"

namespace eplb {

/// Options of replay().
struct ReplayOptions {
  /// Steps per window; a plan is made at the end of every window.
  int64_t interval = 100;
  PlannerOptions planner = {};
  /// Negative: every window gets a fresh plan, as servers re-plan today. Otherwise each plan
  /// after the first is Planner::replan() of the previous one with this tolerance. Must be
  /// finite.
  double tolerance = -1;
  /// Non-negative: each plan after the first is Planner::replan() of the previous one moving at
  /// most this fraction of the slots (ReplanOptions::move_budget); `tolerance` is then unused.
  double move_budget = -1;
  /// With `tolerance` or `move_budget`: re-plans that would gain less GPU balancedness on the
  /// planning loads keep the previous plan (ReplanOptions::min_gain).
  double min_gain = 0;
  /// Bytes of one expert's weights, to report each re-plan's transfer in bytes; 0: unknown
  /// (reported in copies only). Must not be negative.
  int64_t expert_bytes = 0;
  /// With `tolerance` or `move_budget`, positive: each re-plan also reports its moves in chunks
  /// of at most this many layers (ReplanOptions::layers_per_chunk). 0: no chunks.
  int64_t layers_per_chunk = 0;
};

/// One layer chunk of a re-plan (MigrationChunk without its moves).
struct ReplayChunk {
  std::vector<int64_t> layers;
  int64_t moved_slots = 0;
  /// GPU balancedness on the planning loads once this chunk and those before it are applied.
  double balancedness_after = 1;
};

/// The transfer schedule of one re-plan (Migration::schedule from the previous plan).
struct ReplaySchedule {
  /// Rounds, and the busiest GPU's copies (max over GPUs of max(sent, received)): equal.
  int64_t rounds = 0;
  int64_t max_copies_per_gpu = 0;
  /// Rounds when no round mixes layers (ScheduleOptions::by_layer), as movers that move layer
  /// by layer need.
  int64_t rounds_by_layer = 0;
  /// The most copies one GPU sends, and receives.
  int64_t max_sent = 0;
  int64_t max_received = 0;
  /// Copies between GPUs, copies within a GPU, and the copies between GPUs that cross nodes.
  int64_t network_copies = 0;
  int64_t local_copies = 0;
  int64_t cross_node_copies = 0;
  /// The most bytes one GPU sends, and receives, with ReplayOptions::expert_bytes; -1 when
  /// that is unknown (0).
  int64_t max_sent_bytes = -1;
  int64_t max_received_bytes = -1;
};

/// One re-plan of a replay.
struct ReplayWindow {
  /// The window planned on: steps `[window * interval, (window + 1) * interval)`.
  int64_t window = 0;
  /// GPU balancedness of the plan on that window (summed over layers, see PlanMetrics).
  double in_sample = 0;
  /// ... and on the next window, which the plan serves.
  double next_window = 0;
  /// Slots whose expert changed from the previous plan (0 for the first plan).
  int64_t moved_slots = 0;
  /// `moved_slots` / all slots (layers x replicas).
  double moved_fraction = 0;
  /// True when `min_gain` kept the previous plan.
  bool skipped = false;
  /// How the moves' copies go (all zero for the first plan and a skipped re-plan).
  ReplaySchedule schedule = {};
  /// The history the plan was made on when the planner's is self-tuning (Planner::chosen_history);
  /// empty for a fixed history.
  std::string history;
  /// With ReplayOptions::layers_per_chunk: the re-plan's moves in layer chunks, the most
  /// balance first (empty for the first plan and a skipped re-plan), and the GPU balancedness
  /// of the previous plan on the planning loads, which the first chunk starts from.
  std::vector<ReplayChunk> chunks;
  double chunks_start = 1;
};

/// The means over a replay's windows.
struct ReplaySummary {
  double in_sample = 0;
  double next_window = 0;
  /// Re-plans after the first plan (windows - 1); 0 when the trace held two windows only.
  int64_t num_replans = 0;
  /// Re-plans that kept the previous plan (see ReplayOptions::min_gain).
  int64_t num_skipped = 0;
  /// Moved slots / all slots (layers x replicas), averaged over the re-plans after the first;
  /// 0 when there was none (see num_replans).
  double moved_fraction = 0;
  /// Transfer rounds per re-plan, mean and maximum over the re-plans (0 when there was none).
  double mean_rounds = 0;
  int64_t max_rounds = 0;
  /// Copies between GPUs that cross nodes / copies between GPUs, over all re-plans (0 when
  /// none copied between GPUs).
  double cross_node_share = 0;
  /// Mean wall time of one plan or re-plan, and of observing one window's steps (the history's
  /// own cost: for a self-tuning history, every candidate's sums and the scoring of their
  /// forecasts), in milliseconds: the only fields that vary between runs.
  double plan_ms = 0;
  double observe_ms = 0;
};

struct ReplayResult {
  std::vector<ReplayWindow> windows;
  ReplaySummary summary;
};

/// Called after each window with the windows done and the total.
using ReplayProgress = std::function<void(int64_t done, int64_t total)>;

/// Walks `trace` in windows of `interval` steps (a trailing partial window is dropped), feeding
/// every step to a Planner, planning at the end of each window that has a successor and scoring
/// the plan there and on the successor. Throws InvalidArgument when the trace holds fewer than
/// two windows, `interval` is not positive, `tolerance` is not finite, `expert_bytes` is
/// negative, or the planner options are invalid. `options.planner.rebalance.should_stop` is also
/// asked before each window; it stops the replay with Cancelled.
ReplayResult replay(const Trace& trace, const Topology& topology, const ReplayOptions& options,
                    const ReplayProgress& progress = {});

/// The planner `eplb replay` and `eplb.replay` use when none is named: the policy that holds up
/// best on the next window (docs/benchmarks.md, "Online planning"), on the robust history.
inline constexpr std::string_view kDefaultReplayPlanner = "global";

/// One planner of a replay comparison, under the name reports show.
struct ReplayPlanner {
  std::string name;
  ReplayOptions options;
};

/// Parses "POLICY" or "POLICY@HISTORY" (see parse_history) into the options of `base` with that
/// policy and history; without "@", the history is `history` when not empty, else
/// default_history(policy). A non-negative `swing_weight` replaces the history's. Throws
/// InvalidArgument for an unknown policy or history, or a `swing_weight` that is not finite.
ReplayPlanner parse_replay_planner(std::string_view spec, const ReplayOptions& base,
                                   std::string_view history = "", double swing_weight = -1);

/// The topology a replay of `num_experts` experts uses for every size given as 0: the reference
/// setting, 32 GPUs on 4 nodes, `num_experts + 32` slots rounded up to whole GPUs, and 8 groups
/// when 8 divides `num_experts` (else 1). Throws InvalidArgument as Topology does.
Topology replay_topology(int64_t num_experts, int64_t num_replicas = 0, int64_t num_groups = 0,
                         int64_t num_nodes = 0, int64_t num_gpus = 0);

}  // namespace eplb
