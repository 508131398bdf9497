// Step ranges and the per-step load trace.
#include "eplb/trace.h"

#include <charconv>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "core/detail/check.h"

namespace eplb {
namespace {

// Accepts only a run of decimal digits: std::from_chars alone would take "-0" and stop quietly
// before trailing junk.
std::optional<int64_t> parse_index(std::string_view text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc()) return std::nullopt;  // out of range of int64_t
  return value;
}

// A Trace is a plain struct, so its fields may disagree with its values.
void check_shape(const Trace& trace, const char* function) {
  if (trace.num_steps < 0 || trace.num_layers < 0 || trace.num_experts < 0 ||
      static_cast<int64_t>(trace.values.size()) !=
          trace.num_steps * trace.num_layers * trace.num_experts) {
    detail::throw_invalid(function, ": values.size() = ", trace.values.size(),
                          " must equal num_steps * num_layers * num_experts = ",
                          trace.num_steps * trace.num_layers * trace.num_experts);
  }
}

std::string format_range(StepRange range) {
  std::string text = std::to_string(range.begin) + ":";
  if (range.end != -1) text += std::to_string(range.end);
  return text;
}

// Returns the end of `range` in `trace` after checking that the range is inside and not empty.
int64_t checked_end(const Trace& trace, StepRange range, const char* function) {
  check_shape(trace, function);
  const int64_t end = range.end == -1 ? trace.num_steps : range.end;
  if (range.begin < 0 || end < 0 || end > trace.num_steps) {
    detail::throw_invalid(function, ": steps = ", format_range(range),
                          " out of range for a trace of ", trace.num_steps, " steps");
  }
  if (range.begin >= end) {
    detail::throw_invalid(function, ": steps = ", format_range(range), " is empty in a trace of ",
                          trace.num_steps, " steps");
  }
  return end;
}

}  // namespace

StepRange parse_step_range(std::string_view text) {
  const auto fail = [&]() {
    detail::throw_invalid("parse_step_range: steps = \"", text,
                          "\" must look like A:B, A: or :B with non-negative integers");
  };
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) fail();
  const std::string_view begin_text = text.substr(0, colon);
  const std::string_view end_text = text.substr(colon + 1);
  // ":" alone is none of the three documented forms; the whole trace is StepRange{}.
  if (begin_text.empty() && end_text.empty()) fail();
  StepRange range;
  if (!begin_text.empty()) {
    const std::optional<int64_t> begin = parse_index(begin_text);
    if (!begin) fail();
    range.begin = *begin;
  }
  if (!end_text.empty()) {
    const std::optional<int64_t> end = parse_index(end_text);
    if (!end) fail();
    range.end = *end;
  }
  return range;
}

Loads Trace::sum_steps(StepRange range) const {
  const int64_t end = checked_end(*this, range, "sum_steps");
  const int64_t layer_size = num_layers * num_experts;
  Loads loads{.num_layers = num_layers, .num_experts = num_experts,
              .values = std::vector<double>(static_cast<size_t>(layer_size), 0.0)};
  // Steps are added in order, so the sum is the same on every platform.
  for (int64_t step_idx = range.begin; step_idx < end; ++step_idx) {
    const double* step_values = values.data() + step_idx * layer_size;
    for (int64_t i = 0; i < layer_size; ++i) loads.values[i] += step_values[i];
  }
  return loads;
}

Trace Trace::slice_steps(StepRange range) const {
  const int64_t end = checked_end(*this, range, "slice_steps");
  const int64_t layer_size = num_layers * num_experts;
  return Trace{.num_steps = end - range.begin,
               .num_layers = num_layers,
               .num_experts = num_experts,
               .values = std::vector<double>(values.begin() + range.begin * layer_size,
                                             values.begin() + end * layer_size)};
}

LoadMatrix Trace::step(int64_t step_idx) const {
  check_shape(*this, "step");
  const int64_t layer_size = num_layers * num_experts;
  if (step_idx < 0 || step_idx >= num_steps) {
    detail::throw_invalid("step: step_idx = ", step_idx, " out of range for a trace of ", num_steps,
                          " steps");
  }
  return LoadMatrix(std::span<const double>(values).subspan(step_idx * layer_size, layer_size),
                    num_layers, num_experts);
}

}  // namespace eplb
