#pragma once
// Per-token routing: which experts each sampled token was sent to, layer by layer, and where a
// plan's dispatch sends those tokens (nodes and GPUs per token).

#include <cstdint>
#include <vector>

#include "eplb/load_matrix.h"
#include "eplb/plan.h"
#include "eplb/topology.h"

namespace eplb {

/// A sample of routed tokens: the top-k expert ids of each token in each layer,
/// `[num_layers, num_tokens, top_k]` row-major. Token `t` is the same token in every layer.
struct Routing {
  int64_t num_layers = 0;
  int64_t num_tokens = 0;
  int64_t top_k = 0;
  std::vector<int32_t> expert_ids;

  int32_t expert(int64_t layer, int64_t token, int64_t k) const {
    return expert_ids[static_cast<size_t>((layer * num_tokens + token) * top_k + k)];
  }
  /// Each expert's count of routed tokens per layer, `[num_layers, num_experts]`: the loads the
  /// sample implies. Throws as check_routing().
  Loads loads(int64_t num_experts) const;
};

/// Reports call a sample of fewer tokens than this too small to trust: with 128 experts and
/// top-8, that is under about 60 tokens per expert and a handful per pair of experts, too few
/// for co-activation counts to carry over to other prompts.
inline constexpr int64_t kFewRoutingTokens = 1000;

/// Throws InvalidArgument when `routing` is not a sample over `num_experts` experts: a
/// non-positive size, `expert_ids` of another size, an id outside [0, num_experts) (naming the
/// layer, token and position), or a token routed twice to one expert.
void check_routing(const Routing& routing, int64_t num_experts);

/// Where each source GPU sends each expert's tokens in one layer: `slot[source_gpu *
/// num_experts + expert]`, a slot holding the expert. The rule (dispatch_table()): a replica on
/// the source GPU, else one on its node, else one on another node; among several, the one at
/// index `source_gpu % count` of them in slot order, so that sources share an expert's
/// replicas evenly.
struct DispatchTable {
  int64_t num_gpus = 0;
  int64_t num_experts = 0;
  std::vector<int64_t> slot;
};

/// The dispatch table of layer `layer_idx` of `plan` (valid for `topology`). Experts without a
/// replica (a plan around excluded GPUs keeps every expert) map to -1.
DispatchTable dispatch_table(const Plan& plan, const Topology& topology, int64_t layer_idx);

/// What a plan's dispatch costs the sampled tokens. Tokens are taken to come from the GPUs in
/// turn (token `t` from GPU `t % num_gpus`, as data-parallel ranks each send their share), and
/// each expert's copy of a token goes where dispatch_table() says. A token reaches a GPU once
/// however many of its experts the GPU holds, and a node once however many of its GPUs it
/// reaches.
struct TrafficMetrics {
  /// Nodes (GPUs) a token is sent to, averaged over tokens and layers.
  double nodes_per_token = 0;
  double gpus_per_token = 0;
  /// Nodes other than the token's own, averaged over tokens and layers.
  double remote_nodes_per_token = 0;
  /// Copies of tokens sent to GPUs on another node than the token's / all copies sent to GPUs.
  double cross_node_fraction = 0;
  /// Per layer: nodes per token, `[num_layers]`.
  std::vector<double> layer_nodes_per_token;
};

/// Scores `plan` on `routing` (both over the plan's layers and experts). Throws InvalidArgument
/// when the layers or experts differ, the routing is not valid (check_routing()) or the plan is
/// not valid for `topology`.
TrafficMetrics evaluate_traffic(const Plan& plan, const Routing& routing,
                                const Topology& topology);

}  // namespace eplb
