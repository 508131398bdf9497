// Routing samples, the dispatch rule and evaluate_traffic, against counts made by hand and by a
// brute-force recount.

#include <cstdint>
#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "eplb/plan.h"
#include "eplb/routing.h"

namespace eplb {
namespace {

// 2 nodes x 2 GPUs x 2 slots; experts 0-3 on node 0 (GPU 0: 0 1, GPU 1: 2 3), 4-7 on node 1.
const Topology kTopology(8, 1, 2, 4);

Plan one_replica_each() {
  return plan_from_phy2log(std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}, 1, 8, 8);
}

Routing sample(std::vector<std::vector<int32_t>> tokens) {
  Routing routing{.num_layers = 1,
                  .num_tokens = static_cast<int64_t>(tokens.size()),
                  .top_k = static_cast<int64_t>(tokens.front().size()),
                  .expert_ids = {}};
  for (const auto& token : tokens) routing.expert_ids.insert(routing.expert_ids.end(), token.begin(), token.end());
  return routing;
}

TEST(Routing, CountsNodesAndGpusPerToken) {
  // Token 0 (from GPU 0, node 0): experts 0 and 1, both on GPU 0: one GPU, one node, local.
  // Token 1 (GPU 1, node 0): experts 0 and 4: GPUs 0 and 2, nodes 0 and 1; one copy remote.
  // Token 2 (GPU 2, node 1): experts 2 and 3: GPU 1, node 0: remote.
  // Token 3 (GPU 3, node 1): experts 6 and 7: GPU 3, node 1: local.
  const Routing routing = sample({{0, 1}, {0, 4}, {2, 3}, {6, 7}});
  const TrafficMetrics metrics = evaluate_traffic(one_replica_each(), routing, kTopology);
  EXPECT_DOUBLE_EQ(metrics.nodes_per_token, 5.0 / 4);
  EXPECT_DOUBLE_EQ(metrics.gpus_per_token, 5.0 / 4);
  EXPECT_DOUBLE_EQ(metrics.remote_nodes_per_token, 2.0 / 4);
  EXPECT_DOUBLE_EQ(metrics.cross_node_fraction, 2.0 / 5);
  ASSERT_EQ(metrics.layer_nodes_per_token.size(), 1u);
  EXPECT_DOUBLE_EQ(metrics.layer_nodes_per_token[0], 5.0 / 4);
  const Loads loads = routing.loads(8);
  EXPECT_EQ(loads.values, (std::vector<double>{2, 1, 1, 1, 1, 0, 1, 1}));
}

TEST(Routing, DispatchPrefersTheSourceGpuThenItsNodeThenSharesReplicas) {
  // 2 nodes x 2 GPUs x 3 slots. Expert 0 on GPUs 0, 1 and 2 (slots 0, 3, 6); expert 1 on GPUs 0
  // and 3 (slots 1, 10); expert 2 on GPU 0 only.
  const Topology topology(12, 1, 2, 4);
  const Plan plan =
      plan_from_phy2log(std::vector<int64_t>{0, 1, 2, 0, 3, 4, 0, 5, 6, 7, 1, 3}, 1, 12, 8);
  const DispatchTable table = dispatch_table(plan, topology, 0);
  const auto slot = [&](int64_t gpu, int64_t expert) { return table.slot[gpu * 8 + expert]; };
  EXPECT_EQ(slot(0, 0), 0);  // on the source GPU
  EXPECT_EQ(slot(1, 0), 3);
  EXPECT_EQ(slot(2, 0), 6);
  EXPECT_EQ(slot(3, 0), 6);  // the one replica on GPU 3's node
  EXPECT_EQ(slot(3, 1), 10);
  EXPECT_EQ(slot(2, 1), 10);
  EXPECT_EQ(slot(1, 1), 1);
  for (int64_t gpu = 0; gpu < 4; ++gpu) EXPECT_EQ(slot(gpu, 2), 2);  // a single replica
  // Tokens from GPUs 0-3: {1, 2} stays on GPU 0; {1, 2} from GPU 1 on node 0; {1, 2} from GPU 2
  // reaches both nodes; {0, 5} from GPU 3 stays on GPU 2.
  const Routing routing = sample({{1, 2}, {1, 2}, {1, 2}, {0, 5}});
  const TrafficMetrics metrics = evaluate_traffic(plan, routing, topology);
  EXPECT_DOUBLE_EQ(metrics.nodes_per_token, 5.0 / 4);
  EXPECT_DOUBLE_EQ(metrics.gpus_per_token, 5.0 / 4);
  EXPECT_DOUBLE_EQ(metrics.remote_nodes_per_token, 1.0 / 4);  // GPU 2's token, to node 0
}

// Among several replicas off the source's node, sources take them in turn.
TEST(Routing, SourcesShareRemoteReplicasInTurn) {
  // Expert 0 on both GPUs of node 1 (slots 4 and 6): node 0's GPUs 0 and 1 take one each.
  const Plan plan = plan_from_phy2log(std::vector<int64_t>{1, 2, 3, 4, 0, 5, 0, 6}, 1, 8, 7);
  const DispatchTable table = dispatch_table(plan, kTopology, 0);
  EXPECT_EQ(table.slot[0 * 7 + 0], 4);
  EXPECT_EQ(table.slot[1 * 7 + 0], 6);
}

// Recounts what each token costs from the dispatch table, token by token with sets.
TrafficMetrics brute_force(const Plan& plan, const Routing& routing, const Topology& topology) {
  double nodes = 0, gpus = 0, remote_nodes = 0, remote_gpus = 0;
  for (int64_t layer = 0; layer < routing.num_layers; ++layer) {
    const DispatchTable table = dispatch_table(plan, topology, layer);
    for (int64_t token = 0; token < routing.num_tokens; ++token) {
      const int64_t source = token % topology.num_gpus();
      std::set<int64_t> gpu_set, node_set;
      for (int64_t k = 0; k < routing.top_k; ++k) {
        const int64_t slot = table.slot[source * plan.num_experts + routing.expert(layer, token, k)];
        gpu_set.insert(topology.gpu_of_slot(slot));
        node_set.insert(topology.node_of_slot(slot));
      }
      const int64_t home = source / topology.gpus_per_node();
      nodes += static_cast<double>(node_set.size());
      gpus += static_cast<double>(gpu_set.size());
      remote_nodes += static_cast<double>(node_set.size() - node_set.count(home));
      for (const int64_t gpu : gpu_set) remote_gpus += gpu / topology.gpus_per_node() != home;
    }
  }
  const auto samples = static_cast<double>(routing.num_layers * routing.num_tokens);
  return {.nodes_per_token = nodes / samples,
          .gpus_per_token = gpus / samples,
          .remote_nodes_per_token = remote_nodes / samples,
          .cross_node_fraction = remote_gpus / gpus,
          .layer_nodes_per_token = {}};
}

TEST(Routing, MatchesABruteForceRecountOnRandomPlans) {
  const Topology topology(24, 1, 3, 6);
  std::mt19937_64 random(7);
  for (int trial = 0; trial < 20; ++trial) {
    // Every expert once, then 8 random extra replicas, shuffled over the slots.
    std::vector<int64_t> row;
    for (int64_t layer = 0; layer < 2; ++layer) {
      std::vector<int64_t> slots;
      for (int64_t expert = 0; expert < 16; ++expert) slots.push_back(expert);
      for (int extra = 0; extra < 8; ++extra) slots.push_back(static_cast<int64_t>(random() % 16));
      std::shuffle(slots.begin(), slots.end(), random);
      row.insert(row.end(), slots.begin(), slots.end());
    }
    const Plan plan = plan_from_phy2log(row, 2, 24, 16);
    Routing routing{.num_layers = 2, .num_tokens = 50, .top_k = 4, .expert_ids = {}};
    for (int64_t idx = 0; idx < 2 * 50; ++idx) {
      std::vector<int32_t> experts(16);
      for (int32_t e = 0; e < 16; ++e) experts[e] = e;
      std::shuffle(experts.begin(), experts.end(), random);
      routing.expert_ids.insert(routing.expert_ids.end(), experts.begin(), experts.begin() + 4);
    }
    const TrafficMetrics fast = evaluate_traffic(plan, routing, topology);
    const TrafficMetrics slow = brute_force(plan, routing, topology);
    EXPECT_NEAR(fast.nodes_per_token, slow.nodes_per_token, 1e-12) << "trial " << trial;
    EXPECT_NEAR(fast.gpus_per_token, slow.gpus_per_token, 1e-12) << "trial " << trial;
    EXPECT_NEAR(fast.remote_nodes_per_token, slow.remote_nodes_per_token, 1e-12);
    EXPECT_NEAR(fast.cross_node_fraction, slow.cross_node_fraction, 1e-12);
  }
}

std::string error_of(const Routing& routing, int64_t num_experts) {
  try {
    check_routing(routing, num_experts);
  } catch (const InvalidArgument& error) {
    return error.what();
  }
  return "";
}

TEST(Routing, BadSamplesNameTheTokenAndTheValue) {
  EXPECT_NE(error_of(sample({{0, 9}}), 8).find("layer 0 token 0 expert 1 is 9, outside [0, 8)"),
            std::string::npos);
  EXPECT_NE(error_of(sample({{1, 2}, {3, 3}}), 8).find("token 1 is routed twice to expert 3"),
            std::string::npos);
  Routing short_ids = sample({{1, 2}});
  short_ids.expert_ids.pop_back();
  EXPECT_NE(error_of(short_ids, 8).find("expert_ids has 1 ids"), std::string::npos);
  EXPECT_NE(error_of(Routing{}, 8).find("must all be positive"), std::string::npos);
  EXPECT_EQ(error_of(sample({{1, 2}}), 8), "");
  const Routing two_layers{.num_layers = 2, .num_tokens = 1, .top_k = 2, .expert_ids = {0, 1, 2, 3}};
  EXPECT_THROW((void)evaluate_traffic(one_replica_each(), two_layers, kTopology), InvalidArgument);
}

}  // namespace
}  // namespace eplb
