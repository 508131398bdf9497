// DeepSeek's EPLB reproduced step for step in float32; see docs/algorithms.md#deepseek.

#include <vector>

#include "core/detail/greedy_pack.h"
#include "core/detail/plan_builder.h"
#include "core/detail/policies.h"
#include "core/detail/torch_sum.h"

namespace eplb::detail {
namespace {

/// Per-layer scratch, reused across layers.
struct DeepseekScratch {
  std::vector<float> weights, group_weights, node_weights, replica_weights;
  std::vector<int32_t> group_pack, group_rank, expert_of_node_slot, node_slot_of_expert;
  std::vector<int32_t> phy2mlog, phyrank, mlogcnt, replica_pack, replica_rank;
  std::vector<SortKey<float>> order;
};

// Step 2 of the reference: start with one replica per node-local expert, then give each extra
// replica to the expert with the largest float32 load per replica (first index on ties).
void replicate_exact(std::span<const float> weights, int64_t num_slots, std::span<int32_t> phy2mlog,
                     std::span<int32_t> phyrank, std::span<int32_t> count) {
  const auto num_experts = static_cast<int64_t>(weights.size());
  for (int64_t e = 0; e < num_experts; ++e) {
    phy2mlog[e] = static_cast<int32_t>(e);
    phyrank[e] = 0;
    count[e] = 1;
  }
  for (int64_t slot = num_experts; slot < num_slots; ++slot) {
    int64_t best = 0;
    float best_ratio = weights[0] / static_cast<float>(count[0]);
    for (int64_t e = 1; e < num_experts; ++e) {
      const float ratio = weights[e] / static_cast<float>(count[e]);
      if (ratio > best_ratio) {
        best_ratio = ratio;
        best = e;
      }
    }
    phy2mlog[slot] = static_cast<int32_t>(best);
    phyrank[slot] = count[best]++;
  }
}

void plan_layer(std::span<const float> weights, const Topology& topology, int64_t num_groups,
                int64_t num_nodes, std::span<int64_t> phy2log, std::span<int32_t> phy_rank,
                DeepseekScratch& s) {
  const auto num_experts = static_cast<int64_t>(weights.size());
  const int64_t group_size = num_experts / num_groups;
  const int64_t groups_per_node = num_groups / num_nodes;
  const int64_t experts_per_node = num_experts / num_nodes;
  const int64_t slots_per_node = topology.num_replicas() / num_nodes;
  const int64_t gpus_per_node = topology.num_gpus() / num_nodes;
  const int64_t slots_per_gpu = topology.slots_per_gpu();

  // Step 1: pack groups onto nodes; a node's experts are its groups' in pack rank order.
  // The reference sums each group with torch, in torch's order.
  s.group_weights.resize(num_groups);
  for (int64_t g = 0; g < num_groups; ++g) {
    s.group_weights[g] = torch_cpu_sum(weights.subspan(g * group_size, group_size));
  }
  s.group_pack.resize(num_groups);
  s.group_rank.resize(num_groups);
  greedy_pack<float>(s.group_weights, num_nodes, s.group_pack, s.group_rank, s.order);
  s.expert_of_node_slot.resize(num_experts);
  for (int64_t e = 0; e < num_experts; ++e) {
    const int64_t g = e / group_size;
    const int64_t node_position =
        (s.group_pack[g] * groups_per_node + s.group_rank[g]) * group_size + e % group_size;
    s.expert_of_node_slot[node_position] = static_cast<int32_t>(e);
  }

  s.phy2mlog.resize(slots_per_node);
  s.phyrank.resize(slots_per_node);
  s.mlogcnt.resize(experts_per_node);
  s.node_weights.resize(experts_per_node);
  s.replica_weights.resize(slots_per_node);
  s.replica_pack.resize(slots_per_node);
  s.replica_rank.resize(slots_per_node);
  for (int64_t node = 0; node < num_nodes; ++node) {
    const int32_t* node_experts = &s.expert_of_node_slot[node * experts_per_node];
    for (int64_t j = 0; j < experts_per_node; ++j) s.node_weights[j] = weights[node_experts[j]];
    // Step 2: replicate inside the node.
    replicate_exact(s.node_weights, slots_per_node, s.phy2mlog, s.phyrank, s.mlogcnt);
    // Step 3: pack the node's replicas onto its GPUs.
    for (int64_t p = 0; p < slots_per_node; ++p) {
      const int32_t m = s.phy2mlog[p];
      s.replica_weights[p] = s.node_weights[m] / static_cast<float>(s.mlogcnt[m]);
    }
    greedy_pack<float>(s.replica_weights, gpus_per_node, s.replica_pack, s.replica_rank, s.order);
    for (int64_t p = 0; p < slots_per_node; ++p) {
      const int64_t slot = node * slots_per_node + s.replica_pack[p] * slots_per_gpu + s.replica_rank[p];
      phy2log[slot] = node_experts[s.phy2mlog[p]];
      phy_rank[slot] = s.phyrank[p];
    }
  }
}

// The reference runs its hierarchical path with one group and one node when groups cannot be
// split evenly over nodes.
int64_t deepseek_groups(const Topology& topology) {
  return topology.is_hierarchical() ? topology.num_groups() : 1;
}
int64_t deepseek_nodes(const Topology& topology) {
  return topology.is_hierarchical() ? topology.num_nodes() : 1;
}

}  // namespace

void deepseek_layer(const LoadMatrix& loads, int64_t layer, const Topology& topology,
                    std::span<int64_t> phy2log) {
  DeepseekScratch scratch;
  scratch.weights.resize(loads.num_experts());
  loads.copy_row(layer, std::span<float>(scratch.weights));
  std::vector<int32_t> phy_rank(phy2log.size());
  plan_layer(scratch.weights, topology, deepseek_groups(topology), deepseek_nodes(topology),
             phy2log, phy_rank, scratch);
}

Plan rebalance_deepseek(const LoadMatrix& loads, const Topology& topology) {
  const int64_t num_layers = loads.num_layers();
  const int64_t num_experts = loads.num_experts();
  const int64_t num_replicas = topology.num_replicas();
  const int64_t num_groups = deepseek_groups(topology);
  const int64_t num_nodes = deepseek_nodes(topology);

  std::vector<int64_t> phy2log(num_layers * num_replicas);
  std::vector<int32_t> phy_rank(num_layers * num_replicas);
  DeepseekScratch scratch;
  scratch.weights.resize(num_experts);
  for (int64_t layer = 0; layer < num_layers; ++layer) {
    loads.copy_row(layer, std::span<float>(scratch.weights));
    plan_layer(scratch.weights, topology, num_groups, num_nodes,
               std::span(phy2log).subspan(layer * num_replicas, num_replicas),
               std::span(phy_rank).subspan(layer * num_replicas, num_replicas), scratch);
  }
  return build_plan(std::move(phy2log), phy_rank, num_layers, num_replicas, num_experts);
}

}  // namespace eplb::detail
