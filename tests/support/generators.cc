#include "support/generators.h"

#include <cmath>

namespace eplb::testing {

std::vector<Distribution> all_distributions() {
  return {Distribution::uniform,    Distribution::zipf,     Distribution::lognormal,
          Distribution::one_hot,    Distribution::with_zeros, Distribution::all_zero,
          Distribution::integer_ties};
}

std::string_view to_string(Distribution distribution) {
  switch (distribution) {
    case Distribution::uniform: return "uniform";
    case Distribution::zipf: return "zipf";
    case Distribution::lognormal: return "lognormal";
    case Distribution::one_hot: return "one_hot";
    case Distribution::with_zeros: return "with_zeros";
    case Distribution::all_zero: return "all_zero";
    case Distribution::integer_ties: return "integer_ties";
  }
  return "unknown";
}

Loads make_loads(Distribution distribution, int64_t num_layers, int64_t num_experts,
                 uint64_t seed) {
  // std::mt19937_64 is specified exactly by the standard; only its raw output is used, so the
  // loads are the same with every standard library.
  std::mt19937_64 engine(seed * 0x9E3779B97F4A7C15ULL + 12345);
  auto uniform01 = [&engine] { return static_cast<double>(engine() >> 11) * 0x1.0p-53; };
  Loads loads{num_layers, num_experts, std::vector<double>(num_layers * num_experts, 0.0)};
  for (int64_t layer = 0; layer < num_layers; ++layer) {
    const int64_t hot = static_cast<int64_t>(engine() % static_cast<uint64_t>(num_experts));
    const double skew = 0.6 + 0.8 * uniform01();
    for (int64_t expert = 0; expert < num_experts; ++expert) {
      double& value = loads.values[layer * num_experts + expert];
      const double u = uniform01();
      switch (distribution) {
        case Distribution::uniform: value = 1000.0 * u; break;
        case Distribution::zipf: {
          const int64_t rank = (expert * 7919 + layer * 31) % num_experts + 1;
          value = std::floor(1e5 / std::pow(static_cast<double>(rank), skew) * (0.9 + 0.2 * u));
          break;
        }
        case Distribution::lognormal: {
          const double v = uniform01();
          const double normal = std::sqrt(-2.0 * std::log(u + 1e-300)) * std::cos(6.283185307179586 * v);
          value = std::floor(100.0 * std::exp(1.2 * normal));
          break;
        }
        case Distribution::one_hot: value = expert == hot ? 1e6 : std::floor(10.0 * u); break;
        case Distribution::with_zeros: value = u < 0.3 ? 0.0 : std::floor(500.0 * u); break;
        case Distribution::all_zero: value = 0.0; break;
        case Distribution::integer_ties: value = static_cast<double>(engine() % 4); break;
      }
    }
  }
  return loads;
}

}  // namespace eplb::testing
