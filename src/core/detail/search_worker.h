#pragma once
// Per-thread state of the search policies and the steps they share.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/detail/replication.h"
#include "eplb/load_matrix.h"
#include "eplb/packing.h"
#include "eplb/topology.h"

namespace eplb::detail {

/// Per-thread state: a packer and scratch reused across layers.
struct Worker {
  std::unique_ptr<Packer> packer;
  std::vector<double> row, group_loads, node_loads, replica_weights;
  std::vector<int32_t> group_pack, group_rank, node_experts, replica_expert, replica_pack,
      replica_rank;
  std::vector<int64_t> counts, slot_count, alternative;
  std::vector<ReplicaCandidate> candidates;
  /// Whether levels may be re-planned with duplicates (place_with_duplicates).
  bool allow_duplicates = false;
  /// DeepSeek's plan of the layer being planned and its heaviest GPU, once computed (negative
  /// before): duplicates are tried only where the plan without them is heavier than it.
  std::vector<int64_t> deepseek_slots;
  double deepseek_heaviest = -1;
};

/// Replicates `experts` (their loads from `w.row`, copied to `w.node_loads`) into `num_slots`
/// slots, counts in `w.counts`, at most `num_gpus` replicas per expert when the slots allow it so
/// that no GPU need hold two; returns that cap (INT64_MAX when duplicates are unavoidable).
int64_t replicate_level(std::span<const int32_t> experts, int64_t num_slots, int64_t num_gpus,
                        Worker& w);

/// Appends `copies` replicas of `expert`, each carrying `share`, to `w.replica_expert` and
/// `w.replica_weights`.
void append_replicas(int32_t expert, int64_t copies, double share, Worker& w);

/// Packs the replicas `replica_expert` / `replica_weights` of `w` (one entry per replica, its
/// expert and share) onto `num_gpus` GPUs and writes each slot's expert into `slots`
/// (`replica_expert.size()` slots, GPU-major).
void pack_replicas(int64_t num_gpus, uint64_t stream, Worker& w, std::span<int64_t> slots);

/// Returns the heaviest of `num_gpus` GPUs holding `slots` (expert ids, -1 for none; GPU-major),
/// each replica carrying `w.row[expert] / its count in slots`.
double heaviest_gpu(std::span<const int64_t> slots, int64_t num_gpus, Worker& w);

/// After a small level (within the joint search's limits) was placed without duplicates into
/// `slots` (`w.row` holding the layer's loads): unless it meets its bound, plans the level
/// again allowing two replicas of one expert on one GPU (DeepSeek's uncapped counts packed
/// without classes, then the exact joint search free to duplicate) and takes that plan if it
/// holds a duplicate and its heaviest GPU is strictly lighter. Larger levels are left alone.
void place_with_duplicates(std::span<const int32_t> node_experts, int64_t num_slots,
                           int64_t num_gpus, uint64_t stream, Worker& w, std::span<int64_t> slots);

/// With every level (node, or the whole layer) of `phy2log` placed without duplicates, `num_levels`
/// levels of `gpus_per_level` GPUs holding `node_experts` (level-major): while one level alone
/// holds the layer's heaviest GPU, gives it place_with_duplicates() (each level once).
void lower_heaviest_level(std::span<const int32_t> node_experts, int64_t num_levels,
                          int64_t gpus_per_level, uint64_t stream, Worker& w,
                          std::span<int64_t> phy2log);

/// Computes DeepSeek's plan of layer `layer` into `w.deepseek_slots` and its heaviest GPU into
/// `w.deepseek_heaviest`, unless done already for this layer.
void plan_deepseek_layer(const LoadMatrix& loads, int64_t layer, const Topology& topology,
                         Worker& w);

/// Replaces layer `layer`'s plan `phy2log` by DeepSeek's when that one's heaviest GPU is strictly
/// lighter (`w.row` holding the layer's loads), so the search policies are never heavier.
void keep_lighter_deepseek(const LoadMatrix& loads, int64_t layer, const Topology& topology,
                           Worker& w, std::span<int64_t> phy2log);

/// Places a hierarchical layer with up to `max_off_node` replicas outside their group's node:
/// starts from per-node replication and moves replicas between nodes while that lowers the
/// heaviest node. `w.row` holds the layer's loads and `w.node_experts` the experts of each node
/// (node-major, `num_experts / num_nodes` each). See docs/algorithms.md#cross-node-replicas.
void place_cross_node(const Topology& topology, int64_t max_off_node, uint64_t stream_base,
                      Worker& w, std::span<int64_t> phy2log);

}  // namespace eplb::detail
