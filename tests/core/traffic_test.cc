// place_for_traffic: co-routed experts gather on nodes, within the balance tolerance.

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "eplb/metrics.h"
#include "eplb/policy.h"
#include "eplb/traffic.h"
#include "support/check_plan.h"

namespace eplb {
namespace {

// Tokens of two topics: each routes to 4 experts of its own topic (experts 0-7 or 8-15), drawn
// with `noise` chance from the other topic instead.
Routing two_topics(int64_t num_layers, int64_t num_tokens, double noise, uint64_t seed) {
  std::mt19937_64 random(seed);
  Routing routing{.num_layers = num_layers, .num_tokens = num_tokens, .top_k = 4, .expert_ids = {}};
  for (int64_t layer = 0; layer < num_layers; ++layer) {
    for (int64_t token = 0; token < num_tokens; ++token) {
      const int32_t topic = static_cast<int32_t>(token % 2);
      std::vector<int32_t> chosen;
      while (chosen.size() < 4) {
        const bool other = std::uniform_real_distribution<double>(0, 1)(random) < noise;
        const int32_t expert = static_cast<int32_t>(8 * (other ? 1 - topic : topic) + random() % 8);
        if (std::find(chosen.begin(), chosen.end(), expert) == chosen.end()) chosen.push_back(expert);
      }
      routing.expert_ids.insert(routing.expert_ids.end(), chosen.begin(), chosen.end());
    }
  }
  return routing;
}

TEST(Traffic, FindsTheSeparationOfTwoTopics) {
  // 2 nodes x 2 GPUs x 4 slots, one replica per expert. The start interleaves the topics. Loads
  // are equal, so putting each topic on one node costs no balance.
  const Topology topology(16, 1, 2, 4);
  std::vector<int64_t> interleaved;
  for (int64_t slot = 0; slot < 16; ++slot) interleaved.push_back(slot % 2 == 0 ? slot / 2 : 8 + slot / 2);
  const Plan start = plan_from_phy2log(interleaved, 1, 16, 16);
  const Routing routing = two_topics(1, 400, 0, 3);
  Loads loads{.num_layers = 1, .num_experts = 16, .values = std::vector<double>(16, 100)};
  // Half of each topic per node: almost every token needs both.
  EXPECT_GT(evaluate_traffic(start, routing, topology).nodes_per_token, 1.9);
  const Plan placed = place_for_traffic(start, loads.view(), routing, topology);
  EXPECT_EQ(testing::check_plan(placed, topology, 16), "");
  EXPECT_DOUBLE_EQ(evaluate_traffic(placed, routing, topology).nodes_per_token, 1)
      << ::testing::PrintToString(placed.phy2log);
  EXPECT_DOUBLE_EQ(evaluate(placed, loads.view(), topology).gpu_balancedness, 1);
}

TEST(Traffic, KeepsCountsAndStaysWithinTheTolerance) {
  const Topology topology(24, 1, 2, 4);
  for (uint64_t seed = 0; seed < 4; ++seed) {
    const Routing routing = two_topics(3, 600, 0.2, seed);
    // Skewed loads: a few extra tokens for the low experts of each topic.
    Loads loads = routing.loads(16);
    for (int64_t layer = 0; layer < 3; ++layer) loads.values[static_cast<size_t>(layer * 16)] *= 3;
    const Plan start = rebalance_experts(loads.view(), topology, RebalanceOptions{.policy = Policy::global});
    for (const double tolerance : {0.0, 0.005, 0.05}) {
      const Plan placed =
          place_for_traffic(start, loads.view(), routing, topology, {.balance_tolerance = tolerance});
      EXPECT_EQ(testing::check_plan(placed, topology, 16), "");
      EXPECT_EQ(placed.logcnt, start.logcnt);
      const PlanMetrics before = evaluate(start, loads.view(), topology);
      const PlanMetrics after = evaluate(placed, loads.view(), topology);
      for (int64_t layer = 0; layer < 3; ++layer) {
        EXPECT_LE(after.max_gpu_load[layer], before.max_gpu_load[layer] * (1 + tolerance) * (1 + 1e-12))
            << "seed " << seed << " layer " << layer << " tolerance " << tolerance;
      }
      EXPECT_LE(evaluate_traffic(placed, routing, topology).nodes_per_token,
                evaluate_traffic(start, routing, topology).nodes_per_token)
          << "seed " << seed << " tolerance " << tolerance;
      EXPECT_EQ(place_for_traffic(start, loads.view(), routing, topology,
                                  {.balance_tolerance = tolerance})
                    .phy2log,
                placed.phy2log);
    }
  }
}

TEST(Traffic, BadArgumentsNameThemselves) {
  const Topology topology(16, 1, 2, 4);
  const Routing routing = two_topics(1, 20, 0, 1);
  const Loads loads = routing.loads(16);
  const Plan plan = rebalance_experts(loads.view(), topology, RebalanceOptions{.policy = Policy::global});
  for (const double bad : {-0.1, std::nan(""), static_cast<double>(INFINITY)}) {
    try {
      (void)place_for_traffic(plan, loads.view(), routing, topology, {.balance_tolerance = bad});
      FAIL() << "no error for " << bad;
    } catch (const InvalidArgument& error) {
      EXPECT_NE(std::string(error.what()).find("balance_tolerance = "), std::string::npos);
    }
  }
  const Routing two_layers = two_topics(2, 20, 0, 1);
  EXPECT_THROW((void)place_for_traffic(plan, loads.view(), two_layers, topology), InvalidArgument);
}

}  // namespace
}  // namespace eplb
