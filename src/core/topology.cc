#include "eplb/topology.h"

#include "core/detail/check.h"

namespace eplb {
namespace {

void check_size(const char* name, int64_t value, int64_t limit) {
  if (value <= 0) detail::throw_invalid("Topology: ", name, " = ", value, " must be positive");
  if (value > limit) {
    detail::throw_invalid("Topology: ", name, " = ", value, " exceeds the limit of ", limit);
  }
}

}  // namespace

Topology::Topology(int64_t num_replicas, int64_t num_groups, int64_t num_nodes, int64_t num_gpus)
    : num_replicas_(num_replicas), num_groups_(num_groups), num_nodes_(num_nodes),
      num_gpus_(num_gpus) {
  check_size("num_replicas", num_replicas, kMaxReplicas);
  check_size("num_groups", num_groups, kMaxExperts);
  check_size("num_nodes", num_nodes, kMaxReplicas);
  check_size("num_gpus", num_gpus, kMaxReplicas);
  if (num_gpus > num_replicas) {
    detail::throw_invalid_sizes("Topology: num_gpus = ", num_gpus,
                                " must not exceed num_replicas = ", num_replicas);
  }
  if (num_replicas % num_gpus != 0) {
    detail::throw_invalid_sizes("Topology: num_replicas = ", num_replicas,
                                " must be a multiple of num_gpus = ", num_gpus);
  }
  if (num_gpus % num_nodes != 0) {
    if (num_groups % num_nodes == 0) {
      detail::throw_invalid_sizes("Topology: num_gpus = ", num_gpus,
                                  " must be a multiple of num_nodes = ", num_nodes);
    }
    // DeepSeek's global fallback (groups do not divide nodes) never looks at nodes or groups, so
    // it accepts GPUs that nodes cannot share evenly; nodes then mean nothing, and the topology
    // is the one the fallback plans on: one group, one node.
    num_groups_ = 1;
    num_nodes_ = 1;
  }
}

void Topology::check_experts(int64_t num_experts, const char* function) const {
  if (num_experts <= 0) {
    detail::throw_invalid(function, ": num_experts = ", num_experts, " must be positive");
  }
  if (num_experts > kMaxExperts) {
    detail::throw_invalid(function, ": num_experts = ", num_experts, " exceeds the limit of ",
                          kMaxExperts);
  }
  if (num_replicas_ < num_experts) {
    detail::throw_invalid_sizes(function, ": num_replicas = ", num_replicas_,
                                " must be at least num_experts = ", num_experts);
  }
  // Only the hierarchical path splits experts into groups; DeepSeek's global fallback never looks
  // at num_groups again, and callers rely on that.
  if (is_hierarchical() && num_experts % num_groups_ != 0) {
    detail::throw_invalid_sizes(function, ": num_experts = ", num_experts,
                                " must be a multiple of num_groups = ", num_groups_);
  }
}

}  // namespace eplb
