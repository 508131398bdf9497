#pragma once
// One history of a Planner (HistoryOptions without candidates): the window's blocks, the decayed
// sums, the step weighting, and what a plan is made on.

#include <cstdint>
#include <span>
#include <vector>

#include "eplb/load_matrix.h"
#include "eplb/planner.h"

namespace eplb::detail {

class HistoryState {
 public:
  /// `history` must have passed check_planner_options() and hold no candidates.
  HistoryState(const HistoryOptions& history, int64_t num_layers, int64_t num_experts);

  /// Adds one step, `[num_layers * num_experts]` row-major, whose per-layer totals are
  /// `layer_totals` and whose total over all layers is `step_total`.
  void observe(std::span<const double> step, std::span<const double> layer_totals,
               double step_total);
  void reset();

  /// The window sum or the decayed sum, mixed with the long horizon when there is one.
  Loads history() const;
  /// history() weighted by each expert's swing between blocks.
  Loads planning_loads() const;

 private:
  // The factor this step enters with before the exponent: below 1 for an outlier step.
  double outlier_scale(double step_total);

  HistoryOptions options_;
  int64_t num_layers_;
  int64_t num_experts_;
  int64_t steps_per_block_;
  double decay_per_step_;
  double long_decay_per_step_;
  // Ring of block sums, num_blocks x [num_layers * num_experts]; blocks_[current_block_] fills.
  // Empty when nothing reads them (a decay without swing).
  std::vector<std::vector<double>> blocks_;
  std::vector<int64_t> block_steps_;
  int64_t current_block_ = 0;
  std::vector<double> decayed_;
  std::vector<double> long_decayed_;
  // Totals of the last window_steps steps (ring), for the outlier cap's median.
  std::vector<double> recent_totals_;
  int64_t num_recent_totals_ = 0;
  std::vector<double> median_scratch_;
  std::vector<double> row_;
};

}  // namespace eplb::detail
