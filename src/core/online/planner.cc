// Planner: the step history, its swing weighting and fresh plans.
#include "eplb/planner.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <span>
#include <utility>

#include "core/detail/check.h"

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
  steps_per_block_ = history.window_steps / history.num_blocks;
  decay_per_step_ =
      history.half_life_steps > 0 ? std::exp2(-1.0 / history.half_life_steps) : 1.0;
  // exp2(-1 / inf) = 1: the long-run mean.
  long_decay_per_step_ =
      history.long_half_life_steps > 0 ? std::exp2(-1.0 / history.long_half_life_steps) : 1.0;
  reset();
}

void Planner::reset() {
  const auto size = static_cast<size_t>(num_layers_ * num_experts_);
  blocks_.assign(static_cast<size_t>(options_.history.num_blocks), std::vector<double>(size, 0));
  block_steps_.assign(blocks_.size(), 0);
  current_block_ = 0;
  decayed_.assign(options_.history.half_life_steps > 0 ? size : 0, 0);
  long_decayed_.assign(options_.history.long_half_life_steps > 0 ? size : 0, 0);
  num_observed_steps_ = 0;
}

void Planner::observe(const LoadMatrix& step_loads) {
  if (step_loads.num_layers() != num_layers_ || step_loads.num_experts() != num_experts_) {
    detail::throw_invalid("Planner::observe: step_loads is [", step_loads.num_layers(), ", ",
                          step_loads.num_experts(), "] but the planner was made for [",
                          num_layers_, ", ", num_experts_, "]");
  }
  if (block_steps_[current_block_] == steps_per_block_) {
    current_block_ = (current_block_ + 1) % static_cast<int64_t>(blocks_.size());
    std::fill(blocks_[current_block_].begin(), blocks_[current_block_].end(), 0.0);
    block_steps_[current_block_] = 0;
  }
  std::vector<double>& block = blocks_[current_block_];
  std::vector<double> row(static_cast<size_t>(num_experts_));
  for (int64_t layer = 0; layer < num_layers_; ++layer) {
    step_loads.copy_row(layer, row);
    const double exponent = options_.history.step_weight_exponent;
    if (exponent != 1) {
      double total = 0;
      for (const double load : row) total += load;
      // An idle layer has no distribution: it adds nothing rather than 0 / 0.
      const double scale = total > 0 ? std::pow(total, exponent - 1) : 0.0;
      for (double& load : row) load *= scale;
    }
    double* block_row = block.data() + layer * num_experts_;
    double* decayed_row = decayed_.empty() ? nullptr : decayed_.data() + layer * num_experts_;
    double* long_row =
        long_decayed_.empty() ? nullptr : long_decayed_.data() + layer * num_experts_;
    for (int64_t expert = 0; expert < num_experts_; ++expert) {
      block_row[expert] += row[expert];
      if (decayed_row != nullptr) {
        decayed_row[expert] = decayed_row[expert] * decay_per_step_ + row[expert];
      }
      if (long_row != nullptr) {
        long_row[expert] = long_row[expert] * long_decay_per_step_ + row[expert];
      }
    }
  }
  ++block_steps_[current_block_];
  ++num_observed_steps_;
}

Loads Planner::history() const {
  Loads loads{.num_layers = num_layers_, .num_experts = num_experts_, .values = decayed_};
  if (decayed_.empty()) {
    loads.values.assign(static_cast<size_t>(num_layers_ * num_experts_), 0.0);
    for (const std::vector<double>& block : blocks_) {
      for (size_t idx = 0; idx < block.size(); ++idx) loads.values[idx] += block[idx];
    }
  }
  if (long_decayed_.empty()) return loads;
  const double long_weight = options_.history.long_weight;
  for (int64_t layer = 0; layer < num_layers_; ++layer) {
    const auto row = std::span(loads.values).subspan(layer * num_experts_, num_experts_);
    const auto long_row = std::span(long_decayed_).subspan(layer * num_experts_, num_experts_);
    double total = 0, long_total = 0;
    for (int64_t expert = 0; expert < num_experts_; ++expert) {
      total += row[expert];
      long_total += long_row[expert];
    }
    const double scale = total > 0 ? (1 - long_weight) / total : 0.0;
    const double long_scale = long_total > 0 ? long_weight / long_total : 0.0;
    for (int64_t expert = 0; expert < num_experts_; ++expert) {
      row[expert] = row[expert] * scale + long_row[expert] * long_scale;
    }
  }
  return loads;
}

Loads Planner::planning_loads() const {
  Loads loads = history();
  const double swing_weight = options_.history.swing_weight;
  if (swing_weight == 0) return loads;
  std::vector<double> block_totals(blocks_.size());
  for (int64_t layer = 0; layer < num_layers_; ++layer) {
    // Shares of the layer in each block that saw traffic in this layer.
    int64_t num_active_blocks = 0;
    for (size_t block = 0; block < blocks_.size(); ++block) {
      const auto row = std::span(blocks_[block]).subspan(layer * num_experts_, num_experts_);
      double total = 0;
      for (double load : row) total += load;
      block_totals[block] = total;
      if (total > 0) ++num_active_blocks;
    }
    if (num_active_blocks < 2) continue;
    for (int64_t expert = 0; expert < num_experts_; ++expert) {
      double sum = 0;
      double sum_squares = 0;
      for (size_t block = 0; block < blocks_.size(); ++block) {
        if (block_totals[block] <= 0) continue;
        const double share = blocks_[block][layer * num_experts_ + expert] / block_totals[block];
        sum += share;
        sum_squares += share * share;
      }
      const double mean = sum / static_cast<double>(num_active_blocks);
      if (mean <= 0) continue;
      const double variance =
          std::max(0.0, sum_squares / static_cast<double>(num_active_blocks) - mean * mean);
      const double swing = std::sqrt(variance) / mean;
      loads.values[layer * num_experts_ + expert] *= 1 + swing_weight * swing;
    }
  }
  return loads;
}

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
                        "\" must be robust, last, window:STEPS, decay:HALF_LIFE_STEPS, "
                        "mix:HALF_LIFE_STEPS/LONG_HALF_LIFE_STEPS|all[/LONG_WEIGHT in [0, 1]], "
                        "or those prefixed share- or sqrt- (share-decay:8), with a positive whole "
                        "number of steps");
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
  return parse_history(policy == Policy::deepseek ? "last" : "robust", interval);
}

}  // namespace eplb
