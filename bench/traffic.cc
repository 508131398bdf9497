// Traffic-aware placement (issue #21) on the real Qwen3-30B routing trace: planned on the
// 8-prompt file's prefill, scored on the 16-prompt file's (other prompts).
#include <chrono>
#include <cstdio>
#include <string>

#include "eplb/io/routing.h"
#include "eplb/metrics.h"
#include "eplb/policy.h"
#include "eplb/traffic.h"
#include "replay.h"

namespace eplb::bench {

void print_traffic_table(const std::filesystem::path& workloads_root) {
  const std::filesystem::path dir = workloads_root / "vllm-qwen3-30b-topk-trace";
  if (!std::filesystem::exists(dir / "token_distri_8.jsonl")) return;
  // Forward pass 2 of each file is its prefill (the other passes are 4- to 19-token steps).
  const io::RoutingReadOptions prefill{.num_layers = 48, .num_experts = 128, .passes = {2, 3}};
  const Routing planned_on = io::read_routing(dir / "token_distri_8.jsonl", prefill);
  const Routing scored_on = io::read_routing(dir / "token_distri_16.jsonl", prefill);
  const Topology topology(160, 1, 4, 32);
  const Loads loads = planned_on.loads(128);
  const Loads next_loads = scored_on.loads(128);
  const auto start = std::chrono::steady_clock::now();
  const Plan plain = rebalance_experts(loads.view(), topology, {.policy = Policy::global});
  const double plain_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  const double plain_balance = evaluate(plain, loads.view(), topology).gpu_balancedness;
  const TrafficMetrics plain_traffic = evaluate_traffic(plain, scored_on, topology);
  std::printf("\n### Traffic-aware placement: Qwen3-30B real routing (48 layers x 128 experts, top-8), "
              "160 slots on 32 GPUs in 4 nodes; planned on token_distri_8's prefill (%lld tokens), "
              "scored on token_distri_16's (%lld tokens, other prompts)\n\n"
              "| plan | GPU bal. (planning loads) | vs global | nodes per token (held out) | vs "
              "global | in-sample nodes per token | GPUs per token | cross-node copies | "
              "next-window GPU bal. | ms |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
              static_cast<long long>(planned_on.num_tokens),
              static_cast<long long>(scored_on.num_tokens));
  const auto row = [&](const std::string& name, const Plan& plan, double ms) {
    const double balance = evaluate(plan, loads.view(), topology).gpu_balancedness;
    const TrafficMetrics held_out = evaluate_traffic(plan, scored_on, topology);
    std::printf("| %s | %.4f | %+.2f %% | %.3f | %+.1f %% | %.3f | %.3f | %.1f %% | %.4f | %.1f |\n",
                name.c_str(), balance, 100 * (balance / plain_balance - 1),
                held_out.nodes_per_token,
                100 * (held_out.nodes_per_token / plain_traffic.nodes_per_token - 1),
                evaluate_traffic(plan, planned_on, topology).nodes_per_token,
                held_out.gpus_per_token, 100 * held_out.cross_node_fraction,
                evaluate(plan, next_loads.view(), topology).gpu_balancedness, ms);
    std::fflush(stdout);
  };
  row("`deepseek`", rebalance_experts(loads.view(), topology, {.policy = Policy::deepseek}), 0);
  row("`global`", plain, plain_ms);
  for (const double tolerance : {0.0, 0.001, 0.005, 0.01, 0.02}) {
    const auto placed_start = std::chrono::steady_clock::now();
    const Plan placed = place_for_traffic(plain, loads.view(), planned_on, topology,
                                          {.balance_tolerance = tolerance});
    const double ms = std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - placed_start)
                          .count();
    char name[96];
    std::snprintf(name, sizeof(name), "`global` + place_for_traffic, tolerance %.1f %%",
                  100 * tolerance);
    row(name, placed, plain_ms + ms);
  }
}

}  // namespace eplb::bench
