// Repairing a plan in place: the fewest replica moves and swaps that bring every GPU of a layer
// under a target load.
#include "core/detail/repair.h"

#include <algorithm>
#include <limits>

namespace eplb::detail {
namespace {

// A candidate change: slot_a takes expert_for_a; for a swap, slot_b takes expert_for_b too.
struct Candidate {
  int64_t slot_a = -1;
  int64_t expert_for_a = -1;
  int64_t slot_b = -1;
  int64_t expert_for_b = -1;
  bool fixes = false;
  int64_t cost = 0;
  // Fixing moves: as the problem's FixPreference says (higher is better). Others: how much
  // lower the largest touched load gets, per moved slot (higher is better).
  double score = 0;
};

bool better(const Candidate& candidate, const Candidate& best) {
  if (best.slot_a < 0) return true;
  if (candidate.fixes != best.fixes) return candidate.fixes;
  if (candidate.fixes) {
    if (candidate.cost != best.cost) return candidate.cost < best.cost;
  }
  return candidate.score > best.score;
}

class LayerRepair {
 public:
  LayerRepair(const RepairProblem& problem, RepairScratch& scratch)
      : problem_(problem),
        topology_(problem.topology),
        slots_per_gpu_(topology_.slots_per_gpu()),
        num_nodes_(topology_.num_nodes()),
        num_experts_(static_cast<int64_t>(problem.weight.size())),
        row_(problem.start.empty() ? problem.current.begin() : problem.start.begin(),
             problem.start.empty() ? problem.current.end() : problem.start.end()),
        count_(static_cast<size_t>(num_experts_), 0),
        node_count_(static_cast<size_t>(num_experts_ * num_nodes_), 0),
        gpu_count_(scratch.replicas_on_gpu),
        gpu_load_(static_cast<size_t>(topology_.num_gpus()), 0),
        extra_load_(static_cast<size_t>(topology_.num_gpus()), 0) {
    // The scratch table comes zeroed (see ~LayerRepair), or is made so once.
    const auto table_size = static_cast<size_t>(num_experts_ * topology_.num_gpus());
    if (gpu_count_.size() != table_size) gpu_count_.assign(table_size, 0);
    for (int64_t slot = 0; slot < static_cast<int64_t>(row_.size()); ++slot) {
      const int64_t expert = row_[slot];
      if (expert < 0) continue;
      ++count_[expert];
      ++node_count_[expert * num_nodes_ + topology_.node_of_slot(slot)];
      ++gpu_count_[gpu_of(slot) * num_experts_ + expert];
      moved_ += static_cast<int64_t>(expert != problem.current[slot]);
    }
    carried_.resize(static_cast<size_t>(num_experts_));
    carried_if_added_.resize(static_cast<size_t>(num_experts_));
    for (int64_t expert = 0; expert < num_experts_; ++expert) update_carried(expert);
    recompute_loads();
  }

  // Leaves the scratch table zeroed for the next repair: clearing the entries of this row costs
  // one pass over the slots, where zeroing the whole table (GPUs x experts) would dominate a
  // short repair.
  ~LayerRepair() {
    for (int64_t slot = 0; slot < static_cast<int64_t>(row_.size()); ++slot) {
      if (row_[slot] >= 0) gpu_count_[gpu_of(slot) * num_experts_ + row_[slot]] = 0;
    }
  }
  LayerRepair(const LayerRepair&) = delete;
  LayerRepair& operator=(const LayerRepair&) = delete;

  RepairPath run() {
    RepairPath path;
    record(path);
    const int64_t max_iterations = 4 * static_cast<int64_t>(row_.size());
    for (int64_t iteration = 0; iteration < max_iterations; ++iteration) {
      const auto heaviest = static_cast<int64_t>(
          std::max_element(gpu_load_.begin(), gpu_load_.end()) - gpu_load_.begin());
      if (gpu_load_[heaviest] <= problem_.target || moved_ >= problem_.max_moved) break;
      Candidate best;
      // Single-slot moves first: once they find a fix, the swaps skip what cannot beat it.
      add_replica_moves(heaviest, best);
      add_helper_replicas(heaviest, best);
      add_swaps(heaviest, best);
      if (best.slot_a < 0) break;
      apply(best.slot_a, best.expert_for_a, path);
      if (best.slot_b >= 0) apply(best.slot_b, best.expert_for_b, path);
      recompute_loads();
      record(path);
    }
    // Only a repair that reached the target has changes to spare.
    if (heaviest_load() <= problem_.target) give_back(path);
    return path;
  }

