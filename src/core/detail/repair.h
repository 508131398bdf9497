#pragma once
// Repairing one layer of a plan with few moves (Planner::replan).

#include <cstdint>
#include <span>
#include <vector>

#include "eplb/topology.h"

namespace eplb::detail {

/// Which of the moves that bring the heaviest GPU under the target (at the same cost in changed
/// slots) a repair takes. No rule wins on every layer (docs/online.md, "Re-planning"), so
/// Planner::replan runs each and keeps the best per layer.
enum class FixPreference {
  /// The move that leaves the heaviest GPU lightest.
  lightest_heaviest,
  /// The move whose touched GPUs' heaviest ends closest under the target: one GPU lands where
  /// it needs no further change.
  nearest_target,
  /// The move that leaves the other touched GPUs (the swap partner, the holders of the
  /// expert given up) heaviest: fills the lighter GPUs up to the target.
  fullest_partner,
};

/// Every fix preference, in declaration order.
inline constexpr FixPreference kAllFixPreferences[] = {FixPreference::lightest_heaviest,
                                                       FixPreference::nearest_target,
                                                       FixPreference::fullest_partner};

/// One layer to repair: bring every GPU's load (a replica carries load / count) to at most
/// `target` by changing few slots of `current`.
struct RepairProblem {
  const Topology& topology;
  /// The layer's slots: expert per slot, -1 on excluded GPUs (left alone). Moved slots are
  /// counted against it.
  std::span<const int64_t> current;
  /// Where the repair starts when not `current` (empty: `current`), e.g. after a group swap.
  std::span<const int64_t> start = {};
  /// The layer's planning loads, one per expert.
  std::span<const double> weight;
  double target = 0;
  int64_t max_moved = 0;
  /// No expert may gain a replica on a node it is not already only on, nor lose its last
  /// replica on a node (the hierarchy's node sets stay as they are).
  bool keep_nodes = false;
  FixPreference preference = FixPreference::lightest_heaviest;
};

/// The moves a repair made, in order: after move `i` (1-based) the first `num_changes[i]`
/// entries of `changes` are applied to the start, `moved[i]` slots differ from `current` and the
/// heaviest GPU carries `heaviest[i]`; index 0 is the start itself.
struct RepairPath {
  struct Change {
    int64_t slot = 0;
    int64_t expert = 0;
  };
  std::vector<Change> changes;
  std::vector<int64_t> num_changes;
  std::vector<int64_t> moved;
  std::vector<double> heaviest;
};

/// Working memory that repair_layer() reuses from call to call (one thread at a time): its table
/// of replicas per GPU and expert, left zeroed after each call.
struct RepairScratch {
  std::vector<int32_t> replicas_on_gpu;
};

/// Repairs greedily towards `target`: while the heaviest GPU is above it, takes the cheapest move
/// (in changed slots) that brings that GPU under it without lifting another GPU above it (moving
/// one replica to another expert, or swapping two replicas; ties broken by `preference`), else
/// the move that lowers it most per changed slot. Stops at the target, when no move helps, or
/// once `max_moved` slots differ. Once at the target, gives back changes no longer needed: slots
/// return to `current` while the heaviest GPU stays within the target. Never creates two
/// replicas of one expert on one GPU.
RepairPath repair_layer(const RepairProblem& problem, RepairScratch* scratch = nullptr);

/// Improves `repair`, a repair of `problem` from `current` (empty `start`) that reaches the
/// target, by ruin and recreate: each of `iterations` rounds undoes up to four of the best
/// row's changes, or every change on up to four of its GPUs (and the changes that undoing
/// forces, so that every expert keeps a replica and no GPU holds one twice), repairs again under
/// each fix preference in turn, and keeps the result when it reaches the target with no more
/// changed slots. Returns a path of one move from `current` to the best row found.
/// Deterministic for a given `seed`.
RepairPath improve_repair(const RepairProblem& problem, const RepairPath& repair,
                          int64_t iterations, uint64_t seed);

/// Under the strict hierarchy a repair keeps each group on its node, so when the loads drift
/// the node pairing itself can leave a node above the target. These rows start repairs from
/// other pairings: `current` with one group of a node and one group of another node trading
/// places (each takes the other's slots, replicated and packed onto them afresh), the
/// `max_rows` trades that leave the lightest heaviest node, best first; then up to half as many
/// double trades (four groups) that beat every single one. Empty when a group of
/// `current` spans nodes, a slot is excluded, or no trade lowers the heaviest node.
std::vector<std::vector<int64_t>> group_swap_rows(const Topology& topology,
                                                  std::span<const int64_t> current,
                                                  std::span<const double> weight,
                                                  int64_t max_rows);

}  // namespace eplb::detail
