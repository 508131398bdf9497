// Synthetic DeepSeek-V3-like traces from eplb's own random number generator and samplers.
#include "eplb/synthetic.h"

#include <algorithm>
#include <functional>
#include <array>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "core/detail/check.h"
#include "eplb/topology.h"  // kMaxLayers, kMaxExperts

namespace eplb {
namespace {

// The shape of the workload. Step sizes follow the public vLLM DeepSeek-V3 trace (decode batches
// of a few dozen to ~200 tokens, so ~97 % of counts stay below 48, and rare prefill bursts of
// thousands); the skew was fitted to SGLang's DeepSeek-V3 expert statistics, where the per-layer
// standard deviation of log-load is 0.4 to 0.85 and the hottest expert carries 4 to 10 times the
// mean.
constexpr int64_t kMinDecodeTokens = 24;
constexpr int64_t kMaxDecodeTokens = 200;
constexpr double kMinPrefillTokens = 2048;
constexpr double kMaxPrefillTokens = 32768;
constexpr double kMinLayerSigma = 0.5;
constexpr double kMaxLayerSigma = 1.0;
constexpr int64_t kMaxHotExperts = 3;
constexpr double kMinHotBoost = 0.8;
constexpr double kMaxHotBoost = 1.8;
// Prompt tokens route a little differently from generated ones.
constexpr double kPrefillSigma = 0.3;
// Mean-reverting drift: the log-popularities keep their spread forever, yet decorrelate to about
// 0.9 over a 100-step window. A deepseek plan on 288 slots / 32 GPUs then scores about 0.95 GPU
// balancedness on its own window and about 0.75 on the next (0.66 is published for the real
// trace, so this one is, if anything, a little kinder).
constexpr double kDriftPerStep = 0.001;
// Rare workload changes (e.g. chat to math prompts) redraw part of every layer at once.
constexpr double kShiftProbability = 0.004;
constexpr double kShiftFraction = 0.2;
// Poisson means from here on are sampled as a rounded normal.
constexpr double kExactPoissonLimit = 30;
constexpr int64_t kMaxTraceValues = int64_t{1} << 28;

// exp and log built from +, -, *, / and exact scaling, so a trace does not depend on which libm
// the platform ships. Accuracy near 1 ulp is plenty; only reproducibility matters.
constexpr double kLn2 = 0.6931471805599453;
// ln(2) split so that n * kLn2High is exact for the exponents exp() meets (fdlibm's constants).
constexpr double kLn2High = 6.93147180369123816490e-01;
constexpr double kLn2Low = 1.90821492927058770002e-10;

// 1 / k for the Poisson recurrence, which would otherwise wait on a division per term.
constexpr std::array<double, 128> kReciprocals = [] {
  std::array<double, 128> reciprocals{};
  for (size_t k = 1; k < reciprocals.size(); ++k) reciprocals[k] = 1.0 / static_cast<double>(k);
  return reciprocals;
}();

// 1 / k! for the Taylor series of exp.
constexpr std::array<double, 14> kExpCoefficients = [] {
  std::array<double, 14> coefficients{1.0};
  for (size_t k = 1; k < coefficients.size(); ++k) {
    coefficients[k] = coefficients[k - 1] / static_cast<double>(k);
  }
  return coefficients;
}();

double portable_exp(double x) {
  if (x < -745) return 0;
  const double n = std::floor(x / kLn2 + 0.5);
  // |r| <= ln(2) / 2, so terms up to r^13 / 13! reach double precision.
  const double r = (x - n * kLn2High) - n * kLn2Low;
  const double* coefficients = kExpCoefficients.data();
  double sum = coefficients[13];
  for (int k = 12; k >= 0; --k) sum = sum * r + coefficients[k];
  return std::ldexp(sum, static_cast<int>(n));
}

double portable_log(double x) {
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

uint64_t splitmix64(uint64_t& state) {
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

// Log-popularity of each expert of one layer: a drifting part, a few hot experts and a fixed
// offset for prompt tokens.
struct LayerState {
  double sigma = 0;
  std::vector<double> drifting;
  std::vector<double> hot_boost;
  std::vector<double> prefill_offset;
};

void place_hot_experts(LayerState& layer, Rng& rng) {
  std::fill(layer.hot_boost.begin(), layer.hot_boost.end(), 0.0);
  const int64_t num_experts = static_cast<int64_t>(layer.hot_boost.size());
  const int64_t num_hot = rng.uniform_int(1, kMaxHotExperts);
  for (int64_t i = 0; i < num_hot; ++i) {
    double& boost = layer.hot_boost[rng.uniform_int(0, num_experts - 1)];
    boost = std::max(boost, rng.uniform(kMinHotBoost, kMaxHotBoost));
  }
}

std::vector<LayerState> make_layers(const SyntheticTraceOptions& options, Rng& rng) {
  std::vector<LayerState> layers(options.num_layers);
  for (LayerState& layer : layers) {
    layer.sigma = rng.uniform(kMinLayerSigma, kMaxLayerSigma);
    layer.drifting.resize(options.num_experts);
    layer.prefill_offset.resize(options.num_experts);
    layer.hot_boost.resize(options.num_experts);
    for (double& value : layer.drifting) value = layer.sigma * rng.normal();
    for (double& value : layer.prefill_offset) value = kPrefillSigma * rng.normal();
    place_hot_experts(layer, rng);
  }
  return layers;
}

// An Ornstein-Uhlenbeck step whose stationary law is Normal(0, sigma), so long traces neither
// flatten nor blow up.
void drift(LayerState& layer, Rng& rng) {
  const double keep = 1 - kDriftPerStep;
  const double noise = layer.sigma * std::sqrt(1 - keep * keep);
  for (double& value : layer.drifting) value = keep * value + noise * rng.normal();
}

void shift(LayerState& layer, Rng& rng) {
  for (double& value : layer.drifting) {
    if (rng.uniform() < kShiftFraction) value = layer.sigma * rng.normal();
  }
  place_hot_experts(layer, rng);
}

// Softmax of the log-popularities, then water-filling so that no share exceeds 1 / top_k: a token
// picks top_k distinct experts, so no expert can receive more than every token.
void compute_shares(const LayerState& layer, bool is_prefill, int64_t top_k,
                    std::vector<double>& shares) {
  const size_t num_experts = shares.size();
  double total = 0;
  for (size_t e = 0; e < num_experts; ++e) {
    const double log_share =
        layer.drifting[e] + layer.hot_boost[e] + (is_prefill ? layer.prefill_offset[e] : 0.0);
    shares[e] = portable_exp(log_share);
    total += shares[e];
  }
  for (double& share : shares) share /= total;
  const double cap = 1.0 / static_cast<double>(top_k);
  std::vector<bool> capped(num_experts, false);
  for (bool changed = true; changed;) {
    changed = false;
    double capped_mass = 0, free_mass = 0;
    for (size_t e = 0; e < num_experts; ++e) (capped[e] ? capped_mass : free_mass) += shares[e];
    if (free_mass <= 0) break;
    const double scale = (1 - capped_mass) / free_mass;
    for (size_t e = 0; e < num_experts; ++e) {
      if (capped[e]) continue;
      shares[e] *= scale;
      if (shares[e] > cap) {
        shares[e] = cap;
        capped[e] = true;
        changed = true;
      }
    }
  }
}

// Draws the routed-token counts of one layer: independent Poissons, then single-token moves
// picked in proportion to the shares until the row sums to tokens * top_k exactly with no expert
// above `tokens`. Such a row is always realizable by tokens choosing top_k distinct experts.
void sample_counts(std::span<const double> shares, int64_t tokens, int64_t top_k, Rng& rng,
                   std::span<double> out) {
  const size_t num_experts = shares.size();
  std::vector<int64_t> counts(num_experts);
  std::vector<double> cumulative(num_experts);
  int64_t total = 0;
  double running = 0;
  for (size_t e = 0; e < num_experts; ++e) {
    const double mean = static_cast<double>(tokens * top_k) * shares[e];
    counts[e] = std::min(rng.poisson(mean), tokens);
    total += counts[e];
    running += shares[e];
    cumulative[e] = running;
  }
  const auto pick = [&]() {
    const double target = rng.uniform() * cumulative.back();
    const auto it = std::upper_bound(cumulative.begin(), cumulative.end(), target);
    return std::min<size_t>(static_cast<size_t>(it - cumulative.begin()), num_experts - 1);
  };
  // Termination: while the row is short, fewer than top_k experts are full, and as no share
  // exceeds 1 / top_k the others hold at least 1 / top_k of the mass; while it is long, every
  // expert with a positive count has a positive share.
  while (total != tokens * top_k) {
    const size_t e = pick();
    if (total < tokens * top_k && counts[e] < tokens) {
      ++counts[e];
      ++total;
    } else if (total > tokens * top_k && counts[e] > 0) {
      --counts[e];
      --total;
    }
  }
  for (size_t e = 0; e < num_experts; ++e) out[e] = static_cast<double>(counts[e]);
}

// Prefill sizes are log-uniform, so bursts of a few thousand tokens are commoner than huge ones.
int64_t draw_tokens(bool is_prefill, Rng& rng) {
  if (!is_prefill) return rng.uniform_int(kMinDecodeTokens, kMaxDecodeTokens);
  const double log_tokens =
      rng.uniform(portable_log(kMinPrefillTokens), portable_log(kMaxPrefillTokens));
  return static_cast<int64_t>(std::floor(portable_exp(log_tokens) + 0.5));
}

void check_size(const char* field, int64_t value, int64_t limit) {
  if (value <= 0) {
    detail::throw_invalid("generate_trace: ", field, " = ", value, " must be positive");
  }
  if (value > limit) {
    detail::throw_invalid("generate_trace: ", field, " = ", value, " must be at most ", limit);
  }
}

void check_options(const SyntheticTraceOptions& options) {
  check_size("num_steps", options.num_steps, kMaxTraceValues);
  check_size("num_layers", options.num_layers, kMaxLayers);
  check_size("num_experts", options.num_experts, kMaxExperts);
  check_size("top_k", options.top_k, kMaxExperts);
  if (options.top_k > options.num_experts) {
    detail::throw_invalid("generate_trace: top_k = ", options.top_k,
                          " must be at most num_experts = ", options.num_experts);
  }
  if (!(options.prefill_probability >= 0 && options.prefill_probability <= 1)) {
    detail::throw_invalid("generate_trace: prefill_probability = ", options.prefill_probability,
                          " must be in [0, 1]");
  }
  const int64_t step_size = options.num_layers * options.num_experts;
  if (options.num_steps > kMaxTraceValues / step_size) {
    detail::throw_invalid("generate_trace: num_steps * num_layers * num_experts = ",
                          options.num_steps, " * ", options.num_layers, " * ", options.num_experts,
                          " must be at most ", kMaxTraceValues);
  }
}

}  // namespace

Trace generate_trace(const SyntheticTraceOptions& options,
                     const std::function<void(int64_t done, int64_t total)>& progress) {
  check_options(options);
  Trace trace{.num_steps = options.num_steps, .num_layers = options.num_layers,
              .num_experts = options.num_experts,
              .values = std::vector<double>(static_cast<size_t>(
                  options.num_steps * options.num_layers * options.num_experts))};
  Rng schedule_rng(options.seed, 1);
  Rng popularity_rng(options.seed, 2);
  Rng count_rng(options.seed, 3);
  std::vector<LayerState> layers = make_layers(options, popularity_rng);
  std::vector<double> shares(options.num_experts);
  std::span<double> out(trace.values);
  const int64_t progress_every = std::max<int64_t>(1, options.num_steps / 100);
  for (int64_t step_idx = 0; step_idx < options.num_steps; ++step_idx) {
    const bool is_prefill = schedule_rng.uniform() < options.prefill_probability;
    const int64_t tokens = draw_tokens(is_prefill, schedule_rng);
    const bool is_shift = schedule_rng.uniform() < kShiftProbability;
    for (int64_t layer_idx = 0; layer_idx < options.num_layers; ++layer_idx) {
      LayerState& layer = layers[layer_idx];
      if (is_shift) shift(layer, popularity_rng);
      compute_shares(layer, is_prefill, options.top_k, shares);
      sample_counts(shares, tokens, options.top_k, count_rng,
                    out.subspan((step_idx * options.num_layers + layer_idx) * options.num_experts,
                                options.num_experts));
      drift(layer, popularity_rng);
    }
    if (progress && ((step_idx + 1) % progress_every == 0 || step_idx + 1 == options.num_steps)) {
      progress(step_idx + 1, options.num_steps);
    }
  }
  return trace;
}

}  // namespace eplb
