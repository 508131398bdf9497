#pragma once
// A float32 sum rounded as PyTorch's CPU `Tensor.sum(-1)` rounds it, for the deepseek policy's
// group loads (the reference sums each group's expert loads with torch).

#include <span>

namespace eplb::detail {

/// Lanes of PyTorch's vectorized inner sum of float32 on x86-64 (checked against torch 2.13 CPU
/// with ATEN_CPU_CAPABILITY avx512, avx2 and default: each sums with 8 lanes).
inline constexpr int kTorchSumLanes = 8;

/// Returns the float32 sum of `values` with torch's CPU summation order for one contiguous row
/// of a reduction with more than one output: rows shorter than kTorchSumLanes go to 4 running
/// partial sums (element i to partial i % 4, the remainder to partial 0, then 0 + 1 + 2 + 3);
/// longer rows are read as blocks of kTorchSumLanes lanes summed the same way lane by lane (blocks
/// to 4 partial vectors, cascading into coarser accumulators every 16 rows of 4 blocks), and the
/// result is the elements past the last whole block, in order, then the lanes, in order.
float torch_cpu_sum(std::span<const float> values);

}  // namespace eplb::detail
