#include "eplb/replication.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include <gtest/gtest.h>

#include "eplb/bounds.h"
#include "eplb/error.h"
#include "support/check_plan.h"
#include "support/generators.h"

namespace eplb {
namespace {

double largest_load_per_replica(const std::vector<double>& loads, const std::vector<int64_t>& counts) {
  double largest = 0;
  for (size_t e = 0; e < loads.size(); ++e) largest = std::max(largest, loads[e] / double(counts[e]));
  return largest;
}

TEST(ReplicationTest, HottestExpertGetsExtraReplica) {
  EXPECT_EQ(replicate_greedy(std::vector<double>{10, 100, 20}, 4),
            (std::vector<int64_t>{1, 2, 1}));
  EXPECT_EQ(replicate_greedy(std::vector<double>{600, 560, 120, 120, 20, 10, 10, 10}, 16),
            (std::vector<int64_t>{5, 5, 1, 1, 1, 1, 1, 1}));
}

TEST(ReplicationTest, AllZeroLoadsSpreadReplicas) {
  EXPECT_EQ(replicate_greedy(std::vector<double>(4, 0.0), 7), (std::vector<int64_t>{2, 2, 2, 1}));
}

// Exhaustive check of the min-max optimality over all count vectors of small instances.
void best_counts(const std::vector<double>& loads, std::vector<int64_t>& counts, size_t expert,
                 int64_t remaining, double& best) {
  if (expert >= counts.size()) return;
  if (expert + 1 == counts.size()) {
    counts[expert] = remaining;
    best = std::min(best, largest_load_per_replica(loads, counts));
    return;
  }
  for (int64_t c = 1; c <= remaining - int64_t(loads.size() - expert - 1); ++c) {
    counts[expert] = c;
    best_counts(loads, counts, expert + 1, remaining - c, best);
  }
}

TEST(ReplicationTest, MinimizesLargestLoadPerReplica) {
  for (uint64_t seed = 0; seed < 200; ++seed) {
    SCOPED_TRACE(seed);
    const int64_t num_experts = 2 + int64_t(seed % 4);
    const int64_t num_replicas = num_experts + int64_t(seed % 5);
    const Loads loads = testing::make_loads(testing::Distribution::lognormal, 1, num_experts, seed);
    const auto counts = replicate_greedy(loads.values, num_replicas);
    EXPECT_EQ(std::accumulate(counts.begin(), counts.end(), int64_t{0}), num_replicas);
    std::vector<int64_t> scratch(num_experts);
    double best = 1e300;
    best_counts(loads.values, scratch, 0, num_replicas, best);
    EXPECT_DOUBLE_EQ(largest_load_per_replica(loads.values, counts), best);
    EXPECT_DOUBLE_EQ(min_max_replica_load(loads.values, num_replicas), best);
  }
}

TEST(ReplicationTest, RejectsTooFewReplicas) {
  EXPECT_THROW_MESSAGE(replicate_greedy(std::vector<double>{1, 2, 3}, 2), InvalidArgument,
                       "replicate_greedy: num_replicas = 2 must be at least num_experts = 3");
  EXPECT_THROW_MESSAGE(replicate_greedy(std::vector<double>{}, 2), InvalidArgument,
                       "replicate_greedy: loads must not be empty");
}

}  // namespace
}  // namespace eplb
