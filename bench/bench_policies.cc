// Side-by-side benchmark of every policy and packer, in one process on the same inputs:
// ms per call, in-sample and next-window GPU balancedness, gap to the lower bounds, speed ratio
// to deepseek. Prints a Markdown table (docs/benchmarks.md holds the latest one).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "eplb/eplb.h"
#include "eplb/io/io.h"
#include "support/check_plan.h"
#include "replay.h"
#include "timing.h"
#include "workloads.h"

namespace {

using eplb::Loads;
using eplb::Plan;
using eplb::Policy;
using eplb::RebalanceOptions;
using eplb::Topology;

struct Variant {
  std::string name;
  RebalanceOptions options;
};

struct Workload {
  std::string name;
  Topology topology;
  // Consecutive windows: plans are made on window t and scored on t and t + 1.
  std::vector<Loads> windows;
};

struct Row {
  double ms = 0, in_sample = 0, next_window = 0, gap_own = 0, gap_global = 0;
  int64_t num_plans = 0;
  std::vector<double> in_sample_per_window;
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

Row run(const Variant& variant, const Workload& workload, int repeats) {
  Row row;
  std::vector<double> times;
  for (size_t w = 0; w < workload.windows.size(); ++w) {
    const Loads& loads = workload.windows[w];
    double ms = 0;
    const Plan plan = eplb::bench::plan_timed(loads.view(), workload.topology, variant.options, repeats, ms);
    times.push_back(ms);
    const std::string problem = eplb::testing::check_plan(plan, workload.topology, loads.num_experts);
    if (!problem.empty()) {
      std::fprintf(stderr, "invalid plan from %s: %s\n", variant.name.c_str(), problem.c_str());
      std::exit(1);
    }
    const auto metrics = eplb::evaluate(plan, loads.view(), workload.topology);
    row.in_sample += metrics.gpu_balancedness;
    row.in_sample_per_window.push_back(metrics.gpu_balancedness);
    row.gap_global += metrics.gap;
    // A strictly hierarchical plan is measured against the bound of its own node placement.
    row.gap_own += metrics.hierarchical_gap >= 0 ? metrics.hierarchical_gap : metrics.gap;
    if (w + 1 < workload.windows.size()) {
      row.next_window += eplb::evaluate(plan, workload.windows[w + 1].view(), workload.topology).gpu_balancedness;
    }
    ++row.num_plans;
  }
  row.ms = median(times);
  const auto n = static_cast<double>(row.num_plans);
  row.in_sample /= n;
  row.gap_own /= n;
  row.gap_global /= n;
  row.next_window = workload.windows.size() > 1 ? row.next_window / (n - 1) : 0;
  return row;
}

std::vector<Loads> windows_of(const eplb::Trace& trace, int64_t window, int64_t max_windows) {
  std::vector<Loads> windows;
  for (int64_t begin = 0; begin + window <= trace.num_steps && int64_t(windows.size()) < max_windows; begin += window) {
    windows.push_back(trace.sum_steps({begin, begin + window}));
  }
  return windows;
}

std::vector<Variant> variants() {
  using eplb::PackingStrategy;
  return {
      {"deepseek", {.policy = Policy::deepseek}},
      {"balanced", {.policy = Policy::balanced}},
      {"balanced effort=4", {.policy = Policy::balanced, .effort = 4}},
      {"balanced packer=greedy", {.policy = Policy::balanced, .packer = PackingStrategy::greedy}},
      {"balanced packer=snake", {.policy = Policy::balanced, .packer = PackingStrategy::snake}},
      {"global", {.policy = Policy::global}},
      {"global effort=4", {.policy = Policy::global, .effort = 4}},
      {"global packer=greedy", {.policy = Policy::global, .packer = PackingStrategy::greedy}},
      {"global packer=snake", {.policy = Policy::global, .packer = PackingStrategy::snake}},
  };
}

void print_table(const Workload& workload, const std::vector<Variant>& list, int repeats) {
  const auto& t = workload.topology;
  std::printf("\n### %s: %lld layers x %lld experts, R = %lld, %lld groups, %lld nodes, %lld GPUs, %zu windows\n\n",
              workload.name.c_str(), (long long)workload.windows[0].num_layers,
              (long long)workload.windows[0].num_experts, (long long)t.num_replicas(),
              (long long)t.num_groups(), (long long)t.num_nodes(), (long long)t.num_gpus(),
              workload.windows.size());
  std::printf("| policy | ms/call | speed vs deepseek | in-sample bal. | windows above deepseek | next-window bal. | gap to own bound | gap to global bound |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
  Row deepseek;
  for (const auto& variant : list) {
    const Row row = run(variant, workload, repeats);
    if (variant.options.policy == Policy::deepseek) deepseek = row;
    int64_t above = 0;
    for (size_t w = 0; w < row.in_sample_per_window.size() && w < deepseek.in_sample_per_window.size(); ++w) {
      above += row.in_sample_per_window[w] > deepseek.in_sample_per_window[w];
    }
    std::printf("| %s | %.3f | %.2fx | %.4f | %lld/%lld | %s | %.3f %% | %.3f %% |\n", variant.name.c_str(),
                row.ms, deepseek.ms > 0 ? deepseek.ms / row.ms : 1.0, row.in_sample, (long long)above,
                (long long)row.num_plans,
                workload.windows.size() > 1 ? (std::to_string(row.next_window).substr(0, 6)).c_str() : "-",
                100 * row.gap_own, 100 * row.gap_global);
    std::fflush(stdout);
  }
}

// Failed GPUs: the gap is measured against the bound of the healthy GPUs, so it shows what
// excluding costs beyond the lost capacity.
void print_excluded_gpus(int repeats) {
  eplb::SyntheticTraceOptions options;
  options.num_steps = 100;
  options.seed = 1;
  const Loads loads = eplb::generate_trace(options).sum_steps();
  std::printf("\n### Excluded GPUs: synthetic DeepSeek-V3 window, 8 groups, 4 nodes, 32 GPUs\n\n");
  std::printf("| R | excluded | policy | hierarchy | ms/call | GPU bal. (healthy GPUs) | gap to bound on healthy GPUs |\n");
  std::printf("|---:|---|---|---|---:|---:|---:|\n");
  for (const int64_t replicas : {288, 320}) {
    const Topology topology(replicas, 8, 4, 32);
    for (const std::vector<int64_t>& excluded : {std::vector<int64_t>{}, {3}, {3, 17}}) {
      std::vector<bool> active(32, true);
      std::string names = excluded.empty() ? "none" : "";
      for (int64_t g : excluded) {
        active[g] = false;
        if (!names.empty()) names += ',';
        names += std::to_string(g);
      }
      for (Policy policy : {Policy::balanced, Policy::global}) {
        const RebalanceOptions rebalance{.policy = policy, .active_gpus = excluded.empty() ? std::vector<bool>() : active};
        double ms = 0;
        const Plan plan = eplb::bench::plan_timed(loads.view(), topology, rebalance, repeats, ms);
        const auto metrics = eplb::evaluate(plan, loads.view(), topology);
        std::printf("| %lld | %s | %s | %s | %.3f | %.4f | %.3f %% |\n", (long long)replicas, names.c_str(),
                    std::string(eplb::to_string(policy)).c_str(),
                    eplb::uses_hierarchy(topology, loads.num_experts, rebalance) ? "kept" : "one level",
                    ms, metrics.gpu_balancedness, 100 * metrics.gap);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
#ifndef NDEBUG
  std::fprintf(stderr, "eplb_bench: refusing to time a debug build\n");
  return 1;
#endif
  bool quick = false;
  bool families_only = false;
  bool chunks_only = false;
  bool traffic_only = false;
  std::vector<std::string> trace_files;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else if (std::strcmp(argv[i], "--families") == 0) families_only = true;
    else if (std::strcmp(argv[i], "--chunks") == 0) chunks_only = true;
    else if (std::strcmp(argv[i], "--traffic") == 0) traffic_only = true;
    else trace_files.emplace_back(argv[i]);
  }
  if (traffic_only) {
    eplb::bench::print_traffic_table(EPLB_WORKLOADS_DIR);
    return 0;
  }
  if (chunks_only) {
    eplb::bench::print_chunk_table(quick);
    return 0;
  }
  if (families_only) {
    eplb::bench::print_family_table(quick);
    eplb::bench::print_real_history_table(EPLB_WORKLOADS_DIR);
    return 0;
  }
  const int repeats = quick ? 1 : 7;
  const int64_t max_windows = quick ? 3 : 6;
  const auto list = variants();
  std::printf("# eplb benchmark (1 thread; median of %d calls per window)\n", repeats);

  for (uint64_t seed : {1, 2}) {
    eplb::SyntheticTraceOptions options;
    options.num_steps = 100 * (max_windows + 1);
    options.seed = seed;
    const eplb::Trace trace = eplb::generate_trace(options);
    const auto windows = windows_of(trace, 100, max_windows + 1);
    print_table({"synthetic DeepSeek-V3 trace, seed " + std::to_string(seed), Topology(288, 8, 4, 32), windows}, list, repeats);
    if (seed == 1) {
      print_table({"synthetic DeepSeek-V3 trace, seed 1, decode shape", Topology(320, 8, 4, 64), windows}, list, repeats);
    }
  }
  for (const auto& path : trace_files) {
    const eplb::Trace trace = eplb::io::read_trace(path);
    print_table({path, Topology(288, 8, 4, 32), windows_of(trace, 100, max_windows + 1)}, list, repeats);
  }
  print_excluded_gpus(quick ? 1 : 5);
  eplb::bench::print_replay_tables(quick, EPLB_BUNDLED_TRACE);
  eplb::bench::print_family_table(quick);
  eplb::bench::print_chunk_table(quick);
  eplb::bench::print_real_history_table(EPLB_WORKLOADS_DIR);
  eplb::bench::print_real_workloads(EPLB_WORKLOADS_DIR, quick ? 1 : 5);
  eplb::bench::print_traffic_table(EPLB_WORKLOADS_DIR);
  // Scale row: 1024 experts, 128 layers, R = 1280 on 256 GPUs in 32 nodes (32 groups).
  eplb::SyntheticTraceOptions scale;
  scale.num_steps = quick ? 100 : 200;
  scale.num_layers = 128;
  scale.num_experts = 1024;
  scale.seed = 3;
  const eplb::Trace scale_trace = eplb::generate_trace(scale);
  const Workload scale_workload{"scale", Topology(1280, 32, 32, 256),
                                windows_of(scale_trace, 100, 2)};
  print_table(scale_workload, {list[0], list[1], list[5]}, quick ? 1 : 3);
  // Memory of one plan, O(L * (R + E * X)) int64: phy2log L*R, log2phy L*E*X, logcnt L*E.
  std::printf("\n");
  for (const auto& variant : {list[0], list[1], list[5]}) {
    const Plan plan = eplb::rebalance_experts(scale_workload.windows[0].view(),
                                              scale_workload.topology, variant.options);
    const int64_t entries = plan.num_layers * (plan.num_replicas + plan.num_experts *
                                               (plan.max_replicas + 1));
    std::printf("plan memory (scale, %s): %lld bytes = 8 * (L*R + L*E*X + L*E), X = %lld\n",
                variant.name.c_str(), (long long)(8 * entries), (long long)plan.max_replicas);
  }
  return 0;
}
