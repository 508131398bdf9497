#pragma once
// The policies behind rebalance_experts(); inputs are already checked.

#include <cstdint>
#include <span>

#include "eplb/load_matrix.h"
#include "eplb/plan.h"
#include "eplb/policy.h"
#include "eplb/topology.h"

namespace eplb::detail {

/// DeepSeek's EPLB, bit-exact (float32 numerics).
Plan rebalance_deepseek(const LoadMatrix& loads, const Topology& topology);

/// DeepSeek's plan of layer `layer` of `loads`: the expert of each slot into `phy2log`
/// `[num_replicas]`, as rebalance_deepseek() plans it.
void deepseek_layer(const LoadMatrix& loads, int64_t layer, const Topology& topology,
                    std::span<int64_t> phy2log);

/// The search policies: `hierarchical` packs groups onto nodes first (balanced on a hierarchical
/// topology), else all replicas onto all GPUs (global).
Plan rebalance_search(const LoadMatrix& loads, const Topology& topology,
                      const RebalanceOptions& options, bool hierarchical);

/// The global search on the GPUs that `options.active_gpus` keeps; excluded GPUs get -1 slots.
Plan rebalance_on_active_gpus(const LoadMatrix& loads, const Topology& topology,
                              const RebalanceOptions& options);

}  // namespace eplb::detail
