// HistoryState: the sums one history keeps of the observed steps.
#include "core/detail/history_state.h"

#include <algorithm>
#include <cmath>

namespace eplb::detail {

HistoryState::HistoryState(const HistoryOptions& history, int64_t num_layers, int64_t num_experts)
    : options_(history),
      num_layers_(num_layers),
      num_experts_(num_experts),
      steps_per_block_(history.window_steps / history.num_blocks),
      decay_per_step_(history.half_life_steps > 0 ? std::exp2(-1.0 / history.half_life_steps)
                                                  : 1.0),
      // exp2(-1 / inf) = 1: the long-run mean.
      long_decay_per_step_(history.long_half_life_steps > 0
                               ? std::exp2(-1.0 / history.long_half_life_steps)
                               : 1.0) {
  reset();
}

void HistoryState::reset() {
  const auto size = static_cast<size_t>(num_layers_ * num_experts_);
  const bool reads_blocks = options_.half_life_steps == 0 || options_.swing_weight > 0;
  blocks_.assign(reads_blocks ? static_cast<size_t>(options_.num_blocks) : 0,
                 std::vector<double>(size, 0));
  block_steps_.assign(blocks_.size(), 0);
  current_block_ = 0;
  decayed_.assign(options_.half_life_steps > 0 ? size : 0, 0);
  long_decayed_.assign(options_.long_half_life_steps > 0 ? size : 0, 0);
  recent_totals_.assign(options_.step_cap > 0 ? static_cast<size_t>(options_.window_steps) : 0, 0);
  num_recent_totals_ = 0;
  row_.resize(static_cast<size_t>(num_experts_));
}

double HistoryState::outlier_scale(double step_total) {
  if (recent_totals_.empty()) return 1;
  const auto capacity = static_cast<int64_t>(recent_totals_.size());
  recent_totals_[static_cast<size_t>(num_recent_totals_ % capacity)] = step_total;
  ++num_recent_totals_;
  const int64_t count = std::min(num_recent_totals_, capacity);
  median_scratch_.assign(recent_totals_.begin(), recent_totals_.begin() + count);
  const auto middle = median_scratch_.begin() + count / 2;
  std::nth_element(median_scratch_.begin(), middle, median_scratch_.end());
  const double cap = options_.step_cap * *middle;
  return step_total > cap ? cap / step_total : 1.0;
}

void HistoryState::observe(std::span<const double> step, std::span<const double> layer_totals,
                           double step_total) {
  if (!blocks_.empty() && block_steps_[current_block_] == steps_per_block_) {
    current_block_ = (current_block_ + 1) % static_cast<int64_t>(blocks_.size());
    std::fill(blocks_[current_block_].begin(), blocks_[current_block_].end(), 0.0);
    block_steps_[current_block_] = 0;
  }
  const double outlier = outlier_scale(step_total);
  const double exponent = options_.step_weight_exponent;
  for (int64_t layer = 0; layer < num_layers_; ++layer) {
    double scale = outlier;
    if (exponent != 1) {
      const double total = layer_totals[layer] * outlier;
      // An idle layer has no distribution: it adds nothing rather than 0 / 0.
      scale = total > 0 ? outlier * std::pow(total, exponent - 1) : 0.0;
    }
    const double* in = step.data() + layer * num_experts_;
    const double* row = in;
    if (scale != 1) {
      for (int64_t expert = 0; expert < num_experts_; ++expert) row_[expert] = in[expert] * scale;
      row = row_.data();
    }
    // One tight loop per sum, so that each vectorizes.
    if (!blocks_.empty()) {
      double* block_row = blocks_[current_block_].data() + layer * num_experts_;
      for (int64_t expert = 0; expert < num_experts_; ++expert) block_row[expert] += row[expert];
    }
    if (!decayed_.empty()) {
      double* decayed_row = decayed_.data() + layer * num_experts_;
      for (int64_t expert = 0; expert < num_experts_; ++expert) {
        decayed_row[expert] = decayed_row[expert] * decay_per_step_ + row[expert];
      }
    }
    if (!long_decayed_.empty()) {
      double* long_row = long_decayed_.data() + layer * num_experts_;
      for (int64_t expert = 0; expert < num_experts_; ++expert) {
        long_row[expert] = long_row[expert] * long_decay_per_step_ + row[expert];
      }
    }
  }
  if (!blocks_.empty()) ++block_steps_[current_block_];
}

Loads HistoryState::history() const {
  Loads loads{.num_layers = num_layers_, .num_experts = num_experts_, .values = decayed_};
  if (decayed_.empty()) {
    loads.values.assign(static_cast<size_t>(num_layers_ * num_experts_), 0.0);
    for (const std::vector<double>& block : blocks_) {
      for (size_t idx = 0; idx < block.size(); ++idx) loads.values[idx] += block[idx];
    }
  }
  if (long_decayed_.empty()) return loads;
  const double long_weight = options_.long_weight;
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

Loads HistoryState::planning_loads() const {
  Loads loads = history();
  const double swing_weight = options_.swing_weight;
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

}  // namespace eplb::detail
