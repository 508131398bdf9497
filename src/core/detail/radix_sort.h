#pragma once
// Sorting a layer's items by descending weight in linear time: the first step of every search
// packer call, and a sixth of its time with std::sort.

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <span>
#include <vector>

#include "core/detail/greedy_pack.h"

namespace eplb::detail {

/// Sorts `keys` by descending value, lower item first among equal values; `keys` must come in
/// ascending item order (as built from a weight array). The same order as std::sort with that
/// comparison, found by a stable least-significant-digit radix sort on the values' bits, byte by
/// byte, skipping bytes that every key shares. Values are finite (-0.0 sorts as 0.0). Fewer
/// than kRadixMinKeys keys (a node's replicas) are insertion-sorted instead: for them the bucket
/// counts cost more than the comparisons.
inline void sort_by_descending_value(std::vector<SortKey<double>>& keys,
                                     std::vector<SortKey<double>>& scratch) {
  constexpr int kBytes = 8;
  constexpr int kBuckets = 256;
  constexpr size_t kRadixMinKeys = 96;
  const size_t size = keys.size();
  if (size < 2) return;
  if (size < kRadixMinKeys) {
    // Stable, so equal values keep their ascending items.
    for (size_t i = 1; i < size; ++i) {
      const SortKey<double> key = keys[i];
      size_t j = i;
      for (; j > 0 && keys[j - 1].value < key.value; --j) keys[j] = keys[j - 1];
      keys[j] = key;
    }
    return;
  }
  // Ascending keys in descending value order: the bits of a non-negative double grow with it;
  // negative ones are mirrored below them.
  const auto descending_key = [](double value) {
    const auto bits = std::bit_cast<uint64_t>(value + 0.0);
    const uint64_t ascending = (bits >> 63) != 0 ? ~bits : bits | (uint64_t{1} << 63);
    return ~ascending;
  };
  std::array<std::array<uint32_t, kBuckets>, kBytes> counts{};
  for (const SortKey<double>& key : keys) {
    const uint64_t bits = descending_key(key.value);
    for (int byte = 0; byte < kBytes; ++byte) ++counts[byte][(bits >> (8 * byte)) & 0xFF];
  }
  scratch.resize(size);
  for (int byte = 0; byte < kBytes; ++byte) {
    std::array<uint32_t, kBuckets>& count = counts[byte];
    const uint64_t first_bucket = (descending_key(keys[0].value) >> (8 * byte)) & 0xFF;
    if (count[first_bucket] == size) continue;  // every key has this byte
    uint32_t offset = 0;
    for (uint32_t& bucket : count) {
      const uint32_t in_bucket = bucket;
      bucket = offset;
      offset += in_bucket;
    }
    for (const SortKey<double>& key : keys) {
      scratch[count[(descending_key(key.value) >> (8 * byte)) & 0xFF]++] = key;
    }
    keys.swap(scratch);
  }
}

}  // namespace eplb::detail
