// Refinement moves of the search packer; see docs/algorithms.md#refinement-moves.

#include <algorithm>

#include "eplb/packing.h"

namespace eplb {

PackState PackState::from_assignment(std::span<const double> weights, int64_t num_packs,
                                     std::span<const int32_t> pack_of_item) {
  PackState state;
  const auto num_items = static_cast<int64_t>(weights.size());
  state.num_packs = num_packs;
  state.items_per_pack = num_items / num_packs;
  state.item.resize(num_items);
  state.weight.resize(num_items);
  state.load.assign(num_packs, 0.0);
  std::vector<int64_t> filled(num_packs, 0);
  for (int64_t i = 0; i < num_items; ++i) {
    const int32_t pack = pack_of_item[i];
    const int64_t entry = pack * state.items_per_pack + filled[pack]++;
    state.item[entry] = static_cast<int32_t>(i);
    state.weight[entry] = weights[i];
    state.load[pack] += weights[i];
  }
  return state;
}

int64_t PackState::heaviest() const {
  return std::max_element(load.begin(), load.end()) - load.begin();
}

int64_t PackState::lightest() const {
  return std::min_element(load.begin(), load.end()) - load.begin();
}

void PackState::swap_entries(int64_t a, int64_t b) {
  const double delta = weight[a] - weight[b];
  load[a / items_per_pack] -= delta;
  load[b / items_per_pack] += delta;
  std::swap(item[a], item[b]);
  std::swap(weight[a], weight[b]);
}

void PackState::write_assignment(std::span<int32_t> pack_of_item,
                                 std::span<int32_t> rank_in_pack) const {
  for (int64_t entry = 0; entry < static_cast<int64_t>(item.size()); ++entry) {
    pack_of_item[item[entry]] = static_cast<int32_t>(entry / items_per_pack);
    rank_in_pack[item[entry]] = static_cast<int32_t>(entry % items_per_pack);
  }
}

namespace {

struct Swap {
  int64_t a = -1, b = -1;
  double score = 0;  // the larger of the two packs after the swap (lower is better)
};

// Best 1-for-1 swap between pack `from` (the heavier) and pack `to`: moving weight
// d = w_a - w_b from `from` to `to` leaves max(L_from - d, L_to + d); keeps the best in `best`.
void best_swap_between(const PackState& state, int64_t from, int64_t to, Swap& best) {
  const int64_t k = state.items_per_pack;
  const double gap = state.load[from] - state.load[to];
  if (gap <= 0) return;
  for (int64_t a = from * k; a < from * k + k; ++a) {
    for (int64_t b = to * k; b < to * k + k; ++b) {
      const double d = state.weight[a] - state.weight[b];
      if (d <= 0 || d >= gap) continue;
      const double score = std::max(state.load[from] - d, state.load[to] + d);
      if (score < best.score) best = {a, b, score};
    }
  }
}

}  // namespace

bool move_heaviest_lightest(PackState& state) {
  const int64_t heavy = state.heaviest();
  Swap best{-1, -1, state.load[heavy]};
  best_swap_between(state, heavy, state.lightest(), best);
  if (best.a < 0) return false;
  state.swap_entries(best.a, best.b);
  return true;
}

bool move_heaviest_any(PackState& state) {
  const int64_t heavy = state.heaviest();
  Swap best{-1, -1, state.load[heavy]};
  for (int64_t p = 0; p < state.num_packs; ++p) {
    if (p != heavy) best_swap_between(state, heavy, p, best);
  }
  if (best.a < 0) return false;
  state.swap_entries(best.a, best.b);
  return true;
}

bool move_all_pairs(PackState& state) {
  const int64_t k = state.items_per_pack;
  const double max_load = state.max_load();
  int64_t best_a = -1, best_b = -1;
  double best_gain = 0;
  for (int64_t p = 0; p < state.num_packs; ++p) {
    for (int64_t q = 0; q < state.num_packs; ++q) {
      const double gap = state.load[p] - state.load[q];
      if (gap <= 0) continue;
      for (int64_t a = p * k; a < p * k + k; ++a) {
        for (int64_t b = q * k; b < q * k + k; ++b) {
          const double d = state.weight[a] - state.weight[b];
          if (d <= 0 || d >= gap) continue;
          // Sum of squares drops by 2d(gap - d); the receiving pack must stay below the max.
          const double gain = d * (gap - d);
          if (gain > best_gain && state.load[q] + d < max_load) {
            best_gain = gain;
            best_a = a;
            best_b = b;
          }
        }
      }
    }
  }
  if (best_a < 0) return false;
  state.swap_entries(best_a, best_b);
  return true;
}

bool move_two_for_two(PackState& state, int64_t max_items_per_pack) {
  const int64_t k = state.items_per_pack;
  if (k < 2 || k > max_items_per_pack) return false;
  const int64_t heavy = state.heaviest();
  const int64_t light = state.lightest();
  const double gap = state.load[heavy] - state.load[light];
  const double* w = state.weight.data();
  double best_score = state.load[heavy];
  int64_t best[4] = {-1, -1, -1, -1};
  for (int64_t a1 = heavy * k; a1 < heavy * k + k; ++a1) {
    for (int64_t a2 = a1 + 1; a2 < heavy * k + k; ++a2) {
      const double out = w[a1] + w[a2];
      for (int64_t b1 = light * k; b1 < light * k + k; ++b1) {
        for (int64_t b2 = b1 + 1; b2 < light * k + k; ++b2) {
          const double d = out - w[b1] - w[b2];
          if (d <= 0 || d >= gap) continue;
          const double score = std::max(state.load[heavy] - d, state.load[light] + d);
          if (score < best_score) {
            best_score = score;
            best[0] = a1, best[1] = a2, best[2] = b1, best[3] = b2;
          }
        }
      }
    }
  }
  if (best[0] < 0) return false;
  state.swap_entries(best[0], best[2]);
  state.swap_entries(best[1], best[3]);
  return true;
}

void refine(PackState& state, uint32_t moves, int64_t max_moves, int64_t two_for_two_max_items,
            double lower_bound) {
  // Cheap max-lowering moves first; the costlier ones only when those are stuck, and the
  // variance-lowering all-pairs move last, to open new max-lowering swaps.
  for (int64_t applied = 0; applied < max_moves; ++applied) {
    if (state.max_load() <= lower_bound) return;
    if ((moves & kMoveHeaviestAny) && move_heaviest_any(state)) continue;
    if ((moves & kMoveHeaviestLightest) && !(moves & kMoveHeaviestAny) &&
        move_heaviest_lightest(state)) {
      continue;
    }
    if ((moves & kMoveTwoForTwo) && move_two_for_two(state, two_for_two_max_items)) continue;
    if ((moves & kMoveAllPairs) && move_all_pairs(state)) continue;
    return;
  }
}

}  // namespace eplb
