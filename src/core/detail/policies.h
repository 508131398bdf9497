#pragma once
// The policies behind rebalance_experts(); inputs are already checked.

#include "eplb/load_matrix.h"
#include "eplb/plan.h"
#include "eplb/topology.h"

namespace eplb::detail {

/// DeepSeek's EPLB, bit-exact (float32 numerics).
Plan rebalance_deepseek(const LoadMatrix& loads, const Topology& topology);

}  // namespace eplb::detail
