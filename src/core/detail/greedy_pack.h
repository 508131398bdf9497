#pragma once
// DeepSeek's balanced packer, generic in the weight type so that the deepseek policy can run it
// in float32 (bit-exact with the reference) and the other policies in double.

#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

namespace eplb::detail {

/// Up to this many packs greedy_pack() scans them linearly; beyond, it keeps a heap.
inline constexpr int64_t kGreedyScanMaxPacks = 16;

/// A weight with the index of its item, the unit greedy_pack() sorts.
template <typename Weight>
struct SortKey {
  Weight value;
  int32_t item;
};

/// The assignment step of greedy_pack(): the items of `order` (by descending weight), each into
/// the lightest pack that is not full (lowest pack index on ties). Requires n / num_packs > 1.
template <typename Weight>
void greedy_pack_sorted(std::span<const SortKey<Weight>> order, int64_t num_packs,
                        std::span<int32_t> pack_of_item, std::span<int32_t> rank_in_pack) {
  const auto num_items = static_cast<int64_t>(order.size());
  const int64_t per_pack = num_items / num_packs;
  std::vector<Weight> pack_weight(num_packs, Weight{0});
  std::vector<int32_t> pack_size(num_packs, 0);
  if (num_packs <= kGreedyScanMaxPacks) {
    for (const auto& [value, item] : order) {
      int64_t best = -1;
      for (int64_t p = 0; p < num_packs; ++p) {
        if (pack_size[p] < per_pack && (best < 0 || pack_weight[p] < pack_weight[best])) best = p;
      }
      pack_of_item[item] = static_cast<int32_t>(best);
      rank_in_pack[item] = pack_size[best]++;
      pack_weight[best] += value;
    }
    return;
  }
  // Many packs: a min-heap on (weight, index) makes the same choice as the scan (the lightest
  // pack, lowest index among equals) in O(log m). The top pack only gets heavier, so it sinks
  // from the root in place of a pop and a push; full packs leave the heap.
  std::vector<int32_t> heap(num_packs);
  for (int64_t p = 0; p < num_packs; ++p) heap[p] = static_cast<int32_t>(p);  // a valid heap
  const auto lighter = [&](int32_t a, int32_t b) {
    return pack_weight[a] < pack_weight[b] || (pack_weight[a] == pack_weight[b] && a < b);
  };
  auto size = static_cast<int64_t>(num_packs);
  for (const auto& [value, item] : order) {
    const int32_t best = heap[0];
    pack_of_item[item] = best;
    rank_in_pack[item] = pack_size[best]++;
    pack_weight[best] += value;
    if (pack_size[best] == per_pack) heap[0] = heap[--size];
    // Sift the root down.
    const int32_t sinking = heap[0];
    int64_t hole = 0;
    for (int64_t child = 1; child < size; child = 2 * hole + 1) {
      if (child + 1 < size && lighter(heap[child + 1], heap[child])) ++child;
      if (!lighter(heap[child], sinking)) break;
      heap[hole] = heap[child];
      hole = child;
    }
    heap[hole] = sinking;
  }
}

/// Packs `weights` [n] into `num_packs` packs of exactly n / num_packs items: items in descending
/// weight order, each into the lightest pack that is not full (lowest pack index on ties). Writes each item's pack and its rank in the pack (how many
/// items the pack held before it). When each pack takes one item, item i goes to pack i.
/// Pack weights accumulate in `Weight` arithmetic, as the reference accumulates float32 tensors.
///
/// Equal weights are ordered as torch.sort(descending=True) orders them on CPU: it runs
/// std::sort (not a stable sort) over (value, index) pairs, so ties come out in whatever order
/// that introsort leaves them. The deepseek policy must match it to reproduce log2phy's replica
/// ranks; running the same std::sort on the same (value, index) sequence does (libstdc++, as the
/// reference's PyTorch builds use).
template <typename Weight>
void greedy_pack(std::span<const Weight> weights, int64_t num_packs, std::span<int32_t> pack_of_item,
                 std::span<int32_t> rank_in_pack, std::vector<SortKey<Weight>>& order) {
  const auto num_items = static_cast<int64_t>(weights.size());
  const int64_t per_pack = num_items / num_packs;
  if (per_pack == 1) {
    for (int64_t i = 0; i < num_items; ++i) {
      pack_of_item[i] = static_cast<int32_t>(i);
      rank_in_pack[i] = 0;
    }
    return;
  }
  order.resize(num_items);
  for (int64_t i = 0; i < num_items; ++i) order[i] = {weights[i], static_cast<int32_t>(i)};
  std::sort(order.begin(), order.end(),
            [](const SortKey<Weight>& a, const SortKey<Weight>& b) { return a.value > b.value; });
  greedy_pack_sorted<Weight>(order, num_packs, pack_of_item, rank_in_pack);
}

}  // namespace eplb::detail
