#pragma once
// Traffic-aware placement: moving replicas between nodes so that experts that fire together for
// the same tokens share a node, at a bounded cost in GPU balance (docs/algorithms.md).

#include "eplb/load_matrix.h"
#include "eplb/plan.h"
#include "eplb/routing.h"
#include "eplb/topology.h"

namespace eplb {

/// Options of place_for_traffic().
struct TrafficOptions {
  /// Each layer's heaviest GPU may grow to at most `1 + balance_tolerance` times the input
  /// plan's, so GPU balancedness on `loads` stays within that factor. Finite, non-negative.
  double balance_tolerance = 0.005;
};

/// Rearranges the slots of `plan` (each expert keeps its replica count) to lower the nodes per
/// token of `routing`'s tokens: per layer, replicas are swapped between nodes to raise how often
/// experts routed together share a node (at most one replica of an expert per node, each node
/// within a load cap), then each node's replicas are packed onto its GPUs; the node cap is
/// tightened until the heaviest GPU is within the tolerance, and a layer for which no cap works
/// keeps its input placement. Moves replicas across nodes, so a hierarchical plan's groups may
/// leave their home node. `loads` are the loads `plan` was made on (e.g. routing.loads()).
/// Deterministic. Throws InvalidArgument when the shapes of `plan`, `loads`, `routing` and
/// `topology` disagree, the routing is not valid, or the tolerance is negative or not finite.
Plan place_for_traffic(const Plan& plan, const LoadMatrix& loads, const Routing& routing,
                       const Topology& topology, const TrafficOptions& options = {});

}  // namespace eplb
