#pragma once
// The online planner: observes loads step by step, plans from its history, and re-plans while
// moving few slots.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "eplb/load_matrix.h"
#include "eplb/migration.h"
#include "eplb/plan.h"
#include "eplb/policy.h"
#include "eplb/topology.h"

namespace eplb {

namespace detail {
class HistoryState;
class ForecastScores;
}  // namespace detail

/// Which past steps a Planner plans on, and how it hedges against the next window.
///
/// The history is the sum of the last `window_steps` steps, or, with `half_life_steps > 0`, of
/// every step observed, each weighted `0.5 ^ (age / half_life_steps)`. The window is kept as
/// `num_blocks` blocks of `window_steps / num_blocks` steps; with `swing_weight > 0` the planner
/// plans on `history * (1 + swing_weight * cv)`, where `cv` is how much each expert's share of
/// its layer swings from block to block (its coefficient of variation), so that swinging
/// experts get more replicas and lighter GPUs. Right after a block completes the window holds
/// exactly the last `window_steps` steps; in between, the current block is still filling.
///
/// No fixed history is best on every kind of traffic (docs/online.md, "Trace families"), so the
/// default of parse_history() is the self-tuning "auto": with `candidates` not empty the planner
/// keeps each candidate history, scores what each forecast on the traffic that came after, and
/// plans on the best one (see `candidates`).
///
/// `step_weight_exponent` sets how much a step weighs by its size: each layer row enters the
/// history scaled to sum to `total ^ step_weight_exponent`. 1 (the default) keeps the loads; 0
/// makes every step its per-layer load distribution, so a 10,000-token prefill weighs as much as
/// a 100-token decode step (the history is then a sum of distributions); 0.5 lies between. A
/// layer row whose total is not positive adds nothing (under a decay the older steps still age),
/// so it never makes a NaN.
struct HistoryOptions {
  int64_t window_steps = 100;
  double half_life_steps = 8;
  int64_t num_blocks = 4;
  double swing_weight = 0;
  double step_weight_exponent = 1;
  /// A mixture of horizons: with `long_half_life_steps > 0` the history is, layer by layer,
  /// `(1 - long_weight)` times the share of each expert in the history above plus `long_weight`
  /// times its share in a second decayed sum of half-life `long_half_life_steps` (infinite: the
  /// long-run mean of every step observed, so the mixture shrinks each share towards it). The
  /// shares of a layer without traffic in a history are 0.
  double long_half_life_steps = 0;
  double long_weight = 0.5;
  /// Down-weights outlier steps: with `step_cap > 0`, a step whose total load (all layers)
  /// exceeds `step_cap` times the median total of the last `window_steps` steps (itself
  /// included; the upper median of an even count) enters scaled down to that size, so that a
  /// prefill burst weighs like a typical step while decode steps keep their sizes.
  double step_cap = 0;
  /// Self-tuning: when not empty, histories named as parse_history() reads them (with
  /// `window_steps` as the interval, this `swing_weight`, none of them "auto"). The planner keeps
  /// each; every `window_steps / num_blocks` steps it records each one's forecast, and
  /// `window_steps` steps later scores it on the loads that came: the error
  /// sqrt(sum_e (q_e - p_e)^2 / max(1, p_e * replicas)) between the forecast shares p and the
  /// shares q of the traffic, summed over layers, as a sum decaying with a half-life of
  /// `score_half_life_windows` windows. Plans are made on the candidate with the lowest score;
  /// until a forecast has seen a whole window, on the lowest error of the forecasts that have
  /// seen at least half of one, and before that on the first candidate. The other fields of
  /// this history are then unused.
  std::vector<std::string> candidates = {};
  double score_half_life_windows = 4;
};

/// The candidates of the self-tuning history "auto", the first one planned on until a forecast
/// was scored: decays of several half-lives for drifting or switching traffic, the long-run
/// mixture for stationary traffic, and per-step distributions and capped outliers for bursts
/// routed by their own prompts (docs/online.md, "Self-tuning history").
inline constexpr std::string_view kAutoHistoryCandidates[] = {
    "decay:16", "decay:8", "decay:32", "decay:64", "mix:50/all", "share-decay:50",
    "clip-decay:16"};

/// Parses a history: "auto" (the self-tuning choice between kAutoHistoryCandidates), "robust"
/// (a decay with a half-life of 8 steps), "last" (the last `interval` steps: the last-window
/// planner), "window:N" (the last N steps), "decay:H" (half-life of H steps); "share-window:N" /
/// "share-decay:H", the same on the per-step load distributions (`step_weight_exponent` 0),
/// "sqrt-window:N" / "sqrt-decay:H", each step weighing the square root of its size (exponent
/// 0.5), or "clip-window:N" / "clip-decay:H", each step weighing at most the median step's
/// size (`step_cap` 1); "mix:H/L" (decay:H mixed half and half with a decay of half-life L, or
/// with the long-run mean when L is "all"), with an optional weight of the long part,
/// "mix:8/all/0.3". The window of "auto", "robust", "last", "decay:H" and "mix" is `interval`
/// steps; it is split into four blocks for the swing and the self-tuning's forecasts (three or
/// two when 4 does not divide it, else one), and the swing weight is 0. Throws InvalidArgument
/// naming `spec` when it is malformed.
HistoryOptions parse_history(std::string_view spec, int64_t interval);

/// The history a policy is replayed with unless told otherwise: "last" for `deepseek` (DeepSeek's
/// planner as servers run it), "auto" for the others.
HistoryOptions default_history(Policy policy, int64_t interval);

/// Options of a Planner.
struct PlannerOptions {
  /// How each plan is made (policy, packer, effort, seed, active GPUs, ...).
  RebalanceOptions rebalance = {};
  /// A value-initialized history is `robust` (a decay with a half-life of 8 steps);
  /// default_history() gives the self-tuning "auto", which `eplb replay`, eplb.replay and
  /// eplb.Planner use unless told otherwise.
  HistoryOptions history = {};
  /// Ruin-and-recreate rounds that replan() spends improving each layer's best repair, in
  /// [0, kMaxRepairRounds]. Moves fall and time grows with the rounds (about 40 us per round
  /// and layer on DeepSeek-V3 shapes): at a 0.5 % tolerance the default 40 move about 11.5 % of
  /// the slots per re-plan, 3,000 under 10 % (docs/online.md).
  int64_t repair_rounds = 40;
};

/// The most ruin-and-recreate rounds PlannerOptions::repair_rounds may ask for.
inline constexpr int64_t kMaxRepairRounds = 1'000'000;

/// How far Planner::replan() may move from the current plan.
struct ReplanOptions {
  /// Balance mode (when `move_budget` is negative): the fewest moves whose heaviest GPUs, summed
  /// over layers, stay within `1 + tolerance` of the fresh plan's. Finite, non-negative.
  double tolerance = 0;
  /// Budget mode: at most this fraction of all slots (layers x replicas, rounded down) changes
  /// expert, spent across layers and moves where it lowers the sum of the heaviest GPUs most;
  /// the fewest moves among equally good choices. In [0, 1]; negative selects balance mode.
  /// Slots on GPUs the options exclude now but `current` uses must move and count against it.
  double move_budget = -1;
  /// Keeps `current` unchanged (no moves) when the re-plan would raise GPU balancedness on the
  /// planning loads by less than this (absolute, e.g. 0.01). Finite, non-negative; 0 never skips
  /// a re-plan that gains.
  double min_gain = 0;
  /// Positive: Replan::chunks groups the moves into chunks of at most this many layers, the
  /// most balance on the planning loads first (chunk_by_layers). 0: no chunks. Not negative.
  int64_t layers_per_chunk = 0;
};

/// Throws InvalidArgument for options a Planner on `topology` refuses whatever the shape of its
/// loads: history options out of range (see the Planner constructor), `repair_rounds` not in
/// [0, kMaxRepairRounds], and the rebalance options check_rebalance_options() refuses. The
/// Planner constructor calls it; the Python module calls it when a Planner is made, before the
/// first step shows the shape.
void check_planner_options(const Topology& topology, const PlannerOptions& options);

/// The result of Planner::replan().
struct Replan {
  Plan plan;
  /// The moves from the current plan to `plan`.
  Migration migration;
  /// Layers where the current plan was repaired by a few moves (the others take the fresh plan,
  /// relabelled to keep as many slots as possible).
  int64_t repaired_layers = 0;
  /// GPU balancedness (see PlanMetrics) of `current` and of `plan` on the planning loads: what
  /// the moves bought, before any traffic says how well it was predicted.
  double balancedness_before = 1;
  double balancedness_after = 1;
  /// True when `min_gain` kept the current plan.
  bool skipped = false;
  /// With ReplanOptions::layers_per_chunk: `migration` in layer chunks, the most balance first.
  std::vector<MigrationChunk> chunks;
};

/// Plans from a history of step loads. Not thread-safe; plans are deterministic functions of
/// the observed steps and the options.
class Planner {
 public:
  /// Throws InvalidArgument for shapes the topology cannot take (see Topology::check_experts) or
  /// history options out of range: `window_steps` and `num_blocks` at least 1, `window_steps` a
  /// multiple of `num_blocks`, `half_life_steps` and `swing_weight` finite and non-negative,
  /// `step_weight_exponent` and `long_weight` in [0, 1], `long_half_life_steps` non-negative
  /// (infinity allowed), and for the other options check_planner_options() refuses.
  Planner(const Topology& topology, int64_t num_layers, int64_t num_experts,
          PlannerOptions options = {});
  // Out of line: the history types are private to the library.
  Planner(const Planner& other);
  Planner(Planner&& other) noexcept;
  Planner& operator=(const Planner& other);
  Planner& operator=(Planner&& other) noexcept;
  ~Planner();

