// Chart layout shared by the SVG and PNG back ends (the positions of frames, ticks, labels and
// legends), the checks of a Chart and the entry points of chart.h.
#include "eplb/io/chart.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <iterator>  // std::size
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "eplb/error.h"
#include "io/detail/chart_axis.h"
#include "io/detail/chart_canvas.h"
#include "io/detail/files.h"

namespace eplb::io {
namespace detail {
namespace {

// The widespread "category10" hues: neighbours in the list contrast, and all stay apart from the
// greys of the frame and grid.
constexpr ChartColor kPalette[] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},  {148, 103, 189},
    {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
};
constexpr ChartColor kTitleColor{17, 17, 17};
constexpr ChartColor kTextColor{51, 51, 51};
constexpr ChartColor kFrameColor{102, 102, 102};
constexpr ChartColor kGridColor{230, 230, 230};

// Narrower charts draw text at scale 1, which leaves room for the plot.
constexpr int kLargeTextWidth = 560;
// Fractions of the data range left empty beyond each end of the axes, so that markers and lines
// clear the frame.
constexpr double kYPadding = 0.06;
constexpr double kXPadding = 0.03;

// Everything draw_chart() places, in pixels; `s` scales every text-related size.
struct Layout {
  int s = 1;
  int title_scale = 2;
  int title_band = 0;
  int height = 0;
  int plot_left = 0;
  int plot_right = 0;
  size_t legend_columns = 0;
  Axis x;
  std::vector<Axis> y;
};

int text_scale(const Chart& chart) { return chart.width >= kLargeTextWidth ? 2 : 1; }

// Series lines stay at least 2 pixels wide, and markers stand out of them.
double series_line_width(const Layout& layout) { return layout.s == 1 ? 2.0 : 2.5; }
double marker_radius(const Layout& layout) { return layout.s == 1 ? 2.5 : 3.5; }

int title_band(const Chart& chart) {
  const int s = text_scale(chart);
  return chart.title.empty() ? 4 * s : kCapHeight * (s + 1) + 14 * s;
}

int64_t chart_pixel_height(const Chart& chart) {
  const int s = text_scale(chart);
  return title_band(chart) + static_cast<int64_t>(chart.panels.size()) * chart.panel_height +
         (chart.x_label.empty() ? 0 : 14 * s);
}

int plot_top(const Chart& chart, const Layout& layout, size_t panel) {
  const int top = layout.title_band + static_cast<int>(panel) * chart.panel_height;
  return top + (chart.panels[panel].title.empty() ? 8 : 20) * layout.s;
}

int plot_bottom(const Chart& chart, const Layout& layout, size_t panel) {
  return layout.title_band + static_cast<int>(panel + 1) * chart.panel_height - 17 * layout.s;
}

bool is_drawn(const ChartSeries& series, size_t i) {
  return std::isfinite(series.x[i]) && std::isfinite(series.y[i]);
}

// `text` cut to `columns` characters, the last three of them "..." when it is cut.
std::string fit_text(std::string_view text, size_t columns) {
  if (text_columns(text) <= columns) return std::string(text);
  const size_t kept = columns > 3 ? columns - 3 : columns;
  size_t end = 0;
  for (size_t seen = 0; end < text.size(); ++end) {
    // A byte 10xxxxxx continues a code point; stop at the start of code point `kept`.
    if ((static_cast<unsigned char>(text[end]) & 0xC0) != 0x80 && seen++ == kept) break;
  }
  return std::string(text.substr(0, end)) + (columns > 3 ? "..." : "");
}

size_t columns_in(double pixels, int scale) {
  return pixels <= 0 ? 0 : static_cast<size_t>(pixels / (kCharAdvance * scale));
}

Layout make_layout(const Chart& chart) {
  Layout layout;
  const int s = layout.s = text_scale(chart);
  layout.title_scale = s + 1;
  layout.title_band = title_band(chart);
  layout.height = static_cast<int>(chart_pixel_height(chart));
  const double char_width = kCharAdvance * s;

  size_t widest_tick = 0;
  size_t longest_name = 0;
  bool has_series = false;
  bool has_y_label = false;
  constexpr double kInfinity = std::numeric_limits<double>::infinity();
  double x_low = kInfinity;
  double x_high = -kInfinity;
  for (size_t p = 0; p < chart.panels.size(); ++p) {
    const ChartPanel& panel = chart.panels[p];
    double y_low = kInfinity;
    double y_high = -kInfinity;
    for (const ChartSeries& series : panel.series) {
      has_series = true;
      longest_name = std::max(longest_name, text_columns(series.name));
      for (size_t i = 0; i < series.x.size(); ++i) {
        if (!is_drawn(series, i)) continue;
        x_low = std::min(x_low, series.x[i]);
        x_high = std::max(x_high, series.x[i]);
        y_low = std::min(y_low, series.y[i]);
        y_high = std::max(y_high, series.y[i]);
      }
    }
    const double plot_height = plot_bottom(chart, layout, p) - plot_top(chart, layout, p);
    const double tick_spacing = std::max(18.0 * s, 28.0);
    layout.y.push_back(
        make_axis(padded_range(y_low, y_high, kYPadding), plot_height, tick_spacing));
    for (const std::string& label : layout.y.back().labels) {
      widest_tick = std::max(widest_tick, label.size());
    }
    has_y_label = has_y_label || !panel.y_label.empty();
  }

  // Every panel gets the same plot columns, so that their shared x axes line up.
  const double y_label_band = (has_y_label ? 17 : 4) * s;
  const double tick_labels_width = static_cast<double>(widest_tick) * char_width;
  layout.plot_left = static_cast<int>(std::ceil(y_label_band + tick_labels_width + 6 * s));
  // Long names are cut rather than squeezing the plots.
  const size_t max_columns = std::max<size_t>(6, columns_in(chart.width / 4.0, s));
  layout.legend_columns = std::min(longest_name, max_columns);
  const int legend_text_width = static_cast<int>(layout.legend_columns) * kCharAdvance * s;
  const int legend_width = has_series ? 28 * s + legend_text_width : 6 * s;
  layout.plot_right = chart.width - legend_width;
  layout.x = make_axis(padded_range(x_low, x_high, kXPadding), layout.plot_right - layout.plot_left,
                       40.0 * s, char_width);
  return layout;
}

// Pixel centre of the row or column containing `position`, where 1-pixel lines are crisp.
double snap(double position) { return std::floor(position) + 0.5; }

void draw_legend(const ChartPanel& panel, const Layout& layout, int top, int bottom,
                 ChartCanvas& canvas) {
  const int s = layout.s;
  const double left = layout.plot_right + 6 * s;
  const double pitch = 12 * s;
  const auto capacity =
      static_cast<size_t>(std::max(1.0, std::floor((bottom - top - 4 * s) / pitch)));
  // When the names do not fit, the last line counts the ones left out.
  const size_t shown = panel.series.size() <= capacity ? panel.series.size() : capacity - 1;
  for (size_t i = 0; i < shown; ++i) {
    const double baseline = top + 11 * s + pitch * static_cast<double>(i);
    const double middle = baseline - kCapHeight * s / 2.0;
    const ChartColor color = chart_series_color(i);
    canvas.line({left, middle}, {left + 12 * s, middle}, series_line_width(layout), color);
    canvas.disc({left + 6 * s, middle}, marker_radius(layout), color);
    canvas.text({left + 16 * s, baseline}, fit_text(panel.series[i].name, layout.legend_columns), s,
                kTextColor, TextAnchor::start, false);
  }
  if (shown < panel.series.size()) {
    const double baseline = top + 11 * s + pitch * static_cast<double>(shown);
    // Built by appending: GCC 12 warns falsely (-Wrestrict) about "+" + std::to_string().
    std::string more = "+";
    more += std::to_string(panel.series.size() - shown);
    more += " more";
    canvas.text({left, baseline}, fit_text(more, layout.legend_columns + 2), s, kTextColor,
                TextAnchor::start, false);
  }
}

void draw_series(const ChartSeries& series, ChartColor color, const Layout& layout, Range y,
                 int top, int bottom, ChartCanvas& canvas) {
  const double left = layout.plot_left;
  const double width = layout.plot_right - layout.plot_left;
  std::vector<ChartPoint> points;
  std::vector<ChartPoint> run;
  const auto end_run = [&] {
    if (run.size() >= 2) canvas.polyline(run, series_line_width(layout), color);
    points.insert(points.end(), run.begin(), run.end());
    run.clear();
  };
  for (size_t i = 0; i < series.x.size(); ++i) {
    if (!is_drawn(series, i)) {
      end_run();
      continue;
    }
    run.push_back({left + fraction(layout.x.range, series.x[i]) * width,
                   bottom - fraction(y, series.y[i]) * (bottom - top)});
  }
  end_run();
  // Markers go over every line of the series, so that each point stays visible.
  for (const ChartPoint& point : points) canvas.disc(point, marker_radius(layout), color);
}

void draw_panel(const Chart& chart, const Layout& layout, size_t index, ChartCanvas& canvas) {
  const ChartPanel& panel = chart.panels[index];
  const Axis& y = layout.y[index];
  const int s = layout.s;
  const int top = plot_top(chart, layout, index);
  const int bottom = plot_bottom(chart, layout, index);
  const int left = layout.plot_left;
  const int right = layout.plot_right;
  const double tick = 3 * s;
  const auto x_position = [&](double value) {
    return snap(left + fraction(layout.x.range, value) * (right - left));
  };
  const auto y_position = [&](double value) {
    return snap(bottom - fraction(y.range, value) * (bottom - top));
  };

  for (const double value : layout.x.ticks) {
    const double x = x_position(value);
    canvas.line({x, top + 1.0}, {x, bottom - 1.0}, 1, kGridColor);
  }
  for (const double value : y.ticks) {
    const double y_pixel = y_position(value);
    canvas.line({left + 1.0, y_pixel}, {right - 1.0, y_pixel}, 1, kGridColor);
  }
  for (size_t i = 0; i < panel.series.size(); ++i) {
    draw_series(panel.series[i], chart_series_color(i), layout, y.range, top, bottom, canvas);
  }

  const ChartPoint corners[] = {
      {left + 0.5, top + 0.5}, {right - 0.5, top + 0.5}, {right - 0.5, bottom - 0.5},
      {left + 0.5, bottom - 0.5}, {left + 0.5, top + 0.5}};
  for (int side = 0; side < 4; ++side) {
    canvas.line(corners[side], corners[side + 1], 1, kFrameColor);
  }
  for (size_t i = 0; i < layout.x.ticks.size(); ++i) {
    const double x = x_position(layout.x.ticks[i]);
    canvas.line({x, bottom + 0.0}, {x, bottom + tick}, 1, kFrameColor);
    canvas.text({x, bottom + tick + 10 * s}, layout.x.labels[i], s, kTextColor, TextAnchor::middle,
                false);
  }
  for (size_t i = 0; i < y.ticks.size(); ++i) {
    const double y_pixel = y_position(y.ticks[i]);
    canvas.line({left - tick, y_pixel}, {left + 0.0, y_pixel}, 1, kFrameColor);
    canvas.text({left - tick - 3 * s, y_pixel + kCapHeight * s / 2.0}, y.labels[i], s, kTextColor,
                TextAnchor::end, false);
  }

  // Centred over the plot, or over the whole chart when it is wider than the plot.
  const std::string title = fit_text(panel.title, columns_in(chart.width - 8.0 * s, s));
  const bool fits_plot = text_columns(title) <= columns_in(right - left, s);
  const double title_x = fits_plot ? (left + right) / 2.0 : chart.width / 2.0;
  const int panel_top = layout.title_band + static_cast<int>(index) * chart.panel_height;
  canvas.text({title_x, panel_top + 13.0 * s}, title, s, kTitleColor, TextAnchor::middle, false);
  canvas.text({11.0 * s, (top + bottom) / 2.0},
              fit_text(panel.y_label, columns_in(bottom - top, s)), s, kTextColor,
              TextAnchor::middle, true);
  draw_legend(panel, layout, top, bottom, canvas);
}

}  // namespace

size_t text_columns(std::string_view text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

ChartSize check_chart(std::string_view function, const Chart& chart) {
  const std::string prefix = std::string(function) + ": ";
  if (chart.panels.empty()) throw InvalidArgument(prefix + "chart.panels must not be empty");
  const auto check_size = [&](const char* name, int64_t value) {
    if (value < kMinChartSize || value > kMaxChartSize) {
      throw InvalidArgument(prefix + name + " = " + std::to_string(value) + " must be in [" +
                            std::to_string(kMinChartSize) + ", " + std::to_string(kMaxChartSize) +
                            "]");
    }
  };
  check_size("chart.width", chart.width);
  check_size("chart.panel_height", chart.panel_height);
  for (size_t p = 0; p < chart.panels.size(); ++p) {
    const std::vector<ChartSeries>& series = chart.panels[p].series;
    for (size_t i = 0; i < series.size(); ++i) {
      if (series[i].x.size() == series[i].y.size()) continue;
      throw InvalidArgument(prefix + "chart.panels[" + std::to_string(p) + "].series[" +
                            std::to_string(i) + "] \"" + series[i].name + "\" has " +
                            std::to_string(series[i].x.size()) + " x values but " +
                            std::to_string(series[i].y.size()) + " y values");
    }
  }
  const int64_t height = chart_pixel_height(chart);
  if (height > kMaxChartSize) {
    throw InvalidArgument(prefix + "the chart height = " + std::to_string(height) + " (" +
                          std::to_string(chart.panels.size()) +
                          " panels of chart.panel_height = " + std::to_string(chart.panel_height) +
                          " and the titles) must be at most " + std::to_string(kMaxChartSize));
  }
  return {chart.width, static_cast<int>(height)};
}

void draw_chart(const Chart& chart, ChartCanvas& canvas) {
  const Layout layout = make_layout(chart);
  canvas.fill_rect({0, 0}, chart.width, layout.height, kChartBackground);
  const int s = layout.s;
  const size_t title_columns = columns_in(chart.width - 8.0 * s, layout.title_scale);
  canvas.text({chart.width / 2.0, 8.0 * s + kCapHeight * layout.title_scale},
              fit_text(chart.title, title_columns), layout.title_scale, kTitleColor,
              TextAnchor::middle, false);
  for (size_t p = 0; p < chart.panels.size(); ++p) draw_panel(chart, layout, p, canvas);
  const double panels_end =
      layout.title_band + static_cast<double>(chart.panels.size()) * chart.panel_height;
  const int plot_width = layout.plot_right - layout.plot_left;
  canvas.text({layout.plot_left + plot_width / 2.0, panels_end + 8.0 * s},
              fit_text(chart.x_label, columns_in(plot_width, s)), s, kTextColor,
              TextAnchor::middle, false);
}

}  // namespace detail

ChartColor chart_series_color(size_t index) {
  return detail::kPalette[index % std::size(detail::kPalette)];
}

int chart_height(const Chart& chart) { return detail::check_chart("chart_height", chart).height; }

std::string render_svg(const Chart& chart) {
  return detail::format_chart_svg(chart, detail::check_chart("render_svg", chart));
}

std::vector<uint8_t> render_png(const Chart& chart) {
  const std::string png = detail::format_chart_png(chart, detail::check_chart("render_png", chart));
  return std::vector<uint8_t>(png.begin(), png.end());
}

bool check_chart_path(const std::filesystem::path& path) {
  std::string extension = path.extension().string();
  for (char& c : extension) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (path == "-") {
    throw InvalidArgument(
        "write_chart: path = \"-\": a chart is written to a file whose name ends in .svg or .png "
        "(the format to write), not to standard output");
  }
  if (extension != ".svg" && extension != ".png") {
    throw InvalidArgument("write_chart: path = \"" + path.string() +
                          "\" must end in .svg or .png (the format to write)");
  }
  return extension == ".svg";
}

void write_chart(const std::filesystem::path& path, const Chart& chart) {
  constexpr std::string_view kFunction = "write_chart";
  const bool svg = check_chart_path(path);
  const detail::ChartSize size = detail::check_chart(kFunction, chart);
  const std::string content =
      svg ? detail::format_chart_svg(chart, size) : detail::format_chart_png(chart, size);
  detail::write_file(kFunction, path, content);
}

}  // namespace eplb::io
