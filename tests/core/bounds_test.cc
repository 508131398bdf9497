#include "eplb/bounds.h"

#include <algorithm>
#include <vector>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "support/check_plan.h"
#include "support/generators.h"

namespace eplb {
namespace {

// Optimal heaviest pack by exhaustive assignment (tiny instances only).
double brute_force_packing(const std::vector<double>& items, int64_t num_packs, size_t next,
                           std::vector<double>& weight, std::vector<int64_t>& size) {
  if (next == items.size()) return *std::max_element(weight.begin(), weight.end());
  const int64_t per_pack = int64_t(items.size()) / num_packs;
  double best = 1e300;
  for (int64_t p = 0; p < num_packs; ++p) {
    if (size[p] == per_pack) continue;
    weight[p] += items[next];
    ++size[p];
    best = std::min(best, brute_force_packing(items, num_packs, next + 1, weight, size));
    weight[p] -= items[next];
    --size[p];
  }
  return best;
}

TEST(BoundsTest, PackingBoundNeverExceedsTheOptimum) {
  for (uint64_t seed = 0; seed < 150; ++seed) {
    SCOPED_TRACE(seed);
    const int64_t num_packs = 2 + int64_t(seed % 3);
    const int64_t per_pack = 1 + int64_t(seed / 3 % 3);
    const Loads loads = testing::make_loads(testing::Distribution::lognormal, 1, num_packs * per_pack, seed);
    std::vector<double> weight(num_packs, 0.0);
    std::vector<int64_t> size(num_packs, 0);
    const double optimum = brute_force_packing(loads.values, num_packs, 0, weight, size);
    EXPECT_LE(packing_lower_bound(loads.values, num_packs), optimum + 1e-9);
  }
}

TEST(BoundsTest, PackingBoundUsesCardinality) {
  // Two packs of two: {10, 1} and {9, 8} is optimal at 17; the average is only 14, but of the
  // three heaviest items two share a pack: 9 + 8 = 17.
  EXPECT_DOUBLE_EQ(packing_lower_bound(std::vector<double>{10, 9, 8, 1}, 2), 17.0);
  // One item per pack: the heaviest item.
  EXPECT_DOUBLE_EQ(packing_lower_bound(std::vector<double>{3, 7, 5}, 3), 7.0);
}

TEST(BoundsTest, GlobalBoundIsTheLargerOfAverageAndReplicaLoad) {
  const std::vector<double> values{600, 560, 120, 120, 20, 10, 10, 10};
  const LoadMatrix loads(std::span<const double>(values), 1, 8);
  // Reference section 5: max(1450 / 8, optimal max replica load) = 181.25.
  EXPECT_DOUBLE_EQ(global_lower_bounds(loads, Topology(16, 1, 1, 8))[0], 181.25);
  // With 2 GPUs the average dominates.
  EXPECT_DOUBLE_EQ(global_lower_bounds(loads, Topology(16, 1, 1, 2))[0], 725.0);
}

TEST(BoundsTest, RejectsPacksThatDoNotDivideItems) {
  EXPECT_THROW_MESSAGE(packing_lower_bound(std::vector<double>{1, 2, 3}, 2), InvalidArgument,
                       "packing_lower_bound: items size = 3 must be a positive multiple of "
                       "num_packs = 2");
}

}  // namespace
}  // namespace eplb
