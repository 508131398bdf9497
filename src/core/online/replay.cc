// replay(): an online planner walked through a recorded trace.
#include "eplb/replay.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/detail/check.h"
#include "core/detail/layer_threads.h"
#include "eplb/metrics.h"

namespace eplb {
namespace {

ReplaySchedule summarize(const TransferSchedule& schedule, int64_t expert_bytes) {
  ReplaySchedule summary{.rounds = schedule.num_rounds(),
          .max_copies_per_gpu = schedule.max_copies_per_gpu(),
          .max_sent = *std::max_element(schedule.sent.begin(), schedule.sent.end()),
          .max_received = *std::max_element(schedule.received.begin(), schedule.received.end()),
          .network_copies = schedule.network_copies(),
          .local_copies = static_cast<int64_t>(schedule.local_copies.size()),
          .cross_node_copies = schedule.cross_node_copies};
  if (expert_bytes > 0) {
    const std::vector<int64_t> sent = schedule.sent_bytes(expert_bytes);
    const std::vector<int64_t> received = schedule.received_bytes(expert_bytes);
    summary.max_sent_bytes = *std::max_element(sent.begin(), sent.end());
    summary.max_received_bytes = *std::max_element(received.begin(), received.end());
  }
  return summary;
}

}  // namespace

ReplayResult replay(const Trace& trace, const Topology& topology, const ReplayOptions& options,
                    const ReplayProgress& progress) {
  if (options.interval < 1) {
    detail::throw_invalid("replay: interval = ", options.interval, " must be positive");
  }
  // NaN compares neither >= 0 nor < 0: it would re-plan from scratch and report no moves.
  if (!std::isfinite(options.tolerance)) {
    detail::throw_invalid("replay: tolerance = ", options.tolerance,
                          " must be finite (negative: fresh plans)");
  }
  // NaN would also pass for "no budget" and replay fresh plans.
  if (std::isnan(options.move_budget) || options.move_budget > 1) {
    detail::throw_invalid("replay: move_budget = ", options.move_budget,
                          " must be in [0, 1], or negative for none");
  }
  if (!std::isfinite(options.min_gain) || options.min_gain < 0) {
    detail::throw_invalid("replay: min_gain = ", options.min_gain,
                          " must be finite and non-negative");
  }
  if (options.min_gain > 0 && options.tolerance < 0 && options.move_budget < 0) {
    detail::throw_invalid("replay: min_gain = ", options.min_gain,
                          " applies to re-plans: give a tolerance or a move_budget");
  }
  if (options.expert_bytes < 0) {
    detail::throw_invalid("replay: expert_bytes = ", options.expert_bytes,
                          " must be non-negative");
  }
  const int64_t num_windows = trace.num_steps / options.interval;
  if (num_windows < 2) {
    detail::throw_invalid("replay: the trace has ", trace.num_steps, " steps, fewer than two ",
                          "windows of interval = ", options.interval, " steps");
  }
  Planner planner(topology, trace.num_layers, trace.num_experts, options.planner);
  const bool replans = options.tolerance >= 0 || options.move_budget >= 0;
  ReplayResult result;
  std::optional<Plan> previous;
  Loads this_window = trace.sum_steps({0, options.interval});
  double total_ms = 0;
  double total_observe_ms = 0;
  double total_moved_fraction = 0;
  int64_t total_rounds = 0;
  int64_t network_copies = 0;
  int64_t cross_node_copies = 0;
  const double slots = static_cast<double>(trace.num_layers * topology.num_replicas());
  for (int64_t window = 0; window + 1 < num_windows; ++window) {
    detail::check_stop(options.planner.rebalance.should_stop, "replay");
    const int64_t first_step = window * options.interval;
    const auto observe_start = std::chrono::steady_clock::now();
    for (int64_t step = first_step; step < first_step + options.interval; ++step) {
      planner.observe(trace.step(step));
    }
    const auto start = std::chrono::steady_clock::now();
    total_observe_ms += std::chrono::duration<double, std::milli>(start - observe_start).count();
    Plan plan;
    Migration migration;
    bool skipped = false;
    std::vector<ReplayChunk> chunks;
    double chunks_start = 1;
    if (previous && replans) {
      Replan replanned = planner.replan(
          *previous, ReplanOptions{.tolerance = std::max(options.tolerance, 0.0),
                                   .move_budget = options.move_budget,
                                   .min_gain = options.min_gain,
                                   .layers_per_chunk = options.layers_per_chunk});
      chunks_start = replanned.balancedness_before;
      for (const MigrationChunk& chunk : replanned.chunks) {
        chunks.push_back({.layers = chunk.layers,
                          .moved_slots = chunk.migration.moved_slots(),
                          .balancedness_after = chunk.balancedness_after});
      }
      plan = std::move(replanned.plan);
      migration = std::move(replanned.migration);
      skipped = replanned.skipped;
    } else {
      plan = planner.plan();
    }
    total_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                    .count();
    // A re-plan knows its moves; a fresh plan is compared with the previous one.
    if (previous && !replans) migration = diff_plans(*previous, plan, topology);
    Loads next_window =
        trace.sum_steps({first_step + options.interval, first_step + 2 * options.interval});
    ReplayWindow row;
    row.window = window;
    row.history = std::string(planner.chosen_history());
    row.skipped = skipped;
    row.chunks = std::move(chunks);
    row.chunks_start = chunks_start;
    result.summary.num_skipped += static_cast<int64_t>(skipped);
    row.in_sample = evaluate(plan, this_window.view(), topology).gpu_balancedness;
    row.next_window = evaluate(plan, next_window.view(), topology).gpu_balancedness;
    if (previous) {
      row.moved_slots = migration.moved_slots();
      row.moved_fraction = static_cast<double>(row.moved_slots) / slots;
      total_moved_fraction += row.moved_fraction;
      row.schedule = summarize(migration.schedule(*previous, topology), options.expert_bytes);
      row.schedule.rounds_by_layer =
          migration.schedule(*previous, topology, {.by_layer = true}).num_rounds();
      total_rounds += row.schedule.rounds;
      result.summary.max_rounds = std::max(result.summary.max_rounds, row.schedule.rounds);
      network_copies += row.schedule.network_copies;
      cross_node_copies += row.schedule.cross_node_copies;
    }
    result.windows.push_back(row);
    previous = std::move(plan);
    this_window = std::move(next_window);
    if (progress) progress(window + 1, num_windows - 1);
  }
  const auto num_plans = static_cast<double>(result.windows.size());
  for (const ReplayWindow& row : result.windows) {
    result.summary.in_sample += row.in_sample / num_plans;
    result.summary.next_window += row.next_window / num_plans;
  }
  result.summary.num_replans = static_cast<int64_t>(result.windows.size()) - 1;
  result.summary.moved_fraction =
      num_plans > 1 ? total_moved_fraction / (num_plans - 1) : 0;
  result.summary.mean_rounds =
      num_plans > 1 ? static_cast<double>(total_rounds) / (num_plans - 1) : 0;
  result.summary.cross_node_share =
      network_copies > 0
          ? static_cast<double>(cross_node_copies) / static_cast<double>(network_copies)
          : 0;
  result.summary.plan_ms = total_ms / num_plans;
  result.summary.observe_ms = total_observe_ms / num_plans;
  return result;
}

namespace {

// The reference setting (DeepSeek's EPLB benchmarks): 32 GPUs on 4 nodes, 32 redundant slots.
constexpr int64_t kReferenceGpus = 32;
constexpr int64_t kReferenceNodes = 4;
constexpr int64_t kReferenceGroups = 8;
constexpr int64_t kReferenceRedundantSlots = 32;

}  // namespace

ReplayPlanner parse_replay_planner(std::string_view spec, const ReplayOptions& base,
                                   std::string_view history, double swing_weight) {
  if (!std::isfinite(swing_weight)) {
    detail::throw_invalid("replay: swing_weight = ", swing_weight,
                          " must be finite (negative: the history's own)");
  }
  const size_t at = spec.find('@');
  const Policy policy = parse_policy(spec.substr(0, at));
  ReplayPlanner planner{.name = std::string(spec), .options = base};
  planner.options.planner.rebalance.policy = policy;
  if (policy != Policy::balanced) planner.options.planner.rebalance.cross_node_replicas = 0;
  if (policy == Policy::deepseek) planner.options.planner.rebalance.active_gpus.clear();
  HistoryOptions& chosen = planner.options.planner.history;
  if (at != std::string_view::npos) {
    chosen = parse_history(spec.substr(at + 1), base.interval);
  } else if (!history.empty()) {
    chosen = parse_history(history, base.interval);
  } else {
    chosen = default_history(policy, base.interval);
  }
  if (swing_weight >= 0) chosen.swing_weight = swing_weight;
  return planner;
}

Topology replay_topology(int64_t num_experts, int64_t num_replicas, int64_t num_groups,
                         int64_t num_nodes, int64_t num_gpus) {
  if (num_gpus == 0) num_gpus = kReferenceGpus;
  if (num_nodes == 0) num_nodes = kReferenceNodes;
  if (num_replicas == 0 && num_gpus > 0 && num_experts > 0) {
    // Sizes beyond the limits are Topology's to name; the sum here must not overflow first.
    const int64_t gpus = std::min(num_gpus, kMaxReplicas);
    const int64_t experts = std::min(num_experts, kMaxExperts);
    num_replicas = (experts + kReferenceRedundantSlots + gpus - 1) / gpus * gpus;
  }
  if (num_groups == 0) num_groups = num_experts % kReferenceGroups == 0 ? kReferenceGroups : 1;
  return Topology(num_replicas, num_groups, num_nodes, num_gpus);
}

}  // namespace eplb
