// Balanced largest differencing; see docs/algorithms.md#differencing. The idea (Karmarkar and
// Karp's differencing, generalized to m packs of equal cardinality) is public; this is our own
// implementation.

#include "core/detail/differencing.h"

#include <algorithm>

namespace eplb::detail {

double assign_differencing(std::span<const double> weights, std::span<const int32_t> sorted,
                           int64_t num_packs, std::span<int32_t> pack_of_item,
                           DifferencingScratch& s) {
  using Subset = DifferencingScratch::Subset;
  const auto num_items = static_cast<int64_t>(weights.size());
  const int64_t num_rounds = num_items / num_packs;
  s.subsets.resize(num_items);
  s.next.assign(num_items, -1);
  s.alive.resize(num_rounds);
  s.difference.resize(num_rounds);
  for (int64_t r = 0; r < num_rounds; ++r) {
    for (int64_t p = 0; p < num_packs; ++p) {
      const int32_t item = sorted[r * num_packs + p];
      // Round r holds the sorted items r*m .. r*m+m-1: already in descending order.
      s.subsets[r * num_packs + p] = {weights[item], item, item};
    }
    s.alive[r] = static_cast<int32_t>(r);
    s.difference[r] = weights[sorted[r * num_packs]] - weights[sorted[r * num_packs + num_packs - 1]];
  }
  s.merged.resize(num_packs);
  for (int64_t remaining = num_rounds; remaining > 1; --remaining) {
    // The two partial partitions with the largest spreads (lower index on ties).
    int64_t first = 0, second = 1;
    if (s.difference[s.alive[second]] > s.difference[s.alive[first]]) std::swap(first, second);
    for (int64_t i = 2; i < remaining; ++i) {
      const double d = s.difference[s.alive[i]];
      if (d > s.difference[s.alive[first]]) {
        second = first;
        first = i;
      } else if (d > s.difference[s.alive[second]]) {
        second = i;
      }
    }
    // Both keep their subsets sorted by descending sum: pair a's i-th heaviest with b's i-th
    // lightest, then restore the order of the merged subsets.
    Subset* a = &s.subsets[s.alive[first] * num_packs];
    Subset* b = &s.subsets[s.alive[second] * num_packs];
    for (int64_t p = 0; p < num_packs; ++p) {
      const Subset& light = b[num_packs - 1 - p];
      s.next[a[p].tail] = light.head;
      s.merged[p] = {a[p].sum + light.sum, a[p].head, light.tail};
    }
    std::sort(s.merged.begin(), s.merged.end(),
              [](const Subset& x, const Subset& y) { return x.sum > y.sum || (x.sum == y.sum && x.head < y.head); });
    std::copy(s.merged.begin(), s.merged.end(), a);
    s.difference[s.alive[first]] = s.merged.front().sum - s.merged.back().sum;
    s.alive[second] = s.alive[remaining - 1];
  }
  const Subset* result = &s.subsets[s.alive[0] * num_packs];
  for (int64_t p = 0; p < num_packs; ++p) {
    for (int32_t item = result[p].head; item >= 0; item = s.next[item]) {
      pack_of_item[item] = static_cast<int32_t>(p);
    }
  }
  return result[0].sum;
}

}  // namespace eplb::detail
