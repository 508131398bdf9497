// Axes of the charts: data ranges with padding, ticks on 1-2-5 steps and their labels.
#include "io/detail/chart_axis.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

namespace eplb::io::detail {
namespace {

constexpr int kMaxTicks = 50;

// The smallest step of the 1-2-5 sequence (..., 0.5, 1, 2, 5, 10, ...) at or above `raw`.
double nice_step(double raw) {
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double mantissa = raw / magnitude;
  constexpr double kSlack = 1e-9;  // absorbs rounding of raw / magnitude
  const double factor = mantissa <= 1 + kSlack   ? 1
                        : mantissa <= 2 + kSlack ? 2
                        : mantissa <= 5 + kSlack ? 5
                                                 : 10;
  return factor * magnitude;
}

std::vector<double> tick_values(Range range, double step) {
  std::vector<double> ticks;
  if (!(step > 0) || !std::isfinite(step)) return ticks;
  double k = std::ceil(range.low / step - 1e-9);
  const double last = std::floor(range.high / step + 1e-9);
  for (int count = 0; count < kMaxTicks && k <= last; ++count, ++k) {
    double value = k * step;
    if (std::abs(value) < step * 1e-9) value = 0;  // not -0 or 1e-17
    if (std::isfinite(value)) ticks.push_back(value);
  }
  return ticks;
}

// Fixed decimals enough to tell ticks `step` apart; scientific notation for very large or small
// values, which fixed notation would spell out in too many digits.
std::string tick_label(double value, double step, Range range) {
  const double largest = std::max(std::abs(range.low), std::abs(range.high));
  char buffer[64];
  std::to_chars_result result;
  if (largest >= 1e6 || step < 1e-4) {
    if (value == 0) return "0";  // rather than 0.0e+00
    const double digits = std::floor(std::log10(largest)) - std::floor(std::log10(step));
    const int precision = static_cast<int>(std::clamp(digits, 0.0, 10.0));
    result = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::scientific,
                           precision);
  } else {
    const double digits = std::ceil(-std::log10(step) - 1e-9);
    const int decimals = static_cast<int>(std::clamp(digits, 0.0, 10.0));
    result = std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed,
                           decimals);
  }
  return std::string(buffer, result.ptr);
}

}  // namespace

Range padded_range(double low, double high, double padding) {
  if (!(low <= high)) return {};
  if (low == high) {
    const double half = low == 0 ? 1 : std::abs(low) * 0.1;
    return {low - half, high + half};
  }
  const double pad = (high - low) * padding;
  return std::isfinite(pad) ? Range{low - pad, high + pad} : Range{low, high};
}

double fraction(Range range, double value) {
  const double result = (value - range.low) / (range.high - range.low);
  return std::isfinite(result) ? result : 0.5;
}

Axis make_axis(Range range, double length, double spacing, double label_width) {
  Axis axis{range, {}, {}};
  const double span = range.high - range.low;
  double step = nice_step(span / std::max(2.0, std::floor(length / spacing)));
  for (int attempt = 0; attempt < 10; ++attempt, step = nice_step(step * (1 + 1e-6))) {
    axis.ticks = tick_values(range, step);
    axis.labels.clear();
    size_t widest = 0;
    for (const double tick : axis.ticks) {
      axis.labels.push_back(tick_label(tick, step, range));
      widest = std::max(widest, axis.labels.back().size());
    }
    const double room = step / span * length;
    if (label_width == 0 || room >= static_cast<double>(widest + 2) * label_width) break;
  }
  return axis;
}

}  // namespace eplb::io::detail
