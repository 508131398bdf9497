#pragma once
// A placement of replicas in DeepSeek's three arrays, and the check that it is well formed.

#include <cstdint>
#include <span>
#include <vector>

#include "eplb/topology.h"

namespace eplb {

/// A placement of logical experts on physical slots, in DeepSeek's output format (all int64,
/// row-major):
/// - `phy2log` `[num_layers, num_replicas]`: the logical expert held by each slot, or -1 for every
///   slot of a GPU excluded from the plan (RebalanceOptions::active_gpus);
/// - `log2phy` `[num_layers, num_experts, max_replicas]`: the slots of each expert, padded with -1;
/// - `logcnt` `[num_layers, num_experts]`: the replica count of each expert.
/// `max_replicas` is the largest replica count over all layers and experts.
struct Plan {
  int64_t num_layers = 0;
  int64_t num_experts = 0;
  int64_t num_replicas = 0;
  int64_t max_replicas = 0;
  std::vector<int64_t> phy2log;
  std::vector<int64_t> log2phy;
  std::vector<int64_t> logcnt;

  /// Returns the slots of layer `layer_idx`, `[num_replicas]`.
  std::span<const int64_t> phy2log_row(int64_t layer_idx) const {
    return std::span(phy2log).subspan(layer_idx * num_replicas, num_replicas);
  }
  /// Returns the replica counts of layer `layer_idx`, `[num_experts]`.
  std::span<const int64_t> logcnt_row(int64_t layer_idx) const {
    return std::span(logcnt).subspan(layer_idx * num_experts, num_experts);
  }

  friend bool operator==(const Plan&, const Plan&) = default;
};

/// Builds a Plan from `phy2log` `[num_layers, num_replicas]` alone: counts are tallied and each
/// expert's `log2phy` entry lists its slots in increasing order; -1 entries (unused slots) are
/// skipped. Throws InvalidArgument when an entry is neither -1 nor a valid expert index or the
/// shape is wrong; does not check that every expert has a replica (validate() does).
Plan plan_from_phy2log(std::span<const int64_t> phy2log, int64_t num_layers, int64_t num_replicas,
                       int64_t num_experts);

/// Options of validate().
struct ValidateOptions {
  /// Also reject two replicas of one expert on one GPU.
  bool forbid_duplicates_on_gpu = false;
  /// When not empty (one flag per GPU): the GPUs whose slots must be filled; the others' slots
  /// must all be -1. When empty, a GPU may still be excluded as a whole (all its slots -1).
  std::vector<bool> active_gpus = {};
};

/// Checks that `plan` is a well-formed placement for `topology`: consistent shapes, every expert
/// has at least one replica, each row of `logcnt` sums to the number of used slots (all of them
/// unless whole GPUs are excluded with -1), `phy2log` and `log2phy`
/// describe the same placement, padding is -1 and `max_replicas` is the largest count. Throws
/// InvalidArgument naming the first violation, e.g.
/// `validate: logcnt[2][5] = 0 must be at least 1`.
void validate(const Plan& plan, const Topology& topology, const ValidateOptions& options = {});

}  // namespace eplb
