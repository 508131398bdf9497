// Tests of the TensorRT-LLM expert statistics reader on safetensors files written here.
#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
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

struct Tensor {
  std::string name;
  std::string dtype;
  int64_t length = 0;
  std::string bytes;
};

std::string le_bytes(uint64_t bits, size_t size) {
  std::string out;
  for (size_t i = 0; i < size; ++i) out += static_cast<char>((bits >> (8 * i)) & 0xff);
  return out;
}

Tensor i64(const std::string& name, const std::vector<int64_t>& values) {
  Tensor tensor{name, "I64", static_cast<int64_t>(values.size()), ""};
  for (const int64_t value : values) tensor.bytes += le_bytes(static_cast<uint64_t>(value), 8);
  return tensor;
}

// Writes safetensors bytes as the reference writer does: 8-byte little-endian header length,
// JSON header (with `__metadata__`, padded with spaces to a multiple of 8), then the data.
std::string safetensors(const std::vector<Tensor>& tensors) {
  std::string header = "{\"__metadata__\":{\"format\":\"pt\"}";
  std::string data;
  for (const Tensor& tensor : tensors) {
    const size_t end = data.size() + tensor.bytes.size();
    header += ",\"" + tensor.name + "\":{\"dtype\":\"" + tensor.dtype + "\",\"shape\":[" +
              std::to_string(tensor.length) + "],\"data_offsets\":[" +
              std::to_string(data.size()) + "," + std::to_string(end) + "]}";
    data += tensor.bytes;
  }
  header += "}";
  while (header.size() % 8 != 0) header += ' ';
  return le_bytes(header.size(), 8) + header + data;
}

// Returns what follows `read_trace: <path>: ` in the ParseError of reading `path`.
std::string parse_error(const fs::path& path, const fs::path& named) {
  try {
    read_trace(path);
  } catch (const ParseError& error) {
    const std::string prefix = "read_trace: " + named.string() + ": ";
    const std::string message = error.what();
    EXPECT_EQ(message.substr(0, prefix.size()), prefix) << message;
    return message.substr(prefix.size());
  }
  ADD_FAILURE() << "no ParseError";
  return "";
}

TEST(TrtllmStatsTest, SumsRanksAndKeepsLayerNumbers) {
  const TempDir dir;
  dir.write("meta_info.json", R"({"num_experts": 4, "num_experts_per_token": 2})");
  dir.write("rank0.safetensors",
            safetensors({i64("100_3", {1, 2, 3, 4}), i64("100_4", {0, 0, 1, 1}),
                         i64("101_3", {5, 0, 0, 0}), i64("101_4", {1, 1, 1, 1})}));
  dir.write("rank1.safetensors",
            safetensors({i64("101_4", {1, 0, 0, 0}), i64("100_3", {10, 0, 0, 0})}));
  // Raw routing dumps sit next to the counts and are not counts.
  dir.write("rank0_raw.safetensors", safetensors({i64("100_3", {99, 99, 99, 99})}));
  const Trace trace = read_trace(dir.path());
  EXPECT_EQ(trace.num_steps, 2);   // iterations 100 and 101
  EXPECT_EQ(trace.num_layers, 5);  // layers 0-2 are dense (never recorded): zero rows
  EXPECT_EQ(trace.num_experts, 4);
  const std::vector<double> zeros(12, 0);
  EXPECT_EQ(std::vector<double>(trace.values.begin(), trace.values.begin() + 12), zeros);
  EXPECT_EQ(std::vector<double>(trace.values.begin() + 12, trace.values.begin() + 20),
            (std::vector<double>{11, 2, 3, 4, 0, 0, 1, 1}));
  EXPECT_EQ(std::vector<double>(trace.values.begin() + 32, trace.values.end()),
            (std::vector<double>{5, 0, 0, 0, 2, 1, 1, 1}));
  EXPECT_EQ(read_loads(dir.path(), {.begin = 1, .end = 2}, LoadFormat::trtllm).values[12], 5);
}

