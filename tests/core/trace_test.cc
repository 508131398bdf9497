// Tests of step ranges and Trace.
#include "eplb/trace.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "eplb/error.h"
#include "support/check_plan.h"  // EXPECT_THROW_MESSAGE

namespace eplb {
namespace {

// Step s, layer l, expert e holds 100 * s + 10 * l + e, so every sum is easy to check by hand.
Trace make_trace(int64_t num_steps, int64_t num_layers, int64_t num_experts) {
  Trace trace{
      .num_steps = num_steps, .num_layers = num_layers, .num_experts = num_experts, .values = {}};
  for (int64_t s = 0; s < num_steps; ++s) {
    for (int64_t l = 0; l < num_layers; ++l) {
      for (int64_t e = 0; e < num_experts; ++e) {
        trace.values.push_back(static_cast<double>(100 * s + 10 * l + e));
      }
    }
  }
  return trace;
}

std::string malformed_message(const std::string& text) {
  return "parse_step_range: steps = \"" + text +
         "\" must look like A:B, A: or :B with non-negative integers";
}

TEST(TraceTest, ParseStepRangeAcceptsTheThreeForms) {
  const StepRange both = parse_step_range("3:7");
  EXPECT_EQ(both.begin, 3);
  EXPECT_EQ(both.end, 7);
  const StepRange open_end = parse_step_range("12:");
  EXPECT_EQ(open_end.begin, 12);
  EXPECT_EQ(open_end.end, -1);
  const StepRange open_begin = parse_step_range(":100");
  EXPECT_EQ(open_begin.begin, 0);
  EXPECT_EQ(open_begin.end, 100);
}

TEST(TraceTest, ParseStepRangeLeavesEmptyRangesToSumSteps) {
  const StepRange range = parse_step_range("5:2");
  EXPECT_EQ(range.begin, 5);
  EXPECT_EQ(range.end, 2);
}

TEST(TraceTest, ParseStepRangeRejectsMalformedText) {
  for (const std::string text :
       {"x:3", "", ":", "3", "-1:4", "1:-0", "+1:4", "1:2:3", " 1:2", "1:2 ", "1.5:2", "0x1:2",
        "99999999999999999999:"}) {
    SCOPED_TRACE(text);
    EXPECT_THROW_MESSAGE(parse_step_range(text), InvalidArgument, malformed_message(text));
  }
}

TEST(TraceTest, SumStepsAddsTheStepsOfTheRange) {
  const Trace trace = make_trace(4, 2, 3);
  const Loads loads = trace.sum_steps({.begin = 1, .end = 3});
  EXPECT_EQ(loads.num_layers, 2);
  EXPECT_EQ(loads.num_experts, 3);
  // Steps 1 and 2: 100 + 200 plus twice the layer and expert part.
  EXPECT_EQ(loads.values, (std::vector<double>{300, 302, 304, 320, 322, 324}));
}

TEST(TraceTest, SumStepsDefaultsToEveryStep) {
  const Trace trace = make_trace(3, 1, 2);
  EXPECT_EQ(trace.sum_steps().values, (std::vector<double>{300, 303}));
  EXPECT_EQ(trace.sum_steps(parse_step_range("1:")).values, (std::vector<double>{300, 302}));
  EXPECT_EQ(trace.sum_steps(parse_step_range(":1")).values, (std::vector<double>{0, 1}));
}

TEST(TraceTest, SumStepsRejectsRangesOutOfBounds) {
  const Trace trace = make_trace(6, 1, 2);
  EXPECT_THROW_MESSAGE(trace.sum_steps(parse_step_range("5:9")), InvalidArgument,
                       "sum_steps: steps = 5:9 out of range for a trace of 6 steps");
  EXPECT_THROW_MESSAGE(trace.sum_steps(parse_step_range(":7")), InvalidArgument,
                       "sum_steps: steps = 0:7 out of range for a trace of 6 steps");
  EXPECT_THROW_MESSAGE(trace.sum_steps({.begin = -1, .end = 2}), InvalidArgument,
                       "sum_steps: steps = -1:2 out of range for a trace of 6 steps");
  EXPECT_THROW_MESSAGE(trace.sum_steps({.begin = 0, .end = -2}), InvalidArgument,
                       "sum_steps: steps = 0:-2 out of range for a trace of 6 steps");
}

TEST(TraceTest, SumStepsRejectsEmptyRanges) {
  const Trace trace = make_trace(6, 1, 2);
  EXPECT_THROW_MESSAGE(trace.sum_steps(parse_step_range("4:4")), InvalidArgument,
                       "sum_steps: steps = 4:4 is empty in a trace of 6 steps");
  EXPECT_THROW_MESSAGE(trace.sum_steps(parse_step_range("5:2")), InvalidArgument,
                       "sum_steps: steps = 5:2 is empty in a trace of 6 steps");
  EXPECT_THROW_MESSAGE(trace.sum_steps(parse_step_range("6:")), InvalidArgument,
                       "sum_steps: steps = 6: is empty in a trace of 6 steps");
}

TEST(TraceTest, SumStepsRejectsValuesOfTheWrongSize) {
  Trace trace = make_trace(2, 2, 2);
  trace.values.pop_back();
  EXPECT_THROW_MESSAGE(
      trace.sum_steps(), InvalidArgument,
      "sum_steps: values.size() = 7 must equal num_steps * num_layers * num_experts = 8");
}

TEST(TraceTest, StepViewsOneStep) {
  const Trace trace = make_trace(3, 2, 2);
  const LoadMatrix step = trace.step(2);
  EXPECT_EQ(step.num_layers(), 2);
  EXPECT_EQ(step.num_experts(), 2);
  EXPECT_EQ(step.at(0, 0), 200);
  EXPECT_EQ(step.at(1, 1), 211);
}

TEST(TraceTest, StepRejectsIndexOutOfRange) {
  const Trace trace = make_trace(3, 2, 2);
  EXPECT_THROW_MESSAGE(trace.step(3), InvalidArgument,
                       "step: step_idx = 3 out of range for a trace of 3 steps");
  EXPECT_THROW_MESSAGE(trace.step(-1), InvalidArgument,
                       "step: step_idx = -1 out of range for a trace of 3 steps");
}

}  // namespace
}  // namespace eplb
