#pragma once
// Line charts of replay results (one series per policy over time windows) as SVG or PNG, drawn
// without any third-party library.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "eplb/error.h"  // the exceptions the renderers throw

namespace eplb::io {

/// One line of a panel: the points (`x[i]`, `y[i]`), joined in their order. A point whose x or y
/// is not finite is skipped and breaks the line; a point with no finite neighbour is drawn as a
/// lone marker.
struct ChartSeries {
  std::string name;
  std::vector<double> x;
  std::vector<double> y;
};

/// One plot of a chart, with its own y axis (autoscaled to its series) and legend.
struct ChartPanel {
  std::string title;
  std::string y_label;
  std::vector<ChartSeries> series;
};

/// Panels stacked vertically that share the x axis range (the range of every panel's x values).
struct Chart {
  std::string title;
  std::string x_label;
  std::vector<ChartPanel> panels;
  /// Pixels (SVG user units), each in [kMinChartSize, kMaxChartSize].
  int width = 960;
  int panel_height = 320;
};

/// Bounds of Chart::width, Chart::panel_height and of the whole image's height (chart_height()).
inline constexpr int kMinChartSize = 200;
inline constexpr int kMaxChartSize = 8000;

/// An sRGB colour.
struct ChartColor {
  uint8_t r = 0;
  uint8_t g = 0;
  uint8_t b = 0;
  friend bool operator==(const ChartColor&, const ChartColor&) = default;
};

/// The chart's background (white), which also fills the panels.
inline constexpr ChartColor kChartBackground{255, 255, 255};

/// Returns the colour of series `index` of a panel: a palette of 10 distinguishable colours,
/// repeated from the 11th series on. The same index has the same colour in every panel, so a
/// policy keeps its colour when each panel lists the policies in the same order.
ChartColor chart_series_color(size_t index);

/// Returns the height in pixels of the rendered chart: a band for the title, `panel_height` per
/// panel and a band for the x label. Throws InvalidArgument as render_svg().
int chart_height(const Chart& chart);

/// Returns `chart` as an SVG 1.1 document of chart.width x chart_height(chart) user units.
/// Throws InvalidArgument naming the argument: no panels, a width or panel height outside
/// [kMinChartSize, kMaxChartSize], an image taller than kMaxChartSize, a series whose x and y
/// differ in size.
std::string render_svg(const Chart& chart);

/// Returns `chart` as a PNG file (8-bit RGB, chart.width x chart_height(chart) pixels). Throws as
/// render_svg().
std::vector<uint8_t> render_png(const Chart& chart);

/// Writes `chart` as SVG or PNG, chosen by the extension of `path` (".svg" or ".png", in any
/// case). Written as eplb/io/files.h says. Throws InvalidArgument for another
/// extension and as render_svg(), and IoError naming `path`.
void write_chart(const std::filesystem::path& path, const Chart& chart);

/// Returns true when write_chart() would write `path` as SVG, false for PNG; throws
/// InvalidArgument when its extension is neither (or it is `-`: a chart goes to a named file).
/// Lets a command refuse a bad plot path before its work.
bool check_chart_path(const std::filesystem::path& path);

}  // namespace eplb::io
