#pragma once
// Exact joint search over replica counts and packing, for small levels.

#include <cstdint>
#include <span>
#include <vector>

namespace eplb::detail {

/// Limits under which exact_joint_placement() is attempted.
inline constexpr int64_t kExactMaxSlots = 20;
inline constexpr int64_t kExactMaxExperts = 12;

/// Finds replica counts (each >= 1, summing to `num_slots`, at most `max_count`) and a packing of
/// the replicas onto `num_gpus` GPUs of `num_slots / num_gpus` slots, no GPU holding two replicas
/// of one expert unless `allow_duplicates`, that minimize the heaviest GPU; a replica carries
/// load / count. Starts from the
/// incumbent `slot_expert` (expert index of every slot, GPU-major) with heaviest GPU
/// `incumbent_max`, and overwrites it only with a strictly better placement. Gives up (leaving
/// the incumbent) after `max_nodes` search nodes. Returns whether the search completed, i.e. the
/// result is optimal.
bool exact_joint_placement(std::span<const double> loads, int64_t num_slots, int64_t num_gpus,
                           int64_t max_count, double incumbent_max, std::span<int32_t> slot_expert,
                           int64_t max_nodes, bool allow_duplicates = false);

}  // namespace eplb::detail
