#pragma once
// Axes of the charts: the range an axis spans, its ticks and their labels.

#include <string>
#include <vector>

namespace eplb::io::detail {

struct Range {
  double low = 0;
  double high = 1;
};

struct Axis {
  Range range;
  /// Values of the ticks, ascending, within the range.
  std::vector<double> ticks;
  /// Text of each tick, with decimals enough to tell the ticks apart.
  std::vector<std::string> labels;
};

/// Returns [low, high] widened by `padding` of its span at each end, so that markers and lines
/// clear the frame; a single value (low == high) gets a range around it, and no value (low >
/// high) [0, 1].
Range padded_range(double low, double high, double padding);

/// Returns where `value` lies in `range`, 0 at low and 1 at high (0.5 for a degenerate range).
double fraction(Range range, double value);

/// Returns an axis over `range` with ticks on a 1-2-5 step (..., 0.5, 1, 2, 5, 10, ...) about
/// every `spacing` pixels along `length`. With `label_width` (pixels per character; for
/// horizontal axes, whose labels stand side by side) the step grows until labels no longer crowd
/// each other.
Axis make_axis(Range range, double length, double spacing, double label_width = 0);

}  // namespace eplb::io::detail
