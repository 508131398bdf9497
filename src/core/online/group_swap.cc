// Group swaps between nodes: the starts of repairs that change the hierarchy's node pairing.
#include <algorithm>
#include <numeric>
#include <tuple>

#include "core/detail/repair.h"

namespace eplb::detail {
namespace {

// One or two swaps of two groups on different nodes (all groups distinct): groups[2 * k] and
// groups[2 * k + 1] trade places.
struct Trade {
  double heaviest_node = 0;
  int64_t moved = 0;
  std::vector<int64_t> groups;
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

  // Every swap of two groups on different nodes, then every two swaps of four distinct groups
  // (a layer whose pairing drifted far may need both).
  std::vector<std::pair<int64_t, int64_t>> swaps;
  for (int64_t first = 0; first < num_groups; ++first) {
    for (int64_t second = first + 1; second < num_groups; ++second) {
      if (node_of_group[first] != node_of_group[second]) swaps.emplace_back(first, second);
    }
  }
  std::vector<Trade> singles;
  std::vector<Trade> doubles;
  std::vector<double> load(static_cast<size_t>(num_nodes));
  const auto evaluate = [&](std::vector<int64_t> groups, std::vector<Trade>& out) {
    load = node_load;
    int64_t moved = 0;
    for (size_t idx = 0; idx < groups.size(); idx += 2) {
      const double shift = group_load[groups[idx]] - group_load[groups[idx + 1]];
      load[node_of_group[groups[idx]]] -= shift;
      load[node_of_group[groups[idx + 1]]] += shift;
      moved += static_cast<int64_t>(group_slots[groups[idx]].size() +
                                    group_slots[groups[idx + 1]].size());
    }
    const double heaviest = *std::max_element(load.begin(), load.end());
    if (heaviest < heaviest_now) {
      out.push_back({.heaviest_node = heaviest, .moved = moved, .groups = std::move(groups)});
    }
  };
  for (size_t one = 0; one < swaps.size(); ++one) {
    const auto [a, b] = swaps[one];
    evaluate({a, b}, singles);
    for (size_t two = one + 1; two < swaps.size(); ++two) {
      const auto [c, d] = swaps[two];
      if (c != a && c != b && d != a && d != b) evaluate({a, b, c, d}, doubles);
    }
  }
  const auto by_balance = [](const Trade& x, const Trade& y) {
    return std::tie(x.heaviest_node, x.moved, x.groups) <
           std::tie(y.heaviest_node, y.moved, y.groups);
  };
  std::sort(singles.begin(), singles.end(), by_balance);
  std::sort(doubles.begin(), doubles.end(), by_balance);
  // The best singles, then the best doubles that beat every single, half as many.
  std::vector<Trade> trades(singles.begin(),
                            singles.begin() + std::min<std::ptrdiff_t>(
                                                  static_cast<std::ptrdiff_t>(singles.size()),
                                                  max_rows));
  const double best_single = singles.empty() ? heaviest_now : singles[0].heaviest_node;
  for (size_t idx = 0; idx < doubles.size() && static_cast<int64_t>(idx) < (max_rows + 1) / 2;
       ++idx) {
    if (doubles[idx].heaviest_node < best_single) trades.push_back(doubles[idx]);
  }

  std::vector<std::vector<int64_t>> rows;
  for (const Trade& trade : trades) {
    std::vector<int64_t> row(current.begin(), current.end());
    for (int64_t group : trade.groups) {
      for (int64_t slot : group_slots[group]) row[slot] = -1;
    }
    // The GPUs' loads from the groups that stay.
    std::vector<double> gpu_load(static_cast<size_t>(topology.num_gpus()), 0.0);
    for (int64_t slot = 0; slot < static_cast<int64_t>(row.size()); ++slot) {
      if (row[slot] >= 0) {
        gpu_load[slot / slots_per_gpu] += weight[row[slot]] / static_cast<double>(count[row[slot]]);
      }
    }
    bool placed = true;
    for (size_t idx = 0; idx < trade.groups.size() && placed; ++idx) {
      // Each group of a swap takes the other's slots.
      const int64_t group = trade.groups[idx];
      const int64_t other = trade.groups[idx ^ 1];
      placed = place_group(topology, weight, group * group_size, group_size, group_slots[other],
                           gpu_load, row);
    }
    if (placed) rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace eplb::detail
