#include "workloads.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "eplb/eplb.h"
#include "eplb/io/io.h"
#include "eplb/io/layers.h"
#include "support/check_plan.h"
#include "timing.h"

namespace eplb::bench {
namespace {

struct Group {
  std::string name;
  std::vector<std::string> files;  // relative to the root; one phase, so cross-scoring is fair
  int64_t num_groups;              // expert groups (1 where the model has none)
  io::ReadOptions read = {};
};

// DeepSeek-V3 and Kimi: their groups (Kimi has none), 4 nodes, 32 GPUs, R = E + 32; Qwen: global,
// E + 32 slots on 32 GPUs.
std::vector<Group> groups() {
  const std::string sglang = "sglang-deepseek-v3-ep-stats/";
  const std::string qwen = "oeplb-qwen-sglang-counts/";
  return {
      {"SGLang DeepSeek-V3 prefill",
       {sglang + "prefill_in1024.json", sglang + "prefill_in512.json",
        sglang + "prefill_in1000out1000.json", sglang + "prefill_in2000out100.json"},
       8},
      {"SGLang DeepSeek-V3 decode",
       {sglang + "decode_in1000out1000.json", sglang + "decode_in2000out100.json"},
       8},
      {"Qwen3-235B (prover prefill)", {qwen + "counts235b.json"}, 1},
      {"Qwen3-30B (prover prefill)", {qwen + "counts30b.json"}, 1},
      {"Qwen2-57B (prover, ShareGPT)", {qwen + "counts57b.json", qwen + "counts57b_share.json"}, 1},
      {"Kimi K2.5 (imatrix calibration)", {"kimi-k25-imatrix-counts/unsloth_imatrix_expert_counts.jsonl"}, 1},
      {"vLLM Qwen3-30B per-token top-k",
       {"vllm-qwen3-30b-topk-trace/token_distri_8.jsonl",
        "vllm-qwen3-30b-topk-trace/token_distri_16.jsonl"},
       1,
       {.format = io::LoadFormat::topk_jsonl, .num_layers = 48, .num_experts = 128}},
  };
}

// Loads of a file without its dense (all-zero) rows, which no policy plans.
Loads moe_loads(const std::filesystem::path& path, const io::ReadOptions& read) {
  const Loads loads = io::read_trace(path, read).sum_steps();
  return io::remove_layers(loads, io::find_dense_layers(loads.view()));
}

void print_group(const std::filesystem::path& root, const Group& group, int repeats) {
  std::vector<Loads> files;
  for (const auto& file : group.files) files.push_back(moe_loads(root / file, group.read));
  const int64_t num_experts = files[0].num_experts;
  const bool hierarchical = group.num_groups > 1;
  const Topology topology(num_experts + 32, group.num_groups, hierarchical ? 4 : 1, 32);
  std::printf("\n### %s: %zu file(s), %lld MoE layers x %lld experts, R = %lld, %lld groups, %lld nodes, 32 GPUs\n\n",
              group.name.c_str(), files.size(), (long long)files[0].num_layers,
              (long long)num_experts, (long long)topology.num_replicas(),
              (long long)topology.num_groups(), (long long)topology.num_nodes());
  std::printf("| policy | ms/call | in-sample bal. | gap to own bound | gap to global bound | cross-workload bal. |\n");
  std::printf("|---|---:|---:|---:|---:|---:|\n");
  for (Policy policy : kAllPolicies) {
    double ms = 0, in_sample = 0, own_gap = 0, global_gap = 0, cross = 0;
    int64_t num_cross = 0;
    for (size_t f = 0; f < files.size(); ++f) {
      double call_ms = 0;
      const Plan plan = plan_timed(files[f].view(), topology, {.policy = policy}, repeats, call_ms);
      if (!testing::check_plan(plan, topology, num_experts).empty()) std::abort();
      ms += call_ms;
      const PlanMetrics metrics = evaluate(plan, files[f].view(), topology);
      in_sample += metrics.gpu_balancedness;
      global_gap += metrics.gap;
      own_gap += metrics.hierarchical_gap >= 0 ? metrics.hierarchical_gap : metrics.gap;
      for (size_t other = 0; other < files.size(); ++other) {
        if (other == f || files[other].num_layers != files[f].num_layers) continue;
        cross += evaluate(plan, files[other].view(), topology).gpu_balancedness;
        ++num_cross;
      }
    }
    const auto n = static_cast<double>(files.size());
    std::printf("| %s | %.3f | %.4f | %.3f %% | %.3f %% | %s |\n", std::string(to_string(policy)).c_str(),
                ms / n, in_sample / n, 100 * own_gap / n, 100 * global_gap / n,
                num_cross > 0 ? std::to_string(cross / static_cast<double>(num_cross)).substr(0, 6).c_str() : "-");
    std::fflush(stdout);
  }
}

std::string format_percent(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f %%", value);
  return text;
}

// Node-level balancedness: sum over layers of the mean node load / the heaviest node.
double node_balancedness(const Plan& plan, const LoadMatrix& loads, const Topology& topology) {
  double sum_mean = 0, sum_max = 0;
  for (int64_t layer = 0; layer < plan.num_layers; ++layer) {
    const std::vector<double> gpu = gpu_loads(plan, loads, topology, layer);
    std::vector<double> node(topology.num_nodes(), 0.0);
    for (int64_t g = 0; g < topology.num_gpus(); ++g) node[g / topology.gpus_per_node()] += gpu[g];
    double total = 0;
    for (double load : node) total += load;
    sum_mean += total / static_cast<double>(topology.num_nodes());
    sum_max += *std::max_element(node.begin(), node.end());
  }
  return sum_max > 0 ? sum_mean / sum_max : 1;
}

// The locality/balance curve: balanced with 0 to 32 cross-node replicas per layer, and global.
void print_cross_node_curve(const std::filesystem::path& root, const Group& group, int repeats) {
  std::vector<Loads> files;
  for (const auto& file : group.files) files.push_back(moe_loads(root / file, group.read));
  const Topology topology(files[0].num_experts + 32, group.num_groups, 4, 32);
  std::printf("\n### %s: node locality against balance (cross_node_replicas = N)\n\n", group.name.c_str());
  std::printf("| policy | ms/call | GPU bal. | node bal. | off-node load | cross-workload GPU bal. |\n");
  std::printf("|---|---:|---:|---:|---:|---:|\n");
  struct Row {
    std::string name;
    RebalanceOptions options;
  };
  std::vector<Row> rows{{"deepseek", {.policy = Policy::deepseek}}};
  for (int64_t n : {0, 4, 8, 16, 32}) {
    rows.push_back({"balanced N=" + std::to_string(n), {.policy = Policy::balanced, .cross_node_replicas = n}});
  }
  rows.push_back({"global", {.policy = Policy::global}});
  for (const Row& row : rows) {
    double ms = 0, gpu = 0, node = 0, off = 0, cross = 0;
    int64_t num_cross = 0;
    for (size_t f = 0; f < files.size(); ++f) {
      double call_ms = 0;
      const Plan plan = plan_timed(files[f].view(), topology, row.options, repeats, call_ms);
      if (!testing::check_plan(plan, topology, files[f].num_experts).empty()) std::abort();
      ms += call_ms;
      const PlanMetrics metrics = evaluate(plan, files[f].view(), topology);
      gpu += metrics.gpu_balancedness;
      node += node_balancedness(plan, files[f].view(), topology);
      off += metrics.off_node_load_fraction;
      for (size_t other = 0; other < files.size(); ++other) {
        if (other == f) continue;
        cross += evaluate(plan, files[other].view(), topology).gpu_balancedness;
        ++num_cross;
      }
    }
    const auto n = static_cast<double>(files.size());
    const std::string off_node = off < 0 ? "- (no home nodes)" : format_percent(100 * off / n);
    std::printf("| %s | %.3f | %.4f | %.4f | %s | %s |\n", row.name.c_str(), ms / n, gpu / n, node / n,
                off_node.c_str(),
                num_cross > 0 ? std::to_string(cross / static_cast<double>(num_cross)).substr(0, 6).c_str() : "-");
    std::fflush(stdout);
  }
}

}  // namespace

void print_real_workloads(const std::filesystem::path& root, int repeats) {
  if (!std::filesystem::is_directory(root)) {
    std::printf("\n(real workloads not found at %s: skipped)\n", root.string().c_str());
    return;
  }
  std::printf("\n## Real workloads (%s)\n", root.string().c_str());
  const std::vector<Group> all = groups();
  for (const Group& group : all) print_group(root, group, repeats);
  print_cross_node_curve(root, all[0], repeats);
  print_cross_node_curve(root, all[1], repeats);
}

}  // namespace eplb::bench