TEST(TrtllmStatsTest, ReadsOneRankFileOfAnyCountType) {
  const TempDir dir;
  Tensor f32{"0_0", "F32", 2, le_bytes(std::bit_cast<uint32_t>(1.5f), 4) +
                                  le_bytes(std::bit_cast<uint32_t>(2.0f), 4)};
  Tensor bf16{"0_1", "BF16", 2, le_bytes(0x3f80, 2) + le_bytes(0x4040, 2)};  // 1, 3
  Tensor f16{"0_2", "F16", 2, le_bytes(0x3c00, 2) + le_bytes(0x4400, 2)};    // 1, 4
  Tensor i32{"0_3", "I32", 2, le_bytes(7, 4) + le_bytes(8, 4)};
  Tensor f64{"0_4", "F64", 2, le_bytes(std::bit_cast<uint64_t>(0.25), 8) +
                                  le_bytes(std::bit_cast<uint64_t>(9.0), 8)};
  const fs::path path = dir.write("rank3.safetensors", safetensors({f32, bf16, f16, i32, f64}));
  const Trace trace = read_trace(path);
  EXPECT_EQ(trace.num_layers, 5);
  EXPECT_EQ(trace.values, (std::vector<double>{1.5, 2, 1, 3, 1, 4, 7, 8, 0.25, 9}));
}

TEST(TrtllmStatsTest, MalformedFilesNameTheFileAndTensor) {
  const TempDir dir;
  const std::string good = safetensors({i64("100_3", {1, 2, 3, 4})});
  const fs::path truncated = dir.write("a/rank0.safetensors", good.substr(0, good.size() - 8));
  EXPECT_EQ(parse_error(truncated, truncated),
            "tensor \"100_3\": data_offsets [0, 32] must span 32 bytes inside the 24 bytes of "
            "data (truncated file?)");
  const fs::path short_header = dir.write("b/rank0.safetensors", good.substr(0, 20));
  EXPECT_EQ(parse_error(short_header, short_header),
            "truncated safetensors file: the header takes " +
                std::to_string(good.size() - 8 - 32) + " bytes, the file has 12");
  const fs::path bad_name = dir.write("c/rank0.safetensors", safetensors({i64("w1", {1})}));
  EXPECT_EQ(parse_error(bad_name, bad_name), "tensor \"w1\": name must be \"<iteration>_<layer>\"");
  const fs::path negative = dir.write("d/rank0.safetensors", safetensors({i64("1_1", {1, -1})}));
  EXPECT_EQ(parse_error(negative, negative),
            "tensor \"1_1\": [1]: value -1 must be finite and non-negative");
  const fs::path dtype = dir.write("e/rank0.safetensors",
                                   safetensors({Tensor{"1_1", "BOOL", 1, std::string(1, '\1')}}));
  EXPECT_EQ(parse_error(dtype, dtype), "tensor \"1_1\": unsupported dtype BOOL");
  const fs::path header = dir.write("f/rank0.safetensors", le_bytes(4, 8) + "{\"a\"");
  EXPECT_EQ(parse_error(header, header),
            "header: malformed or truncated JSON");
}

TEST(TrtllmStatsTest, FoldersMustBeConsistent) {
  const TempDir dir;
  dir.write("x/meta_info.json", R"({"num_experts": 4})");
  const fs::path rank = dir.write("x/rank0.safetensors", safetensors({i64("1_1", {1, 2, 3})}));
  EXPECT_EQ(parse_error(dir.path() / "x", rank),
            "tensor \"1_1\": shape [3] must be [4] (num_experts)");
  dir.write("y/rank0.safetensors", safetensors({i64("1_1", {1}), i64("1_2", {1})}));
  const fs::path rank1 = dir.write("y/rank1.safetensors", safetensors({i64("2_1", {1})}));
  EXPECT_EQ(parse_error(dir.path() / "y", dir.path() / "y"),
            "tensor \"2_2\" is missing: every iteration must record every layer");
  static_cast<void>(rank1);
  const fs::path meta = dir.write("z/meta_info.json", "{\"num_experts\": ");
  dir.write("z/rank0.safetensors", safetensors({i64("1_1", {1})}));
  EXPECT_EQ(parse_error(dir.path() / "z", meta), "malformed or truncated JSON");
  fs::create_directories(dir.path() / "empty");
  dir.write("empty/rank0_raw.safetensors", safetensors({i64("1_1", {1})}));
  EXPECT_EQ(parse_error(dir.path() / "empty", dir.path() / "empty"),
            "no rank<N>.safetensors files (TensorRT-LLM expert statistics) in the folder");
}

