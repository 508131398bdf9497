#pragma once
// Planning a placement: the policies and rebalance_experts().

#include <cstdint>
#include <string>
#include <string_view>

#include "eplb/load_matrix.h"
#include "eplb/plan.h"
#include "eplb/topology.h"

namespace eplb {

/// How a placement is planned.
enum class Policy {
  /// DeepSeek's EPLB reproduced bit for bit (float32 numerics, greedy packing): hierarchical when
  /// `num_groups % num_nodes == 0`, else global. The compatibility mode and baseline.
  deepseek,
};

/// Every policy, in declaration order.
inline constexpr Policy kAllPolicies[] = {Policy::deepseek};

/// Returns the lower-case name of `policy` ("deepseek").
std::string_view to_string(Policy policy);
/// Returns the policy named `name`; throws InvalidArgument for an unknown name.
Policy parse_policy(std::string_view name);

/// Options of rebalance_experts().
struct RebalanceOptions {
  Policy policy = Policy::deepseek;
};

/// Plans a placement of `loads` `[num_layers, num_experts]` on `topology`.
///
/// Returns a Plan that passes validate(). Throws InvalidArgument when the loads do not fit the
/// topology (see Topology::check_experts) or the plan would exceed kMaxPlanEntries. Deterministic:
/// the same inputs and options give the same plan.
Plan rebalance_experts(const LoadMatrix& loads, const Topology& topology,
                       const RebalanceOptions& options = {});

}  // namespace eplb
