// Tests of the chart writer: PNG files checked by an independent reader (png_reader.h), the
// pixels of each series, SVG elements and escaping, gaps at NaN points, and bad input.
#include "eplb/io/chart.h"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "png_reader.h"
#include "support/check_plan.h"  // EXPECT_THROW_MESSAGE
#include "temp_dir.h"

namespace eplb::io {
namespace {

namespace fs = std::filesystem;
using testing::PngImage;
using testing::read_png;
using testing::read_text;
using testing::TempDir;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// What the writer is for: the balancedness and moved slots of 3 policies over 12 windows.
Chart replay_chart() {
  Chart chart;
  chart.title = "Replay";
  chart.x_label = "window";
  ChartPanel balancedness{"GPU balancedness", "balancedness", {}};
  ChartPanel moved{"moved slots", "slots", {}};
  const char* policies[] = {"static", "balanced", "greedy"};
  for (int p = 0; p < 3; ++p) {
    ChartSeries balance{policies[p], {}, {}};
    ChartSeries moves{policies[p], {}, {}};
    for (int window = 0; window < 12; ++window) {
      balance.x.push_back(window);
      balance.y.push_back(0.7 + 0.08 * p + 0.03 * std::sin(window + p));
      moves.x.push_back(window);
      moves.y.push_back(p * 100.0 + 20.0 * (window % 4));
    }
    balancedness.series.push_back(balance);
    moved.series.push_back(moves);
  }
  chart.panels = {balancedness, moved};
  return chart;
}

Chart chart_of(std::vector<ChartSeries> series) {
  Chart chart;
  chart.panels.push_back({"panel", "y", std::move(series)});
  return chart;
}

PngImage decode(const Chart& chart) { return read_png(render_png(chart)); }

size_t count_pixels(const PngImage& image, ChartColor color) {
  size_t count = 0;
  for (size_t i = 0; i + 2 < image.rgb.size(); i += 3) {
    count += image.rgb[i] == color.r && image.rgb[i + 1] == color.g && image.rgb[i + 2] == color.b;
  }
  return count;
}

size_t count_occurrences(std::string_view text, std::string_view needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string_view::npos;
       at = text.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

TEST(ChartPngTest, IsAValidPngOfTheRequestedSize) {
  for (const auto& [width, panel_height] : {std::pair{960, 320}, {200, 200}, {1237, 251}}) {
    SCOPED_TRACE(std::to_string(width) + " x " + std::to_string(panel_height));
    Chart chart = replay_chart();
    chart.width = width;
    chart.panel_height = panel_height;
    const std::vector<uint8_t> png = render_png(chart);
    const std::vector<uint8_t> signature{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    ASSERT_GE(png.size(), 8u);
    EXPECT_EQ(std::vector<uint8_t>(png.begin(), png.begin() + 8), signature);
    const PngImage image = read_png(png);  // throws on a bad CRC, zlib header, Adler-32, size
    EXPECT_EQ(image.chunk_types, (std::vector<std::string>{"IHDR", "IDAT", "IEND"}));
    EXPECT_EQ(image.width, static_cast<uint32_t>(width));
    EXPECT_EQ(image.height, static_cast<uint32_t>(chart_height(chart)));
    EXPECT_GE(chart_height(chart), 2 * panel_height);
    EXPECT_EQ(image.inflated_size, size_t{image.height} * (1 + 3 * size_t{image.width}));
    // Compressed: flat colours make long matches.
    EXPECT_LT(png.size(), image.inflated_size / 10);
  }
}

TEST(ChartPngTest, ReaderRejectsACorruptedChunk) {
  std::vector<uint8_t> png = render_png(replay_chart());
  png[png.size() / 2] ^= 0x10;  // inside IDAT
  EXPECT_THROW(read_png(png), std::runtime_error);
}

TEST(ChartPngTest, DrawsEachSeriesInItsColourOnTheBackground) {
  std::vector<ChartSeries> series;
  for (int i = 0; i < 3; ++i) {
    series.push_back({"series " + std::to_string(i), {0, 5, 10}, {1.0 * i, 2.0 + i, 1.0 * i}});
  }
  const PngImage image = decode(chart_of(series));
  const size_t pixels = size_t{image.width} * image.height;
  EXPECT_GT(count_pixels(image, kChartBackground), pixels / 2);
  for (size_t i = 0; i < 3; ++i) {
    // More than the legend's sample line and marker: the series' own line is drawn.
    EXPECT_GT(count_pixels(image, chart_series_color(i)), 400u) << "series " << i;
  }
}

TEST(ChartPngTest, PaletteIsDistinctAndRepeats) {
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_NE(chart_series_color(i), kChartBackground);
    for (size_t j = 0; j < i; ++j) EXPECT_NE(chart_series_color(i), chart_series_color(j));
  }
  EXPECT_EQ(chart_series_color(10), chart_series_color(0));
}

TEST(ChartPngTest, BusyChartDecodes) {
  Chart chart;
  chart.width = 1500;
  uint64_t state = 12345;
  const auto noise = [&state] {
    state = state * 6364136223846793005u + 1442695040888963407u;
    return static_cast<double>(state >> 11) / static_cast<double>(uint64_t{1} << 53);
  };
  for (int p = 0; p < 3; ++p) {
    ChartPanel panel{"noise " + std::to_string(p), "value", {}};
    for (int i = 0; i < 12; ++i) {
      ChartSeries series{"series " + std::to_string(i), {}, {}};
      for (int k = 0; k < 200; ++k) {
        series.x.push_back(k);
        series.y.push_back(std::pow(10.0, 3 * p) * (i + noise()));
      }
      panel.series.push_back(series);
    }
    chart.panels.push_back(panel);
  }
  const PngImage image = decode(chart);
  EXPECT_EQ(image.width, 1500u);
  EXPECT_EQ(image.height, static_cast<uint32_t>(chart_height(chart)));
}

TEST(ChartPngTest, SkipsNanPoints) {
  const ChartColor color = chart_series_color(0);
  const size_t joined = count_pixels(decode(chart_of({{"s", {0, 2}, {0, 0}}})), color);
  const size_t broken = count_pixels(decode(chart_of({{"s", {0, 1, 2}, {0, kNaN, 0}}})), color);
  const size_t legend_only = count_pixels(decode(chart_of({{"s", {}, {}}})), color);
  // The same two markers (the axes are the same), but no line through the NaN point.
  EXPECT_GT(broken, legend_only);
  EXPECT_LT(broken - legend_only, (joined - legend_only) / 4);
  // A NaN x is skipped too, and a series of NaN only draws nothing.
  EXPECT_EQ(count_pixels(decode(chart_of({{"s", {0, kNaN, 2}, {0, 1, 0}}})), color), broken);
  EXPECT_EQ(count_pixels(decode(chart_of({{"s", {kNaN}, {kNaN}}})), color), legend_only);
}

TEST(ChartPngTest, DrawsSinglePointsAndFlatSeries) {
  const ChartColor color = chart_series_color(0);
  const size_t legend_only = count_pixels(decode(chart_of({{"s", {}, {}}})), color);
  EXPECT_GT(count_pixels(decode(chart_of({{"s", {3}, {7}}})), color), legend_only + 10);
  EXPECT_GT(count_pixels(decode(chart_of({{"s", {0, 1, 2}, {5, 5, 5}}})), color),
            legend_only + 400);
}

TEST(ChartPngTest, RendersExtremeValues) {
  constexpr double kMax = std::numeric_limits<double>::max();
  constexpr double kTiny = std::numeric_limits<double>::denorm_min();
  const std::vector<ChartSeries> cases[] = {
      {{"span overflows", {-kMax, kMax}, {kMax, -kMax}}},
      {{"flat at the largest double", {0, 1}, {kMax, kMax}}},
      {{"denormal", {0, kTiny, 2 * kTiny}, {kTiny, 0, kTiny}}},
      {{"huge offset", {1e15, 1e15 + 1}, {1e12, 1e12 + 0.001}}},
      {{"not finite", {0, 1, 2}, {-INFINITY, 1, INFINITY}}},
  };
  for (const std::vector<ChartSeries>& series : cases) {
    SCOPED_TRACE(series[0].name);
    const Chart chart = chart_of(series);
    EXPECT_NO_THROW(decode(chart));
    const std::string svg = render_svg(chart);
    EXPECT_EQ(svg.find("nan"), std::string::npos);
    EXPECT_EQ(svg.find("inf"), std::string::npos);
  }
}

TEST(ChartSvgTest, DrawsOnePolylinePerSeriesPerPanel) {
  const Chart chart = replay_chart();
  const std::string svg = render_svg(chart);
  EXPECT_EQ(svg.rfind("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg ", 0), 0u);
  EXPECT_NE(svg.find("width=\"960\" height=\"" + std::to_string(chart_height(chart)) + "\""),
            std::string::npos);
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
  EXPECT_EQ(count_occurrences(svg, "<polyline "), 6u);
  for (const std::string name : {"static", "balanced", "greedy", "GPU balancedness",
                                 "moved slots", "window", "balancedness"}) {
    EXPECT_NE(svg.find(">" + name + "</text>"), std::string::npos) << name;
  }
  // Each series name is listed once per panel, in the legend.
  EXPECT_EQ(count_occurrences(svg, ">greedy</text>"), 2u);
}

TEST(ChartSvgTest, EscapesText) {
  Chart chart = chart_of({{"a<b & \"c\" 'd'", {0, 1}, {0, 1}}, {"caf\xC3\xA9 \xFF", {0}, {1}}});
  chart.title = "x > y";
  const std::string svg = render_svg(chart);
  EXPECT_NE(svg.find(">a&lt;b &amp; &quot;c&quot; &apos;d&apos;</text>"), std::string::npos);
  EXPECT_NE(svg.find("<title>x &gt; y</title>"), std::string::npos);
  EXPECT_EQ(svg.find("a<b"), std::string::npos);
  // Valid UTF-8 is kept; a byte that is not UTF-8 cannot be in an XML document.
  EXPECT_NE(svg.find(">caf\xC3\xA9 ?</text>"), std::string::npos);
}

TEST(ChartSvgTest, BreaksLinesAtNanPoints) {
  const std::string split = render_svg(chart_of({{"s", {0, 1, 2, 3, 4}, {1, 2, kNaN, 3, 4}}}));
  EXPECT_EQ(count_occurrences(split, "<polyline "), 2u);
  const std::string lone = render_svg(chart_of({{"s", {0, 1, 2}, {1, kNaN, 1}}}));
  EXPECT_EQ(count_occurrences(lone, "<polyline "), 0u);
  EXPECT_EQ(count_occurrences(lone, "<circle "), 3u);  // 2 points and the legend's marker
  for (const std::string& svg : {split, lone}) {
    EXPECT_EQ(svg.find("nan"), std::string::npos);
    EXPECT_EQ(svg.find("inf"), std::string::npos);
  }
}

TEST(ChartErrorsTest, RejectsBadCharts) {
  Chart chart = replay_chart();
  chart.panels.clear();
  EXPECT_THROW_MESSAGE(render_png(chart), InvalidArgument,
                       "render_png: chart.panels must not be empty");
  chart = replay_chart();
  chart.width = 100;
  EXPECT_THROW_MESSAGE(render_svg(chart), InvalidArgument,
                       "render_svg: chart.width = 100 must be in [200, 8000]");
  chart.width = 8001;
  EXPECT_THROW_MESSAGE(chart_height(chart), InvalidArgument,
                       "chart_height: chart.width = 8001 must be in [200, 8000]");
  chart = replay_chart();
  chart.panel_height = 0;
  EXPECT_THROW_MESSAGE(render_png(chart), InvalidArgument,
                       "render_png: chart.panel_height = 0 must be in [200, 8000]");
  chart = replay_chart();
  chart.panels[1].series[2].y.pop_back();
  EXPECT_THROW_MESSAGE(render_png(chart), InvalidArgument,
                       "render_png: chart.panels[1].series[2] \"greedy\" has 12 x values but 11 "
                       "y values");
}

TEST(ChartErrorsTest, RejectsTooTallCharts) {
  Chart chart = replay_chart();
  chart.panels.resize(30, chart.panels[0]);
  try {
    render_svg(chart);
    FAIL() << "no exception";
  } catch (const InvalidArgument& error) {
    const std::string message = error.what();
    EXPECT_EQ(message.rfind("render_svg: the chart height = ", 0), 0u) << message;
    EXPECT_NE(message.find("(30 panels of chart.panel_height = 320 and the titles) must be at "
                           "most 8000"),
              std::string::npos)
        << message;
  }
}

TEST(ChartWriteTest, WritesTheFormatOfTheExtension) {
  const TempDir dir;
  const Chart chart = replay_chart();
  const fs::path svg = dir.path() / "replay.svg";
  write_chart(svg, chart);
  EXPECT_EQ(read_text(svg), render_svg(chart));
  const fs::path png = dir.path() / "replay.PNG";
  write_chart(png.string(), chart);
  const std::vector<uint8_t> expected = render_png(chart);
  EXPECT_EQ(read_text(png), std::string(expected.begin(), expected.end()));
  EXPECT_NO_THROW(read_png(render_png(chart)));
  // Written through a temporary file, which is gone.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 2);
}

TEST(ChartWriteTest, RejectsOtherExtensionsAndUnwritablePaths) {
  const TempDir dir;
  const Chart chart = replay_chart();
  for (const std::string name : {"chart.jpg", "chart", "svg"}) {
    const fs::path path = dir.path() / name;
    EXPECT_THROW_MESSAGE(write_chart(path, chart), InvalidArgument,
                         "write_chart: path = \"" + path.string() +
                             "\" must end in .svg or .png (the format to write)");
    EXPECT_FALSE(fs::exists(path));
  }
  const fs::path missing = dir.path() / "no such folder" / "chart.png";
  EXPECT_THROW_MESSAGE(write_chart(missing, chart), IoError,
                       "write_chart: " + missing.string() + ": No such file or directory");
  Chart bad = chart;
  bad.width = 50;
  EXPECT_THROW_MESSAGE(write_chart(dir.path() / "chart.svg", bad), InvalidArgument,
                       "write_chart: chart.width = 50 must be in [200, 8000]");
}

}  // namespace
}  // namespace eplb::io
