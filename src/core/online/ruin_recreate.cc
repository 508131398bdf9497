// Improving a repaired layer by ruin and recreate: undo a few of its changes, repair again, keep
// what moves fewer slots.
#include <algorithm>
#include <cstdint>
#include <span>
#include <vector>

#include "core/detail/random.h"
#include "core/detail/repair.h"

namespace eplb::detail {
namespace {

// Changes, or GPUs, undone per round at most: measured on DeepSeek-V3 traces, larger ruins
// gain no more per unit of time.
constexpr uint64_t kMaxRuined = 4;

// Returns the slots of `row` on excluded GPUs (-1) and those that match `current`, untouched;
// the others are the layer's changes.
std::vector<int64_t> changed_slots(std::span<const int64_t> row, std::span<const int64_t> current) {
  std::vector<int64_t> changed;
  for (int64_t slot = 0; slot < static_cast<int64_t>(row.size()); ++slot) {
    if (row[slot] != current[slot]) changed.push_back(slot);
  }
  return changed;
}

// Reverts slots of `row` to `current` until every expert has a replica and no GPU holds one
// twice again. Reverting a slot can leave its expert without a replica (it was swapped away and
// the slot that took it kept another) or put an expert back on a GPU where a changed slot now
// holds it; either is undone by reverting one more changed slot. Ends, at the latest, at
// `current` itself, which is valid.
void restore_validity(std::vector<int64_t>& row, std::span<const int64_t> current,
                      int64_t num_experts, int64_t slots_per_gpu, std::vector<int64_t>& count) {
  const auto num_slots = static_cast<int64_t>(row.size());
  bool changed = true;
  while (changed) {
    changed = false;
    count.assign(static_cast<size_t>(num_experts), 0);
    for (const int64_t expert : row) {
      if (expert >= 0) ++count[expert];
    }
    for (int64_t slot = 0; slot < num_slots; ++slot) {
      const int64_t original = current[slot];
      if (row[slot] == original) continue;
      // The slot's original expert is missing, or its new one sits twice on the GPU.
      bool revert = count[original] == 0;
      const int64_t first = slot / slots_per_gpu * slots_per_gpu;
      for (int64_t other = first; other < first + slots_per_gpu && !revert; ++other) {
        revert = other != slot && row[other] == row[slot];
      }
      if (!revert) continue;
      --count[row[slot]];
      ++count[original];
      row[slot] = original;
      changed = true;
    }
  }
}

}  // namespace

RepairPath improve_repair(const RepairProblem& problem, const RepairPath& repair,
                          int64_t iterations, uint64_t seed) {
  const std::span<const int64_t> current = problem.current;
  const auto num_experts = static_cast<int64_t>(problem.weight.size());
  const int64_t slots_per_gpu = problem.topology.slots_per_gpu();
  std::vector<int64_t> best(current.begin(), current.end());
  for (int64_t change = 0; change < repair.num_changes.back(); ++change) {
    best[repair.changes[change].slot] = repair.changes[change].expert;
  }
  std::vector<int64_t> best_changed = changed_slots(best, current);
  auto best_moved = static_cast<int64_t>(best_changed.size());
  Random random(seed);
  std::vector<int64_t> row;
  std::vector<int64_t> count;
  RepairScratch scratch;
  double best_heaviest = repair.heaviest.back();
  for (int64_t iteration = 0; iteration < iterations && best_moved > 0; ++iteration) {
    row = best;
    // Ruin, alternately: undo up to four changes, or every change on up to four GPUs that have
    // one.
    const auto num_ruined = static_cast<int64_t>(1 + random.below(kMaxRuined));
    for (int64_t idx = 0; idx < num_ruined; ++idx) {
      const int64_t slot = best_changed[random.below(best_changed.size())];
      if (iteration % 2 == 0) {
        row[slot] = current[slot];
        continue;
      }
      const int64_t first = slot / slots_per_gpu * slots_per_gpu;
      std::copy(current.begin() + first, current.begin() + first + slots_per_gpu,
                row.begin() + first);
    }
    restore_validity(row, current, num_experts, slots_per_gpu, count);
    // Recreate under one of the fix preferences, in turn.
    RepairProblem again = problem;
    again.start = row;
    again.max_moved = best_moved;
    again.preference = kAllFixPreferences[iteration % std::size(kAllFixPreferences)];
    const RepairPath path = repair_layer(again, &scratch);
    if (path.heaviest.back() > problem.target || path.moved.back() > best_moved) continue;
    for (int64_t change = 0; change < path.num_changes.back(); ++change) {
      row[path.changes[change].slot] = path.changes[change].expert;
    }
    // Equal moves are kept too: they let the search drift across plateaus.
    best.swap(row);
    best_heaviest = path.heaviest.back();
    best_changed = changed_slots(best, current);
    best_moved = static_cast<int64_t>(best_changed.size());
  }
  RepairPath result;
  result.num_changes = {0, best_moved};
  result.moved = {0, best_moved};
  result.heaviest = {repair.heaviest.front(), best_heaviest};
  for (const int64_t slot : best_changed) {
    result.changes.push_back({.slot = slot, .expert = best[slot]});
  }
  return result;
}

}  // namespace eplb::detail
