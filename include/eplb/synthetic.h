#pragma once
// Seeded synthetic traces that look like real DeepSeek-V3 serving, in several named dynamics.

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "eplb/trace.h"

namespace eplb {

/// How expert popularity moves over a synthetic trace (docs/online.md, "Trace families").
enum class TraceFamily {
  /// The original generator: decode steps of 24-200 tokens, prefill bursts of 2,048-32,768
  /// tokens (3 % of steps) routed like the traffic around them, mean-reverting drift (about 0.9
  /// correlation over 100 steps) and rare workload shifts redrawing a fifth of every layer.
  drift,
  /// Decode steps of 50-150 tokens; a prefill burst of 1,000-12,000 tokens on 5 % of steps
  /// (every ~20), each routed by its own prompt's topic (the base log-popularity plus a
  /// Normal(0, 0.75) vector drawn for that burst alone, not the traffic after it); the base
  /// drifts five times slower than in `drift`.
  burst_topic,
  /// Abrupt workload switches: every 200-400 steps the prompt mix changes and every layer's
  /// popularity is redrawn (the hot experts of the model stay); in between, the slow drift of
  /// `burst_topic`.
  workload_switch,
  /// A slow daily-style shift between two fixed workloads: the traffic is a mix whose weight
  /// follows a cosine with a period of 1,200 steps.
  daily,
  /// Stationary popularity: only the sampling noise of the counts changes from step to step.
  stationary,
};

/// Every family, in declaration order.
inline constexpr TraceFamily kAllTraceFamilies[] = {
    TraceFamily::drift, TraceFamily::burst_topic, TraceFamily::workload_switch,
    TraceFamily::daily, TraceFamily::stationary};

/// Returns the name of `family`: "drift", "burst-topic", "switch", "daily", "stationary".
std::string_view to_string(TraceFamily family);
/// Returns the family named `name`; throws InvalidArgument listing the choices otherwise.
TraceFamily parse_trace_family(std::string_view name);

/// Shape and randomness of a synthetic trace.
struct SyntheticTraceOptions {
  int64_t num_steps = 300;
  int64_t num_layers = 58;
  int64_t num_experts = 256;
  /// Experts each token is routed to.
  int64_t top_k = 8;
  /// Chance that a step is a prefill burst (thousands to tens of thousands of tokens) rather than
  /// a small decode step; unset: the family's (0.05 for burst-topic, 0.03 for the others).
  std::optional<double> prefill_probability = std::nullopt;
  uint64_t seed = 0;
  TraceFamily family = TraceFamily::drift;
};

/// The prefill probability `options` gives: its own, else its family's.
double prefill_probability(const SyntheticTraceOptions& options);

/// Generates a trace whose per-step counts are mostly small decode batches with occasional
/// prefill bursts, whose expert popularity is skewed differently in every layer and moves as
/// `family` says. Deterministic: the same options give the same trace on every platform (eplb's
/// own random number generator and samplers, not the standard library's distributions); the
/// drift family gives the traces it gave before families existed. Throws InvalidArgument for
/// non-positive sizes, `top_k > num_experts` or a probability outside [0, 1].
/// `progress`, when given, is called with the steps done and the total, about a hundred times.
Trace generate_trace(const SyntheticTraceOptions& options,
                     const std::function<void(int64_t done, int64_t total)>& progress = {});

}  // namespace eplb
