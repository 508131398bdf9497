// Tests of the synthetic trace families: names, determinism, step sizes and how each one's
// popularity moves.
#include <gtest/gtest.h>

#include "core/trace_stats.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "eplb/error.h"
#include "eplb/synthetic.h"
#include "support/check_plan.h"  // EXPECT_THROW_MESSAGE

namespace eplb {
namespace {

using testing::correlation;
using testing::window;


// Mean over layers of the correlation between two windows.
double window_correlation(const Trace& trace, int64_t first, int64_t second, int64_t length) {
  double sum = 0;
  for (int64_t l = 0; l < trace.num_layers; ++l) {
    sum += correlation(window(trace, first, first + length, l),
                       window(trace, second, second + length, l));
  }
  return sum / static_cast<double>(trace.num_layers);
}

double step_tokens(const Trace& trace, int64_t step_idx, int64_t top_k) {
  double sum = 0;
  for (int64_t e = 0; e < trace.num_experts; ++e) {
    sum += trace.values[step_idx * trace.num_layers * trace.num_experts + e];
  }
  return sum / static_cast<double>(top_k);
}

// Decode-only traces of a family: windows are sums of many small steps, so sampling noise is
// small and the correlations show the popularity itself.
Trace decode_trace(TraceFamily family, int64_t num_steps) {
  return generate_trace({.num_steps = num_steps, .num_layers = 6, .prefill_probability = 0,
                         .seed = 3, .family = family});
}

TEST(TraceFamilies, NamesRoundTripAndBadNamesListTheChoices) {
  for (const TraceFamily family : kAllTraceFamilies) {
    EXPECT_EQ(parse_trace_family(to_string(family)), family);
  }
  EXPECT_EQ(to_string(TraceFamily::burst_topic), "burst-topic");
  EXPECT_EQ(to_string(TraceFamily::workload_switch), "switch");
  EXPECT_THROW_MESSAGE(parse_trace_family("bursty"), InvalidArgument,
                       "trace family = \"bursty\" is not one of: drift, burst-topic, switch, "
                       "daily, stationary");
}

TEST(TraceFamilies, PrefillProbabilityDefaultsToTheFamilys) {
  EXPECT_EQ(prefill_probability({}), 0.03);
  EXPECT_EQ(prefill_probability({.family = TraceFamily::burst_topic}), 0.05);
  EXPECT_EQ(prefill_probability({.family = TraceFamily::daily}), 0.03);
  EXPECT_EQ(prefill_probability({.prefill_probability = 0.2, .family = TraceFamily::burst_topic}),
            0.2);
  EXPECT_THROW_MESSAGE(
      generate_trace({.prefill_probability = -0.1, .family = TraceFamily::stationary}),
      InvalidArgument, "generate_trace: prefill_probability = -0.1 must be in [0, 1]");
}

TEST(TraceFamilies, EachFamilyIsDeterministicRealizableAndItsOwn) {
  const SyntheticTraceOptions base{.num_steps = 30, .num_layers = 3, .num_experts = 32,
                                   .top_k = 4, .prefill_probability = 0.2, .seed = 7};
  const Trace drift = generate_trace(base);
  for (const TraceFamily family : kAllTraceFamilies) {
    SCOPED_TRACE(std::string(to_string(family)));
    SyntheticTraceOptions options = base;
    options.family = family;
    const Trace trace = generate_trace(options);
    EXPECT_EQ(trace.values, generate_trace(options).values);
    if (family != TraceFamily::drift) {
      EXPECT_NE(trace.values, drift.values);
    }
    for (int64_t s = 0; s < trace.num_steps; ++s) {
      const double tokens = step_tokens(trace, s, options.top_k);
      for (int64_t l = 0; l < trace.num_layers; ++l) {
        double sum = 0;
        for (int64_t e = 0; e < trace.num_experts; ++e) {
          const double count = trace.values[(s * trace.num_layers + l) * trace.num_experts + e];
          ASSERT_GE(count, 0);
          ASSERT_LE(count, tokens);
          sum += count;
        }
        ASSERT_EQ(sum, tokens * static_cast<double>(options.top_k)) << "step " << s;
      }
    }
  }
}

// As SyntheticTest.TraceIsPinnedForAFixedSeed: a change of any family shows up here.
TEST(TraceFamilies, TracesArePinnedForAFixedSeed) {
  const std::vector<uint64_t> expected = {12481061933368365603ULL, 3713279130530199229ULL,
                                         4853996942929051765ULL, 3626594707428952639ULL,
                                         9002760110921642147ULL};
  for (size_t idx = 0; idx < std::size(kAllTraceFamilies); ++idx) {
    const Trace trace = generate_trace({.num_steps = 40, .num_layers = 3, .num_experts = 32,
                                        .top_k = 4, .prefill_probability = 0.1, .seed = 5,
                                        .family = kAllTraceFamilies[idx]});
    uint64_t hash = 14695981039346656037ULL;
    for (const double value : trace.values) {
      hash = (hash ^ static_cast<uint64_t>(value)) * 1099511628211ULL;
    }
    EXPECT_EQ(hash, expected[idx]) << to_string(kAllTraceFamilies[idx])
                                   << ": update only for an intended change of the generator";
  }
}

TEST(TraceFamilies, BurstTopicHasItsStepSizes) {
  const Trace trace = generate_trace(
      {.num_steps = 400, .num_layers = 1, .seed = 2, .family = TraceFamily::burst_topic});
  int64_t num_bursts = 0;
  for (int64_t s = 0; s < trace.num_steps; ++s) {
    const double tokens = step_tokens(trace, s, 8);
    if (tokens >= 1000) {
      ++num_bursts;
      EXPECT_LE(tokens, 12000) << "step " << s;
    } else {
      EXPECT_GE(tokens, 50) << "step " << s;
      EXPECT_LE(tokens, 150) << "step " << s;
    }
  }
  // About one step in 20.
  EXPECT_GE(num_bursts, 8);
  EXPECT_LE(num_bursts, 40);
}

// A burst routes by its own topic: it resembles the decode traffic around it less than a
// drift-family burst does.
TEST(TraceFamilies, BurstTopicBurstsDoNotLookLikeTheTraffic) {
  const auto burst_likeness = [](TraceFamily family) {
    const Trace trace = generate_trace({.num_steps = 600, .num_layers = 4,
                                        .prefill_probability = 0.05, .seed = 4,
                                        .family = family});
    double sum = 0;
    int64_t count = 0;
    for (int64_t s = 0; s + 40 < trace.num_steps; ++s) {
      if (step_tokens(trace, s, 8) < 1000) continue;
      for (int64_t l = 0; l < trace.num_layers; ++l) {
        sum += correlation(window(trace, s, s + 1, l), window(trace, s + 1, s + 41, l));
        ++count;
      }
    }
    return sum / static_cast<double>(count);
  };
  EXPECT_LT(burst_likeness(TraceFamily::burst_topic), burst_likeness(TraceFamily::drift) - 0.1);
}

TEST(TraceFamilies, StationaryDoesNotDrift) {
  const Trace trace = decode_trace(TraceFamily::stationary, 600);
  EXPECT_GT(window_correlation(trace, 0, 500, 100), 0.97);
  const Trace drift = decode_trace(TraceFamily::drift, 600);
  EXPECT_LT(window_correlation(drift, 0, 500, 100), 0.9);
}

// Every 200-400 steps the mix changes: the first 100 steps resemble the next 100 (no switch before
// step 200) far more than steps 400-500 (exactly one switch, as the second comes at 400 or later).
TEST(TraceFamilies, SwitchChangesTheMixAbruptly) {
  const Trace trace = decode_trace(TraceFamily::workload_switch, 500);
  const double before = window_correlation(trace, 0, 100, 100);
  const double across = window_correlation(trace, 0, 400, 100);
  EXPECT_GT(before, 0.95);
  EXPECT_LT(across, before - 0.3);
}

// The daily mix moves to the second workload by mid-period and comes back by its end.
TEST(TraceFamilies, DailyShiftsToTheSecondWorkloadAndBack) {
  const Trace trace = decode_trace(TraceFamily::daily, 1200);
  const double midday = window_correlation(trace, 0, 575, 50);
  const double next_day = window_correlation(trace, 0, 1150, 50);
  EXPECT_LT(midday, 0.6);
  EXPECT_GT(next_day, 0.9);
}

}  // namespace
}  // namespace eplb
