// Tests of the load readers for server recordings: SGLang, recorder sums, layer and top-k JSONL.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "eplb/io/io.h"
#include "support/check_plan.h"  // EXPECT_THROW_MESSAGE
#include "temp_dir.h"

namespace eplb::io {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

// Returns what follows `read_trace: <path>: ` in the ParseError of reading `content`; fails the
// test when the read succeeds, throws something else or does not name the file.
std::string parse_error(const TempDir& dir, std::string_view content,
                        const ReadOptions& options = {}) {
  const fs::path path = dir.write("loads.txt", content);
  try {
    read_trace(path, options);
  } catch (const ParseError& error) {
    const std::string prefix = "read_trace: " + path.string() + ": ";
    const std::string message = error.what();
    EXPECT_EQ(message.substr(0, prefix.size()), prefix) << message;
    return message.substr(prefix.size());
  } catch (const Error& error) {
    ADD_FAILURE() << "not a ParseError: " << error.what();
    return "";
  }
  ADD_FAILURE() << "no error for " << content;
  return "";
}

Trace read_text(const TempDir& dir, std::string_view content, const ReadOptions& options = {}) {
  return read_trace(dir.write("loads.txt", content), options);
}

TEST(SglangLoadsTest, ReadsOneMatrixAsOneStep) {
  const TempDir dir;
  const Trace trace =
      read_text(dir, R"({"logical_count": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], "rank": 0})");
  EXPECT_EQ(trace.num_steps, 1);
  EXPECT_EQ(trace.num_layers, 2);
  EXPECT_EQ(trace.num_experts, 3);
  EXPECT_EQ(trace.values, (std::vector<double>{1, 2, 3, 4, 5, 6}));
}

TEST(SglangLoadsTest, ReadsStepsAndSumsARange) {
  const TempDir dir;
  const fs::path path = dir.write("loads.json", R"({"logical_count": [[[1, 2], [3, 4]],
                                                                      [[10, 20], [30, 40]],
                                                                      [[0, 0], [0, 7]]]})");
  const Trace trace = read_trace(path, LoadFormat::sglang);
  EXPECT_EQ(trace.num_steps, 3);
  EXPECT_EQ(trace.num_layers, 2);
  EXPECT_EQ(trace.num_experts, 2);
  EXPECT_EQ(read_loads(path, {.begin = 1, .end = 3}).values, (std::vector<double>{10, 20, 30, 47}));
  EXPECT_EQ(read_loads(path).values, (std::vector<double>{11, 22, 33, 51}));
}

TEST(SglangLoadsTest, ErrorsNameTheRow) {
  const TempDir dir;
  EXPECT_EQ(parse_error(dir, R"({"logical_count": [[1, 2], [3]]})"),
            "/logical_count/1: expected 2 values, got 1");
  EXPECT_EQ(parse_error(dir, R"({"logical_count": [[1, -2]]})"),
            "/logical_count/0/1: value -2 must be finite and non-negative");
  EXPECT_EQ(parse_error(dir, R"({"logical_count": [[[1, 2], [3, 4]], [[1, 2]]]})"),
            "/logical_count/1: expected 2 rows, got 1");
  EXPECT_EQ(parse_error(dir, R"({"logical_count": [[[1, 2]], [[1, 2, 3]]]})"),
            "/logical_count/1/0: expected 2 values, got 3");
  EXPECT_EQ(parse_error(dir, R"({"logical_count": [[1, 2], [[3], 4]]})"),
            "/logical_count/1/0: expected a number");
  EXPECT_EQ(parse_error(dir, R"({"logical_count": []})"), "/logical_count: empty array");
  EXPECT_EQ(parse_error(dir, R"({"logical_count": [[]]})"), "/logical_count/0: empty row");
  EXPECT_EQ(parse_error(dir, R"({"x": 1})", {.format = LoadFormat::sglang}),
            "missing field \"logical_count\"");
  EXPECT_EQ(parse_error(dir, R"({"physical_to_logical_map": [[0, 1]]})"),
            "missing field \"logical_count\" (this is a plan: it has a physical_to_logical_map)");
  EXPECT_EQ(parse_error(dir, R"({"logical_count": [[1, 2], [3, )"),
            "truncated JSON (unclosed array, object or string)");
}

