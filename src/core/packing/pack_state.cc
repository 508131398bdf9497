// PackState: a packing kept sorted inside packs, with its packs ordered by load, so that the
// moves (moves.cc) find the heaviest pack and their partners without sorting.

#include <algorithm>
#include <numeric>

#include "eplb/packing.h"

namespace eplb {

PackState PackState::from_assignment(std::span<const double> weights, int64_t num_packs,
                                     std::span<const int32_t> pack_of_item,
                                     std::span<const int32_t> item_class) {
  PackState state;
  state.assign(weights, num_packs, pack_of_item, item_class);
  return state;
}

void PackState::assign(std::span<const double> weights, int64_t packs,
                       std::span<const int32_t> pack_of_item, std::span<const int32_t> classes,
                       std::span<const int32_t> descending) {
  const auto num_items = static_cast<int64_t>(weights.size());
  num_packs = packs;
  items_per_pack = num_items / num_packs;
  item.resize(num_items);
  weight.resize(num_items);
  load.assign(num_packs, 0.0);
  classes.empty() ? item_class.clear() : item_class.resize(num_items);
  // `position` counts each pack's entries while filling; it gets its real meaning below.
  position.assign(num_packs, 0);
  const auto place = [&](int32_t i) {
    const int32_t pack = pack_of_item[i];
    const int64_t entry = pack * items_per_pack + position[pack]++;
    item[entry] = i;
    weight[entry] = weights[i];
    if (!classes.empty()) item_class[entry] = classes[i];
  };
  if (descending.empty()) {
    for (int64_t i = 0; i < num_items; ++i) place(static_cast<int32_t>(i));
    for (int64_t p = 0; p < num_packs; ++p) sort_pack(p);
  } else {
    for (const int32_t i : descending) place(i);
  }
  // Loads summed in item order, as a pack's items were added before packs were kept sorted.
  for (int64_t i = 0; i < num_items; ++i) load[pack_of_item[i]] += weights[i];
  by_load.resize(num_packs);
  std::iota(by_load.begin(), by_load.end(), 0);
  std::sort(by_load.begin(), by_load.end(), [&](int32_t a, int32_t b) {
    return load[a] < load[b] || (load[a] == load[b] && a < b);
  });
  for (int64_t i = 0; i < num_packs; ++i) position[by_load[i]] = static_cast<int32_t>(i);
  shared_class.clear();
  if (!classes.empty()) {
    const int32_t num_classes = *std::max_element(classes.begin(), classes.end()) + 1;
    // 0: no item yet, 1: one item, 2: several.
    shared_class.assign(num_classes, 0);
    for (const int32_t c : classes) shared_class[c] = static_cast<uint8_t>(std::min(shared_class[c] + 1, 2));
    for (uint8_t& shared : shared_class) shared = shared == 2;
  }
}

void PackState::sort_pack(int64_t pack) {
  // Insertion sort: packs are small and at most two entries are out of place after a swap.
  const int64_t begin = pack * items_per_pack, end = begin + items_per_pack;
  const bool classes = !item_class.empty();
  for (int64_t i = begin + 1; i < end; ++i) {
    const double w = weight[i];
    const int32_t it = item[i];
    if (weight[i - 1] > w || (weight[i - 1] == w && item[i - 1] < it)) continue;
    const int32_t c = classes ? item_class[i] : 0;
    int64_t j = i;
    for (; j > begin && (weight[j - 1] < w || (weight[j - 1] == w && item[j - 1] > it)); --j) {
      weight[j] = weight[j - 1];
      item[j] = item[j - 1];
      if (classes) item_class[j] = item_class[j - 1];
    }
    weight[j] = w;
    item[j] = it;
    if (classes) item_class[j] = c;
  }
}

bool PackState::pack_has_class(int64_t pack, int32_t cls, int64_t except) const {
  for (int64_t j = pack * items_per_pack; j < (pack + 1) * items_per_pack; ++j) {
    if (j != except && item_class[j] == cls) return true;
  }
  return false;
}

bool PackState::has_duplicates() const {
  if (item_class.empty()) return false;
  // pack_of_class[c] = last pack seen holding class c; packs are scanned in order.
  const int32_t num_classes = *std::max_element(item_class.begin(), item_class.end()) + 1;
  std::vector<int64_t> pack_of_class(num_classes, -1);
  for (int64_t j = 0; j < static_cast<int64_t>(item_class.size()); ++j) {
    int64_t& seen = pack_of_class[item_class[j]];
    if (seen == j / items_per_pack) return true;
    seen = j / items_per_pack;
  }
  return false;
}

int64_t PackState::heaviest() const {
  // The heaviest packs end `by_load`, lowest index first among equals.
  int64_t i = num_packs - 1;
  while (i > 0 && load[by_load[i - 1]] == load[by_load[i]]) --i;
  return by_load[i];
}

void PackState::reposition(int64_t pack) {
  const auto before = [&](int32_t a, int32_t b) {
    return load[a] < load[b] || (load[a] == load[b] && a < b);
  };
  int64_t i = position[pack];
  while (i > 0 && before(static_cast<int32_t>(pack), by_load[i - 1])) {
    by_load[i] = by_load[i - 1];
    position[by_load[i]] = static_cast<int32_t>(i);
    --i;
  }
  while (i + 1 < num_packs && before(by_load[i + 1], static_cast<int32_t>(pack))) {
    by_load[i] = by_load[i + 1];
    position[by_load[i]] = static_cast<int32_t>(i);
    ++i;
  }
  by_load[i] = static_cast<int32_t>(pack);
  position[pack] = static_cast<int32_t>(i);
}

void PackState::shift_load(int64_t from, int64_t to, double delta) {
  load[from] -= delta;
  load[to] += delta;
  reposition(from);
  reposition(to);
}

void PackState::swap_entries(int64_t a, int64_t b) {
  std::swap(item[a], item[b]);
  std::swap(weight[a], weight[b]);
  if (!item_class.empty()) std::swap(item_class[a], item_class[b]);
  // weight[b] now holds a's old weight.
  shift_load(a / items_per_pack, b / items_per_pack, weight[b] - weight[a]);
  sort_pack(a / items_per_pack);
  sort_pack(b / items_per_pack);
}

void PackState::write_assignment(std::span<int32_t> pack_of_item,
                                 std::span<int32_t> rank_in_pack) const {
  for (int64_t entry = 0; entry < static_cast<int64_t>(item.size()); ++entry) {
    pack_of_item[item[entry]] = static_cast<int32_t>(entry / items_per_pack);
    rank_in_pack[item[entry]] = static_cast<int32_t>(entry % items_per_pack);
  }
}

}  // namespace eplb
