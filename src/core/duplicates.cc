// Plans that put a second replica of an expert on a GPU that already holds one, taken only when
// they lower the heaviest GPU, so that balanced and global are never heavier than deepseek.
// See docs/algorithms.md#no-two-replicas-of-one-expert-on-one-gpu.

#include <algorithm>
#include <numeric>
#include <vector>

#include "core/detail/joint.h"
#include "core/detail/policies.h"
#include "core/detail/search_worker.h"
#include "eplb/bounds.h"

namespace eplb::detail {
namespace {

/// A candidate replaces the incumbent only when lighter by more than rounding.
bool lighter(double candidate, double incumbent) { return candidate < incumbent * (1 - 1e-12); }

/// Returns whether some GPU of `slots` (GPU-major, `slots_per_gpu` each) holds an expert twice.
bool has_duplicates(std::span<const int64_t> slots, int64_t slots_per_gpu) {
  const auto num_slots = static_cast<int64_t>(slots.size());
  for (int64_t s = 0; s < num_slots; ++s) {
    const int64_t end = (s / slots_per_gpu + 1) * slots_per_gpu;
    for (int64_t t = s + 1; t < end; ++t) {
      if (slots[s] >= 0 && slots[t] == slots[s]) return true;
    }
  }
  return false;
}

}  // namespace

double heaviest_gpu(std::span<const int64_t> slots, int64_t num_gpus, Worker& w) {
  const auto slots_per_gpu = static_cast<int64_t>(slots.size()) / num_gpus;
  w.slot_count.assign(w.row.size(), 0);
  for (const int64_t expert : slots) {
    if (expert >= 0) ++w.slot_count[expert];
  }
  double heaviest = 0;
  for (int64_t gpu = 0; gpu < num_gpus; ++gpu) {
    double load = 0;
    for (int64_t s = gpu * slots_per_gpu; s < (gpu + 1) * slots_per_gpu; ++s) {
      if (slots[s] >= 0) load += w.row[slots[s]] / static_cast<double>(w.slot_count[slots[s]]);
    }
    heaviest = std::max(heaviest, load);
  }
  return heaviest;
}

void place_with_duplicates(std::span<const int32_t> node_experts, int64_t num_slots,
                           int64_t num_gpus, uint64_t stream, Worker& w, std::span<int64_t> slots) {
  const auto num_experts = static_cast<int64_t>(node_experts.size());
  // Only small levels, where the search without duplicates was exact: on larger ones a duplicate
  // gains little over the search's own tolerance and costs the next window's loads a replica
  // (keep_lighter_deepseek() still keeps those layers from being heavier than DeepSeek's).
  if (num_slots == num_experts || num_slots > kExactMaxSlots || num_experts > kExactMaxExperts) {
    return;
  }
  w.node_loads.resize(num_experts);
  for (int64_t j = 0; j < num_experts; ++j) w.node_loads[j] = w.row[node_experts[j]];
  const double current = heaviest_gpu(slots, num_gpus, w);
  // No placement, duplicates or not, beats this bound.
  const double total = std::accumulate(w.node_loads.begin(), w.node_loads.end(), 0.0);
  const double bound = std::max(total / static_cast<double>(num_gpus),
                                min_max_replica_load(w.node_loads, num_slots));
  if (current <= bound * (1 + 1e-12)) return;
  // Uncapped greedy counts (DeepSeek's) and a packing free to put copies of one expert together:
  // such a GPU carries that expert's load once, and the other slots go to other experts.
  w.counts.assign(num_experts, 1);
  add_replicas_greedy(w.node_loads, num_slots - num_experts, w.counts, INT64_MAX, &w.candidates);
  w.replica_expert.clear();
  w.replica_weights.clear();
  for (int64_t j = 0; j < num_experts; ++j) {
    append_replicas(node_experts[j], w.counts[j], w.node_loads[j] / static_cast<double>(w.counts[j]), w);
  }
  w.replica_pack.resize(num_slots);
  w.replica_rank.resize(num_slots);
  w.packer->pack(w.replica_weights, {}, num_gpus, stream, w.replica_pack, w.replica_rank);
  const int64_t slots_per_gpu = num_slots / num_gpus;
  w.alternative.resize(num_slots);
  for (int64_t r = 0; r < num_slots; ++r) {
    w.alternative[w.replica_pack[r] * slots_per_gpu + w.replica_rank[r]] = w.replica_expert[r];
  }
  double alternative = heaviest_gpu(w.alternative, num_gpus, w);
  // The exact joint search, now free to duplicate, from the lighter of the two.
  constexpr int64_t kMaxSearchNodes = 200'000;
  if (!lighter(alternative, current)) {
    std::copy(slots.begin(), slots.end(), w.alternative.begin());
    alternative = current;
  }
  std::vector<int32_t> local(num_slots);
  for (int64_t s = 0; s < num_slots; ++s) {
    local[s] = static_cast<int32_t>(
        std::find(node_experts.begin(), node_experts.end(), w.alternative[s]) - node_experts.begin());
  }
  exact_joint_placement(w.node_loads, num_slots, num_gpus, num_slots - num_experts + 1, alternative,
                        local, kMaxSearchNodes, /*allow_duplicates=*/true);
  for (int64_t s = 0; s < num_slots; ++s) w.alternative[s] = node_experts[local[s]];
  alternative = heaviest_gpu(w.alternative, num_gpus, w);
  // Without a duplicate the alternative is just another packing; the search above owns those,
  // and plans where no duplicate helps stay as they were.
  if (lighter(alternative, current) && has_duplicates(w.alternative, slots_per_gpu)) {
    std::copy(w.alternative.begin(), w.alternative.end(), slots.begin());
  }
}

void lower_heaviest_level(std::span<const int32_t> node_experts, int64_t num_levels,
                          int64_t gpus_per_level, uint64_t stream, Worker& w,
                          std::span<int64_t> phy2log) {
  const auto slots_per_level = static_cast<int64_t>(phy2log.size()) / num_levels;
  const auto experts_per_level = static_cast<int64_t>(node_experts.size()) / num_levels;
  const auto level_slots = [&](int64_t level) {
    return phy2log.subspan(level * slots_per_level, slots_per_level);
  };
  std::vector<double> heaviest(num_levels);
  for (int64_t level = 0; level < num_levels; ++level) {
    heaviest[level] = heaviest_gpu(level_slots(level), gpus_per_level, w);
  }
  std::vector<bool> tried(num_levels, false);
  while (true) {
    const auto top = std::max_element(heaviest.begin(), heaviest.end()) - heaviest.begin();
    double others = 0;
    for (int64_t level = 0; level < num_levels; ++level) {
      if (level != top) others = std::max(others, heaviest[level]);
    }
    // A duplicate on a level that does not carry the layer's heaviest GPU alone gains nothing.
    if (tried[top] || !lighter(others, heaviest[top])) return;
    tried[top] = true;
    place_with_duplicates(node_experts.subspan(top * experts_per_level, experts_per_level),
                          slots_per_level, gpus_per_level, stream + static_cast<uint64_t>(top), w,
                          level_slots(top));
    heaviest[top] = heaviest_gpu(level_slots(top), gpus_per_level, w);
  }
}

void plan_deepseek_layer(const LoadMatrix& loads, int64_t layer, const Topology& topology,
                         Worker& w) {
  if (w.deepseek_heaviest >= 0) return;
  w.deepseek_slots.resize(static_cast<size_t>(topology.num_replicas()));
  deepseek_layer(loads, layer, topology, w.deepseek_slots);
  w.deepseek_heaviest = heaviest_gpu(w.deepseek_slots, topology.num_gpus(), w);
}

void keep_lighter_deepseek(const LoadMatrix& loads, int64_t layer, const Topology& topology,
                           Worker& w, std::span<int64_t> phy2log) {
  const double current = heaviest_gpu(phy2log, topology.num_gpus(), w);
  plan_deepseek_layer(loads, layer, topology, w);
  if (lighter(w.deepseek_heaviest, current)) {
    std::copy(w.deepseek_slots.begin(), w.deepseek_slots.end(), phy2log.begin());
  }
}

}  // namespace eplb::detail