TEST(CountsLoadsTest, ReadsRecorderSumsAndChecksTheirShape) {
  const TempDir dir;
  const Trace trace = read_text(dir, R"({"counts": [[1, 2], [3, 4], [5, 6]],
                                         "num_layers": 3, "num_experts": 2, "src": "a.pt"})");
  EXPECT_EQ(trace.num_layers, 3);
  EXPECT_EQ(trace.values, (std::vector<double>{1, 2, 3, 4, 5, 6}));
  // Keys in another order are found by looking at every key.
  EXPECT_EQ(read_text(dir, R"({"num_layers": 1, "counts": [[7, 8]]})").values,
            (std::vector<double>{7, 8}));
  EXPECT_EQ(parse_error(dir, R"({"counts": [[1, 2]], "num_layers": 2})"),
            "/num_layers: 2 does not match the 1 rows of /counts");
  EXPECT_EQ(parse_error(dir, R"({"counts": [[1, 2]], "num_experts": 3})"),
            "/num_experts: 3 does not match the 2 columns of /counts");
  EXPECT_EQ(parse_error(dir, R"({"counts": [[1, 2], [1]]})"),
            "/counts/1: expected 2 values, got 1");
  EXPECT_EQ(parse_error(dir, R"({"counts": [[1, 2]], "num_layers": "1"})"),
            "/num_layers: expected an integer");
  EXPECT_EQ(parse_error(dir, R"({"num_layers": 1})", {.format = LoadFormat::counts}),
            "missing field \"counts\"");
}

TEST(LayerJsonlTest, SortsLinesByLayer) {
  const TempDir dir;
  const Trace trace = read_text(dir,
                                "{\"layer\": 2, \"counts\": [5, 6]}\n"
                                "\n"
                                "{\"layer\": 0, \"counts\": [1, 2]}\r\n"
                                "{\"counts\": [3, 4], \"layer\": 1}\n");
  EXPECT_EQ(trace.num_steps, 1);
  EXPECT_EQ(trace.num_layers, 3);
  EXPECT_EQ(trace.values, (std::vector<double>{1, 2, 3, 4, 5, 6}));
}

TEST(LayerJsonlTest, LayersBeforeTheFirstAreZeroRows) {
  // Kimi K2.5's imatrix counts list layers 1..60: layer 0 is dense and has no experts.
  const TempDir dir;
  const Trace trace =
      read_text(dir, "{\"layer\": 2, \"counts\": [5, 6]}\n{\"layer\": 1, \"counts\": [3, 4]}\n");
  EXPECT_EQ(trace.num_layers, 3);
  EXPECT_EQ(trace.values, (std::vector<double>{0, 0, 3, 4, 5, 6}));
}

TEST(LayerJsonlTest, ErrorsNameTheLine) {
  const TempDir dir;
  const std::string one = "{\"layer\": 1, \"counts\": [1, 2]}\n";
  EXPECT_EQ(parse_error(dir, one + "{\"layer\": 2, \"counts\": [1]}\n"),
            "line 2: /counts: expected 2 values, got 1");
  EXPECT_EQ(parse_error(dir, one + one), "line 2: layer 1 was already given on line 1");
  EXPECT_EQ(parse_error(dir, one + "{\"layer\": 3, \"counts\": [1, 2]}\n"),
            "layer 2 is missing (layers 1 to 3 must all be given)");
  EXPECT_EQ(parse_error(dir, "{\"layer\": 0, \"counts\": [1, -1]}\n"),
            "line 1: /counts/1: value -1 must be finite and non-negative");
  EXPECT_EQ(parse_error(dir, one + "{\"layer\": 2}\n"), "line 2: missing field \"counts\"");
  EXPECT_EQ(parse_error(dir, one + "{\"counts\": [1, 2]}\n", {.format = LoadFormat::layer_jsonl}),
            "line 2: missing field \"layer\"");
  EXPECT_EQ(parse_error(dir, "{\"layer\": -1, \"counts\": [1]}\n"),
            "line 1: /layer: layer -1 must be in [0, 65536)");
  EXPECT_EQ(parse_error(dir, one + "{\"layer\": 2, \"counts\": [1, 2]"),
            "line 2: truncated JSON (unclosed array, object or string)");
  EXPECT_EQ(parse_error(dir, one + "{\"layer\": 2, \"counts\": [1, 2]} {}\n"),
            "line 2: unexpected content after the JSON value");
  EXPECT_EQ(parse_error(dir, "\n\n", {.format = LoadFormat::layer_jsonl}), "empty file");
}

constexpr std::string_view kTopk =
    "{\"topk_weights\": [2, 2], \"topk_ids\": [[0, 1], [1, 2]]}\n"  // pass 0, layer 0
    "{\"topk_weights\": [1, 2], \"topk_ids\": [[2, 0]]}\n"          // pass 0, layer 1
    "{\"topk_ids\": [[1, 1]], \"topk_weights\": [[0.5, 0.5]]}\n"    // pass 1, layer 0
    "{\"topk_ids\": []}\n";                                         // pass 1, layer 1

