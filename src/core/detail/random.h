#pragma once
// A small seeded random number generator whose output is the same on every platform.

#include <cstdint>

namespace eplb::detail {

/// SplitMix64: fast, statistically adequate for randomized starts, and fully specified here so
/// plans do not depend on a standard library's engine or distribution implementation.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  /// Returns a double uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  /// Returns an integer uniform in [0, bound) (bound > 0).
  uint64_t below(uint64_t bound) { return next() % bound; }

 private:
  uint64_t state_;
};

/// Mixes `seed` with `stream` into an independent seed (per layer, per start).
inline uint64_t mix_seed(uint64_t seed, uint64_t stream) {
  return Random(seed ^ (stream * 0xD1B54A32D192ED03ULL + 0x8CB92BA72F3D8DD7ULL)).next();
}

}  // namespace eplb::detail
