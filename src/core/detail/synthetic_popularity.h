#pragma once
// The expert popularity of a synthetic trace, step by step, for each trace family.

#include <cstdint>
#include <vector>

#include "core/detail/portable_random.h"
#include "eplb/synthetic.h"

namespace eplb::detail {

// Log-popularity of each expert of one layer: a drifting part, a few hot experts, a fixed offset
// for prompt tokens, and the daily family's second workload.
struct LayerState {
  double sigma = 0;
  std::vector<double> drifting;
  std::vector<double> hot_boost;
  std::vector<double> prefill_offset;
  std::vector<double> second_workload;
};

// Draws the shares of every layer, step after step, as options.family says. Deterministic given
// the options; its random streams are its own, apart from the schedule stream that begin_step
// may read (the drift family's workload shifts, drawn after the step's size as they always were).
class Popularity {
 public:
  explicit Popularity(const SyntheticTraceOptions& options);

  // Starts step `step_idx`; call before the step's layers.
  void begin_step(int64_t step_idx, bool is_prefill, Rng& schedule_rng);
  // This step's shares of layer `layer_idx` (each at most 1 / top_k, summing to 1), then moves
  // the layer on to the next step. Call for the layers in order.
  void next_shares(int64_t layer_idx, std::vector<double>& shares);

 private:
  TraceFamily family_;
  int64_t top_k_;
  Rng popularity_rng_;
  Rng event_rng_;
  std::vector<LayerState> layers_;
  bool is_prefill_ = false;
  bool is_shift_ = false;
  int64_t next_switch_step_ = 0;
  double second_weight_ = 0;
  std::vector<double> scratch_;
  std::vector<double> second_shares_;
};

}  // namespace eplb::detail
