#pragma once
// Private interface between the chart layout (chart.cc) and its two back ends: the layout draws
// through a ChartCanvas, which chart_svg.cc turns into SVG elements and chart_png.cc into pixels.

#include <cstddef>
#include <span>
#include <string_view>

#include "eplb/io/chart.h"

namespace eplb::io::detail {

/// A position in pixels: x to the right, y down, (0, 0) the image's top-left corner. Pixel
/// (i, j) covers [i, i + 1) x [j, j + 1), so a 1-pixel line is crisp at a coordinate n + 0.5.
struct ChartPoint {
  double x = 0;
  double y = 0;
};

enum class TextAnchor { start, middle, end };

/// Text is drawn in the embedded bitmap font (font.h) at an integer `scale`: each character
/// advances 6 * scale pixels and its capitals stand 7 * scale pixels above the baseline. The SVG
/// back end uses a monospace font of the same advance, so both back ends share one layout.
inline constexpr int kCharAdvance = 6;
inline constexpr int kCapHeight = 7;

/// Drawing operations the chart layout needs.
class ChartCanvas {
 public:
  virtual ~ChartCanvas() = default;
  virtual void fill_rect(ChartPoint top_left, double width, double height, ChartColor color) = 0;
  /// A straight line of `width` pixels with round ends.
  virtual void line(ChartPoint from, ChartPoint to, double width, ChartColor color) = 0;
  /// Lines through `points` (at least 2) with round joins.
  virtual void polyline(std::span<const ChartPoint> points, double width, ChartColor color) = 0;
  virtual void disc(ChartPoint center, double radius, ChartColor color) = 0;
  /// `text` (UTF-8) with its baseline through `anchor`; `vertical` turns it 90 degrees
  /// counterclockwise about `anchor` (reading upwards, as a y axis label). Empty text draws
  /// nothing.
  virtual void text(ChartPoint anchor, std::string_view text, int scale, ChartColor color,
                    TextAnchor alignment, bool vertical) = 0;
};

/// Width and height of the image of a chart.
struct ChartSize {
  int width = 0;
  int height = 0;
};

/// Checks `chart` and returns its image size. Throws InvalidArgument `<function>: ...`.
ChartSize check_chart(std::string_view function, const Chart& chart);

/// Draws `chart` (checked by check_chart()) on `canvas`, background included.
void draw_chart(const Chart& chart, ChartCanvas& canvas);

/// Returns the characters `text` shows: its UTF-8 code points, each drawn as one glyph.
size_t text_columns(std::string_view text);

/// Returns SVG text of `chart` (checked) for render_svg() and write_chart().
std::string format_chart_svg(const Chart& chart, ChartSize size);

/// Returns the PNG file of `chart` (checked) for render_png() and write_chart().
std::string format_chart_png(const Chart& chart, ChartSize size);

}  // namespace eplb::io::detail
