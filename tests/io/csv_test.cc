// Tests of the CSV load reader.
#include "eplb/io/io.h"

#include <filesystem>
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

Trace read_csv_text(const TempDir& dir, std::string_view content) {
  return read_trace(dir.write("loads.csv", content));
}

// Expects reading `content` to throw ParseError `read_trace: <path>: <what>`.
void expect_parse_error(const TempDir& dir, std::string_view content, const std::string& what) {
  const fs::path path = dir.write("loads.csv", content);
  EXPECT_THROW_MESSAGE(read_trace(path), ParseError, "read_trace: " + path.string() + ": " + what);
}

TEST(CsvTest, ReadsMatrixAsOneStep) {
  const TempDir dir;
  const Trace trace = read_csv_text(dir, "1,2,3\n4,5,6\n");
  EXPECT_EQ(trace.num_steps, 1);
  EXPECT_EQ(trace.num_layers, 2);
  EXPECT_EQ(trace.num_experts, 3);
  EXPECT_EQ(trace.values, (std::vector<double>{1, 2, 3, 4, 5, 6}));
}

TEST(CsvTest, AcceptsWhitespaceCrlfAndMissingFinalNewline) {
  const TempDir dir;
  const std::vector<double> expected{1, 2.5, 300, 0, 0.125, 7};
  EXPECT_EQ(read_csv_text(dir, " 1 , 2.5,\t3e2\n0,1.25e-1 ,7").values, expected);
  EXPECT_EQ(read_csv_text(dir, "1,2.5,3e2\r\n0,0.125,7\r\n").values, expected);
  EXPECT_EQ(read_csv_text(dir, "\xEF\xBB\xBF" "1,2.5,300\n0,0.125,7\n").values, expected);
}

TEST(CsvTest, AcceptsBlankLinesAtTheEnd) {
  const TempDir dir;
  const Trace trace = read_csv_text(dir, "1,2\n3,4\n\n  \n\r\n");
  EXPECT_EQ(trace.num_layers, 2);
  EXPECT_EQ(trace.values, (std::vector<double>{1, 2, 3, 4}));
}

TEST(CsvTest, SingleColumnAndSingleRow) {
  const TempDir dir;
  const Trace column = read_csv_text(dir, "1\n2\n3\n");
  EXPECT_EQ(column.num_layers, 3);
  EXPECT_EQ(column.num_experts, 1);
  const Trace row = read_csv_text(dir, "1,2,3");
  EXPECT_EQ(row.num_layers, 1);
  EXPECT_EQ(row.num_experts, 3);
}

TEST(CsvTest, ReadLoadsReturnsTheMatrix) {
  const TempDir dir;
  const Loads loads = read_loads(dir.write("loads.csv", "1,2\n3,4\n"));
  EXPECT_EQ(loads.num_layers, 2);
  EXPECT_EQ(loads.num_experts, 2);
  EXPECT_EQ(loads.values, (std::vector<double>{1, 2, 3, 4}));
  EXPECT_THROW(read_loads(dir.write("loads.csv", "1,2\n"), {.begin = 1}), InvalidArgument);
}

TEST(CsvTest, ShortRowNamesLine) {
  const TempDir dir;
  expect_parse_error(dir, "1,2,3\n4,5,6\n7,8,9\n1,2\n", "line 4: expected 3 values, got 2");
  expect_parse_error(dir, "1,2,3\n4,5,6,7\n", "line 2: expected 3 values, got 4");
}

TEST(CsvTest, BadFieldNamesLineAndColumn) {
  const TempDir dir;
  expect_parse_error(dir, "1,2,3\n4,5,abc\n", "line 2, column 3: expected a number, got \"abc\"");
  expect_parse_error(dir, "1,,3\n", "line 1, column 2: expected a number, got \"\"");
  expect_parse_error(dir, "1,2,\n", "line 1, column 3: expected a number, got \"\"");
  expect_parse_error(dir, "1;2;3\n", "line 1, column 1: expected a number, got \"1;2;3\"");
  expect_parse_error(dir, "1,2 3\n", "line 1, column 2: expected a number, got \"2 3\"");
  expect_parse_error(dir, "expert_0,expert_1\n1,2\n",
                     "line 1, column 1: expected a number, got \"expert_0\"");
  expect_parse_error(dir, std::string(100, 'x'),
                     "line 1, column 1: expected a number, got \"" + std::string(32, 'x') +
                         "...\"");
}

TEST(CsvTest, NegativeOrNonFiniteValueIsParseError) {
  const TempDir dir;
  expect_parse_error(dir, "1,2\n3,-4\n",
                     "line 2, column 2: value -4 must be finite and non-negative");
  expect_parse_error(dir, "nan,2\n", "line 1, column 1: value nan must be finite and non-negative");
  expect_parse_error(dir, "1,inf\n", "line 1, column 2: value inf must be finite and non-negative");
  expect_parse_error(dir, "1,1e999\n", "line 1, column 2: number \"1e999\" is out of range");
}

TEST(CsvTest, BlankLineInsideIsParseError) {
  const TempDir dir;
  expect_parse_error(dir, "1,2\n\n3,4\n", "line 2: blank line");
  expect_parse_error(dir, "\n1,2\n", "line 1: blank line");
}

TEST(CsvTest, EmptyFileIsParseError) {
  const TempDir dir;
  expect_parse_error(dir, "", "empty file");
  expect_parse_error(dir, "\n \n\t\n", "empty file");
  const fs::path path = dir.write("loads.csv", "");
  EXPECT_THROW_MESSAGE(read_trace(path, LoadFormat::csv), ParseError,
                       "read_trace: " + path.string() + ": empty file");
}

}  // namespace
}  // namespace eplb::io
