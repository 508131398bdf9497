// torch_cpu_sum() rounds as torch's CPU Tensor.sum(-1) of float32 rounds (the Python
// differential test checks it against torch itself across sizes).

#include "core/detail/torch_sum.h"

#include <gtest/gtest.h>

#include <vector>

namespace eplb::detail {
namespace {

constexpr float kTwo24 = 16777216.0f;  // 2^24: adding 1 to it rounds back (ties to even)

TEST(TorchSumTest, ShortRowsUseFourPartialSums) {
  // Elements 0-3 start the four partials, element 4 joins partial 0 (1 + 2^24 rounds to 2^24),
  // then partials 1-3 each add 1 that rounds away. In order, 1 + 1 + 1 + 1 + 2^24 = 2^24 + 4.
  const std::vector<float> values = {1, 1, 1, 1, kTwo24};
  EXPECT_EQ(torch_cpu_sum(values), kTwo24);
  const std::vector<float> reversed = {kTwo24, 1, 1, 1, 1};
  EXPECT_EQ(torch_cpu_sum(reversed), kTwo24);
  const std::vector<float> three = {0.5f, 0.25f, 0.125f};
  EXPECT_EQ(torch_cpu_sum(three), 0.875f);
}

TEST(TorchSumTest, LongRowsAddTheTailBeforeTheLanes) {
  // Nine elements: one block of 8 lanes and a tail of one. The tail (2^24) comes first, then
  // each lane's 1 rounds away; in order the eight 1s would be added before 2^24.
  std::vector<float> values(8, 1.0f);
  values.push_back(kTwo24);
  EXPECT_EQ(torch_cpu_sum(values), kTwo24);
  // Eight elements: the lanes in order, the same as a running sum.
  std::vector<float> eight(7, 1.0f);
  eight.push_back(kTwo24);
  EXPECT_EQ(torch_cpu_sum(eight), kTwo24 + 8.0f);
}

TEST(TorchSumTest, BlocksGoToFourPartialVectors) {
  // 40 elements: 5 blocks of 8; blocks 0-3 start the partial vectors and block 4 joins partial 0.
  // Lane 0 holds 2^24 in block 4 only and 1 in blocks 0-3: its partial 0 is 1 + 2^24 = 2^24, and
  // partials 1-3 then add 1 each, which rounds away; every other lane holds 0.
  std::vector<float> values(40, 0.0f);
  for (int block = 0; block < 4; ++block) values[block * 8] = 1.0f;
  values[32] = kTwo24;
  EXPECT_EQ(torch_cpu_sum(values), kTwo24);
}

TEST(TorchSumTest, EmptyAndZeroRows) {
  EXPECT_EQ(torch_cpu_sum({}), 0.0f);
  EXPECT_EQ(torch_cpu_sum(std::vector<float>(700, 0.0f)), 0.0f);
  // Exact sums do not depend on the order.
  EXPECT_EQ(torch_cpu_sum(std::vector<float>(1031, 2.0f)), 2062.0f);
}

}  // namespace
}  // namespace eplb::detail
