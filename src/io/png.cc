// PNG encoding for the charts: CRC-32, Adler-32, deflate (greedy LZ77 with fixed Huffman codes)
// and the chunk layout, written from RFC 1950, RFC 1951 and the PNG specification.
#include "io/detail/png.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <string_view>
#include <vector>

namespace eplb::io::detail {
namespace {

constexpr std::array<uint32_t, 256> make_crc_table() {
  std::array<uint32_t, 256> table{};
  for (uint32_t byte = 0; byte < 256; ++byte) {
    uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) crc = (crc & 1) != 0 ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
    table[byte] = crc;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kCrcTable = make_crc_table();

constexpr size_t kMinMatch = 3;
constexpr size_t kMaxMatch = 258;
constexpr size_t kWindow = 32768;
constexpr int kHashBits = 15;
// Candidates tried per position: the charts are mostly long runs that the newest candidate
// already matches in full, so a short chain costs little compression.
constexpr int kMaxChain = 48;

// Appends bits to a byte string, least significant bit first, as deflate packs them.
class BitWriter {
 public:
  explicit BitWriter(std::string& out) : out_(out) {}

  // `count` is at most 24.
  void put(uint32_t bits, int count) {
    buffer_ |= uint64_t{bits} << filled_;
    filled_ += count;
    while (filled_ >= 8) {
      out_ += static_cast<char>(buffer_ & 0xff);
      buffer_ >>= 8;
      filled_ -= 8;
    }
  }

  // Huffman codes are defined most significant bit first, the reverse of everything else.
  void put_code(uint32_t code, int length) {
    uint32_t reversed = 0;
    for (int bit = 0; bit < length; ++bit) reversed |= ((code >> bit) & 1) << (length - 1 - bit);
    put(reversed, length);
  }

  void flush() {
    if (filled_ > 0) put(0, 8 - filled_);
  }

 private:
  std::string& out_;
  uint64_t buffer_ = 0;
  int filled_ = 0;
};

// Fixed Huffman code of a literal/length symbol (RFC 1951, 3.2.6).
void put_symbol(BitWriter& writer, uint32_t symbol) {
  if (symbol < 144) {
    writer.put_code(0x30 + symbol, 8);
  } else if (symbol < 256) {
    writer.put_code(0x190 + symbol - 144, 9);
  } else if (symbol < 280) {
    writer.put_code(symbol - 256, 7);
  } else {
    writer.put_code(0xC0 + symbol - 280, 8);
  }
}

// Length codes 257..284 come in groups of 4 whose extra bits grow by one per group after the
// first 8 codes: the code is the bit length of `length - 3` and the two bits below its top bit.
void put_length(BitWriter& writer, size_t length) {
  if (length == kMaxMatch) return put_symbol(writer, 285);
  const auto offset = static_cast<uint32_t>(length - kMinMatch);
  if (offset < 8) return put_symbol(writer, 257 + offset);
  const int extra_bits = std::bit_width(offset) - 3;
  const uint32_t group_index = (offset >> extra_bits) & 3;
  put_symbol(writer, 257 + 4 * static_cast<uint32_t>(extra_bits + 1) + group_index);
  writer.put(offset & ((1u << extra_bits) - 1), extra_bits);
}

// Distance codes 0..29 (5 bits each in the fixed code) pair up the same way from code 4 on.
void put_distance(BitWriter& writer, size_t distance) {
  const auto offset = static_cast<uint32_t>(distance - 1);
  if (offset < 4) return writer.put_code(offset, 5);
  const int extra_bits = std::bit_width(offset) - 2;
  const uint32_t pair_index = (offset >> extra_bits) & 1;
  writer.put_code(2 * static_cast<uint32_t>(extra_bits + 1) + pair_index, 5);
  writer.put(offset & ((1u << extra_bits) - 1), extra_bits);
}

// One final fixed-Huffman block of greedy LZ77 matches found through hash chains.
void deflate(std::span<const uint8_t> data, std::string& out) {
  BitWriter writer(out);
  writer.put(1, 1);  // BFINAL
  writer.put(1, 2);  // BTYPE 01: fixed Huffman codes
  const size_t size = data.size();
  const auto hash = [&](size_t i) {
    return ((uint32_t{data[i]} << 10) ^ (uint32_t{data[i + 1]} << 5) ^ data[i + 2]) &
           ((1u << kHashBits) - 1);
  };
  // head[h]: newest position whose 3 bytes hash to h; previous[p % kWindow]: the one before p.
  std::vector<int64_t> head(size_t{1} << kHashBits, -1);
  std::vector<int64_t> previous(kWindow, -1);
  const auto insert = [&](size_t i) {
    if (i + kMinMatch > size) return;
    const uint32_t h = hash(i);
    previous[i % kWindow] = head[h];
    head[h] = static_cast<int64_t>(i);
  };
  size_t i = 0;
  while (i < size) {
    size_t best_length = 0;
    size_t best_distance = 0;
    if (i + kMinMatch <= size) {
      const size_t limit = std::min(kMaxMatch, size - i);
      int64_t candidate = head[hash(i)];
      for (int chain = 0; candidate >= 0 && chain < kMaxChain; ++chain) {
        const size_t start = static_cast<size_t>(candidate);
        if (i - start > kWindow) break;
        size_t length = 0;
        while (length < limit && data[start + length] == data[i + length]) ++length;
        if (length > best_length) {
          best_length = length;
          best_distance = i - start;
          if (length == limit) break;
        }
        candidate = previous[start % kWindow];
      }
    }
    if (best_length >= kMinMatch) {
      put_length(writer, best_length);
      put_distance(writer, best_distance);
      for (size_t k = 0; k < best_length; ++k) insert(i + k);
      i += best_length;
    } else {
      put_symbol(writer, data[i]);
      insert(i);
      ++i;
    }
  }
  put_symbol(writer, 256);  // end of block
  writer.flush();
}

void append_big_endian(std::string& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((value >> shift) & 0xff);
}

std::span<const uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

void append_chunk(std::string& png, std::string_view type, std::string_view data) {
  append_big_endian(png, static_cast<uint32_t>(data.size()));
  const size_t type_start = png.size();
  png += type;
  png += data;
  append_big_endian(png, crc32(as_bytes(std::string_view(png).substr(type_start))));
}

}  // namespace

uint32_t crc32(std::span<const uint8_t> bytes, uint32_t crc) {
  crc = ~crc;
  for (const uint8_t byte : bytes) crc = kCrcTable[(crc ^ byte) & 0xff] ^ (crc >> 8);
  return ~crc;
}

uint32_t adler32(std::span<const uint8_t> bytes) {
  constexpr uint32_t kModulus = 65521;
  // The largest run of bytes whose sums cannot overflow 32 bits before the modulo.
  constexpr size_t kRun = 5552;
  uint32_t a = 1;
  uint32_t b = 0;
  for (size_t start = 0; start < bytes.size(); start += kRun) {
    const size_t end = std::min(bytes.size(), start + kRun);
    for (size_t i = start; i < end; ++i) {
      a += bytes[i];
      b += a;
    }
    a %= kModulus;
    b %= kModulus;
  }
  return (b << 16) | a;
}

std::string zlib_compress(std::span<const uint8_t> bytes) {
  // CMF 0x78: deflate with a 32 KiB window; FLG 0x01: no dictionary, check bits making
  // CMF * 256 + FLG a multiple of 31.
  std::string out = "\x78\x01";
  deflate(bytes, out);
  append_big_endian(out, adler32(bytes));
  return out;
}

std::string encode_png(int width, int height, std::span<const uint8_t> rgb) {
  const size_t row_bytes = 3 * static_cast<size_t>(width);
  // Every row starts with its filter type, 0 (none): the chart's flat colours already give
  // deflate long matches.
  std::vector<uint8_t> rows;
  rows.reserve(static_cast<size_t>(height) * (row_bytes + 1));
  for (size_t row = 0; row < static_cast<size_t>(height); ++row) {
    rows.push_back(0);
    const auto pixels = rgb.subspan(row * row_bytes, row_bytes);
    rows.insert(rows.end(), pixels.begin(), pixels.end());
  }
  std::string header;
  append_big_endian(header, static_cast<uint32_t>(width));
  append_big_endian(header, static_cast<uint32_t>(height));
  // Bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace.
  header += std::string_view("\x08\x02\x00\x00\x00", 5);
  std::string png = "\x89PNG\r\n\x1a\n";
  append_chunk(png, "IHDR", header);
  append_chunk(png, "IDAT", zlib_compress(rows));
  append_chunk(png, "IEND", "");
  return png;
}

}  // namespace eplb::io::detail
