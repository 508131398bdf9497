#pragma once
// Seeded synthetic traces that look like real DeepSeek-V3 serving.

#include <cstdint>
#include <functional>

#include "eplb/trace.h"

namespace eplb {

/// Shape and randomness of a synthetic trace.
struct SyntheticTraceOptions {
  int64_t num_steps = 300;
  int64_t num_layers = 58;
  int64_t num_experts = 256;
  /// Experts each token is routed to.
  int64_t top_k = 8;
  /// Chance that a step is a prefill burst (thousands to tens of thousands of tokens) rather than
  /// a small decode step.
  double prefill_probability = 0.03;
  uint64_t seed = 0;
};

/// Generates a trace whose per-step counts are mostly small decode batches with occasional
/// prefill bursts, whose expert popularity is skewed differently in every layer and drifts over
/// time. Deterministic: the same options give the same trace on every platform (eplb's own
/// random number generator and samplers, not the standard library's distributions). Throws
/// InvalidArgument for non-positive sizes, `top_k > num_experts` or a probability outside [0, 1].
/// `progress`, when given, is called with the steps done and the total, about a hundred times.
Trace generate_trace(const SyntheticTraceOptions& options,
                     const std::function<void(int64_t done, int64_t total)>& progress = {});

}  // namespace eplb
