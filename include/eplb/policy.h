#pragma once
// Planning a placement: the policies and rebalance_experts().

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "eplb/load_matrix.h"
#include "eplb/packing.h"
#include "eplb/plan.h"
#include "eplb/topology.h"

namespace eplb {

/// How a placement is planned.
enum class Policy {
  /// DeepSeek's EPLB reproduced bit for bit (float32 numerics, greedy packing): hierarchical when
  /// `num_groups % num_nodes == 0`, else global. The compatibility mode and baseline.
  deepseek,
  /// The default: optimal replica counts and the multistart search packer at both levels;
  /// hierarchical (each group's experts on one node) when `num_groups % num_nodes == 0`, else
  /// global.
  balanced,
  /// Ignores groups and nodes: replicas of all experts packed onto all GPUs by the search packer.
  global,
};

/// Every policy, in declaration order.
inline constexpr Policy kAllPolicies[] = {Policy::deepseek, Policy::balanced, Policy::global};

/// Returns the lower-case name of `policy` ("deepseek", "balanced", "global").
std::string_view to_string(Policy policy);
/// Returns the policy named `name`; throws InvalidArgument for an unknown name.
Policy parse_policy(std::string_view name);

/// Largest search effort and thread count rebalance_experts() accepts.
inline constexpr int64_t kMaxEffort = 1000;
inline constexpr int64_t kMaxThreads = 1024;

/// Options of rebalance_experts().
struct RebalanceOptions {
  Policy policy = Policy::balanced;
  /// Packing strategy of `balanced` and `global` (ignored by `deepseek`).
  PackingStrategy packer = PackingStrategy::multistart;
  /// Search effort of the multistart packer, in [1, kMaxEffort]: it tries 4 * effort starts,
  /// refines the best `effort` of them with up to 48 * effort moves each, and stops within 0.03 %
  /// (effort 1) or 0.01 % / effort of the lower bound; effort 1 skips the all-pairs move. Higher
  /// is slower, rarely worse.
  int64_t effort = 1;
  /// Seed of the randomized starts; the same seed gives the same plan.
  uint64_t seed = 0;
  /// `balanced` on a hierarchical topology: how many replicas per layer may sit outside their
  /// group's node (every expert keeps one replica at home, so group-limited routing still finds
  /// it there). 0 is the strict hierarchy; more trades node locality for balance (PlanMetrics
  /// reports the off-node load fraction). Ignored by `global`; `deepseek` accepts only 0.
  int64_t cross_node_replicas = 0;
  /// One flag per GPU, or empty for all: the healthy GPUs to plan onto (`balanced` and `global`).
  /// Slots of excluded GPUs hold -1 in `phy2log`, and `log2phy` / `logcnt` never refer to them.
  /// `balanced` keeps the hierarchy when every node keeps enough GPUs for its experts (nodes
  /// then differ in capacity, and the heaviest groups go to the fullest nodes); otherwise it
  /// plans globally on the healthy GPUs (see uses_hierarchy()).
  std::vector<bool> active_gpus = {};
  /// Threads planning layers in parallel (layers are independent); 1 plans on the caller's
  /// thread, at most kMaxThreads. The plan does not depend on it.
  int64_t threads = 1;
  /// Asked on the caller's thread between layers (and by Planner::replan and replay() between
  /// their steps); when it returns true the call stops and throws Cancelled. Empty: never asked.
  /// The Python module polls Ctrl-C here, so that a long call can be interrupted.
  std::function<bool()> should_stop = {};
};

/// Throws InvalidArgument naming `function` for options out of range whatever the loads: effort
/// not in [1, kMaxEffort], threads not in [1, kMaxThreads], cross_node_replicas not in
/// [0, num_replicas], active_gpus not one flag per GPU, excluding every GPU or combined with
/// cross_node_replicas, and deepseek with active_gpus or cross_node_replicas.
/// rebalance_experts() checks them first; a Planner checks them when it is made.
void check_rebalance_options(const Topology& topology, const RebalanceOptions& options,
                             std::string_view function);

/// Returns whether `rebalance_experts(loads with num_experts experts, topology, options)` keeps the
/// hierarchy (groups packed onto nodes): `deepseek` and `balanced` on a hierarchical topology,
/// unless `active_gpus` leaves some node too few GPUs for its experts.
bool uses_hierarchy(const Topology& topology, int64_t num_experts, const RebalanceOptions& options);

/// Plans a placement of `loads` `[num_layers, num_experts]` on `topology`.
///
/// Returns a Plan that passes validate(). Throws InvalidArgument when the loads do not fit the
/// topology (see Topology::check_experts), an option is out of range or the plan would exceed
/// kMaxPlanEntries. Deterministic: the same inputs, options and seed give the same plan whatever
/// the thread count.
Plan rebalance_experts(const LoadMatrix& loads, const Topology& topology,
                       const RebalanceOptions& options = {});

}  // namespace eplb
