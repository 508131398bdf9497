// Tests of the JSON load readers (vLLM traces, plain matrices), write_trace_json and dispatch.
#include "eplb/io/io.h"

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
using testing::read_text;
using testing::TempDir;

constexpr std::string_view kTrace = R"({"load_history": [
  {"logical_expert_load": [[1, 2, 3], [4, 5, 6]]},
  {"logical_expert_load": [[10, 20, 30], [40, 50, 60]]},
  {"logical_expert_load": [[100, 200, 300], [400, 500, 600]]},
  {"logical_expert_load": [[0, 0, 0], [0, 0, 7]]}
]}
)";

// Returns the ParseError message of reading `content` as a file named `name`.
std::string parse_error(const TempDir& dir, std::string_view content,
                        LoadFormat format = LoadFormat::automatic,
                        const std::string& name = "t.json") {
  const fs::path path = dir.write(name, content);
  try {
    read_trace(path, format);
  } catch (const ParseError& error) {
    const std::string prefix = "read_trace: " + path.string() + ": ";
    const std::string message = error.what();
    EXPECT_EQ(message.substr(0, prefix.size()), prefix);
    return message.substr(prefix.size());
  }
  ADD_FAILURE() << "no ParseError for " << content;
  return "";
}

TEST(JsonTest, ReadsVllmTrace) {
  const TempDir dir;
  const Trace trace = read_trace(dir.write("t.json", kTrace));
  EXPECT_EQ(trace.num_steps, 4);
  EXPECT_EQ(trace.num_layers, 2);
  EXPECT_EQ(trace.num_experts, 3);
  ASSERT_EQ(trace.values.size(), 24u);
  EXPECT_EQ(trace.values[0], 1);
  EXPECT_EQ(trace.values[8], 30);
  EXPECT_EQ(trace.values[23], 7);
}

TEST(JsonTest, ContentAfterTheRootValueIsNamedAsSuch) {
  const TempDir dir;
  EXPECT_EQ(parse_error(dir, "[[1, 2, 3]] xyz"),
            "unexpected content after the JSON value at byte 12");
  EXPECT_EQ(parse_error(dir, "[[1]] [2]"), "unexpected content after the JSON value at byte 6");
  EXPECT_EQ(parse_error(dir, std::string(kTrace) + "}"),
            "unexpected content after the JSON value at byte " + std::to_string(kTrace.size()));
  EXPECT_EQ(parse_error(dir, "[[1, 2, 3]]]\n"), "unexpected content after the JSON value at byte 11");
  EXPECT_EQ(parse_error(dir, std::string(kTrace) + "{}"),
            "unexpected content after the JSON value at byte " +
                std::to_string(kTrace.size()));
  // Brackets inside strings do not close the root; an unclosed root is still truncated.
  EXPECT_EQ(parse_error(dir, "{\"load_history\": [\"]]\"]} 5"),
            "unexpected content after the JSON value at byte 25");
  EXPECT_EQ(parse_error(dir, "[[1, 2, 3], [4"),
            "truncated JSON (unclosed array, object or string)");
}

TEST(JsonTest, MessagesEscapeRawBytes) {
  const TempDir dir;
  EXPECT_EQ(parse_error(dir, "1,2,\xff\x01\n", LoadFormat::automatic, "t.csv"),
            "line 1, column 3: expected a number, got \"\\xff\\x01\"");
  const fs::path odd = dir.write("odd\x01name.csv", "1,x\n");
  try {
    read_trace(odd);
    ADD_FAILURE() << "no ParseError";
  } catch (const ParseError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("odd\\x01name.csv"), std::string::npos) << message;
    EXPECT_EQ(message.find('\x01'), std::string::npos) << message;
  }
}

TEST(JsonTest, IgnoresOtherFieldsOfTraceAndSteps) {
  const TempDir dir;
  const Trace trace = read_trace(dir.write("t.json", R"({"model": "x", "load_history": [
      {"step": 1, "logical_expert_load": [[1.5, 2]], "extra": {"a": [1, [2]]}}], "end": null})"));
  EXPECT_EQ(trace.num_steps, 1);
  EXPECT_EQ(trace.values, (std::vector<double>{1.5, 2}));
}

