#include "eplb/policy.h"

#include <algorithm>
#include <string>

#include "core/detail/check.h"
#include "core/detail/plan_builder.h"
#include "core/detail/policies.h"

namespace eplb {

std::string_view to_string(Policy policy) {
  switch (policy) {
    case Policy::deepseek: return "deepseek";
    case Policy::balanced: return "balanced";
    case Policy::global: return "global";
  }
  return "unknown";
}

Policy parse_policy(std::string_view name) {
  std::string names;
  for (Policy policy : kAllPolicies) {
    if (to_string(policy) == name) return policy;
    names += names.empty() ? "" : ", ";
    names += to_string(policy);
  }
  detail::throw_invalid("parse_policy: policy = \"", name, "\" is not one of: ", names);
}

namespace {

// The active-GPU check that needs the expert count (check_rebalance_options does the others).
void check_active_slots(int64_t num_experts, const Topology& topology,
                        const RebalanceOptions& options) {
  if (options.active_gpus.empty()) return;
  const auto active = std::count(options.active_gpus.begin(), options.active_gpus.end(), true);
  if (active * topology.slots_per_gpu() < num_experts) {
    detail::throw_invalid("rebalance_experts: active_gpus leaves ", active * topology.slots_per_gpu(),
                          " slots on ", active, " GPUs, fewer than num_experts = ", num_experts);
  }
}

}  // namespace

void check_rebalance_options(const Topology& topology, const RebalanceOptions& options,
                             std::string_view function) {
  if (options.policy == Policy::deepseek) {
    if (!options.active_gpus.empty()) {
      detail::throw_invalid(function, ": active_gpus needs policy balanced or global; "
                            "deepseek plans onto every GPU");
    }
    if (options.cross_node_replicas != 0) {
      detail::throw_invalid(function, ": cross_node_replicas = ", options.cross_node_replicas,
                            " needs policy balanced; deepseek keeps the strict hierarchy");
    }
    return;
  }
  if (options.effort < 1 || options.effort > kMaxEffort) {
    detail::throw_invalid(function, ": effort = ", options.effort, " must be in [1, ", kMaxEffort,
                          "]");
  }
  if (options.threads < 1 || options.threads > kMaxThreads) {
    detail::throw_invalid(function, ": threads = ", options.threads, " must be in [1, ",
                          kMaxThreads, "]");
  }
  if (options.cross_node_replicas < 0 || options.cross_node_replicas > topology.num_replicas()) {
    detail::throw_invalid(function, ": cross_node_replicas = ", options.cross_node_replicas,
                          " must be in [0, num_replicas = ", topology.num_replicas(), "]");
  }
  if (options.active_gpus.empty()) return;
  if (static_cast<int64_t>(options.active_gpus.size()) != topology.num_gpus()) {
    detail::throw_invalid(function, ": active_gpus has ", options.active_gpus.size(),
                          " entries, must have num_gpus = ", topology.num_gpus());
  }
  const auto active = std::count(options.active_gpus.begin(), options.active_gpus.end(), true);
  if (active == 0) detail::throw_invalid(function, ": active_gpus excludes every GPU");
  if (active < topology.num_gpus() && options.cross_node_replicas > 0) {
    detail::throw_invalid(function, ": cross_node_replicas = ", options.cross_node_replicas,
                          " cannot be combined with excluded GPUs yet");
  }
}

bool uses_hierarchy(const Topology& topology, int64_t num_experts, const RebalanceOptions& options) {
  if (options.policy == Policy::global || !topology.is_hierarchical()) return false;
  if (options.active_gpus.empty()) return true;
  const int64_t experts_per_node = num_experts / topology.num_nodes();
  for (int64_t node = 0; node < topology.num_nodes(); ++node) {
    int64_t active = 0;
    for (int64_t g = node * topology.gpus_per_node(); g < (node + 1) * topology.gpus_per_node(); ++g) {
      active += options.active_gpus[g];
    }
    if (active * topology.slots_per_gpu() < experts_per_node) return false;
  }
  return true;
}

Plan rebalance_experts(const LoadMatrix& loads, const Topology& topology,
                       const RebalanceOptions& options) {
  topology.check_experts(loads.num_experts(), "rebalance_experts");
  if (loads.num_layers() * topology.num_replicas() > kMaxPlanEntries) {
    detail::throw_invalid("rebalance_experts: num_layers * num_replicas = ", loads.num_layers(),
                          " * ", topology.num_replicas(), " exceeds the limit of ", kMaxPlanEntries);
  }
  check_rebalance_options(topology, options, "rebalance_experts");
  check_active_slots(loads.num_experts(), topology, options);
  switch (options.policy) {
    case Policy::deepseek: return detail::rebalance_deepseek(loads, topology);
    case Policy::balanced:
      return detail::rebalance_search(loads, topology, options,
                                      uses_hierarchy(topology, loads.num_experts(), options));
    case Policy::global: return detail::rebalance_search(loads, topology, options, false);
  }
  detail::throw_invalid("rebalance_experts: policy = ", static_cast<int>(options.policy),
                        " is not a known policy");
}

namespace detail {

Plan build_plan(std::vector<int64_t> phy2log, std::span<const int32_t> replica_rank,
                int64_t num_layers, int64_t num_replicas, int64_t num_experts) {
  Plan plan;
  plan.num_layers = num_layers;
  plan.num_experts = num_experts;
  plan.num_replicas = num_replicas;
  plan.logcnt.assign(num_layers * num_experts, 0);
  for (int64_t i = 0; i < num_layers * num_replicas; ++i) {
    int64_t& count = plan.logcnt[(i / num_replicas) * num_experts + phy2log[i]];
    plan.max_replicas = std::max(plan.max_replicas, ++count);
  }
  if (num_layers * num_experts * plan.max_replicas > kMaxPlanEntries) {
    throw_invalid("rebalance_experts: log2phy would hold ", num_layers * num_experts * plan.max_replicas,
                  " entries, more than the limit of ", kMaxPlanEntries);
  }
  plan.log2phy.assign(num_layers * num_experts * plan.max_replicas, -1);
  for (int64_t i = 0; i < num_layers * num_replicas; ++i) {
    const int64_t layer = i / num_replicas;
    plan.log2phy[(layer * num_experts + phy2log[i]) * plan.max_replicas + replica_rank[i]] =
        i % num_replicas;
  }
  plan.phy2log = std::move(phy2log);
  return plan;
}

}  // namespace detail
}  // namespace eplb
