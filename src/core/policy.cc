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

Plan rebalance_experts(const LoadMatrix& loads, const Topology& topology,
                       const RebalanceOptions& options) {
  topology.check_experts(loads.num_experts(), "rebalance_experts");
  if (loads.num_layers() * topology.num_replicas() > kMaxPlanEntries) {
    detail::throw_invalid("rebalance_experts: num_layers * num_replicas = ", loads.num_layers(),
                          " * ", topology.num_replicas(), " exceeds the limit of ", kMaxPlanEntries);
  }
  switch (options.policy) {
    case Policy::deepseek:
      if (options.cross_node_replicas != 0) {
        detail::throw_invalid("rebalance_experts: cross_node_replicas = ", options.cross_node_replicas,
                              " needs policy balanced; deepseek keeps the strict hierarchy");
      }
      return detail::rebalance_deepseek(loads, topology);
    case Policy::balanced:
      return detail::rebalance_search(loads, topology, options, topology.is_hierarchical());
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