// With its load balancer active, TensorRT-LLM counts the tokens of each slot (num_experts in the
// statistics is num_slots); the deployed plan maps them back to experts.
TEST(TrtllmStatsTest, SlotCountsAreMappedThroughTheDeployedPlan) {
  const TempDir dir;
  dir.write("stats/meta_info.json", R"({"num_experts": 4, "num_experts_per_token": 2})");
  dir.write("stats/rank0.safetensors",
            safetensors({i64("0_1", {5, 1, 2, 3}), i64("0_2", {0, 4, 0, 6}),
                         i64("1_1", {1, 0, 0, 1}), i64("1_2", {2, 2, 2, 2})}));
  const fs::path plan = dir.write("plan.yaml",
                                  "num_slots: 4\nep_size: 2\ninitial_global_assignments:\n"
                                  "  1: [0, 1, 2, 0]\n  2: [2, 1, 0, 1]\n"
                                  "layer_updates_per_iter: 0\n");
  const Trace trace = read_trace(dir.path() / "stats", {.deployed_plan = plan});
  EXPECT_EQ(trace.num_steps, 2);
  EXPECT_EQ(trace.num_layers, 3);
  EXPECT_EQ(trace.num_experts, 3);
  // Layer 0 (dense) is zero; slots 0 and 3 of layer 1 hold expert 0; layer 2's slot 1 and 3
  // hold expert 1.
  EXPECT_EQ(trace.values, (std::vector<double>{0, 0, 0, 8, 1, 2, 0, 10, 0,  //
                                               0, 0, 0, 2, 0, 0, 2, 4, 2}));
  // Without ep_size the GPU count does not matter for the mapping.
  const fs::path no_ep = dir.write("no_ep.yaml",
                                   "num_slots: 4\ninitial_global_assignments:\n"
                                   "  1: [0, 1, 2, 0]\n  2: [2, 1, 0, 1]\n");
  EXPECT_EQ(read_loads(dir.path() / "stats", {}, {.deployed_plan = no_ep}).values,
            (std::vector<double>{0, 0, 0, 10, 1, 2, 2, 14, 2}));
  const fs::path wider = dir.write("wider.yaml",
                                   "num_slots: 6\ninitial_global_assignments:\n"
                                   "  1: [0, 1, 2, 0, 1, 2]\n  2: [2, 1, 0, 1, 0, 2]\n");
  EXPECT_THROW_MESSAGE(read_trace(dir.path() / "stats", {.deployed_plan = wider}),
                       InvalidArgument,
                       "map_slot_loads: deployed plan " + wider.string() +
                           ": the loads count 4 slots per layer, the plan has num_slots = 6");
  const fs::path deeper = dir.write("deeper.yaml",
                                    "num_slots: 4\ninitial_global_assignments:\n"
                                    "  1: [0, 1, 2, 0]\n  2: [2, 1, 0, 1]\n  3: [0, 1, 2, 0]\n");
  EXPECT_THROW_MESSAGE(read_trace(dir.path() / "stats", {.deployed_plan = deeper}),
                       InvalidArgument,
                       "map_slot_loads: deployed plan " + deeper.string() +
                           ": the loads have 3 layers, the plan 4");
}

}  // namespace
}  // namespace eplb::io
