#include "eplb/load_matrix.h"

#include <cmath>
#include <limits>
#include <vector>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "support/check_plan.h"

namespace eplb {
namespace {

TEST(LoadMatrixTest, ReadsEveryElementType) {
  const std::vector<double> d{1, 2, 3, 4, 5, 6};
  const std::vector<float> f{1, 2, 3, 4, 5, 6};
  const std::vector<int32_t> i32{1, 2, 3, 4, 5, 6};
  const std::vector<int64_t> i64{1, 2, 3, 4, 5, 6};
  for (const LoadMatrix& m : {LoadMatrix(std::span<const double>(d), 2, 3),
                              LoadMatrix(std::span<const float>(f), 2, 3),
                              LoadMatrix(std::span<const int32_t>(i32), 2, 3),
                              LoadMatrix(std::span<const int64_t>(i64), 2, 3)}) {
    EXPECT_EQ(m.num_layers(), 2);
    EXPECT_EQ(m.num_experts(), 3);
    EXPECT_EQ(m.at(1, 2), 6.0);
    std::vector<double> row(3);
    m.copy_row(1, row);
    EXPECT_EQ(row, (std::vector<double>{4, 5, 6}));
  }
}

TEST(LoadMatrixTest, RoundsToFloatOnceLikeTorch) {
  // 2^24 + 1 is not a float; a direct conversion rounds it to nearest-even, 2^24.
  const std::vector<int64_t> values{(int64_t{1} << 24) + 1};
  std::vector<float> row(1);
  LoadMatrix(std::span<const int64_t>(values), 1, 1).copy_row(0, row);
  EXPECT_EQ(row[0], 16777216.0f);
}

TEST(LoadMatrixTest, RejectsBadShapes) {
  const std::vector<double> values{1, 2, 3};
  EXPECT_THROW_MESSAGE(LoadMatrix(std::span<const double>(values), 2, 2), InvalidArgument,
                       "loads: size = 3 must equal num_layers * num_experts = 2 * 2");
  EXPECT_THROW_MESSAGE(LoadMatrix(std::span<const double>(), 0, 4), InvalidArgument,
                       "loads: num_layers = 0 must be positive");
  EXPECT_THROW_MESSAGE(LoadMatrix(std::span<const double>(), 3, 0), InvalidArgument,
                       "loads: num_experts = 0 must be positive");
}

TEST(LoadMatrixTest, RejectsNanInfiniteAndNegativeLoads) {
  std::vector<double> values{1, 2, 3, 4};
  values[3] = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW_MESSAGE(LoadMatrix(std::span<const double>(values), 2, 2), InvalidArgument,
                       "loads: loads[1][1] = nan must be finite and non-negative");
  values[3] = std::numeric_limits<double>::infinity();
  EXPECT_THROW_MESSAGE(LoadMatrix(std::span<const double>(values), 2, 2), InvalidArgument,
                       "loads: loads[1][1] = inf must be finite and non-negative");
  values[3] = 4;
  values[2] = -1;
  EXPECT_THROW_MESSAGE(LoadMatrix(std::span<const double>(values), 2, 2), InvalidArgument,
                       "loads: loads[1][0] = -1 must be finite and non-negative");
  const std::vector<int32_t> ints{3, -7};
  EXPECT_THROW_MESSAGE(LoadMatrix(std::span<const int32_t>(ints), 1, 2), InvalidArgument,
                       "loads: loads[0][1] = -7 must be finite and non-negative");
}

TEST(LoadMatrixTest, RejectsLayersWhoseSumOverflows) {
  const double huge = std::numeric_limits<double>::max();
  const std::vector<double> values{1, 2, huge, huge};
  EXPECT_THROW_MESSAGE(LoadMatrix(std::span<const double>(values), 2, 2), InvalidArgument,
                       "loads: layer 1 sums to inf, above the limit of 1e+300");
  // Finite, yet close enough to the largest double that sums of replica shares (rounded up) or
  // of layers could overflow: refused too, while the limit itself is accepted.
  const std::vector<double> near_max{huge, 0, 1, 2};
  EXPECT_THROW_MESSAGE(LoadMatrix(std::span<const double>(near_max), 2, 2), InvalidArgument,
                       "loads: layer 0 sums to 1.79769e+308, above the limit of 1e+300");
  const std::vector<double> at_limit{kMaxLayerLoad / 2, kMaxLayerLoad / 2, 1, 2};
  EXPECT_NO_THROW(LoadMatrix(std::span<const double>(at_limit), 2, 2));
}

TEST(LoadMatrixTest, DetectsZeroRows) {
  const std::vector<double> values{0, 0, 1, 0};
  const LoadMatrix m(std::span<const double>(values), 2, 2);
  EXPECT_TRUE(m.is_zero_row(0));
  EXPECT_FALSE(m.is_zero_row(1));
}

}  // namespace
}  // namespace eplb
