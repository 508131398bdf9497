// The size limits of include/eplb/topology.h: requests beyond each one fail with InvalidArgument
// naming the limit, before anything of the requested size is allocated or read.

#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <new>
#include <numeric>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "eplb/load_matrix.h"
#include "eplb/plan.h"
#include "eplb/policy.h"
#include "eplb/topology.h"
#include "support/check_plan.h"

namespace {

// The largest single allocation since the last reset, fed by the operator new below: a request
// refused "before allocating" must leave it small.
std::atomic<size_t> largest_allocation{0};

// Runs `request` and returns the largest single allocation it made.
template <typename Request>
size_t largest_allocation_of(Request&& request) {
  largest_allocation = 0;
  request();
  return largest_allocation;
}

}  // namespace

// Replaces the global allocation functions of this test binary (every form a sanitizer runtime
// would otherwise supply, aligned ones aside) with counting pass-throughs to malloc and free.
// The deletes stay out of line: inlined, GCC would see free() of memory from operator new and
// warn (-Wmismatched-new-delete) although the pair matches.
void* operator new(size_t size) {
  size_t seen = largest_allocation.load(std::memory_order_relaxed);
  while (size > seen && !largest_allocation.compare_exchange_weak(seen, size)) {
  }
  if (void* memory = std::malloc(size == 0 ? 1 : size)) return memory;
  throw std::bad_alloc();
}
void* operator new[](size_t size) { return operator new(size); }
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  try {
    return operator new(size);
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}
void* operator new[](size_t size, const std::nothrow_t& tag) noexcept {
  return operator new(size, tag);
}
[[gnu::noinline]] void operator delete(void* memory) noexcept { std::free(memory); }
[[gnu::noinline]] void operator delete[](void* memory) noexcept { std::free(memory); }
[[gnu::noinline]] void operator delete(void* memory, size_t) noexcept { std::free(memory); }
[[gnu::noinline]] void operator delete[](void* memory, size_t) noexcept { std::free(memory); }
[[gnu::noinline]] void operator delete(void* memory, const std::nothrow_t&) noexcept {
  std::free(memory);
}
[[gnu::noinline]] void operator delete[](void* memory, const std::nothrow_t&) noexcept {
  std::free(memory);
}

