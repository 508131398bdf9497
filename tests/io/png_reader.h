#pragma once
// A strict PNG reader for the chart tests, written apart from the encoder (straight from the PNG
// specification and RFC 1950/1951, bit by bit, with the RFC's tables) so that the two cannot
// share a mistake. It reads what the chart writer produces: 8-bit RGB, no interlace, filter type
// 0, stored or fixed-Huffman deflate blocks. Every defect throws std::runtime_error.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace eplb::io::testing {

struct PngImage {
  uint32_t width = 0;
  uint32_t height = 0;
  std::vector<std::string> chunk_types;  // in file order
  size_t inflated_size = 0;              // bytes of the zlib stream's content
  std::vector<uint8_t> rgb;              // 3 bytes per pixel, row-major
};

/// CRC-32 computed one bit at a time (no table), as the PNG specification defines it.
inline uint32_t bitwise_crc32(std::span<const uint8_t> bytes) {
  uint32_t crc = 0xFFFFFFFFu;
  for (const uint8_t byte : bytes) {
    crc ^= byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
  }
  return crc ^ 0xFFFFFFFFu;
}

inline uint32_t simple_adler32(std::span<const uint8_t> bytes) {
  uint32_t a = 1;
  uint32_t b = 0;
  for (const uint8_t byte : bytes) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return (b << 16) | a;
}

inline void require(bool condition, const std::string& what) {
  if (!condition) throw std::runtime_error(what);
}

inline uint32_t read_big_endian(std::span<const uint8_t> bytes, size_t at) {
  require(at + 4 <= bytes.size(), "truncated");
  return uint32_t{bytes[at]} << 24 | uint32_t{bytes[at + 1]} << 16 | uint32_t{bytes[at + 2]} << 8 |
         bytes[at + 3];
}

