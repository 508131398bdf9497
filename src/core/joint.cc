// Exact joint search over replica counts and packing for small levels (issue #9): the counts
// that minimize the largest load per replica are not always the ones that minimize the heaviest
// GPU, e.g. loads [600, 560, 120, 120, 20, 10, 10, 10] on 8 GPUs x 2 slots. See
// docs/algorithms.md#joint-search.

#include "core/detail/joint.h"

#include <algorithm>
#include <numeric>

#include "core/detail/bounds.h"

namespace eplb::detail {
namespace {

struct Search {
  std::span<const double> loads;
  int64_t num_slots, num_gpus, slots_per_gpu, max_count, max_nodes;
  bool allow_duplicates;
  int64_t nodes = 0;
  double best;
  std::vector<int32_t> best_slots = {};
  // Current count vector (experts in `order`) and the packing being built.
  std::vector<int32_t> order = {};
  std::vector<int64_t> counts = {};
  std::vector<double> item_weight = {};
  std::vector<int32_t> item_expert = {};
  std::vector<double> gpu_load = {};
  std::vector<int32_t> gpu_size = {};
  std::vector<int32_t> gpu_items = {};  // [num_gpus * slots_per_gpu]

  bool out_of_budget() { return ++nodes > max_nodes; }

  // Places item `i` (items by descending weight) and the rest; `remaining` = their total weight.
  void pack_from(size_t i, double remaining) {
    if (out_of_budget()) return;
    if (i == item_weight.size()) {
      const double max_load = *std::max_element(gpu_load.begin(), gpu_load.end());
      if (max_load < best) {
        best = max_load;
        for (int64_t g = 0; g < num_gpus; ++g) {
          for (int64_t s = 0; s < slots_per_gpu; ++s) {
            best_slots[g * slots_per_gpu + s] = item_expert[gpu_items[g * slots_per_gpu + s]];
          }
        }
      }
      return;
    }
    const double total = std::accumulate(gpu_load.begin(), gpu_load.end(), remaining);
    if (total / static_cast<double>(num_gpus) >= best) return;
    bool tried_empty = false;
    for (int64_t g = 0; g < num_gpus; ++g) {
      if (gpu_size[g] == slots_per_gpu || gpu_load[g] + item_weight[i] >= best) continue;
      // Empty GPUs are interchangeable: trying one is enough.
      if (gpu_size[g] == 0) {
        if (tried_empty) continue;
        tried_empty = true;
      }
      bool clash = false;
      for (int32_t s = 0; s < gpu_size[g] && !allow_duplicates; ++s) {
        clash |= item_expert[gpu_items[g * slots_per_gpu + s]] == item_expert[i];
      }
      if (clash) continue;
      gpu_items[g * slots_per_gpu + gpu_size[g]++] = static_cast<int32_t>(i);
      gpu_load[g] += item_weight[i];
      pack_from(i + 1, remaining - item_weight[i]);
      gpu_load[g] -= item_weight[i];
      --gpu_size[g];
    }
  }

  // The counts are complete: bound, then pack exactly.
  void evaluate_counts() {
    item_weight.clear();
    item_expert.clear();
    for (size_t j = 0; j < order.size(); ++j) {
      const double share = loads[order[j]] / static_cast<double>(counts[j]);
      for (int64_t c = 0; c < counts[j]; ++c) {
        item_weight.push_back(share);
        item_expert.push_back(order[j]);
      }
    }
    std::vector<size_t> by_weight(item_weight.size());
    std::iota(by_weight.begin(), by_weight.end(), 0);
    std::stable_sort(by_weight.begin(), by_weight.end(),
                     [&](size_t a, size_t b) { return item_weight[a] > item_weight[b]; });
    std::vector<double> weights(item_weight.size());
    std::vector<int32_t> experts(item_weight.size());
    for (size_t i = 0; i < by_weight.size(); ++i) {
      weights[i] = item_weight[by_weight[i]];
      experts[i] = item_expert[by_weight[i]];
    }
    item_weight = std::move(weights);
    item_expert = std::move(experts);
    if (packing_lower_bound_sorted(item_weight, num_gpus) >= best) return;
    gpu_load.assign(num_gpus, 0.0);
    gpu_size.assign(num_gpus, 0);
    pack_from(0, std::accumulate(item_weight.begin(), item_weight.end(), 0.0));
  }

  // Chooses the count of expert order[j] given `left` slots for experts j.. and the largest
  // load per replica so far.
  void count_from(size_t j, int64_t left, double largest) {
    if (out_of_budget()) return;
    if (j == order.size()) {
      if (left == 0) evaluate_counts();
      return;
    }
    const auto experts_after = static_cast<int64_t>(order.size() - j - 1);
    for (int64_t c = 1; c <= std::min(max_count, left - experts_after); ++c) {
      const double share = loads[order[j]] / static_cast<double>(c);
      // Any GPU holding this replica weighs at least its share.
      if (std::max(largest, share) >= best) continue;
      counts[j] = c;
      count_from(j + 1, left - c, std::max(largest, share));
    }
  }
};

}  // namespace

bool exact_joint_placement(std::span<const double> loads, int64_t num_slots, int64_t num_gpus,
                           int64_t max_count, double incumbent_max, std::span<int32_t> slot_expert,
                           int64_t max_nodes, bool allow_duplicates) {
  Search search{.loads = loads,
                .num_slots = num_slots,
                .num_gpus = num_gpus,
                .slots_per_gpu = num_slots / num_gpus,
                .max_count = max_count,
                .max_nodes = max_nodes,
                .allow_duplicates = allow_duplicates,
                .best = incumbent_max};
  search.best_slots.assign(slot_expert.begin(), slot_expert.end());
  search.order.resize(loads.size());
  std::iota(search.order.begin(), search.order.end(), 0);
  // Heavy experts first: their counts decide the largest load per replica, which prunes most.
  std::stable_sort(search.order.begin(), search.order.end(),
                   [&](int32_t a, int32_t b) { return loads[a] > loads[b]; });
  search.counts.assign(loads.size(), 0);
  search.gpu_items.assign(num_slots, 0);
  search.count_from(0, num_slots, 0.0);
  std::copy(search.best_slots.begin(), search.best_slots.end(), slot_expert.begin());
  return search.nodes <= max_nodes;
}

}  // namespace eplb::detail
