// Tests of write_plan and read_plan in every server format: layouts, round trips, conversions
// between every pair, options and malformed files.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "eplb/io/io.h"
#include "eplb/io/layers.h"
#include "eplb/metrics.h"
#include "eplb/plan.h"
#include "eplb/policy.h"
#include "eplb/topology.h"
#include "support/check_plan.h"  // EXPECT_THROW_MESSAGE, check_plan
#include "support/generators.h"
#include "temp_dir.h"

namespace eplb::io {
namespace {

namespace fs = std::filesystem;
using testing::read_text;
using testing::TempDir;

constexpr PlanFormat kFormats[] = {PlanFormat::eplb, PlanFormat::sglang, PlanFormat::trtllm,
                                   PlanFormat::vllm_ascend};

// Three layers, the first dense (trivial placement); 3 experts in 4 slots on 2 GPUs.
PlanFile small_plan_file() {
  const std::vector<int64_t> phy2log{0, 1, 2, 0,  //
                                     2, 1, 0, 1,  //
                                     0, 2, 1, 0};
  return PlanFile{plan_from_phy2log(phy2log, 3, 4, 3), Topology(4, 1, 1, 2), "balanced", {0}};
}

// The options a reader needs to rebuild `plan_file` from `format`, which may not record them.
PlanReadOptions options_for(const PlanFile& plan_file, PlanFormat format) {
  PlanReadOptions options{.format = format};
  if (format == PlanFormat::eplb) return options;
  options.num_gpus = plan_file.topology.num_gpus();
  options.num_groups = plan_file.topology.num_groups();
  options.num_nodes = plan_file.topology.num_nodes();
  // trtllm records dense layers (the missing layer keys); the others need to be told.
  if (format != PlanFormat::trtllm) options.dense_layers = plan_file.dense_layers;
  return options;
}

void expect_same_plan(const PlanFile& read, const PlanFile& written, PlanFormat format) {
  EXPECT_EQ(read.plan, written.plan) << to_string(format);
  EXPECT_EQ(read.topology, written.topology) << to_string(format);
  EXPECT_EQ(read.dense_layers, written.dense_layers) << to_string(format);
  EXPECT_EQ(eplb::testing::check_plan(read.plan, read.topology, read.plan.num_experts), "");
}

TEST(PlanFormatsTest, SglangLayout) {
  const TempDir dir;
  const fs::path path = dir.path() / "plan.json";
  write_plan(path, small_plan_file(), PlanFormat::sglang);
  EXPECT_EQ(read_text(path),
            "{\"physical_to_logical_map\": [\n"
            "  [0,1,2,0],\n"
            "  [2,1,0,1],\n"
            "  [0,2,1,0]\n"
            "]}\n");
}

TEST(PlanFormatsTest, TrtllmLayoutListsMoeLayersByModelIndex) {
  const TempDir dir;
  const fs::path path = dir.path() / "plan.yaml";
  write_plan(path, small_plan_file(), PlanFormat::trtllm);
  EXPECT_EQ(read_text(path),
            "num_slots: 4\n"
            "initial_global_assignments:\n"
            "  1: [2, 1, 0, 1]\n"
            "  2: [0, 2, 1, 0]\n"
            "layer_updates_per_iter: 0\n");
}

TEST(PlanFormatsTest, VllmAscendLayoutListsMoeLayersOnly) {
  const TempDir dir;
  const fs::path path = dir.path() / "plan.json";
  write_plan(path, small_plan_file(), PlanFormat::vllm_ascend);
  EXPECT_EQ(read_text(path),
            "{\n"
            "  \"moe_layer_count\": 2,\n"
            "  \"layer_list\": [\n"
            "    {\"layer_id\": 0, \"device_count\": 2, \"device_list\": [\n"
            "      {\"device_id\": 0, \"device_expert\": [2, 1]},\n"
            "      {\"device_id\": 1, \"device_expert\": [0, 1]}\n"
            "    ]},\n"
            "    {\"layer_id\": 1, \"device_count\": 2, \"device_list\": [\n"
            "      {\"device_id\": 0, \"device_expert\": [0, 2]},\n"
            "      {\"device_id\": 1, \"device_expert\": [1, 0]}\n"
            "    ]}\n"
            "  ]\n"
            "}\n");
}

TEST(PlanFormatsTest, EplbLayoutRecordsDenseLayers) {
  const TempDir dir;
  const fs::path path = dir.path() / "plan.json";
  write_plan(path, small_plan_file(), PlanFormat::eplb);
  EXPECT_NE(read_text(path).find("  \"max_replicas\": 2,\n  \"dense_layers\": [0],\n  \"phy2log\""),
            std::string::npos)
      << read_text(path);
}

TEST(PlanFormatsTest, EveryFormatRoundTrips) {
  const TempDir dir;
  const PlanFile written = small_plan_file();
  for (const PlanFormat format : kFormats) {
    const fs::path path = dir.path() / ("plan." + std::string(to_string(format)));
    write_plan(path, written, format);
    EXPECT_FALSE(fs::exists(path.string() + ".tmp"));
    expect_same_plan(read_plan(path, options_for(written, format)), written, format);
    // Detection from the content gives the same result.
    PlanReadOptions detected = options_for(written, format);
    detected.format = PlanFormat::automatic;
    expect_same_plan(read_plan(path, detected), written, format);
  }
}

TEST(PlanFormatsTest, ConvertsBetweenEveryPair) {
  const TempDir dir;
  const PlanFile original = small_plan_file();
  for (const PlanFormat from : kFormats) {
    const fs::path source = dir.path() / ("from." + std::string(to_string(from)));
    write_plan(source, original, from);
    const PlanFile read = read_plan(source, options_for(original, from));
    for (const PlanFormat to : kFormats) {
      const fs::path target = dir.path() / ("to." + std::string(to_string(to)));
      write_plan(target, read, to);
      SCOPED_TRACE(std::string(to_string(from)) + " -> " + std::string(to_string(to)));
      expect_same_plan(read_plan(target, options_for(original, to)), original, to);
    }
  }
}

TEST(PlanFormatsTest, PlannedPlansRoundTripOverSeeds) {
  const TempDir dir;
  const Topology topology(24, 4, 2, 8);
  for (uint64_t seed = 0; seed < 100; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const Loads loads = eplb::testing::make_loads(eplb::testing::Distribution::zipf, 3, 16, seed);
    // Odd seeds get a dense layer in the middle, as a model with interleaved MoE layers has.
    const std::vector<int64_t> dense =
        seed % 2 == 0 ? std::vector<int64_t>{} : std::vector<int64_t>{1};
    const Plan moe_plan = rebalance_experts(loads.view(), topology);
    const PlanFile written{dense.empty() ? moe_plan : insert_dense_layers(moe_plan, dense),
                           topology, "balanced", dense};
    // `balanced` takes a second replica of an expert on a GPU where that lowers the heaviest
    // GPU; vllm-ascend cannot address it and refuses such a plan.
    const bool duplicates = evaluate(moe_plan, loads.view(), topology).duplicate_slots > 0;
    for (const PlanFormat format : kFormats) {
      const fs::path path = dir.path() / "plan";
      if (format == PlanFormat::vllm_ascend && duplicates) {
        EXPECT_THROW(write_plan(path, written, format), InvalidArgument);
        continue;
      }
      write_plan(path, written, format);
      expect_same_plan(read_plan(path, options_for(written, format)), written, format);
    }
  }
}

TEST(PlanFormatsTest, FormatsWithoutTopologyNeedTheGpuCount) {
  const TempDir dir;
  const fs::path path = dir.path() / "plan.json";
  write_plan(path, small_plan_file(), PlanFormat::sglang);
  EXPECT_THROW_MESSAGE(read_plan(path), InvalidArgument,
                       "read_plan: num_gpus = 0 must be given: a sglang plan does not record the "
                       "number of GPUs");
  // Groups and nodes default to 1 when the format does not record them.
  EXPECT_EQ(read_plan(path, {.num_gpus = 4}).topology, Topology(4, 1, 1, 4));
  write_plan(path, small_plan_file(), PlanFormat::vllm_ascend);
  EXPECT_THROW_MESSAGE(read_plan(path, {.num_gpus = 4}), InvalidArgument,
                       "read_plan: num_gpus = 4 must equal the 2 recorded in " + path.string());
  write_plan(path, small_plan_file(), PlanFormat::eplb);
  EXPECT_THROW_MESSAGE(read_plan(path, {.num_nodes = 2}), InvalidArgument,
                       "read_plan: num_nodes = 2 must equal the 1 recorded in " + path.string());
}

TEST(PlanFormatsTest, TrtllmEpSizeGivesTheGpuCount) {
  const TempDir dir;
  const fs::path path = dir.write("plan.yaml",
                                  "# generate_eplb_config.py with PyYAML: keys sorted\n"
                                  "ep_size: 2\n"
                                  "initial_global_assignments:\n"
                                  "  '1': [2, 1,\n"
                                  "    0, 1]   # continued\n"
                                  "  2:\n"
                                  "  - 0\n"
                                  "  - 2\n"
                                  "  -   1\n"
                                  "  - 0\n"
                                  "layer_updates_per_iter: 0\n"
                                  "num_slots: 4\n");
  const PlanFile read = read_plan(path);
  expect_same_plan(read, small_plan_file(), PlanFormat::trtllm);
  EXPECT_THROW_MESSAGE(read_plan(path, {.num_gpus = 4}), InvalidArgument,
                       "read_plan: num_gpus = 4 must equal the 2 recorded in " + path.string());
  EXPECT_THROW_MESSAGE(read_plan(path, {.dense_layers = {1}}), InvalidArgument,
                       "read_plan: dense_layers = [1] must equal the dense layers [0] recorded "
                       "in " + path.string());
}

TEST(PlanFormatsTest, DenseLayersAreMarkedOrInserted) {
  const TempDir dir;
  const fs::path path = dir.path() / "plan.json";
  PlanFile moe_only = small_plan_file();
  moe_only.dense_layers.clear();
  write_plan(path, moe_only, PlanFormat::vllm_ascend);  // three MoE layers
  const PlanFile inserted = read_plan(path, {.dense_layers = {0, 4}});
  EXPECT_EQ(inserted.plan.num_layers, 5);
  EXPECT_EQ(inserted.dense_layers, (std::vector<int64_t>{0, 4}));
  EXPECT_THROW_MESSAGE(read_plan(path, {.dense_layers = {2, 1}}), InvalidArgument,
                       "read_plan: dense_layers = [2, 1] must be ascending, unique and "
                       "non-negative");
  write_plan(path, moe_only, PlanFormat::sglang);
  EXPECT_THROW_MESSAGE(read_plan(path, {.num_gpus = 2, .dense_layers = {3}}), InvalidArgument,
                       "read_plan: dense_layers = [3] must be rows of the plan's 3 layers");
  PlanFile all_dense = small_plan_file();
  all_dense.dense_layers = {0, 1, 2};
  EXPECT_THROW_MESSAGE(write_plan(path, all_dense, PlanFormat::trtllm), InvalidArgument,
                       "write_plan: every layer is dense: a trtllm plan needs MoE layers");
  all_dense.dense_layers = {1, 1};
  EXPECT_THROW_MESSAGE(write_plan(path, all_dense, PlanFormat::sglang), InvalidArgument,
                       "write_plan: dense_layers[1] = 1 must be ascending and in [0, 3)");
}

TEST(PlanFormatsTest, ParsePlanFormatNamesEveryFormat) {
  for (const PlanFormat format : {PlanFormat::automatic, PlanFormat::eplb, PlanFormat::sglang,
                                  PlanFormat::trtllm, PlanFormat::vllm_ascend}) {
    EXPECT_EQ(parse_plan_format(to_string(format)), format);
  }
  EXPECT_EQ(to_string(PlanFormat::vllm_ascend), "vllm-ascend");
  EXPECT_THROW_MESSAGE(parse_plan_format("yaml"), InvalidArgument,
                       "parse_plan_format: name = \"yaml\" must be one of auto, eplb, sglang, "
                       "trtllm, vllm-ascend");
  const TempDir dir;
  EXPECT_THROW_MESSAGE(write_plan(dir.path() / "p", small_plan_file(), PlanFormat::automatic),
                       InvalidArgument,
                       "write_plan: format = auto must be a concrete plan format for writing");
}

TEST(PlanFormatsTest, ReadsFilesInTheServersOwnLayouts) {
  // The same plan as written by each server's tool; layers 0 to 2 are dense.
  const fs::path dir = fs::path(EPLB_TEST_DATA_DIR) / "servers";
  const std::vector<int64_t> dense{0, 1, 2};
  const PlanFile trtllm = read_plan(dir / "trtllm_generate_eplb_config.yaml", {.num_gpus = 2});
  EXPECT_EQ(trtllm.dense_layers, dense);
  EXPECT_EQ(trtllm.topology, Topology(4, 1, 1, 2));
  const PlanFile ascend = read_plan(dir / "vllm_ascend_expert_map.json", {.dense_layers = dense});
  const PlanFile sglang =
      read_plan(dir / "sglang_init_expert_location.json", {.num_gpus = 2, .dense_layers = dense});
  EXPECT_EQ(ascend.plan, trtllm.plan);
  EXPECT_EQ(sglang.plan, trtllm.plan);
  EXPECT_EQ(sglang.plan.num_layers, 5);
}

// Expects reading `content` to throw ParseError `read_plan: <path>: <what>`.
void expect_parse_error(const TempDir& dir, std::string_view content, const std::string& what,
                        const PlanReadOptions& options = {.num_gpus = 2}) {
  const fs::path path = dir.write("plan", content);
  EXPECT_THROW_MESSAGE(read_plan(path, options), ParseError,
                       "read_plan: " + path.string() + ": " + what);
}

TEST(PlanFormatsTest, DetectionNamesWhatItFound) {
  const TempDir dir;
  expect_parse_error(dir, " \n", "empty file");
  expect_parse_error(dir, "[[0, 1]]",
                     "not a plan file: expected a JSON object or TensorRT-LLM YAML");
  expect_parse_error(dir, "{\"logical_count\": [[1, 2]]}",
                     "holds loads (logical_count), not a plan: plan it with `eplb plan`");
  expect_parse_error(dir, "{\"x\": 1}",
                     "not a plan file: expected phy2log (eplb), physical_to_logical_map (sglang) "
                     "or layer_list (vllm-ascend)");
  expect_parse_error(dir, "{\"physical_to_logical_map\": [[0, 1], [1",
                     "malformed or truncated JSON");
}

TEST(PlanFormatsTest, MalformedSglangNamesThePointer) {
  const TempDir dir;
  expect_parse_error(dir, "{\"physical_to_logical_map\": [[0, 1], [1]]}",
                     "/physical_to_logical_map/1: expected 2 entries, got 1");
  expect_parse_error(dir, "{\"physical_to_logical_map\": [[0, \"1\"]]}",
                     "/physical_to_logical_map/0/1: expected an integer");
  expect_parse_error(dir, "{\"physical_to_logical_map\": []}",
                     "/physical_to_logical_map: empty map");
  expect_parse_error(dir, "{\"physical_to_logical_map\": [[0, 1], [1, -1]]}",
                     "row 1, slot 1: expert -1 must be in [0, 65536)");
  expect_parse_error(dir, "{\"physical_to_logical_map\": [[0, 99999999]]}",
                     "row 0, slot 1: expert 99999999 must be in [0, 65536)");
  // An expert without a replica (2 is placed, 1 is not) fails validation.
  const fs::path path = dir.write("plan", "{\"physical_to_logical_map\": [[0, 2]]}");
  EXPECT_THROW(read_plan(path, {.num_gpus = 1}), InvalidArgument);
}

TEST(PlanFormatsTest, MalformedVllmAscendNamesThePointer) {
  const TempDir dir;
  const auto layer = [](std::string_view devices) {
    return "{\"moe_layer_count\": 1, \"layer_list\": [{\"layer_id\": 0, \"device_count\": 2, "
           "\"device_list\": [" + std::string(devices) + "]}]}";
  };
  expect_parse_error(dir, layer("{\"device_expert\": [0, 1]}, {\"device_expert\": [2]}"),
                     "/layer_list/0/device_list/1/device_expert: expected 2 entries, got 1", {});
  expect_parse_error(dir, layer("{\"device_expert\": [0, 1]}"),
                     "/layer_list/0/device_count: expected the 1 devices of device_list", {});
  expect_parse_error(dir,
                     layer("{\"device_id\": 1, \"device_expert\": [0]}, "
                           "{\"device_expert\": [1]}"),
                     "/layer_list/0/device_list/0/device_id: expected 0 (entries are read in "
                     "list order)", {});
  expect_parse_error(dir, "{\"moe_layer_count\": 2, \"layer_list\": []}",
                     "/layer_list: expected moe_layer_count = 2 layers, got 0", {});
  expect_parse_error(dir, "{\"layer_list\": []}", "missing field \"moe_layer_count\"", {});
  expect_parse_error(dir, layer("{\"device_expert\": [0, 1]}, {\"device_expert\": [2, "),
                     "malformed or truncated JSON", {});
}

TEST(PlanFormatsTest, MalformedTrtllmNamesTheLine) {
  const TempDir dir;
  const std::string head = "num_slots: 4\ninitial_global_assignments:\n";
  expect_parse_error(dir, head + "  1: [0, 1, 2]\n", "line 1: num_slots = 4 but "
                     "initial_global_assignments list 3 slots per layer");
  expect_parse_error(dir, head + "  1: [0, 1, 2, 0]\n  2: [0, 1]\n",
                     "line 4: layer 2 lists 2 slots, the first layer 4");
  expect_parse_error(dir, head + "  1: [0, 1, 2, 0]\n  1: [0, 1, 2, 0]\n",
                     "line 4: layer 1 is given twice");
  expect_parse_error(dir, head + "  x: [0, 1, 2, 0]\n",
                     "line 3: expected an integer layer index, got \"x\"");
  expect_parse_error(dir, head + "  1: [0, a, 2, 0]\n",
                     "line 3: expected an integer expert id, got \"a\"");
  expect_parse_error(dir, head + "  1: [0, -1, 2, 0]\n",
                     "line 3: expert id -1 must be non-negative");
  expect_parse_error(dir, head + "  1: [0, 1, 2, 0\n", "line 3: expected a list [e, e, ...] of "
                     "the expert in every slot");
  expect_parse_error(dir, "num_slots: 4\nlayer_updates_per_iter: 2\n",
                     "no initial_global_assignments (a config for the online balancer holds no "
                     "plan)");
  expect_parse_error(dir, "num_slots: four\n",
                     "line 1: expected an integer num_slots, got \"four\"");
  expect_parse_error(dir, "initial_global_assignments: {1: [0]}\n",
                     "line 1: expected one \"layer: [experts]\" line per layer under "
                     "initial_global_assignments (flow mappings are not supported)");
}

}  // namespace
}  // namespace eplb::io