TEST(JsonTest, ReadsPlainMatrixAsOneStep) {
  const TempDir dir;
  const Trace trace = read_trace(dir.write("m.json", " \n\t[[1, 2.5], [3e2, 0]]\n"));
  EXPECT_EQ(trace.num_steps, 1);
  EXPECT_EQ(trace.num_layers, 2);
  EXPECT_EQ(trace.num_experts, 2);
  EXPECT_EQ(trace.values, (std::vector<double>{1, 2.5, 300, 0}));
}

TEST(JsonTest, ForcedFormatOverridesContent) {
  const TempDir dir;
  EXPECT_EQ(parse_error(dir, "[[1, 2]]", LoadFormat::vllm_trace),
            "expected a JSON object with a load_history");
  EXPECT_EQ(parse_error(dir, kTrace, LoadFormat::json_matrix), "expected a JSON array of rows");
  EXPECT_EQ(parse_error(dir, "[[1, 2]]", LoadFormat::csv),
            "line 1, column 1: expected a number, got \"[[1\"");
}

TEST(JsonTest, ParseLoadFormatNamesEveryFormat) {
  EXPECT_EQ(parse_load_format("auto"), LoadFormat::automatic);
  EXPECT_EQ(parse_load_format("vllm"), LoadFormat::vllm_trace);
  EXPECT_EQ(parse_load_format("json"), LoadFormat::json_matrix);
  EXPECT_EQ(parse_load_format("csv"), LoadFormat::csv);
  EXPECT_EQ(parse_load_format("npy"), LoadFormat::npy);
  EXPECT_EQ(parse_load_format("sglang"), LoadFormat::sglang);
  EXPECT_EQ(parse_load_format("counts"), LoadFormat::counts);
  EXPECT_EQ(parse_load_format("layer-jsonl"), LoadFormat::layer_jsonl);
  EXPECT_EQ(parse_load_format("topk-jsonl"), LoadFormat::topk_jsonl);
  EXPECT_EQ(parse_load_format("trtllm"), LoadFormat::trtllm);
  for (const LoadFormat format : {LoadFormat::automatic, LoadFormat::csv, LoadFormat::trtllm}) {
    EXPECT_EQ(parse_load_format(to_string(format)), format);
  }
  EXPECT_THROW_MESSAGE(parse_load_format("yaml"), InvalidArgument,
                       "parse_load_format: name = \"yaml\" must be one of auto, vllm, json, csv, "
                       "npy, sglang, counts, layer-jsonl, topk-jsonl, trtllm");
}

TEST(JsonTest, ReadLoadsSumsAllStepsByDefault) {
  const TempDir dir;
  const Loads loads = read_loads(dir.write("t.json", kTrace));
  EXPECT_EQ(loads.num_layers, 2);
  EXPECT_EQ(loads.num_experts, 3);
  EXPECT_EQ(loads.values, (std::vector<double>{111, 222, 333, 444, 555, 673}));
}

TEST(JsonTest, ReadLoadsSumsStepRange) {
  const TempDir dir;
  const fs::path path = dir.write("t.json", kTrace);
  const Trace trace = read_trace(path);
  const Loads loads = read_loads(path, {.begin = 1, .end = 3});
  ASSERT_EQ(loads.values.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(loads.values[i], trace.values[6 + i] + trace.values[12 + i]) << i;
  }
  EXPECT_EQ(read_loads(path, {.begin = 3}).values, (std::vector<double>{0, 0, 0, 0, 0, 7}));
}

TEST(JsonTest, ReadLoadsRejectsStepRangeOutOfBounds) {
  const TempDir dir;
  const fs::path path = dir.write("t.json", kTrace);
  EXPECT_THROW(read_loads(path, {.begin = 2, .end = 5}), InvalidArgument);
  EXPECT_THROW(read_loads(path, {.begin = 4}), InvalidArgument);
  EXPECT_THROW(read_loads(path, {.begin = 2, .end = 2}), InvalidArgument);
}

TEST(JsonTest, ReadLoadsNamesItselfInMessages) {
  const TempDir dir;
  const fs::path path = dir.write("t.json", "[[1, -2]]");
  EXPECT_THROW_MESSAGE(read_loads(path), ParseError,
                       "read_loads: " + path.string() +
                           ": /0/1: value -2 must be finite and non-negative");
}

