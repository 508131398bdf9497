// ForecastScores: how well each candidate history forecast the traffic that followed.
#include "core/detail/forecast_scores.h"

#include <algorithm>
#include <cmath>

#include "core/detail/lane_sum.h"

namespace eplb::detail {

double forecast_error(std::span<const double> forecast, std::span<const double> actual,
                      double num_slots) {
  const double forecast_total = lane_sum(forecast);
  const double actual_total = lane_sum(actual);
  if (!(actual_total > 0)) return 0;
  // Reciprocals leave one division per expert, the one by the forecast's replica count.
  const double to_actual_share = 1 / actual_total;
  double sum = 0;
  if (forecast_total > 0) {
    const double to_forecast_share = 1 / forecast_total;
    for (size_t idx = 0; idx < forecast.size(); ++idx) {
      const double p = forecast[idx] * to_forecast_share;
      const double q = actual[idx] * to_actual_share;
      sum += (q - p) * (q - p) / std::max(1.0, p * num_slots);
    }
  } else {
    const double p = 1.0 / static_cast<double>(forecast.size());
    const double weight = 1 / std::max(1.0, p * num_slots);
    for (const double load : actual) {
      const double q = load * to_actual_share;
      sum += (q - p) * (q - p) * weight;
    }
  }
  return std::sqrt(sum);
}

ForecastScores::ForecastScores(int64_t num_layers, int64_t num_experts, int64_t num_candidates,
                               int64_t horizon_steps, int64_t num_blocks, double num_slots,
                               double half_life_horizons)
    : num_layers_(num_layers),
      num_experts_(num_experts),
      num_candidates_(num_candidates),
      steps_per_block_(horizon_steps / num_blocks),
      num_blocks_(num_blocks),
      num_slots_(num_slots),
      // One score update per block: num_blocks per horizon.
      score_decay_(std::exp2(-1.0 / (half_life_horizons * static_cast<double>(num_blocks)))) {
  reset();
}

void ForecastScores::reset() {
  const auto size = static_cast<size_t>(num_layers_ * num_experts_);
  blocks_.assign(static_cast<size_t>(num_blocks_), std::vector<double>(size, 0));
  forecasts_.assign(static_cast<size_t>(num_blocks_),
                    std::vector<double>(size * static_cast<size_t>(num_candidates_), 0));
  forecast_taken_.assign(static_cast<size_t>(num_blocks_), false);
  scores_.assign(static_cast<size_t>(num_candidates_), 0);
  partial_scores_.assign(static_cast<size_t>(num_candidates_), 0);
  num_scored_ = 0;
  num_partial_ = 0;
  num_steps_ = 0;
}

void ForecastScores::observe(std::span<const double> step,
                             const std::function<Loads(int64_t)>& history_of) {
  const int64_t boundary = num_steps_ / steps_per_block_;
  std::vector<double>& block = blocks_[static_cast<size_t>(boundary % num_blocks_)];
  if (num_steps_ % steps_per_block_ == 0) std::fill(block.begin(), block.end(), 0.0);
  for (size_t idx = 0; idx < step.size(); ++idx) block[idx] += step[idx];
  ++num_steps_;
  if (num_steps_ % steps_per_block_ != 0) return;
  // Boundary `boundary + 1` is reached: the ring holds the horizon after the forecast of
  // boundary `boundary + 1 - num_blocks`, which sits in the slot the new forecast takes.
  const auto slot = static_cast<size_t>((boundary + 1) % num_blocks_);
  std::vector<double>& forecast = forecasts_[slot];
  const auto layer_size = static_cast<size_t>(num_experts_);
  const auto size = static_cast<size_t>(num_layers_) * layer_size;
  const int64_t reached = boundary + 1;
  if (forecast_taken_[slot]) {
    std::vector<double> actual(size, 0);
    for (const std::vector<double>& past : blocks_) {
      for (size_t idx = 0; idx < size; ++idx) actual[idx] += past[idx];
    }
    add_errors(forecast, actual, scores_);
    ++num_scored_;
  } else {
    // No forecast has seen a whole horizon yet: score the pending ones on the blocks since they
    // were taken (the forecast of boundary j on blocks j .. reached - 1), afresh each boundary.
    std::fill(partial_scores_.begin(), partial_scores_.end(), 0.0);
    std::vector<double> actual(size, 0);
    for (int64_t taken = reached - 1; taken >= 1; --taken) {
      const std::vector<double>& past = blocks_[static_cast<size_t>(taken % num_blocks_)];
      for (size_t idx = 0; idx < size; ++idx) actual[idx] += past[idx];
      // Forecasts that have seen less than half a horizon are too noisy to choose by.
      if (2 * (reached - taken) < num_blocks_) continue;
      add_errors(forecasts_[static_cast<size_t>(taken % num_blocks_)], actual, partial_scores_);
      num_partial_ = reached - taken;
    }
  }
  for (int64_t candidate = 0; candidate < num_candidates_; ++candidate) {
    const Loads history = history_of(candidate);
    std::copy(history.values.begin(), history.values.end(),
              forecast.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(candidate) * size));
  }
  forecast_taken_[slot] = true;
}

void ForecastScores::add_errors(std::span<const double> forecasts, std::span<const double> actual,
                                std::vector<double>& scores) const {
  const auto layer_size = static_cast<size_t>(num_experts_);
  const size_t size = actual.size();
  for (int64_t candidate = 0; candidate < num_candidates_; ++candidate) {
    double error = 0;
    for (int64_t layer = 0; layer < num_layers_; ++layer) {
      const size_t offset = static_cast<size_t>(layer) * layer_size;
      error += forecast_error(
          forecasts.subspan(static_cast<size_t>(candidate) * size + offset, layer_size),
          actual.subspan(offset, layer_size), num_slots_);
    }
    scores[static_cast<size_t>(candidate)] =
        scores[static_cast<size_t>(candidate)] * score_decay_ + error;
  }
}

int64_t ForecastScores::best() const {
  const std::vector<double>& scores = num_scored_ > 0 ? scores_ : partial_scores_;
  if (num_scored_ == 0 && num_partial_ == 0) return -1;
  return std::min_element(scores.begin(), scores.end()) - scores.begin();
}

}  // namespace eplb::detail