 private:
  double per_replica(int64_t expert, int64_t count) const {
    return problem_.weight[expert] / static_cast<double>(count);
  }
  int64_t gpu_of(int64_t slot) const { return slot / slots_per_gpu_; }
  bool on_gpu(int64_t expert, int64_t gpu) const {
    return gpu_count_[gpu * num_experts_ + expert] > 0;
  }
  // Slots that stop matching the original plan minus slots that return to it.
  int64_t cost_of(int64_t slot, int64_t expert) const {
    return static_cast<int64_t>(expert != problem_.current[slot]) -
           static_cast<int64_t>(row_[slot] != problem_.current[slot]);
  }

  // How much more each other replica of `expert` (two or more) carries once it loses one.
  double increase_if_removed(int64_t expert) const {
    return per_replica(expert, count_[expert] - 1) - carried_[expert];
  }

  void update_carried(int64_t expert) {
    carried_[expert] = count_[expert] > 0 ? per_replica(expert, count_[expert]) : 0;
    carried_if_added_[expert] = per_replica(expert, count_[expert] + 1);
  }

  // GPU by GPU, so that no slot index is divided: this runs after every move and every
  // give-back try.
  void recompute_loads() {
    for (size_t gpu = 0, slot = 0; gpu < gpu_load_.size(); ++gpu) {
      double load = 0;
      for (const size_t end = slot + static_cast<size_t>(slots_per_gpu_); slot < end; ++slot) {
        const int64_t expert = row_[slot];
        if (expert >= 0) load += carried_[expert];
      }
      gpu_load_[gpu] = load;
    }
  }

  void record(RepairPath& path) const {
    path.num_changes.push_back(static_cast<int64_t>(path.changes.size()));
    path.moved.push_back(moved_);
    path.heaviest.push_back(*std::max_element(gpu_load_.begin(), gpu_load_.end()));
  }

  void apply(int64_t slot, int64_t expert, RepairPath& path) {
    path.changes.push_back({.slot = slot, .expert = expert});
    moved_ += cost_of(slot, expert);
    apply_quietly(slot, expert);
  }

  // Whether `expert` may take a slot on `node`: under the hierarchy only experts that live on
  // that node alone, so no expert ever spreads to another node.
  bool may_live_on(int64_t expert, int64_t node) const {
    if (!problem_.keep_nodes) return true;
    return node_count_[expert * num_nodes_ + node] == count_[expert];
  }

  double heaviest_load() const { return *std::max_element(gpu_load_.begin(), gpu_load_.end()); }

  // The greedy fixes one GPU at a time, so early moves may have become unnecessary once later
  // ones balanced their GPUs otherwise: returns changed slots to their expert in `current`,
  // earliest changes first, whenever the heaviest GPU stays within the target. Repeats until
  // none returns.
  void give_back(RepairPath& path) {
    const double limit = problem_.target;
    std::vector<int64_t> slots;
    for (const RepairPath::Change& change : path.changes) {
      if (std::find(slots.begin(), slots.end(), change.slot) == slots.end()) {
        slots.push_back(change.slot);
      }
    }
    bool returned = true;
    while (returned) {
      returned = false;
      for (const int64_t slot : slots) {
        const int64_t original = problem_.current[slot];
        const int64_t expert = row_[slot];
        if (expert == original || !may_give_back(slot)) continue;
        apply_quietly(slot, original);
        recompute_loads();
        if (heaviest_load() <= limit) {
          --moved_;
          path.changes.push_back({.slot = slot, .expert = original});
          record(path);
          returned = true;
        } else {
          apply_quietly(slot, expert);
          recompute_loads();
        }
      }
    }
  }

  // Whether `slot` may return to its original expert: no second replica of it on the GPU, the
  // expert leaving keeps a replica (on the node, under the hierarchy), and the original expert
  // only comes back to a node it still lives on alone.
  bool may_give_back(int64_t slot) const {
    const int64_t original = problem_.current[slot];
    const int64_t expert = row_[slot];
    const int64_t node = topology_.node_of_slot(slot);
    if (count_[expert] < 2 || on_gpu(original, gpu_of(slot))) return false;
    if (problem_.keep_nodes && node_count_[expert * num_nodes_ + node] < 2) return false;
    return may_live_on(original, node);
  }

  // Changes a slot without recording it.
  void apply_quietly(int64_t slot, int64_t expert) {
    const int64_t node = topology_.node_of_slot(slot);
    const int64_t old_expert = row_[slot];
    --count_[old_expert];
    --node_count_[old_expert * num_nodes_ + node];
    --gpu_count_[gpu_of(slot) * num_experts_ + old_expert];
    ++count_[expert];
    ++node_count_[expert * num_nodes_ + node];
    ++gpu_count_[gpu_of(slot) * num_experts_ + expert];
    row_[slot] = expert;
    update_carried(old_expert);
    update_carried(expert);
  }

