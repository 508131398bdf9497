// The PNG back end of the charts: the layout's drawing operations rasterized into an RGB buffer
// (anti-aliased lines and discs, bitmap-font text), then encoded by png.cc.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "io/detail/chart_canvas.h"
#include "io/detail/font.h"
#include "io/detail/png.h"

namespace eplb::io::detail {
namespace {

// Long segments are rasterized in pieces of this many pixels, so that the pixels visited stay
// near the line instead of filling its whole bounding box.
constexpr double kPieceLength = 16;
constexpr double kMaxPieces = 4096;

// `value` rounded down and clamped to [low, high]; NaN gives `low`.
int clamp_floor(double value, int low, int high) {
  if (!(value >= low)) return low;
  if (value >= high) return high;
  return static_cast<int>(std::floor(value));
}

bool is_finite(ChartPoint point) { return std::isfinite(point.x) && std::isfinite(point.y); }

class RasterCanvas final : public ChartCanvas {
 public:
  RasterCanvas(int width, int height)
      : width_(width), height_(height), pixels_(3 * static_cast<size_t>(width) * height, 0) {}

  const std::vector<uint8_t>& pixels() const { return pixels_; }

  void fill_rect(ChartPoint top_left, double width, double height, ChartColor color) override {
    fill_pixels(clamp_floor(std::round(top_left.x), 0, width_),
                clamp_floor(std::round(top_left.y), 0, height_),
                clamp_floor(std::round(top_left.x + width), 0, width_),
                clamp_floor(std::round(top_left.y + height), 0, height_), color);
  }

  void line(ChartPoint from, ChartPoint to, double width, ChartColor color) override {
    stroke_segment(from, to, width / 2, color);
  }

  void polyline(std::span<const ChartPoint> points, double width, ChartColor color) override {
    for (size_t i = 1; i < points.size(); ++i) {
      stroke_segment(points[i - 1], points[i], width / 2, color);
    }
  }

  void disc(ChartPoint center, double radius, ChartColor color) override {
    stroke_segment(center, center, radius, color);
  }

  void text(ChartPoint anchor, std::string_view text, int scale, ChartColor color,
            TextAnchor alignment, bool vertical) override {
    const int advance = kCharAdvance * scale;
    // The ink of the last character stops one font pixel short of its advance.
    const int ink_width = static_cast<int>(text_columns(text)) * advance - scale;
    const int start = alignment == TextAnchor::start    ? 0
                      : alignment == TextAnchor::middle ? -ink_width / 2
                                                        : -ink_width;
    const auto anchor_x = static_cast<int>(std::lround(anchor.x));
    const auto anchor_y = static_cast<int>(std::lround(anchor.y));
    int column = 0;
    for (const char c : text) {
      const auto byte = static_cast<unsigned char>(c);
      if ((byte & 0xC0) == 0x80) continue;  // the rest of a code point drawn as '?'
      const Glyph& glyph = font_glyph(byte < 0x80 ? byte : '?');
      for (int row = 0; row < kGlyphRows; ++row) {
        for (int bit = 0; bit < kGlyphWidth; ++bit) {
          if (((glyph[row] >> (kGlyphWidth - 1 - bit)) & 1) == 0) continue;
          const int along = start + column * advance + bit * scale;
          const int across = (row - kGlyphAscent) * scale;  // from the baseline, downwards
          const int x = vertical ? anchor_x + across : anchor_x + along;
          const int y = vertical ? anchor_y - along - scale : anchor_y + across;
          fill_pixels(std::max(x, 0), std::max(y, 0), std::min(x + scale, width_),
                      std::min(y + scale, height_), color);
        }
      }
      ++column;
    }
  }

 private:
  // Fills columns [x0, x1) of rows [y0, y1), already clipped to the image.
  void fill_pixels(int x0, int y0, int x1, int y1, ChartColor color) {
    for (int y = y0; y < y1; ++y) {
      for (int x = x0; x < x1; ++x) blend(x, y, color, 1);
    }
  }

  void blend(int x, int y, ChartColor color, double alpha) {
    uint8_t* pixel = &pixels_[3 * (static_cast<size_t>(y) * width_ + x)];
    const auto mix = [alpha](uint8_t under, uint8_t over) {
      return static_cast<uint8_t>(std::lround(under + (over - under) * alpha));
    };
    pixel[0] = mix(pixel[0], color.r);
    pixel[1] = mix(pixel[1], color.g);
    pixel[2] = mix(pixel[2], color.b);
  }

  // Paints the points within `half_width` of segment a-b (a disc when a == b); a pixel is covered
  // by how far its centre lies inside that distance, up to one pixel, which smooths the edges.
  void stroke_segment(ChartPoint a, ChartPoint b, double half_width, ChartColor color) {
    if (!is_finite(a) || !is_finite(b)) return;
    const double dx = b.x - a.x;
    const double dy = b.y - a.y;
    const double length_squared = dx * dx + dy * dy;
    const double reach = half_width + 1;
    const int pieces = static_cast<int>(
        std::clamp(std::ceil(std::sqrt(length_squared) / kPieceLength), 1.0, kMaxPieces));
    for (int piece = 0; piece < pieces; ++piece) {
      const double t0 = static_cast<double>(piece) / pieces;
      const double t1 = static_cast<double>(piece + 1) / pieces;
      const int x0 = clamp_floor(std::min(a.x + dx * t0, a.x + dx * t1) - reach, 0, width_);
      const int x1 = clamp_floor(std::max(a.x + dx * t0, a.x + dx * t1) + reach + 1, 0, width_);
      const int y0 = clamp_floor(std::min(a.y + dy * t0, a.y + dy * t1) - reach, 0, height_);
      const int y1 = clamp_floor(std::max(a.y + dy * t0, a.y + dy * t1) + reach + 1, 0, height_);
      for (int y = y0; y < y1; ++y) {
        for (int x = x0; x < x1; ++x) {
          const double px = x + 0.5 - a.x;
          const double py = y + 0.5 - a.y;
          const double t =
              length_squared > 0 ? std::clamp((px * dx + py * dy) / length_squared, 0.0, 1.0) : 0;
          // The pieces' boxes overlap; each pixel is painted by the piece its nearest point is in.
          if (std::min(pieces - 1, static_cast<int>(t * pieces)) != piece) continue;
          const double distance = std::hypot(px - t * dx, py - t * dy);
          const double coverage = std::min(1.0, half_width + 0.5 - distance);
          if (coverage > 0) blend(x, y, color, coverage);
        }
      }
    }
  }

  int width_;
  int height_;
  std::vector<uint8_t> pixels_;
};

}  // namespace

std::string format_chart_png(const Chart& chart, ChartSize size) {
  RasterCanvas canvas(size.width, size.height);
  draw_chart(chart, canvas);
  return encode_png(size.width, size.height, canvas.pixels());
}

}  // namespace eplb::io::detail