TEST(JsonTest, MissingFileIsIoError) {
  const TempDir dir;
  const fs::path path = dir.path() / "missing.json";
  EXPECT_THROW_MESSAGE(read_trace(path), IoError,
                       "read_trace: " + path.string() + ": No such file or directory");
}

TEST(JsonTest, DirectoryWithoutStatisticsIsParseError) {
  // A folder is read as TensorRT-LLM expert statistics (rank<N>.safetensors files).
  const TempDir dir;
  EXPECT_THROW_MESSAGE(read_trace(dir.path()), ParseError,
                       "read_trace: " + dir.path().string() +
                           ": no rank<N>.safetensors files (TensorRT-LLM expert statistics) in "
                           "the folder");
  EXPECT_THROW_MESSAGE(read_trace(dir.path(), LoadFormat::json_matrix), IoError,
                       "read_trace: " + dir.path().string() + ": Is a directory");
}

TEST(JsonTest, StructuralErrorsNameTheLocation) {
  const TempDir dir;
  EXPECT_EQ(parse_error(dir, "{}"), "missing field \"load_history\"");
  EXPECT_EQ(parse_error(dir, R"({"load_history": []})"), "/load_history: no steps");
  EXPECT_EQ(parse_error(dir, R"({"load_history": {}})"),
            "/load_history: expected an array of steps");
  EXPECT_EQ(parse_error(dir, R"({"load_history": [[]]})"), "/load_history/0: expected an object");
  EXPECT_EQ(parse_error(dir, R"({"load_history": [{"x": 1}]})"),
            "/load_history/0: missing field \"logical_expert_load\"");
  EXPECT_EQ(parse_error(dir, R"({"load_history": [{"logical_expert_load": []}]})"),
            "/load_history/0/logical_expert_load: empty matrix");
  EXPECT_EQ(parse_error(dir, R"({"load_history": [{"logical_expert_load": [[]]}]})"),
            "/load_history/0/logical_expert_load/0: empty row");
  EXPECT_EQ(parse_error(dir, "[]"), "empty matrix");
  EXPECT_EQ(parse_error(dir, "[1, 2]"), "/0: expected an array of numbers");
  EXPECT_EQ(parse_error(dir, "5", LoadFormat::json_matrix), "expected a JSON array of rows");
  EXPECT_EQ(parse_error(dir, "{\"load_history\": [{\"logical_expert_load\": 1}]}"),
            "/load_history/0/logical_expert_load: expected an array of rows");
  EXPECT_EQ(parse_error(dir, "[[1, \"2\"]]"), "/0/1: expected a number");
  EXPECT_EQ(parse_error(dir, "[[1, null]]"), "/0/1: expected a number");
  EXPECT_EQ(parse_error(dir, "[[1, 1e999]]"), "/0/1: invalid or out-of-range number");
}

TEST(JsonTest, RowsAndStepsMustAgreeInShape) {
  const TempDir dir;
  EXPECT_EQ(parse_error(dir, "[[1, 2, 3], [4, 5]]"), "/1: expected 3 values, got 2");
  EXPECT_EQ(parse_error(dir, R"({"load_history": [{"logical_expert_load": [[1, 2], [3, 4]]},
      {"logical_expert_load": [[1, 2], [3, 4], [5, 6]]}]})"),
            "/load_history/1/logical_expert_load: expected 2 rows, got 3");
  EXPECT_EQ(parse_error(dir, R"({"load_history": [{"logical_expert_load": [[1, 2], [3, 4]]},
      {"logical_expert_load": [[1, 2], [3, 4]]}, {"logical_expert_load": [[1, 2], [3]]}]})"),
            "/load_history/2/logical_expert_load/1: expected 2 values, got 1");
}

TEST(JsonTest, NegativeValueIsParseError) {
  const TempDir dir;
  EXPECT_EQ(parse_error(dir, R"({"load_history": [{"logical_expert_load": [[1, 2], [3, 4]]},
      {"logical_expert_load": [[1, 2], [3, -0.5]]}]})"),
            "/load_history/1/logical_expert_load/1/1: value -0.5 must be finite and non-negative");
}

TEST(JsonTest, EmptyFileIsParseError) {
  const TempDir dir;
  EXPECT_EQ(parse_error(dir, ""), "empty file");
  EXPECT_EQ(parse_error(dir, " \n"), "empty file");
  EXPECT_EQ(parse_error(dir, "", LoadFormat::vllm_trace), "empty file");
}