  // Moves one replica of the expert in a slot of `heaviest` to another expert.
  void add_replica_moves(int64_t heaviest, Candidate& best) {
    const int64_t node = heaviest / topology_.gpus_per_node();
    const double load = gpu_load_[heaviest];
    for (int64_t slot = heaviest * slots_per_gpu_; slot < (heaviest + 1) * slots_per_gpu_;
         ++slot) {
      const int64_t expert = row_[slot];
      if (expert < 0 || count_[expert] < 2) continue;
      if (problem_.keep_nodes && node_count_[expert * num_nodes_ + node] < 2) continue;
      // The expert's other replicas each carry more once it has one replica fewer.
      const double increase = increase_if_removed(expert);
      std::fill(extra_load_.begin(), extra_load_.end(), 0.0);
      for (int64_t other = 0; other < static_cast<int64_t>(row_.size()); ++other) {
        if (other != slot && row_[other] == expert) extra_load_[gpu_of(other)] += increase;
      }
      double others_peak = 0;
      for (int64_t gpu = 0; gpu < static_cast<int64_t>(gpu_load_.size()); ++gpu) {
        if (gpu == heaviest || extra_load_[gpu] == 0) continue;
        others_peak = std::max(others_peak, gpu_load_[gpu] + extra_load_[gpu]);
      }
      if (others_peak >= load) continue;
      const double base = load - carried_[expert] + extra_load_[heaviest];
      for (int64_t target_expert = 0; target_expert < num_experts_; ++target_expert) {
        if (target_expert == expert || !may_live_on(target_expert, node) ||
            on_gpu(target_expert, heaviest)) {
          continue;
        }
        const double new_load = base + carried_if_added_[target_expert];
        if (new_load >= load) continue;
        consider(slot, target_expert, -1, -1, new_load, others_peak, load, best);
      }
    }
  }

  // Gives an expert on `heaviest` one more replica elsewhere, in a slot of another expert that
  // keeps a replica: every replica of the first expert, the one on `heaviest` included, then
  // carries less. The only move that helps when one replica alone is over the target.
  void add_helper_replicas(int64_t heaviest, Candidate& best) {
    const int64_t num_gpus = static_cast<int64_t>(gpu_load_.size());
    // Per expert: the heaviest GPU holding it once its replicas each carry more, as if it lost
    // one replica (checked against the target; -1 when it has a single replica).
    // Only the slots of such experts can host the new replica: listed per GPU, in slot order.
    peak_if_removed_.assign(static_cast<size_t>(num_experts_), -1.0);
    shared_slots_.clear();
    shared_begin_.assign(static_cast<size_t>(num_gpus + 1), 0);
    for (int64_t gpu = 0, slot = 0; gpu < num_gpus; ++gpu) {
      for (const int64_t end = slot + slots_per_gpu_; slot < end; ++slot) {
        const int64_t expert = row_[slot];
        if (expert < 0 || count_[expert] < 2) continue;
        const double increase = increase_if_removed(expert);
        double& peak = peak_if_removed_[expert];
        peak = std::max(peak, gpu_load_[gpu] + increase);
        shared_slots_.push_back(slot);
      }
      shared_begin_[gpu + 1] = static_cast<int64_t>(shared_slots_.size());
    }
    const double load = gpu_load_[heaviest];
    for (int64_t slot = heaviest * slots_per_gpu_; slot < (heaviest + 1) * slots_per_gpu_;
         ++slot) {
      const int64_t expert = row_[slot];
      if (expert < 0) continue;
      const double carried = carried_[expert];
      const double carried_after = carried_if_added_[expert];
      const double new_load = load - carried + carried_after;
      if (new_load >= load || (best.fixes && new_load > problem_.target)) continue;
      for (int64_t gpu = 0; gpu < num_gpus; ++gpu) {
        if (gpu == heaviest || row_[gpu * slots_per_gpu_] < 0 || on_gpu(expert, gpu)) continue;
        const int64_t node = gpu / topology_.gpus_per_node();
        if (!may_live_on(expert, node)) continue;
        for (int64_t idx = shared_begin_[gpu]; idx < shared_begin_[gpu + 1]; ++idx) {
          const int64_t other = shared_slots_[idx];
          const int64_t other_expert = row_[other];
          // Conservative: the other expert's peak counts its GPU here as if it kept its load.
          if (other_expert == expert || peak_if_removed_[other_expert] >= load) continue;
          if (problem_.keep_nodes && node_count_[other_expert * num_nodes_ + node] < 2) continue;
          const double new_other =
              gpu_load_[gpu] - carried_[other_expert] + carried_after;
          consider(other, expert, -1, -1, new_load,
                   std::max(new_other, peak_if_removed_[other_expert]), load, best);
        }
      }
    }
  }

