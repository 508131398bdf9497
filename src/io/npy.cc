// NumPy .npy arrays: versions 1 to 3, int32/int64/float32/float64, little-endian, C order.
#include "io/detail/formats.h"

#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eplb/trace.h"
#include "io/detail/files.h"

namespace eplb::io::detail {
namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

enum class DType { int32, int64, float32, float64 };

struct Header {
  std::optional<DType> dtype;
  std::optional<bool> fortran_order;
  std::optional<std::vector<int64_t>> shape;
};

// Parses the header, a Python dict literal such as
// `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }`, as numpy.lib.format writes it.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, std::string_view function,
               const std::filesystem::path& path)
      : text_(text), function_(function), path_(path) {}

  Header parse() {
    Header header;
    expect('{');
    while (!accept('}')) {
      const std::string key = parse_string();
      expect(':');
      if (key == "descr") {
        header.dtype = parse_dtype(parse_string());
      } else if (key == "fortran_order") {
        header.fortran_order = parse_bool();
      } else if (key == "shape") {
        header.shape = parse_shape();
      } else {
        fail("unexpected key '" + key + "'");
      }
      if (!accept(',')) {
        expect('}');
        break;
      }
    }
    if (!header.dtype || !header.fortran_order || !header.shape) {
      fail("missing 'descr', 'fortran_order' or 'shape'");
    }
    return header;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw_parse_error(function_, path_, "npy header: " + what);
  }

  void skip_space() {
    while (!text_.empty() && (text_.front() == ' ' || text_.front() == '\n')) {
      text_.remove_prefix(1);
    }
  }

  bool accept(char c) {
    skip_space();
    if (text_.empty() || text_.front() != c) return false;
    text_.remove_prefix(1);
    return true;
  }

  void expect(char c) {
    if (!accept(c)) fail(std::string("expected '") + c + "'");
  }

  std::string parse_string() {
    skip_space();
    const char quote = text_.empty() ? '\0' : text_.front();
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    const size_t end = text_.find(quote, 1);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string value(text_.substr(1, end - 1));
    text_.remove_prefix(end + 1);
    return value;
  }

  bool parse_bool() {
    skip_space();
    for (const bool value : {false, true}) {
      const std::string_view word = value ? "True" : "False";
      if (text_.starts_with(word)) {
        text_.remove_prefix(word.size());
        return value;
      }
    }
    fail("expected True or False");
  }

  std::vector<int64_t> parse_shape() {
    std::vector<int64_t> shape;
    expect('(');
    while (!accept(')')) {
      skip_space();
      int64_t dim = 0;
      size_t digits = 0;
      for (; digits < text_.size() && text_[digits] >= '0' && text_[digits] <= '9'; ++digits) {
        if (dim > (std::numeric_limits<int64_t>::max() - 9) / 10) fail("dimension too large");
        dim = dim * 10 + (text_[digits] - '0');
      }
      if (digits == 0) fail("expected a dimension");
      text_.remove_prefix(digits);
      shape.push_back(dim);
      if (!accept(',')) {
        expect(')');
        break;
      }
    }
    return shape;
  }

  // '|' (not applicable) and '=' (native) mean little-endian on the machines eplb reads on.
  DType parse_dtype(std::string_view descr) const {
    constexpr bool kLittle = std::endian::native == std::endian::little;
    const bool little = !descr.empty() && (descr[0] == '<' || (kLittle && descr[0] == '=') ||
                                           (kLittle && descr[0] == '|'));
    const std::string_view type = descr.empty() ? descr : descr.substr(1);
    if (little && type == "i4") return DType::int32;
    if (little && type == "i8") return DType::int64;
    if (little && type == "f4") return DType::float32;
    if (little && type == "f8") return DType::float64;
    fail("unsupported dtype '" + std::string(descr) + "' (expected <i4, <i8, <f4 or <f8)");
  }

  std::string_view text_;
  std::string_view function_;
  const std::filesystem::path& path_;
};

size_t item_size(DType dtype) {
  return dtype == DType::int32 || dtype == DType::float32 ? 4 : 8;
}

