// The balanced and global policies: optimal replica counts, then the search packer at both
// levels of the hierarchy. See docs/algorithms.md#policies.

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <utility>
#include <vector>

#include "core/detail/check.h"
#include "core/detail/joint.h"
#include "core/detail/layer_threads.h"
#include "core/detail/search_worker.h"
#include "core/detail/plan_builder.h"
#include "core/detail/policies.h"
#include "core/detail/replication.h"
#include "eplb/bounds.h"
#include "eplb/packing.h"

namespace eplb::detail {
namespace {

/// Marks the packing streams of the plans that may hold duplicates (place_with_duplicates).
constexpr uint64_t kDuplicatesStream = uint64_t{1} << 62;

// On a small level, replaces the placement by the exact joint optimum over replica counts and
// packing when the search finishes within its budget and finds a strictly lighter heaviest GPU.
void improve_small_level(std::span<const int32_t> node_experts, int64_t num_slots, int64_t num_gpus,
                         int64_t max_count, Worker& w, std::span<int64_t> slots) {
  constexpr int64_t kMaxSearchNodes = 200'000;
  const auto num_experts = static_cast<int64_t>(node_experts.size());
  const int64_t slots_per_gpu = num_slots / num_gpus;
  // Slots as local expert indices, and the incumbent's heaviest GPU.
  std::vector<int32_t> local(num_slots);
  std::vector<int64_t> count(num_experts, 0);
  for (int64_t s = 0; s < num_slots; ++s) {
    const auto it = std::find(node_experts.begin(), node_experts.end(), slots[s]);
    local[s] = static_cast<int32_t>(it - node_experts.begin());
    ++count[local[s]];
  }
  double incumbent = 0;
  for (int64_t g = 0; g < num_gpus; ++g) {
    double load = 0;
    for (int64_t s = g * slots_per_gpu; s < (g + 1) * slots_per_gpu; ++s) {
      load += w.node_loads[local[s]] / static_cast<double>(count[local[s]]);
    }
    incumbent = std::max(incumbent, load);
  }
  // Nothing to gain when the incumbent already meets the bound that holds for any counts.
  const double total = std::accumulate(w.node_loads.begin(), w.node_loads.end(), 0.0);
  const double bound = std::max(total / static_cast<double>(num_gpus),
                                min_max_replica_load(w.node_loads, num_slots));
  if (incumbent <= bound * (1 + 1e-12)) return;
  exact_joint_placement(w.node_loads, num_slots, num_gpus, max_count, incumbent, local,
                        kMaxSearchNodes);
  for (int64_t s = 0; s < num_slots; ++s) slots[s] = node_experts[local[s]];
}

// Replicates `node_experts` into `num_slots` slots and packs the replicas onto `num_gpus` GPUs
// of `slots_per_gpu` slots; writes the experts of the node's slots into `slots`.
void place_node(std::span<const int32_t> node_experts, int64_t num_slots, int64_t num_gpus,
                uint64_t stream, Worker& w, std::span<int64_t> slots) {
  const auto num_experts = static_cast<int64_t>(node_experts.size());
  const int64_t max_count = replicate_level(node_experts, num_slots, num_gpus, w);
  w.replica_expert.clear();
  w.replica_weights.clear();
  for (int64_t j = 0; j < num_experts; ++j) {
    append_replicas(node_experts[j], w.counts[j], w.node_loads[j] / static_cast<double>(w.counts[j]), w);
  }
  pack_replicas(num_gpus, stream, w, slots);
  if (num_slots <= kExactMaxSlots && num_experts <= kExactMaxExperts && max_count != INT64_MAX) {
    improve_small_level(node_experts, num_slots, num_gpus, max_count, w, slots);
  }
}

// With unequal nodes (excluded GPUs), gives the heaviest pack of groups to the node with the most
// healthy GPUs, the next to the next, and so on (ties by index): node loads then roughly follow
// node capacities.
void assign_packs_by_capacity(const std::vector<std::vector<int64_t>>& node_gpus, Worker& w) {
  const auto num_nodes = static_cast<int64_t>(node_gpus.size());
  std::vector<double> pack_load(num_nodes, 0.0);
  for (size_t g = 0; g < w.group_loads.size(); ++g) pack_load[w.group_pack[g]] += w.group_loads[g];
  std::vector<int32_t> packs(num_nodes), nodes(num_nodes);
  std::iota(packs.begin(), packs.end(), 0);
  std::iota(nodes.begin(), nodes.end(), 0);
  std::stable_sort(packs.begin(), packs.end(), [&](int32_t a, int32_t b) { return pack_load[a] > pack_load[b]; });
  std::stable_sort(nodes.begin(), nodes.end(), [&](int32_t a, int32_t b) {
    return node_gpus[a].size() > node_gpus[b].size();
  });
  std::vector<int32_t> node_of_pack(num_nodes);
  for (int64_t i = 0; i < num_nodes; ++i) node_of_pack[packs[i]] = nodes[i];
  for (auto& pack : w.group_pack) pack = node_of_pack[pack];
}

// `node_gpus`, when not empty, lists each node's healthy GPUs (some GPUs are excluded).
void plan_layer(const LoadMatrix& loads, const Topology& topology, bool hierarchical,
                int64_t max_off_node, const std::vector<std::vector<int64_t>>& node_gpus,
                int64_t layer, Worker& w, std::span<int64_t> phy2log) {
  const int64_t num_experts = loads.num_experts();
  w.row.resize(num_experts);
  loads.copy_row(layer, std::span<double>(w.row));
  w.deepseek_heaviest = -1;
  // Streams keep every packing call of every layer on its own random sequence, so the plan does
  // not depend on which thread plans which layer.
  const auto stream = [layer](int64_t call) { return static_cast<uint64_t>(layer * 4099 + call); };
  const int64_t num_nodes = hierarchical ? topology.num_nodes() : 1;
  const int64_t num_groups = hierarchical ? topology.num_groups() : 1;
  const int64_t group_size = num_experts / num_groups;
  w.group_pack.assign(num_groups, 0);
  w.group_rank.assign(num_groups, 0);
  if (num_nodes > 1) {
    w.group_loads.assign(num_groups, 0.0);
    for (int64_t e = 0; e < num_experts; ++e) w.group_loads[e / group_size] += w.row[e];
    w.packer->pack(w.group_loads, num_nodes, stream(0), w.group_pack, w.group_rank);
    if (!node_gpus.empty()) assign_packs_by_capacity(node_gpus, w);
  } else {
    std::iota(w.group_rank.begin(), w.group_rank.end(), 0);
  }
  const int64_t groups_per_node = num_groups / num_nodes;
  const int64_t experts_per_node = num_experts / num_nodes;
  w.node_experts.resize(num_experts);
  for (int64_t e = 0; e < num_experts; ++e) {
    const int64_t g = e / group_size;
    w.node_experts[(w.group_pack[g] * groups_per_node + w.group_rank[g]) * group_size + e % group_size] =
        static_cast<int32_t>(e);
  }
  if (max_off_node > 0 && num_nodes > 1) {
    place_cross_node(topology, max_off_node, stream(1), w, phy2log);
    return;
  }
  const int64_t slots_per_node = topology.num_replicas() / num_nodes;
  if (!node_gpus.empty()) {
    // Each node plans onto its healthy GPUs; excluded GPUs keep -1 in every slot.
    const int64_t slots_per_gpu = topology.slots_per_gpu();
    std::fill(phy2log.begin(), phy2log.end(), -1);
    std::vector<int64_t> local;
    for (int64_t node = 0; node < num_nodes; ++node) {
      const auto num_gpus = static_cast<int64_t>(node_gpus[node].size());
      local.assign(num_gpus * slots_per_gpu, -1);
      place_node(std::span<const int32_t>(w.node_experts).subspan(node * experts_per_node, experts_per_node),
                 num_gpus * slots_per_gpu, num_gpus, stream(1 + node), w, local);
      for (int64_t s = 0; s < num_gpus * slots_per_gpu; ++s) {
        phy2log[node_gpus[node][s / slots_per_gpu] * slots_per_gpu + s % slots_per_gpu] = local[s];
      }
    }
    return;
  }
  for (int64_t node = 0; node < num_nodes; ++node) {
    place_node(std::span<const int32_t>(w.node_experts).subspan(node * experts_per_node, experts_per_node),
               slots_per_node, topology.num_gpus() / num_nodes, stream(1 + node), w,
               phy2log.subspan(node * slots_per_node, slots_per_node));
  }
  // A duplicate wastes a slot (the next window would have used another replica): only where
  // the plan without duplicates is heavier than DeepSeek's, which may hold some.
  if (w.allow_duplicates) {
    plan_deepseek_layer(loads, layer, topology, w);
    if (w.deepseek_heaviest < heaviest_gpu(phy2log, topology.num_gpus(), w) * (1 - 1e-12)) {
      lower_heaviest_level(w.node_experts, num_nodes, topology.num_gpus() / num_nodes,
                           stream(1) | kDuplicatesStream, w, phy2log);
    }
  }
}

}  // namespace

int64_t replicate_level(std::span<const int32_t> experts, int64_t num_slots, int64_t num_gpus,
                        Worker& w) {
  const auto num_experts = static_cast<int64_t>(experts.size());
  w.node_loads.resize(num_experts);
  for (int64_t j = 0; j < num_experts; ++j) w.node_loads[j] = w.row[experts[j]];
  // No expert gets more replicas than there are GPUs to hold them apart, unless the slots leave
  // no other choice.
  w.counts.assign(num_experts, 1);
  const int64_t max_count = num_slots <= num_experts * num_gpus ? num_gpus : INT64_MAX;
  add_replicas_greedy(w.node_loads, num_slots - num_experts, w.counts, max_count, &w.candidates);
  return max_count;
}

void append_replicas(int32_t expert, int64_t copies, double share, Worker& w) {
  for (int64_t c = 0; c < copies; ++c) {
    w.replica_expert.push_back(expert);
    w.replica_weights.push_back(share);
  }
}

// Plans globally on the healthy GPUs alone (a smaller topology), then spreads the result over the
// full slot range with -1 on the excluded GPUs.
Plan rebalance_on_active_gpus(const LoadMatrix& loads, const Topology& topology,
                              const RebalanceOptions& options) {
  std::vector<int64_t> active;
  for (int64_t g = 0; g < topology.num_gpus(); ++g) {
    if (options.active_gpus[g]) active.push_back(g);
  }
  const int64_t slots_per_gpu = topology.slots_per_gpu();
  const auto num_active = static_cast<int64_t>(active.size());
  const Topology healthy(num_active * slots_per_gpu, 1, 1, num_active);
  RebalanceOptions healthy_options = options;
  healthy_options.active_gpus.clear();
  const Plan compact = rebalance_search(loads, healthy, healthy_options, false);
  const int64_t num_replicas = topology.num_replicas();
  std::vector<int64_t> phy2log(loads.num_layers() * num_replicas, -1);
  for (int64_t layer = 0; layer < loads.num_layers(); ++layer) {
    for (int64_t s = 0; s < healthy.num_replicas(); ++s) {
      phy2log[layer * num_replicas + active[s / slots_per_gpu] * slots_per_gpu + s % slots_per_gpu] =
          compact.phy2log[layer * healthy.num_replicas() + s];
    }
  }
  return plan_from_phy2log_as("rebalance_experts", std::move(phy2log), loads.num_layers(), num_replicas,
                              loads.num_experts());
}

void pack_replicas(int64_t num_gpus, uint64_t stream, Worker& w, std::span<int64_t> slots) {
  const auto num_slots = static_cast<int64_t>(w.replica_expert.size());
  w.replica_pack.resize(num_slots);
  w.replica_rank.resize(num_slots);
  w.packer->pack(w.replica_weights, w.replica_expert, num_gpus, stream, w.replica_pack,
                 w.replica_rank);
  const int64_t slots_per_gpu = num_slots / num_gpus;
  for (int64_t r = 0; r < num_slots; ++r) {
    slots[w.replica_pack[r] * slots_per_gpu + w.replica_rank[r]] = w.replica_expert[r];
  }
}

Plan rebalance_search(const LoadMatrix& loads, const Topology& topology,
                      const RebalanceOptions& options, bool hierarchical) {
  // rebalance_experts() has checked the options (check_rebalance_options).
  // Effort 1 is tuned for speed: the all-pairs move costs O(m^2 k) per call and gains about
  // 0.005 % of balance on DeepSeek-V3 shapes (docs/benchmarks.md); higher efforts use every move
  // and a tighter stopping tolerance.
  const PackingOptions packing{
      .strategy = options.packer,
      .num_starts = 4 * options.effort,
      .num_refined = options.effort,
      .moves = options.effort == 1 ? kAllMoves & ~kMoveAllPairs : kAllMoves,
      .max_moves = 48 * options.effort,
      .tolerance = options.effort == 1 ? 3e-4 : 1e-4 / static_cast<double>(options.effort),
      .seed = options.seed};
  const int64_t num_layers = loads.num_layers();
  const int64_t num_replicas = topology.num_replicas();
  const bool excluded = std::count(options.active_gpus.begin(), options.active_gpus.end(), false) > 0;
  if (excluded && !hierarchical) return rebalance_on_active_gpus(loads, topology, options);
  std::vector<std::vector<int64_t>> node_gpus;
  if (excluded) {
    node_gpus.resize(topology.num_nodes());
    for (int64_t g = 0; g < topology.num_gpus(); ++g) {
      if (options.active_gpus[g]) node_gpus[g / topology.gpus_per_node()].push_back(g);
    }
  }
  std::vector<int64_t> phy2log(num_layers * num_replicas);
  std::vector<Worker> workers(layer_threads(num_layers, options.threads));
  for (auto& worker : workers) {
    worker.packer = make_packer(packing);
    // The greedy and snake packers are there to be compared, so they keep their own plans.
    worker.allow_duplicates = options.packer == PackingStrategy::multistart;
  }
  // Each layer's result depends only on its own index (its seed stream), not on its thread.
  for_each_layer(num_layers, options.threads, options.should_stop, "rebalance_experts",
                 [&](int64_t layer, int64_t thread_idx) {
    const auto row = std::span(phy2log).subspan(layer * num_replicas, num_replicas);
    plan_layer(loads, topology, hierarchical, options.cross_node_replicas, node_gpus, layer,
               workers[thread_idx], row);
    // DeepSeek plans onto every GPU; with some excluded its plan is no candidate.
    if (!excluded && workers[thread_idx].allow_duplicates) {
      keep_lighter_deepseek(loads, layer, topology, workers[thread_idx], row);
    }
  });
  return plan_from_phy2log_as("rebalance_experts", std::move(phy2log), num_layers, num_replicas,
                              loads.num_experts());
}

}  // namespace eplb::detail
