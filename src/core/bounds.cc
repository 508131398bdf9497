#include "eplb/bounds.h"

#include <algorithm>
#include <functional>
#include <numeric>

#include "core/detail/bounds.h"
#include "core/detail/check.h"
#include "core/detail/replication.h"

namespace eplb {

double min_max_replica_load(std::span<const double> loads, int64_t num_replicas) {
  if (loads.empty()) detail::throw_invalid("min_max_replica_load: loads must not be empty");
  if (num_replicas < static_cast<int64_t>(loads.size())) {
    detail::throw_invalid("min_max_replica_load: num_replicas = ", num_replicas,
                          " must be at least num_experts = ", loads.size());
  }
  std::vector<int64_t> counts(loads.size(), 1);
  detail::add_replicas_greedy(loads, num_replicas - static_cast<int64_t>(loads.size()), counts);
  double largest = 0;
  for (size_t e = 0; e < loads.size(); ++e) {
    largest = std::max(largest, loads[e] / static_cast<double>(counts[e]));
  }
  return largest;
}

double packing_lower_bound(std::span<const double> items, int64_t num_packs) {
  const auto num_items = static_cast<int64_t>(items.size());
  if (num_packs <= 0 || num_items == 0 || num_items % num_packs != 0) {
    detail::throw_invalid("packing_lower_bound: items size = ", num_items,
                          " must be a positive multiple of num_packs = ", num_packs);
  }
  std::vector<double> sorted(items.begin(), items.end());
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  return detail::packing_lower_bound_sorted(sorted, num_packs);
}

std::vector<double> global_lower_bounds(const LoadMatrix& loads, const Topology& topology) {
  topology.check_experts(loads.num_experts(), "global_lower_bounds");
  std::vector<double> bounds(loads.num_layers());
  std::vector<double> row(loads.num_experts());
  for (int64_t layer = 0; layer < loads.num_layers(); ++layer) {
    loads.copy_row(layer, row);
    bounds[layer] = detail::global_lower_bound(row, topology.num_gpus(), topology.num_replicas());
  }
  return bounds;
}

std::vector<double> hierarchical_lower_bounds(const Plan& plan, const LoadMatrix& loads,
                                              const Topology& topology) {
  if (!topology.is_hierarchical()) {
    detail::throw_invalid("hierarchical_lower_bounds: num_groups = ", topology.num_groups(),
                          " is not a multiple of num_nodes = ", topology.num_nodes());
  }
  topology.check_experts(loads.num_experts(), "hierarchical_lower_bounds");
  std::vector<double> bounds;
  const auto spanning = detail::node_lower_bounds(plan, loads, topology, bounds);
  if (spanning) {
    detail::throw_invalid("hierarchical_lower_bounds: group ", spanning->group, " of layer ",
                          spanning->layer, " spans nodes");
  }
  return bounds;
}

}  // namespace eplb

namespace eplb::detail {

double global_lower_bound(std::span<const double> row, int64_t num_gpus, int64_t num_slots) {
  const double total = std::accumulate(row.begin(), row.end(), 0.0);
  return std::max(total / static_cast<double>(num_gpus), min_max_replica_load(row, num_slots));
}

double packing_lower_bound_sorted(std::span<const double> sorted, int64_t num_packs) {
  const auto num_items = static_cast<int64_t>(sorted.size());
  const int64_t per_pack = num_items / num_packs;
  // smallest_sum = sum of the (per_pack - t - 1) smallest items, updated as t grows.
  double smallest_sum = 0;
  for (int64_t j = 1; j < per_pack; ++j) smallest_sum += sorted[num_items - j];
  double total = 0;
  for (double w : sorted) total += w;
  double bound = total / static_cast<double>(num_packs);
  // Pigeonhole: of the t*m+1 heaviest items some pack holds t+1, at least the t+1 lightest of them
  // (0-based sorted[t*m-t .. t*m]); its other k-t-1 items weigh at least the smallest ones.
  for (int64_t t = 0; t < per_pack; ++t) {
    double top_sum = 0;
    for (int64_t i = t * num_packs - t; i <= t * num_packs; ++i) top_sum += sorted[i];
    bound = std::max(bound, top_sum + smallest_sum);
    if (per_pack - t - 1 >= 1) smallest_sum -= sorted[num_items - (per_pack - t - 1)];
  }
  return bound;
}

}  // namespace eplb::detail

namespace eplb::detail {

std::optional<SpanningGroup> node_lower_bounds(const Plan& plan, const LoadMatrix& loads,
                                               const Topology& topology, std::vector<double>& bounds) {
  const int64_t num_experts = loads.num_experts();
  const int64_t group_size = num_experts / topology.num_groups();
  bounds.assign(loads.num_layers(), 0.0);
  std::vector<int64_t> node_of_group(topology.num_groups());
  std::vector<std::vector<double>> node_loads(topology.num_nodes());
  for (int64_t layer = 0; layer < loads.num_layers(); ++layer) {
    // A layer without load needs no placement rule: its bound is 0 whatever its plan.
    if (loads.is_zero_row(layer)) continue;
    std::fill(node_of_group.begin(), node_of_group.end(), -1);
    const auto phy2log = plan.phy2log_row(layer);
    std::vector<int64_t> used_slots(topology.num_nodes(), 0);
    for (int64_t slot = 0; slot < plan.num_replicas; ++slot) {
      if (phy2log[slot] < 0) continue;
      const int64_t group = phy2log[slot] / group_size;
      const int64_t node = topology.node_of_slot(slot);
      ++used_slots[node];
      if (node_of_group[group] >= 0 && node_of_group[group] != node) {
        return SpanningGroup{layer, group};
      }
      node_of_group[group] = node;
    }
    for (auto& node_load : node_loads) node_load.clear();
    for (int64_t expert = 0; expert < num_experts; ++expert) {
      node_loads[node_of_group[expert / group_size]].push_back(loads.at(layer, expert));
    }
    for (int64_t node = 0; node < topology.num_nodes(); ++node) {
      const auto& node_load = node_loads[node];
      if (node_load.empty()) continue;
      bounds[layer] = std::max(bounds[layer],
                               global_lower_bound(node_load, used_slots[node] / topology.slots_per_gpu(),
                                                  used_slots[node]));
    }
  }
  return std::nullopt;
}

}  // namespace eplb::detail