// Every proper prefix of a valid file must be rejected, wherever the cut falls.
TEST(JsonTest, TruncatedFileIsParseErrorAtEveryCut) {
  const TempDir dir;
  const std::string_view matrix = "[[1, 2], [3, 4]]";
  for (const std::string_view text : {kTrace.substr(0, kTrace.size() - 1), matrix}) {
    for (size_t length = 1; length < text.size(); ++length) {
      const fs::path path = dir.write("cut.json", text.substr(0, length));
      EXPECT_THROW(read_trace(path), ParseError) << text.substr(0, length);
    }
  }
}

TEST(JsonTest, WriteThenReadRoundTrips) {
  const TempDir dir;
  const Trace trace{.num_steps = 2,
                    .num_layers = 2,
                    .num_experts = 3,
                    .values = {0, 1, 2, 0.1, 1e-7, 12345678901, 1.5, 2.0 / 3, 1e300, 4, 5, 6}};
  const fs::path path = dir.path() / "out.json";
  write_trace_json(path, trace);
  const Trace read = read_trace(path);
  EXPECT_EQ(read.num_steps, trace.num_steps);
  EXPECT_EQ(read.num_layers, trace.num_layers);
  EXPECT_EQ(read.num_experts, trace.num_experts);
  EXPECT_EQ(read.values, trace.values);
  EXPECT_EQ(read_trace(path, LoadFormat::vllm_trace).values, trace.values);
}

TEST(JsonTest, WritesIntegersWithoutDecimals) {
  const TempDir dir;
  const fs::path path = dir.path() / "out.json";
  write_trace_json(path, {.num_steps = 1, .num_layers = 2, .num_experts = 2,
                          .values = {0, 17, 1024, 0.25}});
  EXPECT_EQ(read_text(path), "{\"load_history\": [\n  {\"logical_expert_load\": [\n    [0,17],\n"
                             "    [1024,0.25]]}\n]}\n");
  EXPECT_FALSE(fs::exists(dir.path() / "out.json.tmp"));
}

TEST(JsonTest, WriteFailureLeavesNoPartialFile) {
  const TempDir dir;
  const Trace trace{.num_steps = 1, .num_layers = 1, .num_experts = 1, .values = {1}};
  const fs::path missing = dir.path() / "no" / "such" / "out.json";
  EXPECT_THROW_MESSAGE(write_trace_json(missing, trace), IoError,
                       "write_trace_json: " + missing.string() + ": No such file or directory");
  // Renaming a file over a directory fails after the temporary file was written.
  const fs::path occupied = dir.path() / "occupied";
  fs::create_directory(occupied);
  EXPECT_THROW_MESSAGE(write_trace_json(occupied, trace), IoError,
                       "write_trace_json: " + occupied.string() + ": Is a directory");
  EXPECT_TRUE(fs::is_directory(occupied));
  EXPECT_FALSE(fs::exists(dir.path() / "occupied.tmp"));
}

TEST(JsonTest, WriteRejectsInconsistentTrace) {
  const TempDir dir;
  const fs::path path = dir.path() / "out.json";
  EXPECT_THROW_MESSAGE(
      write_trace_json(path, {.num_steps = 2, .num_layers = 1, .num_experts = 2, .values = {1}}),
      InvalidArgument,
      "write_trace_json: values.size() = 1 must equal num_steps * num_layers * num_experts = 4");
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_THROW_MESSAGE(write_trace_json(path, {.num_steps = 1, .num_layers = 1, .num_experts = 2,
                                               .values = {1, inf}}),
                       InvalidArgument, "write_trace_json: values[1] = inf must be finite");
  EXPECT_FALSE(fs::exists(path));
}

TEST(JsonTest, ReadsCommittedVllmSample) {
  const Trace trace = read_trace(fs::path(EPLB_TEST_DATA_DIR) / "io" / "vllm_trace.json");
  EXPECT_EQ(trace.num_steps, 3);
  EXPECT_EQ(trace.num_layers, 2);
  EXPECT_EQ(trace.num_experts, 4);
  EXPECT_EQ(trace.sum_steps().values, (std::vector<double>{6, 3, 0, 12, 9, 9, 9, 9}));
}

}  // namespace
}  // namespace eplb::io
