// Refinement moves of the search packer; see docs/algorithms.md#refinement-moves.

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "eplb/packing.h"

namespace eplb {

namespace {

struct Swap {
  int64_t a = -1, b = -1;
  double score = 0;  // the larger of the two packs after the swap (lower is better)
};

// Best 1-for-1 swap between pack `from` (the heavier) and pack `to`: moving d = w_a - w_b
// (0 < d < gap) leaves max(L_from - d, L_to + d) = midpoint + |d - gap / 2|, so the best partner
// of a is the b closest to the target w_a - gap / 2: the closest from above or from below. Both
// packs are sorted by descending weight, so the target only falls as a advances and one
// merge-like pass finds the best pair in O(k). Keeps the best in `best`, whose score must not
// exceed L_from (so that a swap that beats it lowers the heavier pack).
void best_swap_between(const PackState& state, int64_t from, int64_t to, Swap& best) {
  const int64_t k = state.items_per_pack;
  const double gap = state.load[from] - state.load[to];
  if (gap <= 0) return;
  const double half_gap = gap / 2;
  const double midpoint = state.load[to] + half_gap;
  // Even a perfect split of this pair cannot beat the best found so far.
  if (midpoint >= best.score) return;
  const double* wa = &state.weight[from * k];
  const double* wb = &state.weight[to * k];
  const auto consider = [&](int64_t i, int64_t c) {
    const double d = wa[i] - wb[c];
    if (d <= 0 || d >= gap) return;
    const double score = midpoint + std::abs(d - half_gap);
    if (score < best.score && state.swap_allowed(from * k + i, to * k + c)) {
      best = {from * k + i, to * k + c, score};
    }
  };
  int64_t j = 0;  // the first b at or below the target
  for (int64_t i = 0; i < k; ++i) {
    const double target = wa[i] - half_gap;
    while (j < k && wb[j] > target) ++j;
    if (j > 0) consider(i, j - 1);
    if (j < k) consider(i, j);
  }
}

// Whether swapping {a1, a2} (one pack) for {b1, b2} (another) keeps classes apart.
bool pair_swap_allowed(const PackState& state, int64_t a1, int64_t a2, int64_t b1, int64_t b2) {
  if (state.item_class.empty()) return true;
  const auto& cls = state.item_class;
  const int64_t k = state.items_per_pack;
  const auto clashes = [&](int64_t pack, int64_t out1, int64_t out2, int32_t in) {
    for (int64_t j = pack * k; j < pack * k + k; ++j) {
      if (j != out1 && j != out2 && cls[j] == in) return true;
    }
    return false;
  };
  return !clashes(b1 / k, b1, b2, cls[a1]) && !clashes(b1 / k, b1, b2, cls[a2]) &&
         !clashes(a1 / k, a1, a2, cls[b1]) && !clashes(a1 / k, a1, a2, cls[b2]);
}

}  // namespace

bool separate_duplicates(PackState& state) {
  if (state.item_class.empty()) return true;
  const int64_t k = state.items_per_pack;
  bool separated = true;
  for (int64_t p = 0; p < state.num_packs; ++p) {
    for (int64_t x = p * k; x < p * k + k; ++x) {
      if (!state.pack_has_class(p, state.item_class[x], x)) continue;
      // Entry x duplicates a class in pack p: swap it for an item of another pack, the swap that
      // leaves the lighter maximum of the two packs.
      int64_t best_y = -1;
      double best_score = 0;
      for (int64_t y = 0; y < static_cast<int64_t>(state.item.size()); ++y) {
        if (y / k == p || state.item_class[y] == state.item_class[x]) continue;
        const double d = state.weight[x] - state.weight[y];
        const double score = std::max(state.load[p] - d, state.load[y / k] + d);
        // The class check last: it scans two packs, and only a better swap needs it.
        if ((best_y < 0 || score < best_score) && state.swap_allowed(x, y)) {
          best_y = y;
          best_score = score;
        }
      }
      if (best_y < 0) {
        separated = false;
        continue;
      }
      state.swap_entries(x, best_y);
      x = p * k - 1;  // the pack was re-sorted: scan it again
    }
  }
  return separated;
}

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
  // Lightest partners first: a partner's best result is at least the midpoint of the two loads,
  // so once that midpoint reaches the best result so far, no heavier partner can beat it.
  // Only the lightest kMaxPartners packs are tried: the best partner is almost always among
  // them, and on large clusters scanning every pack would dominate the cost.
  constexpr int64_t kMaxPartners = 16;
  const int64_t num_tried = std::min<int64_t>(state.num_packs, kMaxPartners + 1);
  for (int64_t i = 0; i < num_tried; ++i) {
    const int32_t p = state.by_load[i];
    if (p == heavy) continue;
    if ((state.load[heavy] + state.load[p]) / 2 >= best.score) break;
    best_swap_between(state, heavy, p, best);
  }
  if (best.a < 0) return false;
  state.swap_entries(best.a, best.b);
  return true;
}

