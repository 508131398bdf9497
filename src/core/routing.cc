// Routing samples, the dispatch rule and the traffic a plan's dispatch makes.
#include "eplb/routing.h"

#include <algorithm>
#include <string>

#include "core/detail/check.h"
#include "eplb/error.h"

namespace eplb {

void check_routing(const Routing& routing, int64_t num_experts) {
  if (routing.num_layers < 1 || routing.num_tokens < 1 || routing.top_k < 1) {
    detail::throw_invalid("routing: [num_layers, num_tokens, top_k] = [", routing.num_layers, ", ",
                          routing.num_tokens, ", ", routing.top_k, "] must all be positive");
  }
  if (routing.num_layers > kMaxLayers || routing.top_k > num_experts ||
      routing.num_tokens > kMaxPlanEntries / routing.num_layers / routing.top_k) {
    detail::throw_invalid("routing: [num_layers, num_tokens, top_k] = [", routing.num_layers, ", ",
                          routing.num_tokens, ", ", routing.top_k, "] is too large for ",
                          num_experts, " experts");
  }
  const auto size = static_cast<size_t>(routing.num_layers * routing.num_tokens * routing.top_k);
  if (routing.expert_ids.size() != size) {
    detail::throw_invalid("routing: expert_ids has ", routing.expert_ids.size(),
                          " ids but num_layers * num_tokens * top_k = ", size);
  }
  for (int64_t layer = 0; layer < routing.num_layers; ++layer) {
    for (int64_t token = 0; token < routing.num_tokens; ++token) {
      for (int64_t k = 0; k < routing.top_k; ++k) {
        const int32_t id = routing.expert(layer, token, k);
        if (id < 0 || id >= num_experts) {
          detail::throw_invalid("routing: layer ", layer, " token ", token, " expert ", k,
                                " is ", id, ", outside [0, ", num_experts, ")");
        }
        for (int64_t before = 0; before < k; ++before) {
          if (routing.expert(layer, token, before) == id) {
            detail::throw_invalid("routing: layer ", layer, " token ", token,
                                  " is routed twice to expert ", id);
          }
        }
      }
    }
  }
}

Loads Routing::loads(int64_t num_experts) const {
  check_routing(*this, num_experts);
  Loads result{.num_layers = num_layers,
               .num_experts = num_experts,
               .values = std::vector<double>(static_cast<size_t>(num_layers * num_experts), 0)};
  for (int64_t layer = 0; layer < num_layers; ++layer) {
    for (int64_t idx = 0; idx < num_tokens * top_k; ++idx) {
      const int32_t id = expert_ids[static_cast<size_t>(layer * num_tokens * top_k + idx)];
      result.values[static_cast<size_t>(layer * num_experts + id)] += 1;
    }
  }
  return result;
}

DispatchTable dispatch_table(const Plan& plan, const Topology& topology, int64_t layer_idx) {
  const int64_t num_gpus = topology.num_gpus();
  const int64_t num_experts = plan.num_experts;
  DispatchTable table{.num_gpus = num_gpus,
                      .num_experts = num_experts,
                      .slot = std::vector<int64_t>(static_cast<size_t>(num_gpus * num_experts), -1)};
  // Each expert's slots in slot order, hence GPU by GPU and node by node.
  std::vector<std::vector<int64_t>> slots_of(static_cast<size_t>(num_experts));
  const auto row = plan.phy2log_row(layer_idx);
  for (int64_t slot = 0; slot < plan.num_replicas; ++slot) {
    if (row[slot] >= 0) slots_of[static_cast<size_t>(row[slot])].push_back(slot);
  }
  std::vector<int64_t> candidates;
  for (int64_t gpu = 0; gpu < num_gpus; ++gpu) {
    const int64_t node = gpu / topology.gpus_per_node();
    for (int64_t expert = 0; expert < num_experts; ++expert) {
      const std::vector<int64_t>& slots = slots_of[static_cast<size_t>(expert)];
      if (slots.empty()) continue;
      candidates.clear();
      for (const int64_t slot : slots) {
        if (topology.gpu_of_slot(slot) == gpu) candidates.push_back(slot);
      }
      if (candidates.empty()) {
        for (const int64_t slot : slots) {
          if (topology.node_of_slot(slot) == node) candidates.push_back(slot);
        }
      }
      const std::vector<int64_t>& pool = candidates.empty() ? slots : candidates;
      table.slot[static_cast<size_t>(gpu * num_experts + expert)] =
          pool[static_cast<size_t>(gpu) % pool.size()];
    }
  }
  return table;
}

TrafficMetrics evaluate_traffic(const Plan& plan, const Routing& routing,
                                const Topology& topology) {
  if (routing.num_layers != plan.num_layers) {
    detail::throw_invalid("evaluate_traffic: routing has ", routing.num_layers,
                          " layers but the plan ", plan.num_layers);
  }
  check_routing(routing, plan.num_experts);
  validate(plan, topology);
  const int64_t num_gpus = topology.num_gpus();
  const int64_t gpus_per_node = topology.gpus_per_node();
  TrafficMetrics metrics;
  double nodes = 0, gpus = 0, remote_nodes = 0, remote_gpus = 0;
  std::vector<int64_t> node_seen(static_cast<size_t>(topology.num_nodes()), -1);
  std::vector<int64_t> gpu_seen(static_cast<size_t>(num_gpus), -1);
  for (int64_t layer = 0; layer < routing.num_layers; ++layer) {
    const DispatchTable table = dispatch_table(plan, topology, layer);
    int64_t layer_nodes = 0;
    for (int64_t token = 0; token < routing.num_tokens; ++token) {
      const int64_t source = token % num_gpus;
      const int64_t source_node = source / gpus_per_node;
      // Marks are unique per (layer, token), so the arrays need no clearing.
      const int64_t mark = layer * routing.num_tokens + token;
      for (int64_t k = 0; k < routing.top_k; ++k) {
        const int64_t slot =
            table.slot[static_cast<size_t>(source * table.num_experts + routing.expert(layer, token, k))];
        if (slot < 0) continue;
        const int64_t gpu = topology.gpu_of_slot(slot);
        const int64_t node = gpu / gpus_per_node;
        if (gpu_seen[static_cast<size_t>(gpu)] != mark) {
          gpu_seen[static_cast<size_t>(gpu)] = mark;
          gpus += 1;
          remote_gpus += static_cast<double>(node != source_node);
        }
        if (node_seen[static_cast<size_t>(node)] != mark) {
          node_seen[static_cast<size_t>(node)] = mark;
          ++layer_nodes;
          remote_nodes += static_cast<double>(node != source_node);
        }
      }
    }
    nodes += static_cast<double>(layer_nodes);
    metrics.layer_nodes_per_token.push_back(static_cast<double>(layer_nodes) /
                                            static_cast<double>(routing.num_tokens));
  }
  const auto samples = static_cast<double>(routing.num_layers * routing.num_tokens);
  metrics.nodes_per_token = nodes / samples;
  metrics.gpus_per_token = gpus / samples;
  metrics.remote_nodes_per_token = remote_nodes / samples;
  metrics.cross_node_fraction = gpus > 0 ? remote_gpus / gpus : 0;
  return metrics;
}

}  // namespace eplb
