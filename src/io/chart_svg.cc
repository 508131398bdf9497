// The SVG back end of the charts: each drawing operation of the layout becomes one SVG 1.1
// element.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>
#include <string_view>

#include "io/detail/chart_canvas.h"

namespace eplb::io::detail {
namespace {

// The font's advance is 0.6 em, the bitmap font's 6 pixels per 10 of size, so both back ends
// share one layout; every monospace font listed has that advance.
constexpr std::string_view kFontFamily = "DejaVu Sans Mono, Menlo, Consolas, monospace";
constexpr int kFontSizePerScale = 10;

// Length of the well-formed UTF-8 sequence starting at `text[i]` that XML accepts, 0 if none.
size_t xml_char_length(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return lead >= 0x20 || lead == '\t' || lead == '\n' ? 1 : 0;
  const size_t length = lead >= 0xC2 && lead <= 0xDF   ? 2
                        : lead >= 0xE0 && lead <= 0xEF ? 3
                        : lead >= 0xF0 && lead <= 0xF4 ? 4
                                                       : 0;
  if (length == 0 || i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  const unsigned char second = byte(i + 1);
  // Overlong forms, UTF-16 surrogates, code points past U+10FFFF, and U+FFFE / U+FFFF.
  if ((lead == 0xE0 && second < 0xA0) || (lead == 0xED && second > 0x9F) ||
      (lead == 0xF0 && second < 0x90) || (lead == 0xF4 && second > 0x8F) ||
      (lead == 0xEF && second == 0xBF && byte(i + 2) >= 0xBE)) {
    return 0;
  }
  return length;
}

// Appends `text` escaped for XML text and attributes; bytes XML cannot hold become '?'.
void append_escaped(std::string& out, std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const size_t length = xml_char_length(text, i);
    if (length == 0) {
      out += '?';
      ++i;
      continue;
    }
    switch (text[i]) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default: out.append(text.substr(i, length));
    }
    i += length;
  }
}

// A hundredth of a pixel is finer than any display shows.
void append_number(std::string& out, double value) {
  if (!std::isfinite(value)) value = 0;
  char buffer[64];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, std::round(value * 100) / 100,
                                    std::chars_format::fixed, 2);
  std::string_view text(buffer, static_cast<size_t>(result.ptr - buffer));
  while (text.back() == '0') text.remove_suffix(1);
  if (text.back() == '.') text.remove_suffix(1);
  out += text == "-0" ? "0" : text;
}

void append_color(std::string& out, ChartColor color) {
  char buffer[8];
  std::snprintf(buffer, sizeof buffer, "#%02x%02x%02x", color.r, color.g, color.b);
  out += buffer;
}

// Appends ` name="value"` for a number.
void append_attribute(std::string& out, std::string_view name, double value) {
  out += ' ';
  out += name;
  out += "=\"";
  append_number(out, value);
  out += '"';
}

class SvgCanvas final : public ChartCanvas {
 public:
  explicit SvgCanvas(std::string& out) : out_(out) {}

  void fill_rect(ChartPoint top_left, double width, double height, ChartColor color) override {
    out_ += "<rect";
    append_attribute(out_, "x", top_left.x);
    append_attribute(out_, "y", top_left.y);
    append_attribute(out_, "width", width);
    append_attribute(out_, "height", height);
    out_ += " fill=\"";
    append_color(out_, color);
    out_ += "\"/>\n";
  }

  void line(ChartPoint from, ChartPoint to, double width, ChartColor color) override {
    out_ += "<line";
    append_attribute(out_, "x1", from.x);
    append_attribute(out_, "y1", from.y);
    append_attribute(out_, "x2", to.x);
    append_attribute(out_, "y2", to.y);
    append_stroke(width, color);
    out_ += "/>\n";
  }

  void polyline(std::span<const ChartPoint> points, double width, ChartColor color) override {
    out_ += "<polyline points=\"";
    for (size_t i = 0; i < points.size(); ++i) {
      if (i > 0) out_ += ' ';
      append_number(out_, points[i].x);
      out_ += ',';
      append_number(out_, points[i].y);
    }
    out_ += "\" fill=\"none\"";
    append_stroke(width, color);
    out_ += " stroke-linejoin=\"round\"/>\n";
  }

  void disc(ChartPoint center, double radius, ChartColor color) override {
    out_ += "<circle";
    append_attribute(out_, "cx", center.x);
    append_attribute(out_, "cy", center.y);
    append_attribute(out_, "r", radius);
    out_ += " fill=\"";
    append_color(out_, color);
    out_ += "\"/>\n";
  }

  void text(ChartPoint anchor, std::string_view text, int scale, ChartColor color,
            TextAnchor alignment, bool vertical) override {
    if (text.empty()) return;
    out_ += "<text";
    append_attribute(out_, "x", anchor.x);
    append_attribute(out_, "y", anchor.y);
    append_attribute(out_, "font-size", kFontSizePerScale * scale);
    out_ += " fill=\"";
    append_color(out_, color);
    out_ += '"';
    if (alignment != TextAnchor::start) {
      out_ += alignment == TextAnchor::middle ? " text-anchor=\"middle\"" : " text-anchor=\"end\"";
    }
    if (vertical) {
      out_ += " transform=\"rotate(-90 ";
      append_number(out_, anchor.x);
      out_ += ' ';
      append_number(out_, anchor.y);
      out_ += ")\"";
    }
    out_ += '>';
    append_escaped(out_, text);
    out_ += "</text>\n";
  }

 private:
  void append_stroke(double width, ChartColor color) {
    out_ += " stroke=\"";
    append_color(out_, color);
    out_ += '"';
    append_attribute(out_, "stroke-width", width);
    out_ += " stroke-linecap=\"round\"";
  }

  std::string& out_;
};

}  // namespace

std::string format_chart_svg(const Chart& chart, ChartSize size) {
  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\"";
  append_attribute(out, "width", size.width);
  append_attribute(out, "height", size.height);
  out += " viewBox=\"0 0 " + std::to_string(size.width) + ' ' + std::to_string(size.height) + '"';
  out += " font-family=\"";
  out += kFontFamily;
  out += "\">\n";
  if (!chart.title.empty()) {
    out += "<title>";
    append_escaped(out, chart.title);
    out += "</title>\n";
  }
  SvgCanvas canvas(out);
  draw_chart(chart, canvas);
  out += "</svg>\n";
  return out;
}

}  // namespace eplb::io::detail
