// Synthetic DeepSeek-V3-like traces from eplb's own random number generator and samplers.
#include "eplb/synthetic.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/detail/check.h"
#include "core/detail/portable_random.h"
#include "core/detail/synthetic_popularity.h"
#include "eplb/topology.h"  // kMaxLayers, kMaxExperts

namespace eplb {
namespace {

using detail::portable_exp;
using detail::portable_log;
using detail::Rng;

// The shape of the workload. Step sizes follow the public vLLM DeepSeek-V3 trace (decode batches
// of a few dozen to ~200 tokens, so ~97 % of counts stay below 48, and rare prefill bursts of
// thousands).
struct StepSizes {
  int64_t min_decode_tokens;
  int64_t max_decode_tokens;
  double min_prefill_tokens;
  double max_prefill_tokens;
};
constexpr StepSizes kDefaultSizes{24, 200, 2048, 32768};
constexpr double kDefaultPrefillProbability = 0.03;
// burst-topic: decode steps of about 100 tokens, a burst every ~20 steps.
constexpr StepSizes kBurstTopicSizes{50, 150, 1000, 12000};
constexpr double kBurstTopicPrefillProbability = 0.05;
constexpr int64_t kMaxTraceValues = int64_t{1} << 28;

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
int64_t draw_tokens(bool is_prefill, const StepSizes& sizes, Rng& rng) {
  if (!is_prefill) return rng.uniform_int(sizes.min_decode_tokens, sizes.max_decode_tokens);
  const double log_tokens = rng.uniform(portable_log(sizes.min_prefill_tokens),
                                        portable_log(sizes.max_prefill_tokens));
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
  const double probability = prefill_probability(options);
  if (!(probability >= 0 && probability <= 1)) {
    detail::throw_invalid("generate_trace: prefill_probability = ", probability,
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

std::string_view to_string(TraceFamily family) {
  switch (family) {
    case TraceFamily::drift: return "drift";
    case TraceFamily::burst_topic: return "burst-topic";
    case TraceFamily::workload_switch: return "switch";
    case TraceFamily::daily: return "daily";
    case TraceFamily::stationary: return "stationary";
  }
  return "unknown";
}

TraceFamily parse_trace_family(std::string_view name) {
  std::string names;
  for (TraceFamily family : kAllTraceFamilies) {
    if (to_string(family) == name) return family;
    names += names.empty() ? "" : ", ";
    names += to_string(family);
  }
  detail::throw_invalid("trace family = \"", name, "\" is not one of: ", names);
}

double prefill_probability(const SyntheticTraceOptions& options) {
  return options.prefill_probability.value_or(options.family == TraceFamily::burst_topic
                                                  ? kBurstTopicPrefillProbability
                                                  : kDefaultPrefillProbability);
}

Trace generate_trace(const SyntheticTraceOptions& options,
                     const std::function<void(int64_t done, int64_t total)>& progress) {
  check_options(options);
  Trace trace{.num_steps = options.num_steps, .num_layers = options.num_layers,
              .num_experts = options.num_experts,
              .values = std::vector<double>(static_cast<size_t>(
                  options.num_steps * options.num_layers * options.num_experts))};
  const double probability = prefill_probability(options);
  const StepSizes& sizes =
      options.family == TraceFamily::burst_topic ? kBurstTopicSizes : kDefaultSizes;
  Rng schedule_rng(options.seed, 1);
  Rng count_rng(options.seed, 3);
  detail::Popularity popularity(options);
  std::vector<double> shares(options.num_experts);
  std::span<double> out(trace.values);
  const int64_t progress_every = std::max<int64_t>(1, options.num_steps / 100);
  for (int64_t step_idx = 0; step_idx < options.num_steps; ++step_idx) {
    const bool is_prefill = schedule_rng.uniform() < probability;
    const int64_t tokens = draw_tokens(is_prefill, sizes, schedule_rng);
    popularity.begin_step(step_idx, is_prefill, schedule_rng);
    for (int64_t layer_idx = 0; layer_idx < options.num_layers; ++layer_idx) {
      popularity.next_shares(layer_idx, shares);
      sample_counts(shares, tokens, options.top_k, count_rng,
                    out.subspan((step_idx * options.num_layers + layer_idx) * options.num_experts,
                                options.num_experts));
    }
    if (progress && ((step_idx + 1) % progress_every == 0 || step_idx + 1 == options.num_steps)) {
      progress(step_idx + 1, options.num_steps);
    }
  }
  return trace;
}

}  // namespace eplb