TEST(TopkJsonlTest, CountsIdsPerLayerWithOneStepPerPass) {
  const TempDir dir;
  const Trace trace = read_text(dir, kTopk, {.num_layers = 2});
  EXPECT_EQ(trace.num_steps, 2);
  EXPECT_EQ(trace.num_layers, 2);
  EXPECT_EQ(trace.num_experts, 3);
  EXPECT_EQ(trace.values, (std::vector<double>{1, 2, 1, 1, 0, 1,  //
                                               0, 2, 0, 0, 0, 0}));
  const Trace wider = read_text(dir, kTopk, {.num_layers = 2, .num_experts = 4});
  EXPECT_EQ(wider.num_experts, 4);
  EXPECT_EQ(wider.values[3], 0);
  // One pass of four layers reads the same lines as a single step.
  EXPECT_EQ(read_text(dir, kTopk, {.num_layers = 4}).num_steps, 1);
}

TEST(TopkJsonlTest, AcceptsAFlatListOfIds) {
  const TempDir dir;
  const Trace trace =
      read_text(dir, "{\"topk_ids\": [0, 2, 2]}\n", {.format = LoadFormat::topk_jsonl,
                                                      .num_layers = 1});
  EXPECT_EQ(trace.values, (std::vector<double>{1, 0, 2}));
}

TEST(TopkJsonlTest, NeedsTheLayerCount) {
  const TempDir dir;
  const fs::path path = dir.write("t.jsonl", kTopk);
  EXPECT_THROW_MESSAGE(read_trace(path), InvalidArgument,
                       "read_trace: num_layers = 0 must be in [1, 65536]: a topk-jsonl trace does "
                       "not record the layers per forward pass");
  EXPECT_EQ(parse_error(dir, kTopk, {.num_layers = 3}),
            "4 lines are not a whole number of forward passes of num_layers = 3 lines each");
}

TEST(TopkJsonlTest, ErrorsNameTheLineAndId) {
  const TempDir dir;
  EXPECT_EQ(parse_error(dir, "{\"topk_ids\": [[0, 5]]}\n", {.num_layers = 1, .num_experts = 4}),
            "line 1: /topk_ids/0/1: expert id 5 must be in [0, 4) (num_experts)");
  EXPECT_EQ(parse_error(dir, "{\"topk_ids\": [[0]]}\n{\"topk_ids\": [[-1]]}\n",
                        {.num_layers = 1}),
            "line 2: /topk_ids/0/0: expert id -1 must be in [0, 65536)");
  EXPECT_EQ(parse_error(dir, "{\"topk_ids\": [[0.5]]}\n", {.num_layers = 1}),
            "line 1: /topk_ids/0/0: expected an integer expert id");
  EXPECT_EQ(parse_error(dir, "{\"topk_weights\": [[1.0]]}\n", {.num_layers = 1}),
            "line 1: missing field \"topk_ids\"");
  EXPECT_EQ(parse_error(dir, "{\"topk_ids\": [[0, 1], [2\n", {.num_layers = 1}),
            "line 1: truncated JSON (unclosed array, object or string)");
  EXPECT_EQ(parse_error(dir, "{\"topk_ids\": []}\n", {.num_layers = 1}),
            "no expert ids in the file; num_experts must be given");
}

TEST(ServerLoadsTest, DetectsJsonlByAnyKeyOfTheFirstLine) {
  const TempDir dir;
  EXPECT_EQ(read_text(dir, "{\"src\": \"a\", \"counts\": [1, 2], \"layer\": 0}\n"
                           "{\"src\": \"b\", \"counts\": [3, 4], \"layer\": 1}\n")
                .values,
            (std::vector<double>{1, 2, 3, 4}));
  EXPECT_EQ(read_text(dir, "{\"num_tokens\": 1, \"topk_ids\": [[1, 0]]}\n", {.num_layers = 1})
                .values,
            (std::vector<double>{1, 1}));
}

TEST(ServerLoadsTest, SmallFilesCannotAskForHugeTraces) {
  const TempDir dir;
  std::string zeros = "0";
  for (int i = 1; i < 2000; ++i) zeros += ",0";
  EXPECT_EQ(parse_error(dir, "{\"layer\": 65535, \"counts\": [" + zeros + "]}\n"),
            "too large: 65536 layers x 2000 experts is more than 67108864 values");
  std::string lines;
  for (int i = 0; i < 1100; ++i) lines += "{\"topk_ids\": [65535]}\n";
  EXPECT_EQ(parse_error(dir, lines, {.num_layers = 1}),
            "too large: 1100 lines x 65536 experts is more than 67108864 values");
}

TEST(ServerLoadsTest, ParseLoadFormatRoundTripsEveryName) {
  for (const LoadFormat format :
       {LoadFormat::automatic, LoadFormat::vllm_trace, LoadFormat::json_matrix, LoadFormat::csv,
        LoadFormat::npy, LoadFormat::sglang, LoadFormat::counts, LoadFormat::layer_jsonl,
        LoadFormat::topk_jsonl, LoadFormat::trtllm}) {
    EXPECT_EQ(parse_load_format(to_string(format)), format) << to_string(format);
  }
}

}  // namespace
}  // namespace eplb::io
