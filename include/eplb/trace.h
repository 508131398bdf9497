#pragma once
// A time series of expert loads: steps x layers x experts, and step ranges over it.

#include <cstdint>
#include <string_view>
#include <vector>

#include "eplb/load_matrix.h"

namespace eplb {

/// A half-open range of steps `[begin, end)`; `end == -1` means "to the last step".
struct StepRange {
  int64_t begin = 0;
  int64_t end = -1;
};

/// Parses "A:B", "A:" or ":B" (half-open, 0-based) into a StepRange. Throws InvalidArgument
/// naming `text` when it is malformed or negative.
StepRange parse_step_range(std::string_view text);

/// Per-step loads `[num_steps, num_layers, num_experts]`, row-major, as doubles.
struct Trace {
  int64_t num_steps = 0;
  int64_t num_layers = 0;
  int64_t num_experts = 0;
  std::vector<double> values;

  /// Sums the steps of `range` into one load matrix. Throws InvalidArgument when the range is
  /// empty or out of bounds, naming the range and `num_steps`.
  Loads sum_steps(StepRange range = {}) const;

  /// Returns the steps of `range` as a trace of their own. Throws InvalidArgument as sum_steps.
  Trace slice_steps(StepRange range) const;
  /// Returns step `step_idx` as a `[num_layers, num_experts]` view into `values`.
  LoadMatrix step(int64_t step_idx) const;
};

}  // namespace eplb
