#include "eplb/policy.h"

#include <algorithm>
#include <functional>
#include <vector>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "eplb/metrics.h"
#include "eplb/packing.h"
#include "support/check_plan.h"
#include "support/generators.h"

namespace eplb {
namespace {

struct Case {
  int64_t num_layers, num_experts, num_replicas, num_groups, num_nodes, num_gpus;
};

// A random valid request: sizes that divide as the topology demands, experts a multiple of the
// groups on the hierarchical path, sometimes groups that the nodes do not divide (global path).
Case random_case(std::mt19937_64& engine) {
  const auto pick = [&engine](int64_t lo, int64_t hi) {
    return lo + int64_t(engine() % uint64_t(hi - lo + 1));
  };
  while (true) {
    Case c{};
    c.num_layers = pick(1, 4);
    c.num_nodes = pick(1, 4);
    c.num_gpus = c.num_nodes * pick(1, 4);
    c.num_replicas = c.num_gpus * pick(1, 5);
    c.num_groups = pick(1, 8);
    c.num_experts = pick(1, c.num_replicas);
    if (c.num_groups % c.num_nodes == 0) c.num_experts -= c.num_experts % c.num_groups;
    if (c.num_experts >= 1) return c;
  }
}

TEST(PolicyTest, EveryPlanOfRandomRequestsIsValid) {
  std::mt19937_64 engine(2024);
  const auto distributions = testing::all_distributions();
  int64_t num_plans = 0;
  for (int trial = 0; trial < 2100; ++trial) {
    const Case c = random_case(engine);
    const auto distribution = distributions[trial % distributions.size()];
    const Loads loads = testing::make_loads(distribution, c.num_layers, c.num_experts, uint64_t(trial));
    const Topology topology(c.num_replicas, c.num_groups, c.num_nodes, c.num_gpus);
    for (Policy policy : kAllPolicies) {
      SCOPED_TRACE(::testing::Message() << "trial " << trial << " policy " << to_string(policy));
      const Plan plan = rebalance_experts(loads.view(), topology, {.policy = policy});
      ASSERT_EQ(testing::check_plan(plan, topology, c.num_experts), "");
      ++num_plans;
    }
  }
  EXPECT_GE(num_plans, 2000);
}

// Whether a plan of `policy` can avoid two replicas of one expert on one GPU: every level it
// replicates within (a node, or the whole cluster) has no more slots than experts x GPUs.
bool duplicates_avoidable(const Case& c, Policy policy) {
  const bool hierarchical = policy == Policy::balanced && c.num_groups % c.num_nodes == 0;
  const int64_t levels = hierarchical ? c.num_nodes : 1;
  return c.num_replicas / levels <= (c.num_experts / levels) * (c.num_gpus / levels);
}

// Whether layer `layer` of `plan` holds two replicas of one expert on one GPU.
bool layer_has_duplicate(const Plan& plan, const Topology& topology, int64_t layer) {
  const auto row = plan.phy2log_row(layer);
  const int64_t per_gpu = topology.slots_per_gpu();
  for (int64_t s = 0; s < plan.num_replicas; ++s) {
    for (int64_t t = s + 1; t < (s / per_gpu + 1) * per_gpu; ++t) {
      if (row[s] >= 0 && row[t] == row[s]) return true;
    }
  }
  return false;
}

double heaviest_gpu(const Plan& plan, const LoadMatrix& loads, const Topology& topology, int64_t layer) {
  const auto gpu = gpu_loads(plan, loads, topology, layer);
  return *std::max_element(gpu.begin(), gpu.end());
}

// The greedy and snake packers never duplicate when it is avoidable. The multistart packer does
// only where that makes the layer lighter: a small level re-planned with duplicates is lighter
// than any plan without (those of greedy and snake among them), and otherwise the layer is
// DeepSeek's own plan, taken because it was lighter.
TEST(PolicyTest, SearchPoliciesNeverPutTwoReplicasOfAnExpertOnAGpuWhenAvoidable) {
  std::mt19937_64 engine(77);
  int64_t num_checked = 0, num_duplicate_layers = 0;
  for (int trial = 0; trial < 1500; ++trial) {
    const Case c = random_case(engine);
    const auto distribution = testing::all_distributions()[trial % 7];
    const Loads loads = testing::make_loads(distribution, c.num_layers, c.num_experts, uint64_t(trial));
    const Topology topology(c.num_replicas, c.num_groups, c.num_nodes, c.num_gpus);
    const Plan deepseek = rebalance_experts(loads.view(), topology, {.policy = Policy::deepseek});
    for (Policy policy : {Policy::balanced, Policy::global}) {
      if (!duplicates_avoidable(c, policy)) continue;
      std::vector<Plan> without;
      for (auto packer : {PackingStrategy::greedy, PackingStrategy::snake}) {
        without.push_back(rebalance_experts(loads.view(), topology, {.policy = policy, .packer = packer}));
        EXPECT_NO_THROW(validate(without.back(), topology, {.forbid_duplicates_on_gpu = true}))
            << "trial " << trial << " " << to_string(policy) << " " << to_string(packer);
      }
      const Plan plan = rebalance_experts(loads.view(), topology, {.policy = policy});
      for (int64_t layer = 0; layer < c.num_layers; ++layer) {
        if (!layer_has_duplicate(plan, topology, layer)) continue;
        ++num_duplicate_layers;
        const auto row = plan.phy2log_row(layer);
        const auto theirs = deepseek.phy2log_row(layer);
        if (std::equal(row.begin(), row.end(), theirs.begin())) continue;
        const double ours = heaviest_gpu(plan, loads.view(), topology, layer);
        for (const Plan& other : without) {
          EXPECT_LT(ours, heaviest_gpu(other, loads.view(), topology, layer))
              << "trial " << trial << " layer " << layer << " " << to_string(policy);
        }
      }
      num_checked += 3;
    }
  }
  EXPECT_GE(num_checked, 1000);
  EXPECT_GT(num_duplicate_layers, 0);
}

TEST(PolicyTest, AllZeroLoadsSpreadExtraReplicasOverExpertsAndGpus) {
  const Loads loads = testing::make_loads(testing::Distribution::all_zero, 2, 16, 0);
  const Topology topology(32, 1, 1, 8);
  for (Policy policy : {Policy::balanced, Policy::global}) {
    const Plan plan = rebalance_experts(loads.view(), topology, {.policy = policy});
    // 32 slots for 16 experts: every expert gets exactly two replicas, on two GPUs.
    for (int64_t count : plan.logcnt) EXPECT_EQ(count, 2);
    EXPECT_NO_THROW(validate(plan, topology, {.forbid_duplicates_on_gpu = true}));
  }
}

TEST(PolicyTest, DeepseekV3ShapesGiveValidPlans) {
  for (const auto& [replicas, gpus] : {std::pair{288, 32}, std::pair{320, 64}}) {
    const Topology topology(replicas, 8, 4, gpus);
    for (auto distribution : testing::all_distributions()) {
      const Loads loads = testing::make_loads(distribution, 58, 256, 7);
      for (Policy policy : kAllPolicies) {
        const Plan plan = rebalance_experts(loads.view(), topology, {.policy = policy});
        EXPECT_EQ(testing::check_plan(plan, topology, 256), "") << to_string(distribution);
        EXPECT_EQ(plan.num_layers, 58);
      }
    }
  }
}

TEST(PolicyTest, AllZeroLoadsGiveAValidPlan) {
  const Loads loads = testing::make_loads(testing::Distribution::all_zero, 3, 16, 0);
  const Topology topology(24, 4, 2, 4);
  for (Policy policy : kAllPolicies) {
    EXPECT_EQ(testing::check_plan(rebalance_experts(loads.view(), topology, {.policy = policy}), topology, 16), "");
  }
}

TEST(PolicyTest, IsDeterministic) {
  const Loads loads = testing::make_loads(testing::Distribution::zipf, 8, 64, 3);
  const Topology topology(96, 8, 2, 16);
  for (Policy policy : kAllPolicies) {
    EXPECT_EQ(rebalance_experts(loads.view(), topology, {.policy = policy}),
              rebalance_experts(loads.view(), topology, {.policy = policy}));
  }
}

TEST(PolicyTest, PlanDoesNotDependOnTheThreadCount) {
  const Loads loads = testing::make_loads(testing::Distribution::lognormal, 13, 64, 11);
  const Topology topology(96, 8, 2, 16);
  for (Policy policy : {Policy::balanced, Policy::global}) {
    const Plan one = rebalance_experts(loads.view(), topology, {.policy = policy, .effort = 2, .seed = 5});
    for (int64_t threads : {2, 4, 13, 64}) {
      EXPECT_EQ(rebalance_experts(loads.view(), topology,
                                  {.policy = policy, .effort = 2, .seed = 5, .threads = threads}),
                one)
          << to_string(policy) << " threads " << threads;
    }
  }
}

TEST(PolicyTest, SearchPoliciesAreNoWorseThanDeepseek) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    const Loads loads = testing::make_loads(testing::Distribution::zipf, 4, 64, seed);
    const Topology topology(96, 8, 2, 16);
    const double deepseek =
        evaluate(rebalance_experts(loads.view(), topology, {.policy = Policy::deepseek}), loads.view(), topology)
            .gpu_balancedness;
    const double global =
        evaluate(rebalance_experts(loads.view(), topology, {.policy = Policy::global}), loads.view(), topology)
            .gpu_balancedness;
    EXPECT_GE(global, deepseek - 1e-9) << seed;
  }
}

