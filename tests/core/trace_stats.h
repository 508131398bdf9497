#pragma once
// Statistics of synthetic traces shared by their tests: window sums and correlations.

#include <cmath>
#include <cstdint>
#include <vector>

#include "eplb/trace.h"

namespace eplb::testing {

/// Sums steps [begin, end) of layer `layer_idx` per expert.
inline std::vector<double> window(const Trace& trace, int64_t begin, int64_t end, int64_t layer_idx) {
  std::vector<double> sums(trace.num_experts, 0.0);
  for (int64_t s = begin; s < end; ++s) {
    for (int64_t e = 0; e < trace.num_experts; ++e) {
      sums[e] += trace.values[(s * trace.num_layers + layer_idx) * trace.num_experts + e];
    }
  }
  return sums;
}

/// Pearson correlation of `a` and `b`.
inline double correlation(const std::vector<double>& a, const std::vector<double>& b) {
  const auto n = static_cast<double>(a.size());
  double mean_a = 0, mean_b = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    mean_a += a[i] / n;
    mean_b += b[i] / n;
  }
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += (a[i] - mean_a) * (b[i] - mean_b);
    aa += (a[i] - mean_a) * (a[i] - mean_a);
    bb += (b[i] - mean_b) * (b[i] - mean_b);
  }
  return ab / std::sqrt(aa * bb);
}

}  // namespace eplb::testing
