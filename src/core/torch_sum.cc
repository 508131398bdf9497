// PyTorch's CPU float32 summation order (its cascade sum), reproduced for bit-exact group loads.

#include "core/detail/torch_sum.h"

#include <array>
#include <cstdint>

#include "eplb/topology.h"

namespace eplb::detail {
namespace {

using Lanes = std::array<float, kTorchSumLanes>;

/// Running partial sums of a row (torch's ILP factor).
constexpr int64_t kPartials = 4;
/// Accumulator levels of the cascade, and rows of partials (of kPartials blocks each) summed
/// into one level before it carries into the next. Torch widens the step only for rows of more
/// than 2^19 partial rows, far more than kMaxExperts elements make.
constexpr int kLevels = 4;
constexpr int kLevelBits = 4;
constexpr int64_t kLevelStep = int64_t{1} << kLevelBits;
static_assert(kMaxExperts / kPartials <= (int64_t{1} << 19));

void add(Lanes& to, const Lanes& from, int64_t width) {
  for (int64_t lane = 0; lane < width; ++lane) to[lane] += from[lane];
}

void add(Lanes& to, const float* block, int64_t width) {
  for (int64_t lane = 0; lane < width; ++lane) to[lane] += block[lane];
}

/// Adds kPartials consecutive blocks, block k to partial k.
void add_row(std::array<Lanes, kPartials>& partials, const float* row, int64_t width) {
  for (int64_t k = 0; k < kPartials; ++k) add(partials[k], row + k * width, width);
}

/// Torch's row sum of `count` blocks of `width` floats, lane by lane: block b goes to partial
/// b % 4, with a cascade of accumulators, then the leftover blocks to partial 0, then the
/// partials in order.
Lanes cascade_sum(const float* data, int64_t count, int64_t width) {
  const int64_t rows = count / kPartials;
  std::array<std::array<Lanes, kPartials>, kLevels> acc{};
  int64_t row = 0;
  while (row + kLevelStep <= rows) {
    for (int64_t j = 0; j < kLevelStep; ++j, ++row) {
      add_row(acc[0], data + row * kPartials * width, width);
    }
    for (int level = 1; level < kLevels; ++level) {
      for (int64_t k = 0; k < kPartials; ++k) {
        add(acc[level][k], acc[level - 1][k], width);
        acc[level - 1][k] = Lanes{};
      }
      if ((row & ((kLevelStep - 1) << (level * kLevelBits))) != 0) break;
    }
  }
  for (; row < rows; ++row) add_row(acc[0], data + row * kPartials * width, width);
  for (int level = 1; level < kLevels; ++level) {
    for (int64_t k = 0; k < kPartials; ++k) add(acc[0][k], acc[level][k], width);
  }
  std::array<Lanes, kPartials>& partial = acc[0];
  for (int64_t block = rows * kPartials; block < count; ++block) {
    add(partial[0], data + block * width, width);
  }
  for (int64_t k = 1; k < kPartials; ++k) add(partial[0], partial[k], width);
  return partial[0];
}

}  // namespace

float torch_cpu_sum(std::span<const float> values) {
  const auto size = static_cast<int64_t>(values.size());
  if (size < kTorchSumLanes) return cascade_sum(values.data(), size, 1)[0];
  const int64_t blocks = size / kTorchSumLanes;
  const Lanes lanes = cascade_sum(values.data(), blocks, kTorchSumLanes);
  float sum = 0.0f;
  for (int64_t i = blocks * kTorchSumLanes; i < size; ++i) sum += values[i];
  for (const float lane : lanes) sum += lane;
  return sum;
}

}  // namespace eplb::detail
