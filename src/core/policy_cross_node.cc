// Node locality without the balance loss (issue #9): the strict hierarchy keeps every replica of
// a group's experts on the group's node, so a node whose groups are hot stays hot. Here each
// expert keeps one replica at home and up to `max_off_node` replicas per layer may serve from
// other nodes. See docs/algorithms.md#cross-node-replicas.

#include <algorithm>
#include <vector>

#include "core/detail/search_worker.h"

namespace eplb::detail {
namespace {

// Replicas per (expert, node) and the node loads they imply.
struct NodePlacement {
  int64_t num_nodes;
  std::vector<int64_t> on_node;  // [num_experts * num_nodes]
  std::vector<int64_t> count;    // [num_experts]
  std::vector<int32_t> home;     // [num_experts]
  std::vector<double> load;      // [num_nodes]

  int64_t& at(int64_t expert, int64_t node) { return on_node[expert * num_nodes + node]; }
  int64_t at(int64_t expert, int64_t node) const { return on_node[expert * num_nodes + node]; }

  void compute_loads(std::span<const double> loads) {
    std::fill(load.begin(), load.end(), 0.0);
    for (size_t e = 0; e < count.size(); ++e) {
      const double share = loads[e] / static_cast<double>(count[e]);
      for (int64_t n = 0; n < num_nodes; ++n) load[n] += static_cast<double>(at(static_cast<int64_t>(e), n)) * share;
    }
  }
};

struct Move {
  int64_t expert = -1, donor = -1, target = -1, off_node = 0;
  double max_load = 0;
};

// Best move into `target`: one more replica of `expert` (from the heaviest node's experts) on
// `target`, one fewer of a `donor` expert there. Loads of every node shift with the new shares.
void best_move_into(const NodePlacement& p, std::span<const double> loads,
                    std::span<const int32_t> candidates, std::span<const int32_t> on_target,
                    int64_t target, int64_t off_node, int64_t max_off_node, int64_t max_per_node,
                    int64_t max_count, std::vector<double>& trial, Move& best) {
  for (const int32_t e : candidates) {
    if (p.at(e, target) >= max_per_node || p.count[e] >= max_count) continue;
    const double gain_e = loads[e] / static_cast<double>(p.count[e] + 1) - loads[e] / static_cast<double>(p.count[e]);
    for (const int32_t f : on_target) {
      if (f == e || p.count[f] < 2) continue;
      if (p.home[f] == target && p.at(f, target) < 2) continue;  // f keeps its home replica
      const int64_t new_off = off_node + (p.home[e] != target) - (p.home[f] != target);
      if (new_off > max_off_node) continue;
      const double loss_f = loads[f] / static_cast<double>(p.count[f] - 1) - loads[f] / static_cast<double>(p.count[f]);
      double max_load = 0;
      for (int64_t n = 0; n < p.num_nodes; ++n) {
        trial[n] = p.load[n] + static_cast<double>(p.at(e, n)) * gain_e +
                   static_cast<double>(p.at(f, n)) * loss_f;
      }
      trial[target] += loads[e] / static_cast<double>(p.count[e] + 1) -
                       loads[f] / static_cast<double>(p.count[f] - 1);
      for (int64_t n = 0; n < p.num_nodes; ++n) max_load = std::max(max_load, trial[n]);
      if (max_load < best.max_load) best = {e, f, target, new_off, max_load};
    }
  }
}

}  // namespace

void place_cross_node(const Topology& topology, int64_t max_off_node, uint64_t stream_base,
                      Worker& w, std::span<int64_t> phy2log) {
  const auto num_experts = static_cast<int64_t>(w.row.size());
  const int64_t num_nodes = topology.num_nodes();
  const int64_t experts_per_node = num_experts / num_nodes;
  const int64_t slots_per_node = topology.slots_per_node();
  const int64_t gpus_per_node = topology.gpus_per_node();
  NodePlacement p{num_nodes, std::vector<int64_t>(num_experts * num_nodes, 0),
                  std::vector<int64_t>(num_experts, 0), std::vector<int32_t>(num_experts, 0),
                  std::vector<double>(num_nodes, 0.0)};
  // Start from the strict hierarchy: each node replicates its own experts into its slots. The
  // per-node cap also bounds the moves below (a node holds at most slots_per_node replicas).
  int64_t max_per_node = slots_per_node;
  for (int64_t n = 0; n < num_nodes; ++n) {
    const auto experts = std::span<const int32_t>(w.node_experts).subspan(n * experts_per_node, experts_per_node);
    max_per_node = std::min(replicate_level(experts, slots_per_node, gpus_per_node, w), slots_per_node);
    for (int64_t j = 0; j < experts_per_node; ++j) {
      p.home[experts[j]] = static_cast<int32_t>(n);
      p.at(experts[j], n) = w.counts[j];
      p.count[experts[j]] = w.counts[j];
    }
  }
  p.compute_loads(w.row);

  // Greedy: move load off the heaviest node while that lowers the heaviest node, within the
  // off-node budget. Candidates are the heaviest node's experts with the largest shares.
  constexpr size_t kCandidates = 16;
  const int64_t max_count = topology.num_gpus();
  std::vector<int32_t> candidates, on_target;
  std::vector<double> trial(num_nodes);
  int64_t off_node = 0;
  for (int64_t step = 0; step < 4 * max_off_node + num_nodes; ++step) {
    const int64_t heavy = std::max_element(p.load.begin(), p.load.end()) - p.load.begin();
    candidates.clear();
    for (int64_t e = 0; e < num_experts; ++e) {
      if (p.at(e, heavy) > 0 && w.row[e] > 0) candidates.push_back(static_cast<int32_t>(e));
    }
    const auto share = [&](int32_t e) { return w.row[e] / static_cast<double>(p.count[e]); };
    const size_t keep = std::min(kCandidates, candidates.size());
    std::partial_sort(candidates.begin(), candidates.begin() + static_cast<int64_t>(keep), candidates.end(),
                      [&](int32_t a, int32_t b) { return share(a) > share(b) || (share(a) == share(b) && a < b); });
    candidates.resize(keep);
    Move best{.max_load = p.load[heavy] * (1 - 1e-12)};
    for (int64_t target = 0; target < num_nodes; ++target) {
      if (target == heavy) continue;
      on_target.clear();
      for (int64_t f = 0; f < num_experts; ++f) {
        if (p.at(f, target) > 0) on_target.push_back(static_cast<int32_t>(f));
      }
      best_move_into(p, w.row, candidates, on_target, target, off_node, max_off_node, max_per_node,
                     max_count, trial, best);
    }
    if (best.expert < 0) break;
    ++p.at(best.expert, best.target);
    ++p.count[best.expert];
    --p.at(best.donor, best.target);
    --p.count[best.donor];
    off_node = best.off_node;
    p.compute_loads(w.row);
  }

  // Pack each node's replicas onto its GPUs.
  for (int64_t n = 0; n < num_nodes; ++n) {
    w.replica_expert.clear();
    w.replica_weights.clear();
    for (int64_t e = 0; e < num_experts; ++e) {
      append_replicas(static_cast<int32_t>(e), p.at(e, n), w.row[e] / static_cast<double>(p.count[e]), w);
    }
    pack_replicas(gpus_per_node, stream_base + static_cast<uint64_t>(n), w,
                  phy2log.subspan(n * slots_per_node, slots_per_node));
  }
}

}  // namespace eplb::detail
