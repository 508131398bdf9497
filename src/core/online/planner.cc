// Planner: the step history, its swing weighting and fresh plans.
#include "eplb/planner.h"

#include <charconv>
#include <iterator>
#include <cmath>
#include <limits>
#include <span>
#include <utility>

#include "core/detail/check.h"
#include "core/detail/forecast_scores.h"
#include "core/detail/history_state.h"
#include "core/detail/lane_sum.h"

namespace eplb {

void check_planner_options(const Topology& topology, const PlannerOptions& options) {
  const HistoryOptions& history = options.history;
  if (history.num_blocks < 1) {
    detail::throw_invalid("Planner: history.num_blocks = ", history.num_blocks,
                          " must be at least 1");
  }
  if (history.window_steps < 1 || history.window_steps % history.num_blocks != 0) {
    detail::throw_invalid("Planner: history.window_steps = ", history.window_steps,
                          " must be a positive multiple of history.num_blocks = ",
                          history.num_blocks);
  }
  if (!std::isfinite(history.half_life_steps) || history.half_life_steps < 0) {
    detail::throw_invalid("Planner: history.half_life_steps = ", history.half_life_steps,
                          " must be finite and non-negative");
  }
  if (!(history.step_weight_exponent >= 0 && history.step_weight_exponent <= 1)) {
    detail::throw_invalid("Planner: history.step_weight_exponent = ",
                          history.step_weight_exponent, " must be in [0, 1]");
  }
  if (!(history.long_half_life_steps >= 0)) {
    detail::throw_invalid("Planner: history.long_half_life_steps = ",
                          history.long_half_life_steps, " must be non-negative");
  }
  if (!(history.long_weight >= 0 && history.long_weight <= 1)) {
    detail::throw_invalid("Planner: history.long_weight = ", history.long_weight,
                          " must be in [0, 1]");
  }
  if (!std::isfinite(history.swing_weight) || history.swing_weight < 0) {
    detail::throw_invalid("Planner: history.swing_weight = ", history.swing_weight,
                          " must be finite and non-negative");
  }
  if (!std::isfinite(history.step_cap) || history.step_cap < 0) {
    detail::throw_invalid("Planner: history.step_cap = ", history.step_cap,
                          " must be finite and non-negative (0: no cap)");
  }
  if (!history.candidates.empty()) {
    if (!(history.score_half_life_windows > 0) || std::isinf(history.score_half_life_windows)) {
      detail::throw_invalid("Planner: history.score_half_life_windows = ",
                            history.score_half_life_windows, " must be finite and positive");
    }
    for (const std::string& name : history.candidates) {
      if (name == "auto") {
        detail::throw_invalid("Planner: history.candidates holds \"auto\": a self-tuning ",
                              "history cannot be its own candidate");
      }
      parse_history(name, history.window_steps);
    }
  }
  if (options.repair_rounds < 0 || options.repair_rounds > kMaxRepairRounds) {
    detail::throw_invalid("Planner: repair_rounds = ", options.repair_rounds, " must be in [0, ",
                          kMaxRepairRounds, "]");
  }
  check_rebalance_options(topology, options.rebalance, "Planner");
}

Planner::Planner(const Topology& topology, int64_t num_layers, int64_t num_experts,
                 PlannerOptions options)
    : topology_(topology),
      num_layers_(num_layers),
      num_experts_(num_experts),
      options_(std::move(options)) {
  if (num_layers < 1 || num_layers > kMaxLayers) {
    detail::throw_invalid("Planner: num_layers = ", num_layers, " must be in [1, ", kMaxLayers,
                          "]");
  }
  topology_.check_experts(num_experts, "Planner");
  check_planner_options(topology_, options_);
  const HistoryOptions& history = options_.history;
  if (num_layers * num_experts * history.num_blocks > kMaxPlanEntries) {
    detail::throw_invalid("Planner: ", num_layers, " layers x ", num_experts, " experts x ",
                          history.num_blocks, " blocks exceed ", kMaxPlanEntries, " entries");
  }
  const auto add_history = [&](const HistoryOptions& candidate) {
    histories_.emplace_back(candidate, num_layers, num_experts);
  };
  if (history.candidates.empty()) {
    add_history(history);
  } else {
    const auto num_candidates = static_cast<int64_t>(history.candidates.size());
    // Each candidate keeps up to num_blocks + 2 sums, the scores num_blocks forecasts of each.
    if (num_layers * num_experts * num_candidates * (2 * history.num_blocks + 2) >
        kMaxPlanEntries) {
      detail::throw_invalid("Planner: ", num_layers, " layers x ", num_experts, " experts x ",
                            num_candidates, " self-tuning candidates exceed ", kMaxPlanEntries,
                            " entries");
    }
    for (const std::string& name : history.candidates) {
      HistoryOptions candidate = parse_history(name, history.window_steps);
      candidate.swing_weight = history.swing_weight;
      add_history(candidate);
    }
    scores_.emplace_back(num_layers, num_experts, num_candidates, history.window_steps,
                         history.num_blocks, static_cast<double>(topology_.num_replicas()),
                         history.score_half_life_windows);
  }
  step_.resize(static_cast<size_t>(num_layers * num_experts));
  layer_totals_.resize(static_cast<size_t>(num_layers));
}

Planner::Planner(const Planner& other) = default;
Planner::Planner(Planner&& other) noexcept = default;
Planner& Planner::operator=(const Planner& other) = default;
Planner& Planner::operator=(Planner&& other) noexcept = default;
Planner::~Planner() = default;

void Planner::reset() {
  for (detail::HistoryState& history : histories_) history.reset();
  for (detail::ForecastScores& scores : scores_) scores.reset();
  num_observed_steps_ = 0;
}

void Planner::observe(const LoadMatrix& step_loads) {
  if (step_loads.num_layers() != num_layers_ || step_loads.num_experts() != num_experts_) {
    detail::throw_invalid("Planner::observe: step_loads is [", step_loads.num_layers(), ", ",
                          step_loads.num_experts(), "] but the planner was made for [",
                          num_layers_, ", ", num_experts_, "]");
  }
  double step_total = 0;
  for (int64_t layer = 0; layer < num_layers_; ++layer) {
    const auto row = std::span(step_).subspan(layer * num_experts_, num_experts_);
    step_loads.copy_row(layer, row);
    const double total = detail::lane_sum(std::span<const double>(row));
    layer_totals_[layer] = total;
    step_total += total;
  }
  for (detail::HistoryState& history : histories_) {
    history.observe(step_, layer_totals_, step_total);
  }
  for (detail::ForecastScores& scores : scores_) {
    scores.observe(step_, [&](int64_t candidate) {
      return histories_[static_cast<size_t>(candidate)].history();
    });
  }
  ++num_observed_steps_;
}

size_t Planner::chosen() const {
  if (scores_.empty()) return 0;
  const int64_t best = scores_.front().best();
  return best < 0 ? 0 : static_cast<size_t>(best);
}

std::string_view Planner::chosen_history() const {
  if (scores_.empty()) return {};
  return options_.history.candidates[chosen()];
}

std::vector<double> Planner::history_scores() const {
  if (scores_.empty()) return {};
  return scores_.front().scores();
}

Loads Planner::history() const { return histories_[chosen()].history(); }

Loads Planner::planning_loads() const { return histories_[chosen()].planning_loads(); }

Plan Planner::plan() const {
  if (num_observed_steps_ == 0) {
    detail::throw_invalid("Planner::plan: no step observed yet (call observe first)");
  }
  const Loads loads = planning_loads();
  return rebalance_experts(loads.view(), topology_, options_.rebalance);
}

namespace {

[[noreturn]] void throw_bad_history(std::string_view spec) {
  detail::throw_invalid("history = \"", spec,
                        "\" must be auto, robust, last, window:STEPS, decay:HALF_LIFE_STEPS, "
                        "mix:HALF_LIFE_STEPS/LONG_HALF_LIFE_STEPS|all[/LONG_WEIGHT in [0, 1]], "
                        "or those prefixed share-, sqrt- or clip- (share-decay:8), with a "
                        "positive whole number of steps");
}

int64_t parse_steps(std::string_view spec, std::string_view digits) {
  int64_t value = 0;
  const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (error != std::errc() || end != digits.data() + digits.size() || value < 1) {
    throw_bad_history(spec);
  }
  return value;
}

}  // namespace

HistoryOptions parse_history(std::string_view spec, int64_t interval) {
  if (interval < 1) detail::throw_invalid("history: interval = ", interval, " must be positive");
  HistoryOptions history;
  // Blocks of equal length for the swing: four, else three or two.
  const auto set_window = [&](int64_t steps) {
    history.window_steps = steps;
    history.num_blocks = 1;
    for (int64_t blocks = HistoryOptions{}.num_blocks; blocks > 1; --blocks) {
      if (steps % blocks == 0) {
        history.num_blocks = blocks;
        break;
      }
    }
  };
  set_window(interval);
  if (spec == "auto") {
    history.candidates.assign(std::begin(kAutoHistoryCandidates),
                              std::end(kAutoHistoryCandidates));
    return history;
  }
  if (spec == "robust") return history;
  history.half_life_steps = 0;
  if (spec == "last") return history;
  std::string_view kind = spec;
  if (kind.starts_with("share-")) {
    history.step_weight_exponent = 0;
    kind.remove_prefix(6);
  } else if (kind.starts_with("sqrt-")) {
    history.step_weight_exponent = 0.5;
    kind.remove_prefix(5);
  } else if (kind.starts_with("clip-")) {
    history.step_cap = 1;
    kind.remove_prefix(5);
  }
  if (kind.starts_with("window:")) {
    set_window(parse_steps(spec, kind.substr(7)));
  } else if (kind.starts_with("decay:")) {
    history.half_life_steps = static_cast<double>(parse_steps(spec, kind.substr(6)));
  } else if (kind.starts_with("mix:")) {
    // mix:SHORT/LONG[/WEIGHT]; slashes, as commas separate the planners of a replay list.
    std::string_view rest = kind.substr(4);
    const size_t slash = rest.find('/');
    if (slash == std::string_view::npos) throw_bad_history(spec);
    history.half_life_steps = static_cast<double>(parse_steps(spec, rest.substr(0, slash)));
    rest.remove_prefix(slash + 1);
    const size_t weight_slash = rest.find('/');
    const std::string_view long_part = rest.substr(0, weight_slash);
    history.long_half_life_steps = long_part == "all"
                                       ? std::numeric_limits<double>::infinity()
                                       : static_cast<double>(parse_steps(spec, long_part));
    if (weight_slash != std::string_view::npos) {
      const std::string_view weight = rest.substr(weight_slash + 1);
      const auto [end, error] =
          std::from_chars(weight.data(), weight.data() + weight.size(), history.long_weight);
      if (error != std::errc() || end != weight.data() + weight.size() ||
          !(history.long_weight >= 0 && history.long_weight <= 1)) {
        throw_bad_history(spec);
      }
    }
  } else {
    throw_bad_history(spec);
  }
  return history;
}

HistoryOptions default_history(Policy policy, int64_t interval) {
  return parse_history(policy == Policy::deepseek ? "last" : "auto", interval);
}

}  // namespace eplb