bool move_all_pairs(PackState& state) {
  const double max_load = state.max_load();
  Swap best_overall;
  double best_gain = 0;
  for (int64_t p = 0; p < state.num_packs; ++p) {
    for (int64_t q = 0; q < state.num_packs; ++q) {
      const double gap = state.load[p] - state.load[q];
      if (gap <= 0 || gap * gap / 4 <= best_gain) continue;
      // The pair's best swap for the max is also its best for the sum of squares: both want d
      // closest to gap / 2; the sum of squares drops by 2d(gap - d) = 2(gap^2/4 - (d - gap/2)^2).
      Swap best{-1, -1, state.load[p]};
      best_swap_between(state, p, q, best);
      if (best.a < 0) continue;
      const double d = state.weight[best.a] - state.weight[best.b];
      const double gain = d * (gap - d);
      if (gain > best_gain && state.load[q] + d < max_load) {
        best_gain = gain;
        best_overall = best;
      }
    }
  }
  if (best_overall.a < 0) return false;
  state.swap_entries(best_overall.a, best_overall.b);
  return true;
}

bool move_two_for_two(PackState& state, int64_t max_items_per_pack) {
  const int64_t k = state.items_per_pack;
  if (k < 2 || k > max_items_per_pack) return false;
  const int64_t heavy = state.heaviest();
  const int64_t light = state.lightest();
  const double gap = state.load[heavy] - state.load[light];
  const double* w = state.weight.data();
  // Moving d = (w_a1 + w_a2) - (w_b1 + w_b2) leaves midpoint + |d - gap/2|: for each pair out of
  // the heavy pack, the best pair out of the light one has the sum closest to sum_a - gap/2.
  // Light pairs sorted by sum make that a binary search instead of a scan over all pairs.
  // Pairs of the light pack as (sum, first * 2^32 + second): sorting them by that code orders
  // equal sums by their entries.
  auto& light_pairs = state.pair_scratch;
  light_pairs.clear();
  for (int64_t b1 = light * k; b1 < light * k + k; ++b1) {
    for (int64_t b2 = b1 + 1; b2 < light * k + k; ++b2) light_pairs.emplace_back(w[b1] + w[b2], (b1 << 32) | b2);
  }
  std::sort(light_pairs.begin(), light_pairs.end());
  const double midpoint = state.load[light] + gap / 2;
  double best_score = state.load[heavy];
  int64_t best[4] = {-1, -1, -1, -1};
  for (int64_t a1 = heavy * k; a1 < heavy * k + k; ++a1) {
    for (int64_t a2 = a1 + 1; a2 < heavy * k + k; ++a2) {
      const double out = w[a1] + w[a2];
      const double target = out - gap / 2;
      auto it = std::lower_bound(light_pairs.begin(), light_pairs.end(), target,
                                 [](const std::pair<double, int64_t>& x, double t) { return x.first < t; });
      // Walk outwards from the target while a candidate could still beat the best.
      auto up = it;
      auto down = it;
      while (up != light_pairs.end() || down != light_pairs.begin()) {
        const bool take_up = down == light_pairs.begin() ||
                             (up != light_pairs.end() && up->first - target <= target - (down - 1)->first);
        const auto& [sum, code] = take_up ? *up++ : *--down;
        const double score = midpoint + std::abs(out - sum - gap / 2);
        if (score >= best_score) break;
        const int64_t b1 = code >> 32, b2 = code & 0xffffffff;
        if (pair_swap_allowed(state, a1, a2, b1, b2)) {
          best_score = score;
          best[0] = a1, best[1] = a2, best[2] = b1, best[3] = b2;
          break;
        }
      }
    }
  }
  if (best[0] < 0) return false;
  // Swap both pairs before re-sorting: swap_entries() re-sorts, which would move best[1] and best[3].
  const double d = w[best[0]] + w[best[1]] - w[best[2]] - w[best[3]];
  for (int i = 0; i < 2; ++i) {
    std::swap(state.item[best[i]], state.item[best[i + 2]]);
    std::swap(state.weight[best[i]], state.weight[best[i + 2]]);
    if (!state.item_class.empty()) std::swap(state.item_class[best[i]], state.item_class[best[i + 2]]);
  }
  state.shift_load(heavy, light, d);
  state.sort_pack(heavy);
  state.sort_pack(light);
  return true;
}

void refine(PackState& state, uint32_t moves, int64_t max_moves, int64_t two_for_two_max_items,
            double lower_bound) {
  // Cheap max-lowering moves first; the costlier ones only when those are stuck, and the
  // variance-lowering all-pairs move last, to open new max-lowering swaps. Stops after
  // kPatience moves in a row that did not lower the heaviest pack: past that point the search
  // rarely pays for itself.
  constexpr int64_t kPatience = 12;
  double best_max = state.max_load();
  int64_t since_improvement = 0;
  for (int64_t applied = 0; applied < max_moves && since_improvement < kPatience; ++applied) {
    if (best_max <= lower_bound) return;
    const bool moved = ((moves & kMoveHeaviestAny) && move_heaviest_any(state)) ||
                       ((moves & kMoveHeaviestLightest) && !(moves & kMoveHeaviestAny) &&
                        move_heaviest_lightest(state)) ||
                       ((moves & kMoveTwoForTwo) && move_two_for_two(state, two_for_two_max_items)) ||
                       ((moves & kMoveAllPairs) && move_all_pairs(state));
    if (!moved) return;
    const double max_load = state.max_load();
    since_improvement = max_load < best_max ? 0 : since_improvement + 1;
    best_max = std::min(best_max, max_load);
  }
}

}  // namespace eplb
