#pragma once
// Balanced largest differencing (Karmarkar-Karp for packs of equal cardinality).

#include <cstdint>
#include <span>
#include <vector>

namespace eplb::detail {

/// Scratch memory of assign_differencing(), reused across calls.
struct DifferencingScratch {
  struct Subset {
    double sum;
    int32_t head, tail;
  };
  std::vector<Subset> subsets;       // [num_rounds * num_packs]: partial partitions, m subsets each
  std::vector<int32_t> next;         // linked lists of items per subset
  std::vector<int32_t> alive;        // partial partitions not yet merged
  std::vector<double> difference;    // max - min subset sum per partial partition
  std::vector<Subset> merged;
};

/// Packs `weights` into `num_packs` packs of exactly n / m items by balanced largest
/// differencing: the items sorted by descending weight (`sorted`) are cut into k rounds of m
/// items, each a partial partition of m one-item subsets; the two partial partitions with the
/// largest spread (max - min subset sum) are merged, heaviest subset of one with the lightest of
/// the other, until one partition of m k-item subsets is left. Writes each item's pack and
/// returns the heaviest pack's load. O(k m log m + n).
double assign_differencing(std::span<const double> weights, std::span<const int32_t> sorted,
                           int64_t num_packs, std::span<int32_t> pack_of_item,
                           DifferencingScratch& scratch);

}  // namespace eplb::detail
