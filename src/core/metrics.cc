#include "eplb/metrics.h"

#include <algorithm>
#include <numeric>

#include "core/detail/bounds.h"
#include "core/detail/check.h"
#include "eplb/bounds.h"

namespace eplb {
namespace {

void check_compatible(const Plan& plan, const LoadMatrix& loads, const Topology& topology,
                      const char* function) {
  if (plan.num_layers != loads.num_layers() || plan.num_experts != loads.num_experts()) {
    detail::throw_invalid(function, ": loads shape [", loads.num_layers(), ", ", loads.num_experts(),
                          "] must match the plan's [", plan.num_layers, ", ", plan.num_experts, "]");
  }
  if (plan.num_replicas != topology.num_replicas()) {
    detail::throw_invalid(function, ": plan num_replicas = ", plan.num_replicas,
                          " must equal the topology's num_replicas = ", topology.num_replicas());
  }
}

// Fills `slot_loads` [num_replicas] with each slot's share of its expert's load (0 for an unused
// slot) and returns the number of used slots.
int64_t fill_slot_loads(const Plan& plan, const LoadMatrix& loads, int64_t layer,
                        std::vector<double>& slot_loads) {
  const auto phy2log = plan.phy2log_row(layer);
  const auto logcnt = plan.logcnt_row(layer);
  int64_t used = 0;
  for (int64_t slot = 0; slot < plan.num_replicas; ++slot) {
    const int64_t expert = phy2log[slot];
    slot_loads[slot] = expert < 0 ? 0.0 : loads.at(layer, expert) / static_cast<double>(logcnt[expert]);
    used += expert >= 0;
  }
  return used;
}

// See PlanMetrics::off_node_load_fraction.
double off_node_fraction(const Plan& plan, const LoadMatrix& loads, const Topology& topology) {
  if (!topology.is_hierarchical() || plan.num_experts % topology.num_groups() != 0) return -1;
  const int64_t num_nodes = topology.num_nodes();
  const int64_t group_size = plan.num_experts / topology.num_groups();
  std::vector<int64_t> on_node(plan.num_experts * num_nodes);
  std::vector<double> group_node_load(topology.num_groups() * num_nodes);
  double off_node = 0, total = 0;
  for (int64_t layer = 0; layer < plan.num_layers; ++layer) {
    // Layers without load (dense layers of a recording) carry nothing off-node, whatever their
    // placement.
    if (loads.is_zero_row(layer)) continue;
    std::fill(on_node.begin(), on_node.end(), 0);
    std::fill(group_node_load.begin(), group_node_load.end(), 0.0);
    const auto phy2log = plan.phy2log_row(layer);
    const auto logcnt = plan.logcnt_row(layer);
    for (int64_t slot = 0; slot < plan.num_replicas; ++slot) {
      const int64_t expert = phy2log[slot];
      if (expert < 0) continue;
      const int64_t node = topology.node_of_slot(slot);
      ++on_node[expert * num_nodes + node];
      group_node_load[(expert / group_size) * num_nodes + node] +=
          loads.at(layer, expert) / static_cast<double>(logcnt[expert]);
    }
    for (int64_t group = 0; group < topology.num_groups(); ++group) {
      int64_t home = -1;
      for (int64_t node = 0; node < num_nodes; ++node) {
        bool covers = true;
        for (int64_t e = group * group_size; e < (group + 1) * group_size; ++e) {
          covers &= on_node[e * num_nodes + node] > 0;
        }
        if (covers && (home < 0 || group_node_load[group * num_nodes + node] >
                                       group_node_load[group * num_nodes + home])) {
          home = node;
        }
      }
      if (home < 0) return -1;
      for (int64_t node = 0; node < num_nodes; ++node) {
        const double load = group_node_load[group * num_nodes + node];
        total += load;
        if (node != home) off_node += load;
      }
    }
  }
  return total > 0 ? off_node / total : 0;
}

}  // namespace

std::vector<double> gpu_loads(const Plan& plan, const LoadMatrix& loads, const Topology& topology,
                              int64_t layer_idx) {
  check_compatible(plan, loads, topology, "gpu_loads");
  if (layer_idx < 0 || layer_idx >= plan.num_layers) {
    detail::throw_invalid("gpu_loads: layer_idx = ", layer_idx, " must be in [0, ", plan.num_layers,
                          ")");
  }
  std::vector<double> slot_loads(plan.num_replicas);
  fill_slot_loads(plan, loads, layer_idx, slot_loads);
  std::vector<double> result(topology.num_gpus(), 0.0);  // 0 on excluded GPUs
  for (int64_t slot = 0; slot < plan.num_replicas; ++slot) {
    result[topology.gpu_of_slot(slot)] += slot_loads[slot];
  }
  return result;
}

PlanMetrics evaluate(const Plan& plan, const LoadMatrix& loads, const Topology& topology) {
  check_compatible(plan, loads, topology, "evaluate");
  PlanMetrics metrics;
  metrics.max_gpu_load.resize(plan.num_layers);
  metrics.lower_bound.resize(plan.num_layers);
  std::vector<double> row(plan.num_experts);
  std::vector<double> slot_loads(plan.num_replicas);
  std::vector<double> gpu(topology.num_gpus());
  double sum_mean_gpu = 0, sum_max_gpu = 0, sum_mean_slot = 0, sum_max_slot = 0, sum_bound = 0;
  double sum_layer_gap = 0;
  int64_t num_loaded_layers = 0;
  // GPU (layer * num_gpus + gpu) that last held each expert: a slot of the same one duplicates.
  std::vector<int64_t> holder(plan.num_experts, -1);
  for (int64_t layer = 0; layer < plan.num_layers; ++layer) {
    const auto phy2log = plan.phy2log_row(layer);
    for (int64_t slot = 0; slot < plan.num_replicas; ++slot) {
      if (phy2log[slot] < 0) continue;
      const int64_t key = layer * topology.num_gpus() + topology.gpu_of_slot(slot);
      metrics.duplicate_slots += holder[phy2log[slot]] == key;
      holder[phy2log[slot]] = key;
    }
    // Means and the bound count only the GPUs the plan uses (excluded GPUs hold -1 slots).
    const int64_t used_slots = fill_slot_loads(plan, loads, layer, slot_loads);
    const int64_t used_gpus = used_slots / topology.slots_per_gpu();
    std::fill(gpu.begin(), gpu.end(), 0.0);
    for (int64_t slot = 0; slot < plan.num_replicas; ++slot) {
      gpu[topology.gpu_of_slot(slot)] += slot_loads[slot];
    }
    loads.copy_row(layer, std::span<double>(row));
    metrics.lower_bound[layer] = detail::global_lower_bound(row, used_gpus, used_slots);
    const double total = std::accumulate(slot_loads.begin(), slot_loads.end(), 0.0);
    const double max_gpu = *std::max_element(gpu.begin(), gpu.end());
    metrics.max_gpu_load[layer] = max_gpu;
    sum_mean_gpu += total / static_cast<double>(used_gpus);
    sum_max_gpu += max_gpu;
    sum_mean_slot += total / static_cast<double>(used_slots);
    sum_max_slot += *std::max_element(slot_loads.begin(), slot_loads.end());
    sum_bound += metrics.lower_bound[layer];
    if (metrics.lower_bound[layer] > 0) {
      sum_layer_gap += max_gpu / metrics.lower_bound[layer] - 1;
      ++num_loaded_layers;
    }
  }
  // All-zero layers add nothing to either sum, so dense layers drop out of the scores.
  if (sum_max_gpu > 0) metrics.gpu_balancedness = sum_mean_gpu / sum_max_gpu;
  if (sum_max_slot > 0) metrics.slot_balancedness = sum_mean_slot / sum_max_slot;
  if (sum_bound > 0) metrics.gap = sum_max_gpu / sum_bound - 1;
  if (num_loaded_layers > 0) metrics.mean_layer_gap = sum_layer_gap / static_cast<double>(num_loaded_layers);
  if (topology.is_hierarchical() && plan.num_experts % topology.num_groups() == 0 &&
      !detail::node_lower_bounds(plan, loads, topology, metrics.hierarchical_bound)) {
    const double sum_hier = std::accumulate(metrics.hierarchical_bound.begin(),
                                            metrics.hierarchical_bound.end(), 0.0);
    metrics.hierarchical_gap = sum_hier > 0 ? sum_max_gpu / sum_hier - 1 : 0;
  } else {
    metrics.hierarchical_bound.clear();
  }
  metrics.off_node_load_fraction = off_node_fraction(plan, loads, topology);
  return metrics;
}

}  // namespace eplb
