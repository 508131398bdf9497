#pragma once
// Seeded load generators shared by tests, benchmarks and fuzzers.

#include <cstdint>
#include <random>
#include <string_view>
#include <vector>

#include "eplb/load_matrix.h"

namespace eplb::testing {

/// Shapes of synthetic load distributions.
enum class Distribution { uniform, zipf, lognormal, one_hot, with_zeros, all_zero, integer_ties };

/// All distributions, for loops over them.
std::vector<Distribution> all_distributions();
std::string_view to_string(Distribution distribution);

/// Returns `[num_layers, num_experts]` loads of `distribution`, deterministic in `seed`.
Loads make_loads(Distribution distribution, int64_t num_layers, int64_t num_experts, uint64_t seed);

}  // namespace eplb::testing