  /// Adds one step's loads `[num_layers, num_experts]`. Throws InvalidArgument for another shape.
  void observe(const LoadMatrix& step_loads);
  /// Forgets every observed step.
  void reset();
  int64_t num_observed_steps() const { return num_observed_steps_; }

  /// The history plans are made on: the window sum, or the decayed sum (for a self-tuning
  /// history, the chosen candidate's).
  Loads history() const;
  /// The candidate a self-tuning history plans on now (see HistoryOptions::candidates); empty
  /// for a fixed history.
  std::string_view chosen_history() const;
  /// The self-tuning history's score of each candidate (the decayed sum of its forecast errors,
  /// lower is better; all 0 before the first forecast was scored); empty for a fixed history.
  std::vector<double> history_scores() const;
  /// What plans are made on: the history weighted by each expert's swing (see HistoryOptions).
  Loads planning_loads() const;

  /// A fresh plan of planning_loads(). Throws InvalidArgument when no step was observed.
  Plan plan() const;
  /// A plan close to `current`: for each layer, the fewest moves found whose heaviest GPU on
  /// planning_loads() is at most `(1 + tolerance)` times the fresh plan's, repairing `current`
  /// by single replica moves and swaps (under a hierarchical policy also after one or two
  /// swaps of whole groups between nodes; the best repair then improved by a seeded ruin and
  /// recreate search), or else the fresh plan relabelled to keep as many of `current`'s slots
  /// as possible (align_plan). Tolerance 0 keeps the fresh plan's balance. Layers are repaired
  /// on `options().rebalance.threads` threads; the result does not depend on their number.
  /// Repairs keep the policy's rules: no expert leaves the nodes it is on under a hierarchical
  /// policy, no second replica of an expert on a GPU, excluded GPUs stay empty. Throws
  /// InvalidArgument when no step was observed, `current` is not a valid plan of this shape or
  /// `tolerance` is negative or not finite.
  Replan replan(const Plan& current, double tolerance) const {
    return replan(current, ReplanOptions{.tolerance = tolerance});
  }
  /// replan() in balance or budget mode, with the skip rule of `options` (see ReplanOptions).
  /// Throws InvalidArgument as above, or naming an option out of its range.
  Replan replan(const Plan& current, const ReplanOptions& options) const;

  const Topology& topology() const { return topology_; }
  const PlannerOptions& options() const { return options_; }

 private:
  // The candidate plans are made on: 0 for a fixed history.
  size_t chosen() const;

  Topology topology_;
  int64_t num_layers_;
  int64_t num_experts_;
  PlannerOptions options_;
  int64_t num_observed_steps_ = 0;
  // One history, or the self-tuning history's candidates (named in options_.history).
  std::vector<detail::HistoryState> histories_;
  // The self-tuning history's scores: one element, or none for a fixed history.
  std::vector<detail::ForecastScores> scores_;
  // The step being observed, row-major, and its per-layer totals.
  std::vector<double> step_;
  std::vector<double> layer_totals_;
};

}  // namespace eplb
