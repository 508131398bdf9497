#pragma once
// Sums of load rows in four independent lanes: a single running double sum is one chain of
// dependent additions, several times slower than the lanes on a row of a few hundred loads
// (docs/online.md, "Self-tuning history", on the cost of observing). The order of additions is fixed, so a sum is the
// same on every run and thread count; it may differ from a left-to-right sum in the last bits.

#include <cstddef>
#include <limits>
#include <span>
#include <type_traits>

namespace eplb::detail {

template <typename T>
double lane_sum(std::span<const T> row) {
  double lanes[4] = {0, 0, 0, 0};
  const size_t size = row.size();
  size_t idx = 0;
  for (; idx + 4 <= size; idx += 4) {
    for (size_t lane = 0; lane < 4; ++lane) lanes[lane] += static_cast<double>(row[idx + lane]);
  }
  for (; idx < size; ++idx) lanes[idx % 4] += static_cast<double>(row[idx]);
  return (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
}

/// Whether every value of `row` is a finite, non-negative load; one pass without branches.
template <typename T>
bool all_valid_loads(std::span<const T> row) {
  bool valid = true;
  for (const T value : row) {
    if constexpr (std::is_floating_point_v<T>) {
      // NaN fails both comparisons.
      valid &= (value >= 0) & (value <= std::numeric_limits<T>::max());
    } else {
      valid &= value >= 0;
    }
  }
  return valid;
}

}  // namespace eplb::detail
