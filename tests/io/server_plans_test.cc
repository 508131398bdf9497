// Tests that no plan file is written that its server would misroute: excluded GPUs, two
// replicas of an expert on one vllm-ascend device, MoE-only rows in formats numbering model
// layers; that every file eplb writes reads back; and that .pt files point at the Python package.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "eplb/io/io.h"
#include "eplb/io/layers.h"
#include "eplb/plan.h"
#include "eplb/topology.h"
#include "support/check_plan.h"  // EXPECT_THROW_MESSAGE
#include "temp_dir.h"

namespace eplb::io {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

constexpr PlanFormat kServerFormats[] = {PlanFormat::sglang, PlanFormat::trtllm,
                                         PlanFormat::vllm_ascend};

// Two layers of 3 experts in 6 slots on 3 GPUs; GPU 2 is excluded (its slots hold -1).
PlanFile plan_with_excluded_gpu() {
  const std::vector<int64_t> phy2log{0, 1, 2, 0, -1, -1,  //
                                     2, 0, 1, 2, -1, -1};
  PlanFile plan_file{plan_from_phy2log(phy2log, 2, 6, 3), Topology(6, 1, 1, 3), "balanced"};
  validate(plan_file.plan, plan_file.topology);
  return plan_file;
}

TEST(ServerPlansTest, ExcludedGpusAreRefusedByEveryServerFormat) {
  const TempDir dir;
  const PlanFile plan_file = plan_with_excluded_gpu();
  for (const PlanFormat format : kServerFormats) {
    const fs::path path = dir.path() / ("plan." + std::string(to_string(format)));
    try {
      write_plan(path, plan_file, format);
      ADD_FAILURE() << to_string(format) << " wrote a plan with an empty GPU";
    } catch (const InvalidArgument& error) {
      const std::string message = error.what();
      EXPECT_EQ(message.rfind("write_plan: format " + std::string(to_string(format)) +
                                  " cannot leave GPUs 2 empty (excluded GPUs): ",
                              0),
                0u)
          << message;
      EXPECT_NE(message.find("plan for those (--gpus 2 "), std::string::npos) << message;
    }
    EXPECT_FALSE(fs::exists(path)) << to_string(format);
  }
}

TEST(ServerPlansTest, EplbFormatKeepsExcludedGpusAndReadsThemBack) {
  const TempDir dir;
  const fs::path path = dir.path() / "plan.json";
  const PlanFile plan_file = plan_with_excluded_gpu();
  write_plan(path, plan_file, PlanFormat::eplb);
  const PlanFile read = read_plan(path);
  EXPECT_EQ(read.plan, plan_file.plan);
  EXPECT_EQ(read.topology, plan_file.topology);
}

// Expert 0 twice on GPU 0 of layer 1 (what DeepSeek's greedy packing can give).
PlanFile plan_with_duplicate_on_gpu() {
  const std::vector<int64_t> phy2log{0, 1, 2, 0, 1, 2,   // dense layer (trivial)
                                     0, 1, 2, 0, 1, 2,   //
                                     0, 0, 1, 2, 2, 1};  // gpu 0 holds expert 0 twice
  return PlanFile{plan_from_phy2log(phy2log, 3, 6, 3), Topology(6, 1, 1, 3), "deepseek", {0}};
}

TEST(ServerPlansTest, VllmAscendRefusesTwoReplicasOfAnExpertOnOneGpu) {
  const TempDir dir;
  const fs::path path = dir.path() / "expert_map.json";
  EXPECT_THROW_MESSAGE(
      write_plan(path, plan_with_duplicate_on_gpu(), PlanFormat::vllm_ascend), InvalidArgument,
      "write_plan: format vllm-ascend: layer 2 (layer_id 1 of the file), gpu 0 holds expert 0 "
      "twice: vllm-ascend addresses one slot per expert per device and would misroute the "
      "device's tokens; re-plan with at most one replica of an expert per GPU");
  EXPECT_FALSE(fs::exists(path));
  // The other formats address slots one by one: they take it, and read it back.
  for (const PlanFormat format : {PlanFormat::eplb, PlanFormat::sglang, PlanFormat::trtllm}) {
    const PlanFile plan_file = plan_with_duplicate_on_gpu();
    write_plan(path, plan_file, format);
    const PlanFile read = read_plan(
        path, {.num_gpus = 3, .dense_layers = format == PlanFormat::sglang
                                                  ? std::vector<int64_t>{0}
                                                  : std::vector<int64_t>{}});
    EXPECT_EQ(read.plan, plan_file.plan) << to_string(format);
    EXPECT_EQ(read.dense_layers, plan_file.dense_layers) << to_string(format);
  }
}

// Three MoE layers whose dense layers are not known (a vLLM-style recording).
PlanFile moe_only_plan() {
  const std::vector<int64_t> phy2log{0, 1, 2, 0,  //
                                     2, 1, 0, 1,  //
                                     0, 2, 1, 0};
  PlanFile plan_file{plan_from_phy2log(phy2log, 3, 4, 3), Topology(4, 1, 1, 2), "balanced"};
  plan_file.moe_layers_only = true;
  return plan_file;
}

TEST(ServerPlansTest, MoeOnlyRowsAreRefusedWhereRowsAreModelLayers) {
  const TempDir dir;
  const fs::path path = dir.path() / "plan";
  for (const PlanFormat format : {PlanFormat::sglang, PlanFormat::trtllm}) {
    EXPECT_THROW_MESSAGE(
        write_plan(path, moe_only_plan(), format), InvalidArgument,
        "write_plan: format " + std::string(to_string(format)) +
            " numbers the model's layers, but the plan's 3 rows are MoE layers only (from a "
            "vllm-ascend file or a recording without dense rows) and where the dense layers go "
            "is not known: give the dense layers (--dense-layers, e.g. 0:3 for DeepSeek-V3) or "
            "say there are none (--dense-layers none)");
  }
  // vllm-ascend lists MoE layers only; eplb records that the rows are MoE layers.
  write_plan(path, moe_only_plan(), PlanFormat::vllm_ascend);
  EXPECT_TRUE(read_plan(path).moe_layers_only);
  EXPECT_FALSE(read_plan(path, {.no_dense_layers = true}).moe_layers_only);
  write_plan(path, moe_only_plan(), PlanFormat::eplb);
  const PlanFile read = read_plan(path);
  EXPECT_TRUE(read.moe_layers_only);
  EXPECT_EQ(read.plan, moe_only_plan().plan);
  // Told where the dense layers go, the rows get the model's ids, as from vllm-ascend.
  const PlanFile told = read_plan(path, {.dense_layers = {0, 1}});
  EXPECT_FALSE(told.moe_layers_only);
  EXPECT_EQ(told.plan.num_layers, 5);
  EXPECT_EQ(told.dense_layers, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(told.plan.phy2log_row(2)[0], 0);
  EXPECT_EQ(told.plan.phy2log_row(3)[0], 2);
  EXPECT_THROW_MESSAGE(read_plan(path, {.dense_layers = {0}, .no_dense_layers = true}),
                       InvalidArgument,
                       "read_plan: dense_layers = [0] cannot be given with no_dense_layers");
}

TEST(ServerPlansTest, RoundTripThroughVllmAscendKeepsLayerIds) {
  const TempDir dir;
  // Five model layers, 0 and 1 dense.
  const std::vector<int64_t> phy2log{0, 1, 2, 0, 0, 1, 2, 0, 2, 1, 0, 1,
                                     0, 2, 1, 0, 1, 2, 0, 2};
  const PlanFile model{plan_from_phy2log(phy2log, 5, 4, 3), Topology(4, 1, 1, 2), "", {0, 1}};
  const fs::path sglang = dir.path() / "sglang.json";
  const fs::path ascend = dir.path() / "expert_map.json";
  const fs::path back = dir.path() / "back.json";
  write_plan(sglang, model, PlanFormat::sglang);
  write_plan(ascend, model, PlanFormat::vllm_ascend);
  const PlanFile without = read_plan(ascend);
  EXPECT_EQ(without.plan.num_layers, 3);
  EXPECT_THROW(write_plan(back, without, PlanFormat::sglang), InvalidArgument);
  EXPECT_THROW(write_plan(back, without, PlanFormat::trtllm), InvalidArgument);
  write_plan(back, read_plan(ascend, {.dense_layers = {0, 1}}), PlanFormat::sglang);
  EXPECT_EQ(testing::read_text(back), testing::read_text(sglang));
  const fs::path yaml = dir.path() / "plan.yaml";
  write_plan(yaml, read_plan(ascend, {.dense_layers = {0, 1}}), PlanFormat::trtllm);
  const PlanFile from_yaml = read_plan(yaml, {.num_gpus = 2});
  EXPECT_EQ(from_yaml.plan, model.plan);
  EXPECT_EQ(from_yaml.dense_layers, model.dense_layers);
  EXPECT_FALSE(from_yaml.moe_layers_only);  // its keys are the model's layer ids
  write_plan(back, from_yaml, PlanFormat::sglang);
  EXPECT_EQ(testing::read_text(back), testing::read_text(sglang));
}

TEST(ServerPlansTest, DenseLayersNamingAMoeLayerAreRefused) {
  const TempDir dir;
  const fs::path path = dir.path() / "sglang.json";
  const std::vector<int64_t> phy2log{0, 1, 2, 0, 2, 1, 0, 1, 0, 2, 1, 0};
  write_plan(path, PlanFile{plan_from_phy2log(phy2log, 3, 4, 3), Topology(4, 1, 1, 2), ""},
             PlanFormat::sglang);
  EXPECT_EQ(read_plan(path, {.num_gpus = 2, .dense_layers = {0}}).dense_layers,
            (std::vector<int64_t>{0}));
  EXPECT_THROW_MESSAGE(read_plan(path, {.num_gpus = 2, .dense_layers = {0, 2}}),
                       InvalidArgument,
                       "read_plan: dense_layers = [0, 2] names layer 2 of " + path.string() +
                           ", a MoE layer: its slot 1 holds expert 2, not the trivial placement "
                           "of a dense layer (slot s holds expert s % 3)");
  PlanFile eplb_file{plan_from_phy2log(phy2log, 3, 4, 3), Topology(4, 1, 1, 2), ""};
  write_plan(path, eplb_file, PlanFormat::eplb);
  EXPECT_THROW(read_plan(path, {.dense_layers = {1}}), InvalidArgument);
}

TEST(ServerPlansTest, TorchFilesPointAtThePythonPackage) {
  const TempDir dir;
  const fs::path named = dir.path() / "dump.pt";
  const fs::path zipped = dir.path() / "dump.bin";
  std::ofstream(named) << "{\"logical_count\": [[1, 2]]}";
  std::ofstream(zipped) << std::string("PK\x03\x04", 4) << "archive/data.pkl";
  for (const fs::path& path : {named, zipped}) {
    EXPECT_THROW_MESSAGE(read_loads(path), ParseError,
                         "read_loads: " + path.string() +
                             ": a PyTorch file (torch.save), which the Python package reads: "
                             "eplb.read_loads(path) (pip install eplb torch)");
    EXPECT_THROW_MESSAGE(read_plan(path), ParseError,
                         "read_plan: " + path.string() +
                             ": a PyTorch file (torch.save), which the Python package reads: "
                             "eplb.load_plan(path) (pip install eplb torch)");
  }
}

TEST(ServerPlansTest, InsertDenseLayersIntoLoads) {
  const Loads moe{.num_layers = 2, .num_experts = 2, .values = {1, 2, 3, 4}};
  const Loads model = insert_dense_layers(moe, std::vector<int64_t>{0, 2});
  EXPECT_EQ(model.num_layers, 4);
  EXPECT_EQ(model.values, (std::vector<double>{0, 0, 1, 2, 0, 0, 3, 4}));
  EXPECT_EQ(find_dense_layers(model.view()), (std::vector<int64_t>{0, 2}));
  EXPECT_THROW(insert_dense_layers(moe, std::vector<int64_t>{4}), InvalidArgument);
}

}  // namespace
}  // namespace eplb::io