TEST(PolicyTest, RejectsBadOptions) {
  const Loads loads = testing::make_loads(testing::Distribution::uniform, 2, 16, 0);
  const Topology topology(32, 4, 2, 8);
  EXPECT_THROW_MESSAGE(rebalance_experts(loads.view(), topology, {.effort = 0}), InvalidArgument,
                       "rebalance_experts: effort = 0 must be in [1, 1000]");
  EXPECT_THROW_MESSAGE(rebalance_experts(loads.view(), topology, {.threads = 0}), InvalidArgument,
                       "rebalance_experts: threads = 0 must be in [1, 1024]");
}

TEST(PolicyTest, RejectsLoadsThatDoNotFitTheTopology) {
  const Loads loads = testing::make_loads(testing::Distribution::uniform, 2, 16, 0);
  EXPECT_THROW_MESSAGE(rebalance_experts(loads.view(), Topology(8, 1, 1, 4)), InvalidArgument,
                       "rebalance_experts: num_replicas = 8 must be at least num_experts = 16");
  EXPECT_THROW_MESSAGE(rebalance_experts(loads.view(), Topology(32, 6, 2, 4)), InvalidArgument,
                       "rebalance_experts: num_experts = 16 must be a multiple of num_groups = 6");
}

TEST(PolicyTest, RejectsPlansAboveTheSizeLimit) {
  const std::vector<double> values(kMaxLayers, 1.0);
  const LoadMatrix loads(std::span<const double>(values), kMaxLayers, 1);
  EXPECT_THROW_MESSAGE(rebalance_experts(loads, Topology(1 << 16, 1, 1, 1)), InvalidArgument,
                       "rebalance_experts: num_layers * num_replicas = 65536 * 65536 exceeds the "
                       "limit of 268435456");
}

TEST(PolicyTest, ParsesPolicyNames) {
  for (Policy policy : kAllPolicies) EXPECT_EQ(parse_policy(to_string(policy)), policy);
  EXPECT_THROW(parse_policy("best"), InvalidArgument);
}

}  // namespace
}  // namespace eplb
