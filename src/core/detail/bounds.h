#pragma once
// Internal form of the packing lower bound, for callers that already sorted their items.

#include <cstdint>
#include <span>

namespace eplb::detail {

/// packing_lower_bound() of items already sorted by descending weight.
double packing_lower_bound_sorted(std::span<const double> sorted_desc, int64_t num_packs);

}  // namespace eplb::detail