/// Inflates raw deflate data made of stored and fixed-Huffman blocks.
inline std::vector<uint8_t> inflate_fixed(std::span<const uint8_t> data) {
  static constexpr uint16_t kLengthBase[29] = {3,  4,  5,  6,  7,  8,  9,  10,  11,  13,
                                               15, 17, 19, 23, 27, 31, 35, 43,  51,  59,
                                               67, 83, 99, 115, 131, 163, 195, 227, 258};
  static constexpr uint8_t kLengthExtra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                               2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
  static constexpr uint16_t kDistanceBase[30] = {
      1,   2,   3,   4,   5,   7,    9,    13,   17,   25,   33,   49,   65,    97,    129,
      193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
  static constexpr uint8_t kDistanceExtra[30] = {0, 0, 0,  0,  1,  1,  2,  2,  3,  3,
                                                 4, 4, 5,  5,  6,  6,  7,  7,  8,  8,
                                                 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
  size_t bit_position = 0;
  const auto bit = [&] {
    require(bit_position / 8 < data.size(), "deflate data ends inside a block");
    const int value = (data[bit_position / 8] >> (bit_position % 8)) & 1;
    ++bit_position;
    return value;
  };
  const auto bits = [&](int count) {  // values are packed least significant bit first
    uint32_t value = 0;
    for (int i = 0; i < count; ++i) value |= static_cast<uint32_t>(bit()) << i;
    return value;
  };
  const auto code = [&](int count) {  // Huffman codes most significant bit first
    uint32_t value = 0;
    for (int i = 0; i < count; ++i) value = (value << 1) | static_cast<uint32_t>(bit());
    return value;
  };
  std::vector<uint8_t> out;
  bool final_block = false;
  while (!final_block) {
    final_block = bits(1) == 1;
    const uint32_t type = bits(2);
    if (type == 0) {
      bit_position = (bit_position + 7) / 8 * 8;
      const uint32_t length = bits(16);
      require(bits(16) == (~length & 0xFFFF), "stored block LEN and NLEN disagree");
      for (uint32_t i = 0; i < length; ++i) out.push_back(static_cast<uint8_t>(bits(8)));
      continue;
    }
    require(type == 1, "block type " + std::to_string(type) + " is not stored or fixed Huffman");
    while (true) {
      uint32_t symbol = code(7);
      if (symbol <= 0x17) {
        symbol += 256;
      } else {
        symbol = (symbol << 1) | static_cast<uint32_t>(bit());
        if (symbol >= 0x30 && symbol <= 0xBF) {
          symbol -= 0x30;
        } else if (symbol >= 0xC0 && symbol <= 0xC7) {
          symbol = symbol - 0xC0 + 280;
        } else {
          symbol = (symbol << 1) | static_cast<uint32_t>(bit());
          require(symbol >= 0x190 && symbol <= 0x1FF, "invalid fixed Huffman code");
          symbol = symbol - 0x190 + 144;
        }
      }
      if (symbol < 256) {
        out.push_back(static_cast<uint8_t>(symbol));
        continue;
      }
      if (symbol == 256) break;
      require(symbol <= 285, "invalid length symbol " + std::to_string(symbol));
      const size_t length = kLengthBase[symbol - 257] + bits(kLengthExtra[symbol - 257]);
      const uint32_t distance_code = code(5);
      require(distance_code < 30, "invalid distance code " + std::to_string(distance_code));
      const size_t distance =
          kDistanceBase[distance_code] + bits(kDistanceExtra[distance_code]);
      require(distance <= out.size() && distance <= 32768, "distance beyond the output");
      for (size_t i = 0; i < length; ++i) out.push_back(out[out.size() - distance]);
    }
  }
  require((bit_position + 7) / 8 == data.size(), "bytes after the final deflate block");
  return out;
}

/// Reads a whole PNG file: checks the signature, every chunk's CRC, IHDR, the zlib header and
/// Adler-32 trailer, the size of the inflated data and each row's filter type.
inline PngImage read_png(std::span<const uint8_t> file) {
  static constexpr uint8_t kSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  require(file.size() >= 8 && std::equal(kSignature, kSignature + 8, file.begin()),
          "no PNG signature");
  PngImage image;
  std::vector<uint8_t> zlib;
  size_t at = 8;
  while (at < file.size()) {
    const uint32_t length = read_big_endian(file, at);
    require(at + 12 + length <= file.size(), "truncated chunk");
    const auto type_and_data = file.subspan(at + 4, 4 + length);
    const std::string type(type_and_data.begin(), type_and_data.begin() + 4);
    require(read_big_endian(file, at + 8 + length) == bitwise_crc32(type_and_data),
            "bad CRC of chunk " + type);
    const auto data = type_and_data.subspan(4);
    if (type == "IHDR") {
      require(length == 13, "IHDR length");
      image.width = read_big_endian(data, 0);
      image.height = read_big_endian(data, 4);
      require(data[8] == 8 && data[9] == 2 && data[10] == 0 && data[11] == 0 && data[12] == 0,
              "not 8-bit RGB, deflate, filter method 0, no interlace");
    } else if (type == "IDAT") {
      zlib.insert(zlib.end(), data.begin(), data.end());
    }
    image.chunk_types.push_back(type);
    at += 12 + length;
  }
  require(zlib.size() >= 6, "no image data");
  require((zlib[0] & 0x0F) == 8 && (zlib[0] >> 4) <= 7, "zlib method is not deflate");
  require((zlib[0] * 256 + zlib[1]) % 31 == 0, "zlib header check bits");
  require((zlib[1] & 0x20) == 0, "zlib preset dictionary");
  const std::vector<uint8_t> raw =
      inflate_fixed(std::span<const uint8_t>(zlib).subspan(2, zlib.size() - 6));
  require(read_big_endian(zlib, zlib.size() - 4) == simple_adler32(raw), "bad Adler-32");
  image.inflated_size = raw.size();
  const size_t row_bytes = 1 + 3 * size_t{image.width};
  require(raw.size() == image.height * row_bytes, "inflated size is not height * (1 + 3 * width)");
  for (size_t row = 0; row < image.height; ++row) {
    require(raw[row * row_bytes] == 0, "row " + std::to_string(row) + " filter is not 0");
    image.rgb.insert(image.rgb.end(), raw.begin() + static_cast<ptrdiff_t>(row * row_bytes + 1),
                     raw.begin() + static_cast<ptrdiff_t>((row + 1) * row_bytes));
  }
  return image;
}

}  // namespace eplb::io::testing
