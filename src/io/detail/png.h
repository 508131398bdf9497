#pragma once
// A PNG encoder for the charts: 8-bit RGB, one IDAT chunk compressed by our own deflate
// (LZ77 matches, fixed Huffman codes) in a zlib stream.

#include <cstdint>
#include <span>
#include <string>

namespace eplb::io::detail {

/// Returns the CRC-32 (ISO 3309, as PNG and gzip use) of `bytes`, continuing from `crc`, the
/// CRC of the bytes before them (0 for none).
uint32_t crc32(std::span<const uint8_t> bytes, uint32_t crc = 0);

/// Returns the Adler-32 checksum of `bytes` (zlib's trailer).
uint32_t adler32(std::span<const uint8_t> bytes);

/// Returns `bytes` as a zlib stream (RFC 1950) holding one fixed-Huffman deflate block
/// (RFC 1951).
std::string zlib_compress(std::span<const uint8_t> bytes);

/// Returns a PNG file of `width` x `height` pixels from `rgb`, row-major, 3 bytes per pixel
/// (`rgb.size()` must be 3 * width * height).
std::string encode_png(int width, int height, std::span<const uint8_t> rgb);

}  // namespace eplb::io::detail
