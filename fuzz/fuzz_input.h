#pragma once
// Shared by the fuzzers: requests built from bytes (sizes, options, loads) and the checks.

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <span>
#include <string>
#include <vector>

#include "eplb/error.h"
#include "eplb/load_matrix.h"
#include "eplb/metrics.h"
#include "eplb/packing.h"
#include "eplb/plan.h"
#include "eplb/policy.h"

namespace eplb::fuzz {

/// Reports a broken invariant on stderr and aborts, so that the fuzzer saves the input.
[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "eplb fuzz: %s\n", what.c_str());
  std::abort();
}

/// Hands out the input bytes in order, and zeros once they run out.
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  uint8_t byte() { return position_ < size_ ? data_[position_++] : 0; }
  /// Returns an integer in [`lo`, `hi`], `hi - lo` < 65536.
  int64_t pick(int64_t lo, int64_t hi) {
    const int64_t value = hi - lo < 256 ? byte() : byte() << 8 | byte();
    return lo + value % (hi - lo + 1);
  }
  /// Returns 0, or rarely -1 or 1: added to a size, it makes some requests invalid.
  int64_t rarely_off_by_one() { return pick(0, 31) == 0 ? pick(-1, 1) : 0; }
  /// Returns a valid load: mostly small integers (many ties), else fractions, and rarely the
  /// extremes (the largest double, 1e300, 1e-300, the smallest subnormal).
  double load() {
    const uint8_t kind = byte();
    if (kind < 160) return kind;
    if (kind < 252) return (kind - 160) * 1e6 + byte() / 7.0;
    constexpr double kExtremes[] = {DBL_MAX, 1e300, 1e-300, 5e-324};
    return kExtremes[kind - 252];
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t position_ = 0;
};

/// Loads in one of LoadMatrix's four element types, chosen by the bytes; one input in eight
/// holds one invalid value (NaN, infinite or negative) that LoadMatrix must reject.
class FuzzLoads {
 public:
  FuzzLoads(ByteReader& in, int64_t num_layers, int64_t num_experts)
      : num_layers_(num_layers), num_experts_(num_experts), type_(in.byte() % 4) {
    std::vector<double> values(num_layers * num_experts);
    for (double& value : values) value = in.load();
    if (const uint8_t poison = in.byte(); poison % 8 == 0) {
      constexpr double kInvalid[] = {NAN, INFINITY, -1.0, -INFINITY};
      values[in.pick(0, static_cast<int64_t>(values.size()) - 1)] = kInvalid[poison / 8 % 4];
    }
    for (const double value : values) {
      f64_.push_back(value);
      const double in_float_range = std::isfinite(value) ? std::min(value, double{FLT_MAX}) : value;
      f32_.push_back(static_cast<float>(in_float_range));
      i32_.push_back(to_integer<int32_t>(value));
      i64_.push_back(to_integer<int64_t>(value));
    }
  }

  LoadMatrix view() const {
    switch (type_) {
      case 0: return LoadMatrix(std::span<const double>(f64_), num_layers_, num_experts_);
      case 1: return LoadMatrix(std::span<const float>(f32_), num_layers_, num_experts_);
      case 2: return LoadMatrix(std::span<const int32_t>(i32_), num_layers_, num_experts_);
      default: return LoadMatrix(std::span<const int64_t>(i64_), num_layers_, num_experts_);
    }
  }

 private:
  // Invalid values stay invalid (-1); large ones saturate.
  template <typename T>
  static T to_integer(double value) {
    if (std::isnan(value) || value < 0) return -1;
    constexpr auto kMax = std::numeric_limits<T>::max();
    return value >= static_cast<double>(kMax) ? kMax : static_cast<T>(value);
  }

  int64_t num_layers_, num_experts_;
  int type_;
  std::vector<double> f64_;
  std::vector<float> f32_;
  std::vector<int32_t> i32_;
  std::vector<int64_t> i64_;
};

/// Returns options of rebalance_experts(): any policy and packer, effort 1 to 3, 1 to 3 threads;
/// a quarter of them exclude GPUs (`active_gpus`, now and then of the wrong length), a quarter
/// allow cross-node replicas.
inline RebalanceOptions read_options(ByteReader& in, int64_t num_gpus) {
  RebalanceOptions options{.policy = kAllPolicies[in.pick(0, 2)],
                           .packer = static_cast<PackingStrategy>(in.pick(0, 2)),
                           .effort = in.pick(1, 3),
                           .seed = in.byte(),
                           .threads = in.pick(1, 3)};
  if (in.pick(0, 3) == 0) options.cross_node_replicas = in.pick(0, 16);
  if (in.pick(0, 3) == 0) {
    const int64_t size = std::max<int64_t>(num_gpus + in.rarely_off_by_one(), 0);
    for (int64_t gpu = 0; gpu < size; ++gpu) options.active_gpus.push_back(in.pick(0, 3) != 0);
  }
  return options;
}

/// Aborts unless validate() accepts `plan` with `options`.
inline void require_valid(const Plan& plan, const Topology& topology,
                          const ValidateOptions& options) {
  try {
    validate(plan, topology, options);
  } catch (const Error& error) {
    fail(std::string("validate() rejected the plan: ") + error.what());
  }
}

/// Aborts when some layer's bound is not finite (LoadMatrix refuses layers whose sum overflows)
/// or its heaviest GPU is lighter than the bound, beyond rounding: relative for normal loads,
/// absolute for subnormal ones (5e-324 / 2 is 0).
inline void require_lower_bound_holds(const PlanMetrics& metrics) {
  for (size_t layer = 0; layer < metrics.lower_bound.size(); ++layer) {
    const double bound = metrics.lower_bound[layer];
    const double slack = std::max(bound * 1e-9, 1e-300);
    if (!std::isfinite(bound)) fail("layer " + std::to_string(layer) + ": lower bound not finite");
    if (!(metrics.max_gpu_load[layer] >= bound - slack)) {
      fail("layer " + std::to_string(layer) + ": heaviest GPU below the lower bound");
    }
  }
}

}  // namespace eplb::fuzz