  // Swaps a replica on `heaviest` with a lighter replica on another GPU.
  void add_swaps(int64_t heaviest, Candidate& best) {
    const int64_t gpus_per_node = topology_.gpus_per_node();
    const int64_t node = heaviest / gpus_per_node;
    const int64_t first_gpu = problem_.keep_nodes ? node * gpus_per_node : 0;
    const int64_t end_gpu =
        problem_.keep_nodes ? first_gpu + gpus_per_node : static_cast<int64_t>(gpu_load_.size());
    const double load = gpu_load_[heaviest];
    for (int64_t slot = heaviest * slots_per_gpu_; slot < (heaviest + 1) * slots_per_gpu_;
         ++slot) {
      const int64_t expert = row_[slot];
      if (expert < 0) continue;
      const double carried = carried_[expert];
      // A fixing swap takes at least the excess off this GPU.
      if (best.fixes && carried < load - problem_.target) continue;
      for (int64_t gpu = first_gpu; gpu < end_gpu; ++gpu) {
        if (gpu == heaviest || row_[gpu * slots_per_gpu_] < 0 || on_gpu(expert, gpu)) continue;
        // Once a fix is known only fixes compete, and a fix must lower this GPU by more than
        // its room under the target can take.
        if (best.fixes && problem_.target - gpu_load_[gpu] < load - problem_.target) continue;
        for (int64_t other = gpu * slots_per_gpu_; other < (gpu + 1) * slots_per_gpu_; ++other) {
          const int64_t other_expert = row_[other];
          const double other_carried = carried_[other_expert];
          if (other_carried >= carried || on_gpu(other_expert, heaviest)) continue;
          const double new_other = gpu_load_[gpu] + carried - other_carried;
          const double new_load = load - carried + other_carried;
          consider(slot, other_expert, other, expert, new_load, new_other, load, best);
        }
      }
    }
  }

  double fix_score(double new_load, double others_peak, double peak) const {
    switch (problem_.preference) {
      case FixPreference::lightest_heaviest: return -new_load;
      case FixPreference::nearest_target: return peak;
      case FixPreference::fullest_partner: return others_peak;
    }
    return 0;
  }

  // `new_load`: the heaviest GPU's load after the move; `others_peak`: the heaviest of the other
  // GPUs the move touches. A move that leaves every touched GPU under the target fixes the
  // heaviest GPU; others must at least lower the largest load they touch.
  void consider(int64_t slot_a, int64_t expert_for_a, int64_t slot_b, int64_t expert_for_b,
                double new_load, double others_peak, double old_load, Candidate& best) const {
    const double peak = std::max(new_load, others_peak);
    if (peak >= old_load) return;
    const bool fixes = peak <= problem_.target;
    // Most candidates lose to a known fix already here (what better() would decide later).
    if (best.fixes && !fixes) return;
    Candidate candidate{.slot_a = slot_a, .expert_for_a = expert_for_a, .slot_b = slot_b,
                        .expert_for_b = expert_for_b, .fixes = fixes};
    candidate.cost = cost_of(slot_a, expert_for_a) +
                     (slot_b >= 0 ? cost_of(slot_b, expert_for_b) : 0);
    if (best.fixes && candidate.cost > best.cost) return;
    const auto cost = static_cast<double>(std::max<int64_t>(candidate.cost, 1));
    candidate.score =
        candidate.fixes ? fix_score(new_load, others_peak, peak) : (old_load - peak) / cost;
    if (better(candidate, best)) best = candidate;
  }

  const RepairProblem& problem_;
  const Topology& topology_;
  int64_t slots_per_gpu_;
  int64_t num_nodes_;
  int64_t num_experts_;
  std::vector<int64_t> row_;
  std::vector<int64_t> count_;
  std::vector<int64_t> node_count_;
  // Replicas per GPU and expert: gpu_count_[gpu * num_experts + expert].
  std::vector<int32_t>& gpu_count_;
  std::vector<double> gpu_load_;
  std::vector<double> extra_load_;
  std::vector<double> peak_if_removed_;
  // Slots of experts with two or more replicas, GPU by GPU (shared_begin_ indexes by GPU).
  std::vector<int64_t> shared_slots_;
  std::vector<int64_t> shared_begin_;
  // Per expert: the load each replica carries, and would carry with one replica more.
  std::vector<double> carried_;
  std::vector<double> carried_if_added_;
  int64_t moved_ = 0;
};

}  // namespace

RepairPath repair_layer(const RepairProblem& problem, RepairScratch* scratch) {
  RepairScratch own;
  return LayerRepair(problem, scratch != nullptr ? *scratch : own).run();
}

}  // namespace eplb::detail