// Reads one little-endian element; memcpy because the data need not be aligned.
double load_element(const char* data, DType dtype) {
  static_assert(std::endian::native == std::endian::little, "eplb reads .npy on little-endian");
  switch (dtype) {
    case DType::int32: {
      int32_t value;
      std::memcpy(&value, data, sizeof value);
      return value;
    }
    case DType::int64: {
      int64_t value;
      std::memcpy(&value, data, sizeof value);
      return static_cast<double>(value);
    }
    case DType::float32: {
      float value;
      std::memcpy(&value, data, sizeof value);
      return value;
    }
    case DType::float64:
      break;
  }
  double value;
  std::memcpy(&value, data, sizeof value);
  return value;
}

std::string format_shape(const std::vector<int64_t>& shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    text += (i > 0 ? ", " : "") + std::to_string(shape[i]);
  }
  return text + (shape.size() == 1 ? ",)" : ")");
}

// Names element `flat_idx` by its indices, e.g. `[0][2][3]`.
std::string element_name(int64_t flat_idx, const std::vector<int64_t>& shape) {
  std::vector<int64_t> indices(shape.size());
  for (size_t i = shape.size(); i-- > 0;) {
    indices[i] = flat_idx % shape[i];
    flat_idx /= shape[i];
  }
  std::string name;
  for (const int64_t index : indices) {
    name += '[';
    name += std::to_string(index);
    name += ']';
  }
  return name;
}

// Returns the header and the offset of the data after it.
std::pair<Header, size_t> read_header(std::string_view content, std::string_view function,
                                      const std::filesystem::path& path) {
  if (!content.starts_with(kMagic)) {
    throw_parse_error(function, path, "not a .npy file (no \\x93NUMPY magic)");
  }
  if (content.size() < 10) throw_parse_error(function, path, "truncated .npy header");
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(content[i]); };
  const int major = byte(6);
  // Version 1 stores the header length in 2 bytes, versions 2 and 3 in 4 bytes.
  size_t header_start = 10;
  size_t header_length = byte(8) | (size_t{byte(9)} << 8);
  if (major == 2 || major == 3) {
    if (content.size() < 12) throw_parse_error(function, path, "truncated .npy header");
    header_start = 12;
    header_length |= (size_t{byte(10)} << 16) | (size_t{byte(11)} << 24);
  } else if (major != 1) {
    throw_parse_error(function, path, "unsupported .npy version " + std::to_string(major));
  }
  if (content.size() - header_start < header_length) {
    throw_parse_error(function, path, "truncated .npy header");
  }
  const Header header =
      HeaderParser(content.substr(header_start, header_length), function, path).parse();
  return {header, header_start + header_length};
}

}  // namespace

Trace parse_npy_loads(std::string_view function, const std::filesystem::path& path,
                      std::string_view content) {
  const auto [header, data_offset] = read_header(content, function, path);
  const auto fail = [&](const std::string& what) { throw_parse_error(function, path, what); };
  if (*header.fortran_order) fail("fortran_order arrays are not supported (save in C order)");
  const std::vector<int64_t>& shape = *header.shape;
  if (shape.size() != 2 && shape.size() != 3) {
    fail("expected a 2-D or 3-D array, got shape " + format_shape(shape));
  }
  const std::string_view data = content.substr(data_offset);
  const size_t size = item_size(*header.dtype);
  // Dimensions are checked against the bytes present before they are multiplied, so a header
  // claiming a huge shape neither overflows nor allocates.
  const int64_t max_count = static_cast<int64_t>(data.size() / size);
  int64_t count = 1;
  for (const int64_t dim : shape) {
    if (dim == 0) fail("empty array, shape " + format_shape(shape));
    if (dim > max_count / count) {
      fail("truncated data: shape " + format_shape(shape) + " needs more than the " +
           std::to_string(data.size()) + " bytes present");
    }
    count *= dim;
  }
  const size_t num_bytes = static_cast<size_t>(count) * size;
  if (data.size() != num_bytes) {
    fail(std::to_string(data.size() - num_bytes) + " unexpected bytes after the data of shape " +
         format_shape(shape));
  }
  Trace trace;
  trace.num_steps = shape.size() == 3 ? shape[0] : 1;
  trace.num_layers = shape[shape.size() - 2];
  trace.num_experts = shape[shape.size() - 1];
  trace.values.resize(static_cast<size_t>(count));
  for (size_t i = 0; i < trace.values.size(); ++i) {
    const double value = load_element(data.data() + i * size, *header.dtype);
    if (!is_valid_load(value)) {
      fail(element_name(static_cast<int64_t>(i), shape) + ": " + bad_load_message(value));
    }
    trace.values[i] = value;
  }
  return trace;
}

}  // namespace eplb::io::detail
