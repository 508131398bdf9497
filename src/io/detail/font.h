#pragma once
// The bitmap font of the PNG charts: 5 x 9 pixel glyphs (7 rows above the baseline, 2 below for
// descenders) for printable ASCII.

#include <array>
#include <cstdint>

namespace eplb::io::detail {

inline constexpr int kGlyphWidth = 5;
inline constexpr int kGlyphRows = 9;
/// Rows of a glyph above the baseline; rows kGlyphAscent.. hang below it.
inline constexpr int kGlyphAscent = 7;

/// Rows of a glyph, top first; bit 4 of a row is its leftmost pixel.
using Glyph = std::array<uint8_t, kGlyphRows>;

/// Returns the glyph of `code_point`; anything but printable ASCII (32..126) shows as '?'.
const Glyph& font_glyph(uint32_t code_point);

}  // namespace eplb::io::detail
