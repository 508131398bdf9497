// The packers' item sort (radix for many items, insertion for few) must give exactly the order of
// a comparison sort, whatever the size, ties and signed zeros: plans depend on it.
#include "core/detail/radix_sort.h"

#include <algorithm>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace eplb::detail {
namespace {

std::vector<SortKey<double>> keys_of(const std::vector<double>& values) {
  std::vector<SortKey<double>> keys(values.size());
  for (size_t i = 0; i < values.size(); ++i) keys[i] = {values[i], static_cast<int32_t>(i)};
  return keys;
}

void expect_comparison_order(const std::vector<double>& values) {
  auto expected = keys_of(values);
  std::sort(expected.begin(), expected.end(), [](const SortKey<double>& a, const SortKey<double>& b) {
    return a.value > b.value || (a.value == b.value && a.item < b.item);
  });
  auto sorted = keys_of(values);
  std::vector<SortKey<double>> scratch;
  sort_by_descending_value(sorted, scratch);
  ASSERT_EQ(sorted.size(), expected.size());
  for (size_t i = 0; i < sorted.size(); ++i) {
    ASSERT_EQ(sorted[i].item, expected[i].item) << "size " << values.size() << ", position " << i;
  }
}

TEST(RadixSortTest, MatchesAComparisonSortAtEverySize) {
  std::mt19937_64 random(7);
  for (size_t size : {0, 1, 2, 3, 17, 40, 72, 95, 96, 97, 288, 1280}) {
    std::vector<double> spread(size), ties(size), tiny(size);
    std::lognormal_distribution<double> lognormal(0.0, 1.5);
    for (size_t i = 0; i < size; ++i) {
      spread[i] = lognormal(random) * 1e3;
      ties[i] = static_cast<double>(random() % 5);  // many equal values, zeros among them
      tiny[i] = (random() % 2 == 0 ? 1.0 : 1.0 + 1e-15) * 1e-300;
    }
    expect_comparison_order(spread);
    expect_comparison_order(ties);
    expect_comparison_order(tiny);
  }
}

TEST(RadixSortTest, NegativeZeroSortsAsZero) {
  for (size_t size : {6, 200}) {
    std::vector<double> values(size, 0.0);
    for (size_t i = 0; i < size; i += 2) values[i] = -0.0;
    values[size / 2] = 1.0;
    expect_comparison_order(values);
  }
}

}  // namespace
}  // namespace eplb::detail
