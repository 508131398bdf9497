// Tests of the NumPy .npy load reader.
#include "eplb/io/io.h"

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "support/check_plan.h"  // EXPECT_THROW_MESSAGE
#include "temp_dir.h"

namespace eplb::io {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// Returns the raw little-endian bytes of `values`.
template <typename T>
std::string bytes_of(const std::vector<T>& values) {
  std::string bytes(values.size() * sizeof(T), '\0');
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

// Builds a .npy file the way numpy.lib.format does: magic, version, header length, a header
// padded with spaces to a multiple of 64 bytes and ending in a newline, then the data.
std::string make_npy(std::string_view header, std::string_view data, int major = 1) {
  const size_t prefix = major == 1 ? 10 : 12;
  std::string text(header);
  text += std::string(63 - (prefix + text.size()) % 64, ' ') + "\n";
  std::string file = "\x93NUMPY";
  file += static_cast<char>(major);
  file += '\0';
  const size_t length = text.size();
  for (size_t i = 0; i < prefix - 8; ++i) file += static_cast<char>((length >> (8 * i)) & 0xff);
  return file + text + std::string(data);
}

std::string dict(std::string_view descr, std::string_view shape, bool fortran = false) {
  return "{'descr': '" + std::string(descr) + "', 'fortran_order': " +
         (fortran ? "True" : "False") + ", 'shape': " + std::string(shape) + ", }";
}

// Expects reading `content` to throw ParseError `read_trace: <path>: <what>`.
void expect_parse_error(const TempDir& dir, std::string_view content, const std::string& what) {
  const fs::path path = dir.write("loads.npy", content);
  EXPECT_THROW_MESSAGE(read_trace(path), ParseError, "read_trace: " + path.string() + ": " + what);
}

TEST(NpyTest, ReadsEachDtype) {
  const TempDir dir;
  const std::vector<double> expected{0, 1, 2, 3, 4, 5};
  const std::string_view shape = "(2, 3)";
  const std::vector<std::string> files{
      make_npy(dict("<i4", shape), bytes_of(std::vector<int32_t>{0, 1, 2, 3, 4, 5})),
      make_npy(dict("<i8", shape), bytes_of(std::vector<int64_t>{0, 1, 2, 3, 4, 5})),
      make_npy(dict("<f4", shape), bytes_of(std::vector<float>{0, 1, 2, 3, 4, 5})),
      make_npy(dict("<f8", shape), bytes_of(std::vector<double>{0, 1, 2, 3, 4, 5}))};
  for (const std::string& file : files) {
    const Trace trace = read_trace(dir.write("loads.npy", file));
    EXPECT_EQ(trace.num_steps, 1);
    EXPECT_EQ(trace.num_layers, 2);
    EXPECT_EQ(trace.num_experts, 3);
    EXPECT_EQ(trace.values, expected);
  }
}

TEST(NpyTest, ReadsThreeDimensionsAsSteps) {
  const TempDir dir;
  std::vector<int64_t> values(2 * 3 * 4);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<int64_t>(i);
  const fs::path path =
      dir.write("steps.npy", make_npy(dict("<i8", "(2, 3, 4)"), bytes_of(values)));
  const Trace trace = read_trace(path);
  EXPECT_EQ(trace.num_steps, 2);
  EXPECT_EQ(trace.num_layers, 3);
  EXPECT_EQ(trace.num_experts, 4);
  EXPECT_EQ(trace.values[23], 23);
  const Loads loads = read_loads(path, {.begin = 1, .end = 2});
  EXPECT_EQ(loads.values[0], 12);
  EXPECT_EQ(read_loads(path).values[0], 12);
}

TEST(NpyTest, ReadsVersionsTwoAndThreeAndOtherHeaderSpellings) {
  const TempDir dir;
  const std::string data = bytes_of(std::vector<double>{1, 2});
  const std::vector<std::string> files{
      make_npy(dict("<f8", "(1, 2)"), data, 2), make_npy(dict("<f8", "(1, 2)"), data, 3),
      make_npy(dict("=f8", "(1, 2)"), data), make_npy(dict("|f8", "(1, 2)"), data),
      make_npy("{\"shape\": (1,2), \"fortran_order\": False, \"descr\": \"<f8\"}", data)};
  for (const std::string& file : files) {
    EXPECT_EQ(read_trace(dir.write("loads.npy", file), LoadFormat::npy).values,
              (std::vector<double>{1, 2}));
  }
}

TEST(NpyTest, ReadsFilesWrittenByNumpy) {
  const fs::path data_dir = fs::path(EPLB_TEST_DATA_DIR) / "io";
  EXPECT_EQ(read_trace(data_dir / "loads_f8.npy").values,
            (std::vector<double>{1.5, 0, 2, 3, 4, 5.25}));
  const Trace steps = read_trace(data_dir / "steps_i4.npy");
  EXPECT_EQ(steps.num_steps, 2);
  EXPECT_EQ(steps.num_layers, 2);
  EXPECT_EQ(steps.num_experts, 3);
  EXPECT_EQ(steps.values.back(), 11);
  EXPECT_EQ(read_trace(data_dir / "loads_i8_v2.npy").values, (std::vector<double>{7, 8, 9, 10}));
  const fs::path fortran = data_dir / "loads_fortran.npy";
  EXPECT_THROW_MESSAGE(read_trace(fortran), ParseError,
                       "read_trace: " + fortran.string() +
                           ": fortran_order arrays are not supported (save in C order)");
}

TEST(NpyTest, UnsupportedLayoutsAreParseErrors) {
  const TempDir dir;
  const std::string data = bytes_of(std::vector<double>{1, 2, 3, 4});
  expect_parse_error(dir, make_npy(dict("<f8", "(2, 2)", true), data),
                     "fortran_order arrays are not supported (save in C order)");
  expect_parse_error(dir, make_npy(dict(">f8", "(2, 2)"), data),
                     "npy header: unsupported dtype '>f8' (expected <i4, <i8, <f4 or <f8)");
  expect_parse_error(dir, make_npy(dict("<u4", "(2, 4)"), data),
                     "npy header: unsupported dtype '<u4' (expected <i4, <i8, <f4 or <f8)");
  expect_parse_error(dir, make_npy(dict("<f8", "(4,)"), data),
                     "expected a 2-D or 3-D array, got shape (4,)");
  expect_parse_error(dir, make_npy(dict("<f8", "(1, 1, 2, 2)"), data),
                     "expected a 2-D or 3-D array, got shape (1, 1, 2, 2)");
  expect_parse_error(dir, make_npy(dict("<f8", "(0, 4)"), ""), "empty array, shape (0, 4)");
  expect_parse_error(dir, make_npy(dict("<f8", "(0, 2, 2)"), ""), "empty array, shape (0, 2, 2)");
  expect_parse_error(dir, make_npy(dict("<f8", "(2, 2)"), data, 4), "unsupported .npy version 4");
}

TEST(NpyTest, MalformedHeadersAreParseErrors) {
  const TempDir dir;
  const std::string data = bytes_of(std::vector<double>{1, 2});
  expect_parse_error(dir, make_npy("{'descr': '<f8', 'shape': (1, 2)}", data),
                     "npy header: missing 'descr', 'fortran_order' or 'shape'");
  expect_parse_error(dir, make_npy("{'descr': '<f8', 'fortran_order': 0, 'shape': (1, 2)}", data),
                     "npy header: expected True or False");
  expect_parse_error(dir, make_npy(dict("<f8", "(1, x)"), data),
                     "npy header: expected a dimension");
  expect_parse_error(dir, make_npy("{'descr': '<f8', 'color': 'red'}", data),
                     "npy header: unexpected key 'color'");
  expect_parse_error(dir, make_npy("['<f8']", data), "npy header: expected '{'");
}

TEST(NpyTest, TruncatedFilesAreParseErrors) {
  const TempDir dir;
  const std::string file = make_npy(dict("<f8", "(2, 3)"), bytes_of(std::vector<double>(6, 1)));
  expect_parse_error(dir, file.substr(0, file.size() - 1),
                     "truncated data: shape (2, 3) needs more than the 47 bytes present");
  expect_parse_error(dir, file.substr(0, file.size() - 48),
                     "truncated data: shape (2, 3) needs more than the 0 bytes present");
  expect_parse_error(dir, file.substr(0, 40), "truncated .npy header");
  expect_parse_error(dir, file.substr(0, file.size() - 49), "truncated .npy header");
  expect_parse_error(dir, file.substr(0, 9), "truncated .npy header");
  expect_parse_error(dir, file + "x", "1 unexpected bytes after the data of shape (2, 3)");
  expect_parse_error(dir, make_npy(dict("<f8", "(4294967296, 4294967296, 2)"), ""),
                     "truncated data: shape (4294967296, 4294967296, 2) needs more than the 0 "
                     "bytes present");
}

TEST(NpyTest, NegativeOrNonFiniteValueNamesTheElement) {
  const TempDir dir;
  const std::string ints = bytes_of(std::vector<int32_t>{1, 2, 3, -4});
  expect_parse_error(dir, make_npy(dict("<i4", "(2, 2)"), ints),
                     "[1][1]: value -4 must be finite and non-negative");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::string doubles = bytes_of(std::vector<double>{1, 2, nan, 4});
  expect_parse_error(dir, make_npy(dict("<f8", "(2, 1, 2)"), doubles),
                     "[1][0][0]: value nan must be finite and non-negative");
  const float inf = std::numeric_limits<float>::infinity();
  expect_parse_error(dir, make_npy(dict("<f4", "(1, 2)"), bytes_of(std::vector<float>{inf, 1})),
                     "[0][0]: value inf must be finite and non-negative");
}

TEST(NpyTest, ForcedNpyOnOtherContentIsParseError) {
  const TempDir dir;
  const fs::path path = dir.write("loads.npy", "1,2\n");
  EXPECT_THROW_MESSAGE(read_trace(path, LoadFormat::npy), ParseError,
                       "read_trace: " + path.string() + ": not a .npy file (no \\x93NUMPY magic)");
}

}  // namespace
}  // namespace eplb::io
