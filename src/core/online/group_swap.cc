// Group swaps between nodes: the starts of repairs that change the hierarchy's node pairing.
#include <algorithm>
#include <numeric>
#include <tuple>

#include "core/detail/repair.h"

namespace eplb::detail {
namespace {

struct Trade {
  double heaviest_node = 0;
  int64_t moved = 0;
  int64_t first = 0;   // group leaving its node for the second's node
  int64_t second = 0;  // group taking the first's place
};

// Fills `slots` (the slots one group held, all on one node) with the replicas of the experts
// [first_expert, first_expert + group_size): the heaviest experts get the spare slots (as long
// as a replica per GPU is possible), then replicas go heaviest first to the lightest GPU with a
// free slot that lacks the expert. `gpu_load` holds the node's GPUs' loads without `slots`.
// Returns false when the replicas do not fit.
bool place_group(const Topology& topology, std::span<const double> weight, int64_t first_expert,
                 int64_t group_size, const std::vector<int64_t>& slots,
                 std::vector<double>& gpu_load, std::vector<int64_t>& row) {
  const int64_t slots_per_gpu = topology.slots_per_gpu();
  const auto num_slots = static_cast<int64_t>(slots.size());
  if (num_slots < group_size) return false;
  // GPUs with free slots, and how many each has.
  std::vector<int64_t> free_on(static_cast<size_t>(topology.num_gpus()), 0);
  for (int64_t slot : slots) ++free_on[slot / slots_per_gpu];
  const auto spread = std::count_if(free_on.begin(), free_on.end(), [](int64_t n) { return n > 0; });
  std::vector<int64_t> count(static_cast<size_t>(group_size), 1);
  for (int64_t spare = num_slots - group_size; spare > 0; --spare) {
    int64_t best = -1;
    for (int64_t j = 0; j < group_size; ++j) {
      if (count[j] >= spread) continue;
      if (best < 0 || weight[first_expert + j] * static_cast<double>(count[best]) >
                          weight[first_expert + best] * static_cast<double>(count[j])) {
        best = j;
      }
    }
    if (best < 0) return false;
    ++count[best];
  }
  std::vector<int64_t> order(static_cast<size_t>(group_size));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return weight[first_expert + a] / static_cast<double>(count[a]) >
           weight[first_expert + b] / static_cast<double>(count[b]);
  });
  std::vector<int64_t> free_slots = slots;
  for (int64_t j : order) {
    const int64_t expert = first_expert + j;
    const double carried = weight[expert] / static_cast<double>(count[j]);
    for (int64_t copy = 0; copy < count[j]; ++copy) {
      // The lightest GPU with a free slot and no replica of the expert yet.
      size_t pick = free_slots.size();
      for (size_t idx = 0; idx < free_slots.size(); ++idx) {
        const int64_t gpu = free_slots[idx] / slots_per_gpu;
        if (pick < free_slots.size() && gpu_load[gpu] >= gpu_load[free_slots[pick] / slots_per_gpu]) {
          continue;
        }
        const auto first = row.begin() + gpu * slots_per_gpu;
        if (std::find(first, first + slots_per_gpu, expert) == first + slots_per_gpu) pick = idx;
      }
      if (pick == free_slots.size()) return false;
      const int64_t slot = free_slots[pick];
      row[slot] = expert;
      gpu_load[slot / slots_per_gpu] += carried;
      free_slots.erase(free_slots.begin() + static_cast<std::ptrdiff_t>(pick));
    }
  }
  return true;
}

}  // namespace

std::vector<std::vector<int64_t>> group_swap_rows(const Topology& topology,
                                                  std::span<const int64_t> current,
                                                  std::span<const double> weight,
                                                  int64_t max_rows) {
  const auto num_experts = static_cast<int64_t>(weight.size());
  const int64_t num_groups = topology.num_groups();
  const int64_t group_size = num_experts / num_groups;
  const int64_t num_nodes = topology.num_nodes();
  const int64_t slots_per_gpu = topology.slots_per_gpu();
  // Each group's node and slots, and what each expert's replicas carry.
  std::vector<int64_t> node_of_group(static_cast<size_t>(num_groups), -1);
  std::vector<std::vector<int64_t>> group_slots(static_cast<size_t>(num_groups));
  std::vector<int64_t> count(static_cast<size_t>(num_experts), 0);
  for (int64_t slot = 0; slot < static_cast<int64_t>(current.size()); ++slot) {
    const int64_t expert = current[slot];
    if (expert < 0) return {};
    const int64_t group = expert / group_size;
    const int64_t node = topology.node_of_slot(slot);
    if (node_of_group[group] >= 0 && node_of_group[group] != node) return {};
    node_of_group[group] = node;
    group_slots[group].push_back(slot);
    ++count[expert];
  }
  std::vector<double> group_load(static_cast<size_t>(num_groups), 0.0);
  std::vector<double> node_load(static_cast<size_t>(num_nodes), 0.0);
  for (int64_t expert = 0; expert < num_experts; ++expert) {
    group_load[expert / group_size] += weight[expert];
  }
  for (int64_t group = 0; group < num_groups; ++group) {
    if (node_of_group[group] < 0) return {};
    node_load[node_of_group[group]] += group_load[group];
  }
  const double heaviest_now = *std::max_element(node_load.begin(), node_load.end());

  std::vector<Trade> trades;
  for (int64_t first = 0; first < num_groups; ++first) {
    for (int64_t second = first + 1; second < num_groups; ++second) {
      const int64_t node_a = node_of_group[first];
      const int64_t node_b = node_of_group[second];
      if (node_a == node_b) continue;
      const double shift = group_load[first] - group_load[second];
      double heaviest = 0;
      for (int64_t node = 0; node < num_nodes; ++node) {
        const double load = node_load[node] - (node == node_a ? shift : 0) +
                            (node == node_b ? shift : 0);
        heaviest = std::max(heaviest, load);
      }
      if (heaviest >= heaviest_now) continue;
      trades.push_back({.heaviest_node = heaviest,
                        .moved = static_cast<int64_t>(group_slots[first].size() +
                                                      group_slots[second].size()),
                        .first = first,
                        .second = second});
    }
  }
  std::sort(trades.begin(), trades.end(), [](const Trade& a, const Trade& b) {
    return std::tie(a.heaviest_node, a.moved, a.first, a.second) <
           std::tie(b.heaviest_node, b.moved, b.first, b.second);
  });

  std::vector<std::vector<int64_t>> rows;
  for (const Trade& trade : trades) {
    if (static_cast<int64_t>(rows.size()) >= max_rows) break;
    std::vector<int64_t> row(current.begin(), current.end());
    for (int64_t slot : group_slots[trade.first]) row[slot] = -1;
    for (int64_t slot : group_slots[trade.second]) row[slot] = -1;
    // The GPUs' loads from the groups that stay.
    std::vector<double> gpu_load(static_cast<size_t>(topology.num_gpus()), 0.0);
    for (int64_t slot = 0; slot < static_cast<int64_t>(row.size()); ++slot) {
      if (row[slot] >= 0) {
        gpu_load[slot / slots_per_gpu] += weight[row[slot]] / static_cast<double>(count[row[slot]]);
      }
    }
    if (place_group(topology, weight, trade.second * group_size, group_size,
                    group_slots[trade.first], gpu_load, row) &&
        place_group(topology, weight, trade.first * group_size, group_size,
                    group_slots[trade.second], gpu_load, row)) {
      rows.push_back(std::move(row));
    }
  }
  return rows;
}

}  // namespace eplb::detail
