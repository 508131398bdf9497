#pragma once
// Repairing one layer of a plan with few moves (Planner::replan).

#include <cstdint>
#include <span>
#include <vector>

#include "eplb/topology.h"

namespace eplb::detail {

/// One layer to repair: bring every GPU's load (a replica carries load / count) to at most
/// `target` by changing few slots of `current`.
struct RepairProblem {
  const Topology& topology;
  /// The layer's slots: expert per slot, -1 on excluded GPUs (left alone).
  std::span<const int64_t> current;
  /// The layer's planning loads, one per expert.
  std::span<const double> weight;
  double target = 0;
  int64_t max_moved = 0;
  /// No expert may gain a replica on a node it is not already only on, nor lose its last
  /// replica on a node (the hierarchy's node sets stay as they are).
  bool keep_nodes = false;
};

/// The moves a repair made, in order: after move `i` (1-based) the first `num_changes[i]`
/// entries of `changes` are applied, `moved[i]` slots differ from `current` and the heaviest GPU
/// carries `heaviest[i]`; index 0 is `current` itself.
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

/// Repairs greedily towards `target`: while the heaviest GPU is above it, takes the cheapest move
/// (in changed slots) that brings that GPU under it without lifting another GPU above it (moving
/// one replica to another expert, or swapping two replicas), else the move that lowers it most
/// per changed slot. Stops at the target, when no move helps, or once `max_moved` slots differ.
/// Never creates two replicas of one expert on one GPU.
RepairPath repair_layer(const RepairProblem& problem);

}  // namespace eplb::detail
