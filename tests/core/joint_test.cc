// Joint search over replica counts and packing: exact on small instances.

#include <algorithm>
#include <functional>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "eplb/metrics.h"
#include "eplb/policy.h"
#include "support/check_plan.h"
#include "support/generators.h"

namespace eplb {
namespace {

// Heaviest GPU of the best placement over every count vector and packing (no expert twice on a
// GPU unless `allow_duplicates`), by exhaustive search: tiny instances only.
double exhaustive_optimum(const std::vector<double>& loads, int64_t num_slots, int64_t num_gpus,
                          bool allow_duplicates = false) {
  const int64_t max_count = allow_duplicates ? num_slots : num_gpus;
  const auto num_experts = static_cast<int64_t>(loads.size());
  const int64_t per_gpu = num_slots / num_gpus;
  double best = 1e300;
  std::vector<int64_t> counts(num_experts, 1);
  std::vector<double> gpu(num_gpus);
  std::vector<std::vector<int64_t>> held(num_gpus);
  std::vector<std::pair<double, int64_t>> items;
  std::function<void(size_t)> place = [&](size_t i) {
    if (i == items.size()) {
      best = std::min(best, *std::max_element(gpu.begin(), gpu.end()));
      return;
    }
    for (int64_t g = 0; g < num_gpus; ++g) {
      if (int64_t(held[g].size()) == per_gpu ||
          (!allow_duplicates && std::count(held[g].begin(), held[g].end(), items[i].second) > 0)) {
        continue;
      }
      held[g].push_back(items[i].second);
      gpu[g] += items[i].first;
      place(i + 1);
      gpu[g] -= items[i].first;
      held[g].pop_back();
      if (held[g].empty()) break;  // empty GPUs are interchangeable
    }
  };
  std::function<void(int64_t, int64_t)> choose = [&](int64_t e, int64_t left) {
    if (e == num_experts - 1) {
      if (left < 1 || left > max_count) return;
      counts[e] = left;
      items.clear();
      for (int64_t x = 0; x < num_experts; ++x) {
        for (int64_t c = 0; c < counts[x]; ++c) items.push_back({loads[x] / double(counts[x]), x});
      }
      place(0);
      return;
    }
    for (int64_t c = 1; c <= std::min(max_count, left - (num_experts - 1 - e)); ++c) {
      counts[e] = c;
      choose(e + 1, left - c);
    }
  };
  choose(0, num_slots);
  return best;
}

double heaviest_gpu(const Plan& plan, const std::vector<double>& loads, const Topology& topology) {
  return evaluate(plan, LoadMatrix(std::span<const double>(loads), 1, int64_t(loads.size())), topology)
      .max_gpu_load[0];
}

TEST(JointSearchTest, SolvesThePublicExampleToItsOptimum) {
  const std::vector<double> loads{600, 560, 120, 120, 20, 10, 10, 10};
  const Topology topology(16, 1, 1, 8);
  const LoadMatrix view(std::span<const double>(loads), 1, 8);
  EXPECT_DOUBLE_EQ(heaviest_gpu(rebalance_experts(view, topology, {.policy = Policy::deepseek}), loads, topology), 232.0);
  for (Policy policy : {Policy::balanced, Policy::global}) {
    const Plan plan = rebalance_experts(view, topology, {.policy = policy});
    EXPECT_NEAR(heaviest_gpu(plan, loads, topology), 560.0 / 3 + 10, 1e-9);
    EXPECT_NO_THROW(validate(plan, topology, {.forbid_duplicates_on_gpu = true}));
  }
}

TEST(JointSearchTest, MatchesExhaustiveSearchOnSmallInstances) {
  std::mt19937_64 engine(31);
  for (int trial = 0; trial < 60; ++trial) {
    const int64_t num_gpus = 2 + int64_t(engine() % 4);
    const int64_t per_gpu = 1 + int64_t(engine() % 3);
    const int64_t num_slots = num_gpus * per_gpu;
    if (num_slots > 12) continue;
    const int64_t num_experts = 2 + int64_t(engine() % uint64_t(std::min<int64_t>(num_slots - 1, 6)));
    const Loads loads = testing::make_loads(testing::Distribution::lognormal, 1, num_experts, uint64_t(trial));
    if (num_slots > num_experts * num_gpus) continue;
    const Topology topology(num_slots, 1, 1, num_gpus);
    // The search finds the optimum without two replicas of an expert on one GPU. Only where
    // that is heavier than DeepSeek's plan (which may hold such duplicates) are duplicates
    // tried, and the plan is then no heavier than DeepSeek's.
    const double optimum = exhaustive_optimum(loads.values, num_slots, num_gpus);
    const double with_duplicates = exhaustive_optimum(loads.values, num_slots, num_gpus, true);
    EXPECT_LE(with_duplicates, optimum * (1 + 1e-12));
    const Plan plan = rebalance_experts(loads.view(), topology, {.policy = Policy::global});
    const double got = heaviest_gpu(plan, loads.values, topology);
    const double deepseek = heaviest_gpu(
        rebalance_experts(loads.view(), topology, {.policy = Policy::deepseek}), loads.values,
        topology);
    EXPECT_GE(got, with_duplicates * (1 - 1e-9)) << "trial " << trial;
    if (optimum <= deepseek * (1 + 1e-12)) {
      EXPECT_NEAR(got, optimum, 1e-9 * optimum) << "trial " << trial;
    } else {
      EXPECT_LE(got, deepseek * (1 + 1e-9)) << "trial " << trial;
    }
  }
}

}  // namespace
}  // namespace eplb
