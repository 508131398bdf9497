#pragma once
// How well a plan balances a load: balancedness, heaviest GPU and the gap to the lower bound.

#include <cstdint>
#include <vector>

#include "eplb/load_matrix.h"
#include "eplb/plan.h"
#include "eplb/topology.h"

namespace eplb {

/// Scores of one plan on one load matrix. A replica carries `load / count` of its expert.
struct PlanMetrics {
  /// Sum over layers of the mean GPU load / sum over layers of the heaviest GPU (1 = perfect;
  /// all-zero layers drop out; 1 when every layer is zero).
  double gpu_balancedness = 1;
  /// The same with slots in place of GPUs.
  double slot_balancedness = 1;
  /// Heaviest GPU per layer, `[num_layers]`.
  std::vector<double> max_gpu_load;
  /// Global lower bound per layer (global_lower_bounds), `[num_layers]`.
  std::vector<double> lower_bound;
  /// Sum of heaviest GPUs / sum of lower bounds - 1 (0 when the plan is provably optimal).
  double gap = 0;
  /// Mean over non-zero layers of heaviest GPU / lower bound - 1.
  double mean_layer_gap = 0;
  /// For a strictly hierarchical plan (each group's experts on one node) on a hierarchical
  /// topology: per layer, the hierarchical lower bound (hierarchical_lower_bounds()); empty
  /// otherwise.
  std::vector<double> hierarchical_bound;
  /// Sum of heaviest GPUs / sum of hierarchical bounds - 1, or -1 when there is no hierarchical
  /// bound. How far the plan is from the best plan that keeps its node placement of groups.
  double hierarchical_gap = -1;
  /// On a hierarchical topology: the share of the load carried by replicas outside their group's
  /// home node, the node that holds a replica of every expert of the group (the one carrying most
  /// of the group's load if several do); 0 for a strictly hierarchical plan. -1 when the topology
  /// is not hierarchical or some group has no home node.
  double off_node_load_fraction = -1;
  /// Slots, over all layers, that hold a second (third, ...) replica of an expert on a GPU that
  /// already holds one. Such a slot adds no balance; `balanced` and `global` use one only where
  /// it lowers the heaviest GPU (no placement without one is as light), `deepseek` wherever
  /// DeepSeek's reference does.
  int64_t duplicate_slots = 0;
};

/// Scores `plan` on `loads` (which may differ from the loads it was planned on, e.g. the next
/// window). Throws InvalidArgument when the shapes of `plan`, `loads` and `topology` disagree;
/// `plan` must be valid (see validate()).
PlanMetrics evaluate(const Plan& plan, const LoadMatrix& loads, const Topology& topology);

/// Returns the load of each GPU in layer `layer_idx`, `[num_gpus]`.
std::vector<double> gpu_loads(const Plan& plan, const LoadMatrix& loads, const Topology& topology,
                              int64_t layer_idx);

}  // namespace eplb