namespace eplb {
namespace {

constexpr size_t kSmall = size_t{1} << 20;  // 1 MiB: far below any refused request

TEST(LimitsTest, TopologyRefusesEverySizeBeyondItsLimit) {
  EXPECT_THROW_MESSAGE(Topology(kMaxReplicas + 1, 1, 1, 1), InvalidArgument,
                       "Topology: num_replicas = 1048577 exceeds the limit of 1048576");
  EXPECT_THROW_MESSAGE(Topology(kMaxReplicas, kMaxExperts + 1, 1, 1), InvalidArgument,
                       "Topology: num_groups = 65537 exceeds the limit of 65536");
  EXPECT_THROW_MESSAGE(Topology(kMaxReplicas, 1, kMaxReplicas + 1, 1), InvalidArgument,
                       "Topology: num_nodes = 1048577 exceeds the limit of 1048576");
  EXPECT_THROW_MESSAGE(Topology(kMaxReplicas, 1, 1, kMaxReplicas + 1), InvalidArgument,
                       "Topology: num_gpus = 1048577 exceeds the limit of 1048576");
  EXPECT_THROW_MESSAGE(Topology(std::numeric_limits<int64_t>::max(), 1, 1, 1), InvalidArgument,
                       "Topology: num_replicas = 9223372036854775807 exceeds the limit of 1048576");
}

TEST(LimitsTest, TopologyAcceptsSizesAtTheLimits) {
  const Topology topology(kMaxReplicas, kMaxExperts, kMaxReplicas, kMaxReplicas);
  EXPECT_EQ(topology.slots_per_gpu(), 1);
  EXPECT_NO_THROW(topology.check_experts(kMaxExperts, "test"));
  EXPECT_THROW_MESSAGE(topology.check_experts(kMaxExperts + 1, "test"), InvalidArgument,
                       "test: num_experts = 65537 exceeds the limit of 65536");
}

TEST(LimitsTest, LoadMatrixChecksSizesBeforeReadingValues) {
  // A view of 4 values claiming far more: only the shape check may run, never a read past the
  // buffer (AddressSanitizer would catch one); the NaN proves no value was scanned first.
  const std::vector<double> values{NAN, 1, 2, 3};
  const std::span<const double> data(values);
  const size_t largest = largest_allocation_of([&] {
    EXPECT_THROW_MESSAGE(LoadMatrix(data, kMaxLayers + 1, 1), InvalidArgument,
                         "loads: num_layers = 65537 exceeds the limit of 65536");
    EXPECT_THROW_MESSAGE(LoadMatrix(data, 1, kMaxExperts + 1), InvalidArgument,
                         "loads: num_experts = 65537 exceeds the limit of 65536");
    EXPECT_THROW_MESSAGE(LoadMatrix(data, std::numeric_limits<int64_t>::max(), 1),
                         InvalidArgument,
                         "loads: num_layers = 9223372036854775807 exceeds the limit of 65536");
    EXPECT_THROW_MESSAGE(LoadMatrix(data, kMaxLayers, kMaxExperts), InvalidArgument,
                         "loads: size = 4 must equal num_layers * num_experts = 65536 * 65536");
    EXPECT_THROW_MESSAGE(LoadMatrix(data, 1, 5), InvalidArgument,
                         "loads: size = 4 must equal num_layers * num_experts = 1 * 5");
  });
  EXPECT_LT(largest, kSmall);
  EXPECT_THROW_MESSAGE(LoadMatrix(data, 2, 2), InvalidArgument,
                       "loads: loads[0][0] = nan must be finite and non-negative");
}

TEST(LimitsTest, LoadMatrixAcceptsSizesAtTheLimits) {
  const std::vector<int32_t> column(kMaxLayers, 1);
  EXPECT_EQ(LoadMatrix(std::span<const int32_t>(column), kMaxLayers, 1).num_layers(), kMaxLayers);
  EXPECT_EQ(LoadMatrix(std::span<const int32_t>(column), 1, kMaxExperts).num_experts(),
            kMaxExperts);
}

TEST(LimitsTest, RebalanceRefusesPlansBeyondTheEntryLimitBeforeAllocating) {
  // 512 layers x 2^20 slots = 2^29 phy2log entries (4 GiB) from 512 loads.
  const std::vector<double> values(512, 1.0);
  const LoadMatrix loads(std::span<const double>(values), 512, 1);
  const Topology topology(kMaxReplicas, 1, 1, 1);
  for (Policy policy : kAllPolicies) {
    SCOPED_TRACE(to_string(policy));
    const size_t largest = largest_allocation_of([&] {
      EXPECT_THROW_MESSAGE(rebalance_experts(loads, topology, {.policy = policy}), InvalidArgument,
                           "rebalance_experts: num_layers * num_replicas = 512 * 1048576 exceeds "
                           "the limit of 268435456");
    });
    EXPECT_LT(largest, kSmall);
  }
}

TEST(LimitsTest, RebalanceRefusesALog2phyBeyondTheEntryLimitBeforeAllocatingIt) {
  // One hot expert among 16384 takes 16385 of the 32768 slots: log2phy would be
  // 16384 x 16385 entries (2 GiB) although phy2log holds only 32768.
  std::vector<double> values(16384, 1.0);
  values[0] = 1e9;
  const LoadMatrix loads(std::span<const double>(values), 1, 16384);
  const Topology topology(32768, 1, 1, 1);
  for (Policy policy : kAllPolicies) {
    SCOPED_TRACE(to_string(policy));
    const size_t largest = largest_allocation_of([&] {
      try {
        rebalance_experts(loads, topology, {.policy = policy});
        ADD_FAILURE() << "no exception";
      } catch (const InvalidArgument& error) {
        EXPECT_EQ(std::string(error.what()),
                  "rebalance_experts: log2phy would hold 268451840 entries, more than the limit "
                  "of 268435456");
      }
    });
    EXPECT_LT(largest, 16 * kSmall);
  }
}

TEST(LimitsTest, PlanFromPhy2logRefusesALog2phyBeyondTheEntryLimitBeforeAllocatingIt) {
  std::vector<int64_t> phy2log(32768);
  for (int64_t slot = 0; slot < 16383; ++slot) phy2log[slot] = slot + 1;  // the rest hold 0
  const size_t largest = largest_allocation_of([&] {
    EXPECT_THROW_MESSAGE(plan_from_phy2log(phy2log, 1, 32768, 16384), InvalidArgument,
                         "plan_from_phy2log: log2phy would hold 268451840 entries, more than the "
                         "limit of 268435456");
  });
  EXPECT_LT(largest, 16 * kSmall);
  // The counter sees allocations: a plan of the same size within the limit allocates its arrays.
  std::iota(phy2log.begin(), phy2log.end(), 0);
  Plan plan;
  EXPECT_GE(largest_allocation_of([&] { plan = plan_from_phy2log(phy2log, 1, 32768, 32768); }),
            32768 * sizeof(int64_t));
}

TEST(LimitsTest, ValidateRefusesExpertsBeyondTheLimit) {
  Plan plan;
  plan.num_layers = 1;
  plan.num_experts = kMaxExperts + 1;
  plan.num_replicas = kMaxReplicas;
  plan.max_replicas = 1;
  EXPECT_THROW_MESSAGE(validate(plan, Topology(kMaxReplicas, 1, 1, 1)), InvalidArgument,
                       "validate: num_experts = 65537 exceeds the limit of 65536");
}

TEST(LimitsTest, PlanFromPhy2logRefusesSizesBeyondTheLimitsBeforeMultiplying) {
  // Sizes whose products overflow int64 or claim far more than the (empty or tiny) phy2log.
  const std::vector<int64_t> one_slot{0};
  const size_t largest = largest_allocation_of([&] {
    EXPECT_THROW_MESSAGE(plan_from_phy2log(one_slot, 1, 1, int64_t{1} << 40), InvalidArgument,
                         "plan_from_phy2log: num_experts = 1099511627776 exceeds the limit of "
                         "65536");
    EXPECT_THROW_MESSAGE(plan_from_phy2log({}, int64_t{1} << 32, int64_t{1} << 32, 1),
                         InvalidArgument,
                         "plan_from_phy2log: num_layers = 4294967296 exceeds the limit of 65536");
    EXPECT_THROW_MESSAGE(plan_from_phy2log({}, 512, kMaxReplicas, 1), InvalidArgument,
                         "plan_from_phy2log: num_layers * num_replicas = 536870912 exceeds the "
                         "limit of 268435456");
  });
  EXPECT_LT(largest, kSmall);
}

TEST(LimitsTest, ValidateRefusesLayersBeyondTheLimitBeforeMultiplying) {
  // Unchecked, 2^62 * 4 would wrap to 0 and let the empty arrays pass the size checks.
  Plan plan;
  plan.num_layers = int64_t{1} << 62;
  plan.num_experts = 4;
  plan.num_replicas = 4;
  plan.max_replicas = 1;
  EXPECT_THROW_MESSAGE(validate(plan, Topology(4, 1, 1, 1)), InvalidArgument,
                       "validate: num_layers = 4611686018427387904 exceeds the limit of 65536");
}

}  // namespace
}  // namespace eplb
