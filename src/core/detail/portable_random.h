#pragma once
// eplb's own random number generator, samplers, exp and log: synthetic traces must not depend on
// the platform's standard library distributions or libm.

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace eplb::detail {

// Poisson means from here on are sampled as a rounded normal.
inline constexpr double kExactPoissonLimit = 30;


// exp and log built from +, -, *, / and exact scaling, so a trace does not depend on which libm
// the platform ships. Accuracy near 1 ulp is plenty; only reproducibility matters.
inline constexpr double kLn2 = 0.6931471805599453;
// ln(2) split so that n * kLn2High is exact for the exponents exp() meets (fdlibm's constants).
inline constexpr double kLn2High = 6.93147180369123816490e-01;
inline constexpr double kLn2Low = 1.90821492927058770002e-10;

// 1 / k for the Poisson recurrence, which would otherwise wait on a division per term.
inline constexpr std::array<double, 128> kReciprocals = [] {
  std::array<double, 128> reciprocals{};
  for (size_t k = 1; k < reciprocals.size(); ++k) reciprocals[k] = 1.0 / static_cast<double>(k);
  return reciprocals;
}();

// 1 / k! for the Taylor series of exp.
inline constexpr std::array<double, 14> kExpCoefficients = [] {
  std::array<double, 14> coefficients{1.0};
  for (size_t k = 1; k < coefficients.size(); ++k) {
    coefficients[k] = coefficients[k - 1] / static_cast<double>(k);
  }
  return coefficients;
}();

inline double portable_exp(double x) {
  if (x < -745) return 0;
  const double n = std::floor(x / kLn2 + 0.5);
  // |r| <= ln(2) / 2, so terms up to r^13 / 13! reach double precision.
  const double r = (x - n * kLn2High) - n * kLn2Low;
  const double* coefficients = kExpCoefficients.data();
  double sum = coefficients[13];
  for (int k = 12; k >= 0; --k) sum = sum * r + coefficients[k];
  return std::ldexp(sum, static_cast<int>(n));
}

inline double portable_log(double x) {
  int exponent = 0;
  double mantissa = std::frexp(x, &exponent);
  if (mantissa < 0.7071067811865476) {
    mantissa *= 2;
    --exponent;
  }
  // log(m) = 2 atanh(z) with |z| < 0.172: eleven odd terms reach double precision.
  const double z = (mantissa - 1) / (mantissa + 1);
  const double z2 = z * z;
  double sum = 0;
  for (int k = 21; k >= 1; k -= 2) sum = 1.0 / k + sum * z2;
  return exponent * kLn2 + 2 * z * sum;
}

inline uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// xoshiro256** (Blackman and Vigna), seeded through splitmix64; one stream per purpose so that,
// e.g., a different prefill_probability leaves the popularity drift unchanged.
class Rng {
 public:
  Rng(uint64_t seed, uint64_t stream) {
    uint64_t state = seed ^ (stream * 0xD1B54A32D192ED03ULL);
    s0_ = splitmix64(state);
    s1_ = splitmix64(state);
    s2_ = splitmix64(state);
    s3_ = splitmix64(state);
  }

  uint64_t next() {
    const uint64_t result = rotl(s1_ * 5, 7) * 9;
    const uint64_t t = s1_ << 17;
    s2_ ^= s0_;
    s3_ ^= s1_;
    s1_ ^= s2_;
    s0_ ^= s3_;
    s2_ ^= t;
    s3_ = rotl(s3_, 45);
    return result;
  }

  /// Returns a uniform double in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double low, double high) { return low + (high - low) * uniform(); }
  /// Returns a uniform integer in [low, high]; the modulo bias is below 2^-40 for our ranges.
  int64_t uniform_int(int64_t low, int64_t high) {
    return low + static_cast<int64_t>(next() % static_cast<uint64_t>(high - low + 1));
  }

  /// Returns a standard normal (polar form of Box-Muller: no trigonometry, so no libm).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u = 0, v = 0, s = 0;
    do {
      u = uniform(-1, 1);
      v = uniform(-1, 1);
      s = u * u + v * v;
    } while (s >= 1 || s == 0);
    const double factor = std::sqrt(-2 * portable_log(s) / s);
    spare_ = v * factor;
    has_spare_ = true;
    return u * factor;
  }

  /// Returns a Poisson sample: inversion of the distribution function for small means (exact up
  /// to rounding; one uniform per sample), a rounded normal for large ones.
  int64_t poisson(double mean) {
    if (mean <= 0) return 0;
    if (mean < kExactPoissonLimit) {
      const double target = uniform();
      double probability = portable_exp(-mean);
      double cumulative = probability;
      const double* reciprocals = kReciprocals.data();
      size_t count = 0;
      // Once the terms underflow the sum stops growing; a target that rounding left above the
      // final sum then ends here instead of looping forever.
      while (target >= cumulative && probability > 0) {
        ++count;
        probability *= mean * (count < kReciprocals.size() ? reciprocals[count]
                                                           : 1.0 / static_cast<double>(count));
        cumulative += probability;
      }
      return static_cast<int64_t>(count);
    }
    const double sample = std::floor(mean + std::sqrt(mean) * normal() + 0.5);
    return std::max<int64_t>(0, static_cast<int64_t>(sample));
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  // Four words rather than an array: the generator is the hot loop of unoptimized test builds.
  uint64_t s0_ = 0, s1_ = 0, s2_ = 0, s3_ = 0;
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace eplb::detail
