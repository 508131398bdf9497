// DeepSeek's plan of a layer as the floor of the search policies: taken, second replicas of an
// expert on one GPU included, where it is lighter, so balanced and global are never heavier.
// See docs/algorithms.md#no-two-replicas-of-one-expert-on-one-gpu.

#include <algorithm>
#include <vector>

#include "core/detail/policies.h"
#include "core/detail/search_worker.h"

namespace eplb::detail {
namespace {

/// A candidate replaces the incumbent only when lighter by more than rounding.
bool lighter(double candidate, double incumbent) { return candidate < incumbent * (1 - 1e-12); }

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
