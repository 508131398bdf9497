#pragma once
// Maximum-weight perfect matching of a small square matrix (the assignment problem).

#include <cstdint>
#include <span>
#include <vector>

namespace eplb::detail {

/// Returns, for each row of the row-major `size x size` matrix `weight`, the column it is matched
/// to, so that the matched weights sum to the largest possible total. Hungarian method with
/// potentials, O(size^3); ties are broken deterministically.
std::vector<int64_t> max_weight_assignment(std::span<const int64_t> weight, int64_t size);

/// Greedy stand-in for large matrices: pairs are taken by decreasing weight (lower row, then
/// lower column, on ties). At least half of the optimum, O(size^2 log size).
std::vector<int64_t> greedy_assignment(std::span<const int64_t> weight, int64_t size);

}  // namespace eplb::detail
