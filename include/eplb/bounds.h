#pragma once
// Lower bounds on the heaviest GPU (or pack) of any plan.

#include <cstdint>
#include <span>
#include <vector>

#include "eplb/load_matrix.h"
#include "eplb/plan.h"
#include "eplb/topology.h"

namespace eplb {

/// Returns the smallest possible largest `load / count` over replica counts that sum to
/// `num_replicas` with each count at least 1 (what replicate_greedy() achieves).
double min_max_replica_load(std::span<const double> loads, int64_t num_replicas);

/// Returns a lower bound on the heaviest of `num_packs` packs holding exactly
/// `items.size() / num_packs` items each: the largest of the average pack, the heaviest item plus
/// the lightest others, and for every t the t*m+1 heaviest items' pigeonhole bound. `items.size()`
/// must be a multiple of `num_packs`.
double packing_lower_bound(std::span<const double> items, int64_t num_packs);

/// Returns, per layer, a lower bound on the heaviest GPU of any plan on `topology` whatever its
/// replica counts and node rule: max(total / num_gpus, min_max_replica_load).
std::vector<double> global_lower_bounds(const LoadMatrix& loads, const Topology& topology);

/// Returns, per layer, a lower bound on the heaviest GPU of any plan that keeps each group's
/// experts on the node `plan` puts them (a strictly hierarchical plan, such as those of
/// `balanced` and `deepseek` on a hierarchical topology): per node, max(node load / GPUs per
/// node, min_max_replica_load of its experts in its slots). Throws InvalidArgument when a group
/// of `plan` spans nodes or the topology is not hierarchical.
std::vector<double> hierarchical_lower_bounds(const Plan& plan, const LoadMatrix& loads,
                                              const Topology& topology);

}  // namespace eplb
