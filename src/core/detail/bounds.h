#pragma once
// Internal form of the packing lower bound, for callers that already sorted their items.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "eplb/load_matrix.h"
#include "eplb/plan.h"
#include "eplb/topology.h"

namespace eplb::detail {

/// max(total / num_gpus, min_max_replica_load(row, num_slots)): no plan of `row` on `num_gpus`
/// GPUs with `num_slots` slots has a lighter heaviest GPU, whatever its replica counts.
double global_lower_bound(std::span<const double> row, int64_t num_gpus, int64_t num_slots);

/// packing_lower_bound() of items already sorted by descending weight.
double packing_lower_bound_sorted(std::span<const double> sorted_desc, int64_t num_packs);

/// A group whose experts a plan puts on more than one node.
struct SpanningGroup {
  int64_t layer;
  int64_t group;
};

/// Fills `bounds` with hierarchical_lower_bounds() of `plan`, or returns the first group that
/// spans nodes (the plan is then not strictly hierarchical and `bounds` is meaningless).
/// Requires a hierarchical topology and checked shapes.
std::optional<SpanningGroup> node_lower_bounds(const Plan& plan, const LoadMatrix& loads,
                                               const Topology& topology, std::vector<double>& bounds);

}  // namespace eplb::detail
