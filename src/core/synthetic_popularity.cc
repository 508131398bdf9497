// Expert popularity of synthetic traces: the skew of each layer and how it moves, per family.
#include "core/detail/synthetic_popularity.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

namespace eplb::detail {
namespace {

// The skew was fitted to SGLang's DeepSeek-V3 expert statistics, where the per-layer standard
// deviation of log-load is 0.4 to 0.85 and the hottest expert carries 4 to 10 times the mean.
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
// burst-topic and switch: the base popularity drifts five times slower than in drift.
constexpr double kSlowDriftPerStep = 0.0002;
// burst-topic: spread of the log-popularity a burst's own topic adds to the base.
constexpr double kTopicSigma = 0.75;
// switch: steps between two workload switches, uniform.
constexpr int64_t kMinSwitchSteps = 200;
constexpr int64_t kMaxSwitchSteps = 400;
// daily: steps of one period (from the first workload to the second and back).
constexpr int64_t kDayPeriodSteps = 1200;

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
void drift(LayerState& layer, double per_step, Rng& rng) {
  const double keep = 1 - per_step;
  const double noise = layer.sigma * std::sqrt(1 - keep * keep);
  for (double& value : layer.drifting) value = keep * value + noise * rng.normal();
}

void shift(LayerState& layer, Rng& rng) {
  for (double& value : layer.drifting) {
    if (rng.uniform() < kShiftFraction) value = layer.sigma * rng.normal();
  }
  place_hot_experts(layer, rng);
}

// Softmax of the log-popularities `base + hot_boost + offset` (no offset when empty), then
// water-filling so that no share exceeds 1 / top_k: a token picks top_k distinct experts, so no
// expert can receive more than every token.
void compute_shares(std::span<const double> base, const LayerState& layer,
                    std::span<const double> offset, int64_t top_k, std::vector<double>& shares) {
  const size_t num_experts = shares.size();
  double total = 0;
  for (size_t e = 0; e < num_experts; ++e) {
    const double log_share = base[e] + layer.hot_boost[e] + (offset.empty() ? 0.0 : offset[e]);
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

// A smooth periodic weight in [0, 1]: 0 at step 0, 1 half a period later. A smoothstep of a
// triangle wave rather than a cosine, so that no libm call decides the trace.
double daily_weight(int64_t step_idx) {
  const double phase =
      static_cast<double>(step_idx % kDayPeriodSteps) / static_cast<double>(kDayPeriodSteps);
  const double triangle = 1 - std::abs(2 * phase - 1);
  return triangle * triangle * (3 - 2 * triangle);
}

}  // namespace

Popularity::Popularity(const SyntheticTraceOptions& options)
    : family_(options.family),
      top_k_(options.top_k),
      popularity_rng_(options.seed, 2),
      event_rng_(options.seed, 4),
      scratch_(options.num_experts),
      second_shares_(options.num_experts) {
  layers_ = make_layers(options, popularity_rng_);
  if (family_ == TraceFamily::daily) {
    for (LayerState& layer : layers_) {
      layer.second_workload.resize(options.num_experts);
      for (double& value : layer.second_workload) value = layer.sigma * event_rng_.normal();
    }
  }
  if (family_ == TraceFamily::workload_switch) {
    next_switch_step_ = event_rng_.uniform_int(kMinSwitchSteps, kMaxSwitchSteps);
  }
}

void Popularity::begin_step(int64_t step_idx, bool is_prefill, Rng& schedule_rng) {
  is_prefill_ = is_prefill;
  switch (family_) {
    case TraceFamily::drift:
      is_shift_ = schedule_rng.uniform() < kShiftProbability;
      break;
    case TraceFamily::workload_switch:
      is_shift_ = step_idx == next_switch_step_;
      if (is_shift_) next_switch_step_ += event_rng_.uniform_int(kMinSwitchSteps, kMaxSwitchSteps);
      break;
    case TraceFamily::daily:
      second_weight_ = daily_weight(step_idx);
      break;
    case TraceFamily::burst_topic:
    case TraceFamily::stationary:
      break;
  }
}

void Popularity::next_shares(int64_t layer_idx, std::vector<double>& shares) {
  LayerState& layer = layers_[layer_idx];
  const std::span<const double> prefill_offset =
      is_prefill_ ? std::span<const double>(layer.prefill_offset) : std::span<const double>();
  switch (family_) {
    case TraceFamily::drift:
      if (is_shift_) shift(layer, popularity_rng_);
      compute_shares(layer.drifting, layer, prefill_offset, top_k_, shares);
      drift(layer, kDriftPerStep, popularity_rng_);
      break;
    case TraceFamily::burst_topic:
      if (is_prefill_) {
        for (double& value : scratch_) value = kTopicSigma * event_rng_.normal();
        compute_shares(layer.drifting, layer, scratch_, top_k_, shares);
      } else {
        compute_shares(layer.drifting, layer, {}, top_k_, shares);
      }
      drift(layer, kSlowDriftPerStep, popularity_rng_);
      break;
    case TraceFamily::workload_switch:
      if (is_shift_) {
        for (double& value : layer.drifting) value = layer.sigma * popularity_rng_.normal();
      }
      compute_shares(layer.drifting, layer, prefill_offset, top_k_, shares);
      drift(layer, kSlowDriftPerStep, popularity_rng_);
      break;
    case TraceFamily::daily:
      // A mix of two populations of requests, so the shares (not the log-shares) mix.
      compute_shares(layer.drifting, layer, prefill_offset, top_k_, shares);
      compute_shares(layer.second_workload, layer, prefill_offset, top_k_, second_shares_);
      for (size_t e = 0; e < shares.size(); ++e) {
        shares[e] = (1 - second_weight_) * shares[e] + second_weight_ * second_shares_[e];
      }
      break;
    case TraceFamily::stationary:
      compute_shares(layer.drifting, layer, prefill_offset, top_k_, shares);
      break;
  }
}

}  // namespace eplb::detail
