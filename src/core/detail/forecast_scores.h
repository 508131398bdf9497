#pragma once
// The self-tuning history's bookkeeping: every `block` steps it keeps what each candidate history
// forecast (its per-layer shares) and, a horizon later, scores that forecast on the loads that
// came (docs/online.md, "Self-tuning history").

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "eplb/load_matrix.h"

namespace eplb::detail {

/// The error of forecasting the shares `forecast` of a layer when the loads `actual` came: the
/// square root of sum_e (q_e - p_e)^2 / max(1, p_e * num_slots) over the layer's shares q of
/// `actual` and p of `forecast`, which grows like the spread of GPU loads a plan made on p meets
/// on q (an expert with r replicas spreads its error over r GPUs). A forecast without load is
/// read as uniform; an `actual` without load scores 0.
double forecast_error(std::span<const double> forecast, std::span<const double> actual,
                      double num_slots);

class ForecastScores {
 public:
  /// Scores `num_candidates` forecasts of `horizon_steps` steps, taken every `horizon_steps /
  /// num_blocks` steps (`num_blocks` divides `horizon_steps`), each score decaying with a
  /// half-life of `half_life_horizons` horizons.
  ForecastScores(int64_t num_layers, int64_t num_experts, int64_t num_candidates,
                 int64_t horizon_steps, int64_t num_blocks, double num_slots,
                 double half_life_horizons);

  /// Adds one observed step (`[num_layers * num_experts]`), after the candidates observed it;
  /// `history_of(k)` returns candidate k's history when a forecast is taken.
  void observe(std::span<const double> step, const std::function<Loads(int64_t)>& history_of);
  void reset();

  /// The candidate whose forecasts scored best so far (the lowest index among equal scores);
  /// until a forecast has seen a whole horizon, the best on the blocks seen since each pending
  /// forecast was taken; -1 before the first forecast has seen a block.
  int64_t best() const;
  /// The decayed sum of each candidate's forecast errors.
  const std::vector<double>& scores() const { return scores_; }
  int64_t num_scored() const { return num_scored_; }

 private:
  int64_t num_layers_;
  int64_t num_experts_;
  int64_t num_candidates_;
  int64_t steps_per_block_;
  int64_t num_blocks_;
  double num_slots_;
  double score_decay_;
  int64_t num_steps_ = 0;
  // Ring of the last num_blocks block sums of the raw loads; blocks_[num_boundaries % n] fills.
  std::vector<std::vector<double>> blocks_;
  // Ring of forecasts, num_blocks x num_candidates x [num_layers * num_experts] shares, the one
  // of boundary j in slot j % num_blocks.
  std::vector<std::vector<double>> forecasts_;
  std::vector<bool> forecast_taken_;
  std::vector<double> scores_;
  int64_t num_scored_ = 0;
  // Until the first whole horizon: the pending forecasts' errors so far, and the most blocks
  // one of them has seen (0: none yet).
  std::vector<double> partial_scores_;
  int64_t num_partial_ = 0;

  // Adds to `scores` (decayed) each candidate's error of `forecasts` (num_candidates x the
  // layers) on `actual`.
  void add_errors(std::span<const double> forecasts, std::span<const double> actual,
                  std::vector<double>& scores) const;
};

}  // namespace eplb::detail
