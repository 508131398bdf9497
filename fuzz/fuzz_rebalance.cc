// Fuzzes rebalance_experts(): the bytes give a small topology (sometimes invalid), options and
// loads (sometimes NaN, infinite or negative). Every plan must pass check_plan(), and no layer's
// heaviest GPU may be lighter than the global lower bound.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "eplb/eplb.h"
#include "fuzz_input.h"
#include "support/check_plan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  eplb::fuzz::ByteReader in(data, size);
  const int64_t num_nodes = in.pick(1, 4);
  const int64_t num_gpus = num_nodes * in.pick(1, 8) + in.rarely_off_by_one();
  const int64_t num_replicas = num_gpus * in.pick(1, 4) + in.rarely_off_by_one();
  const int64_t num_groups = in.pick(1, 8);
  int64_t num_experts = in.pick(1, std::max<int64_t>(num_replicas, 0) + 1);
  // Mostly experts that the groups divide, so that the hierarchical path runs.
  if (in.pick(0, 7) != 0 && num_experts > num_groups) num_experts -= num_experts % num_groups;
  const int64_t num_layers = in.pick(1, 3);
  const eplb::RebalanceOptions options{.policy = eplb::kAllPolicies[in.pick(0, 2)],
                                       .packer = static_cast<eplb::PackingStrategy>(in.pick(0, 2)),
                                       .effort = in.pick(1, 3),
                                       .seed = in.byte(),
                                       .threads = in.pick(1, 3)};
  const eplb::fuzz::FuzzLoads values(in, num_layers, num_experts);
  try {
    const eplb::Topology topology(num_replicas, num_groups, num_nodes, num_gpus);
    const eplb::LoadMatrix loads = values.view();
    const eplb::Plan plan = eplb::rebalance_experts(loads, topology, options);
    const std::string problem = eplb::testing::check_plan(plan, topology, num_experts);
    if (!problem.empty()) eplb::fuzz::fail("invalid plan: " + problem);
    const eplb::PlanMetrics metrics = eplb::evaluate(plan, loads, topology);
    for (int64_t layer = 0; layer < num_layers; ++layer) {
      // Rounding: relative for normal loads, absolute for subnormal ones (5e-324 / 2 is 0). The
      // bound overflows to inf when a layer's total exceeds DBL_MAX; only finite ones are checked.
      const double bound = metrics.lower_bound[layer];
      const double slack = std::max(bound * 1e-9, 1e-300);
      if (std::isfinite(bound) && !(metrics.max_gpu_load[layer] >= bound - slack)) {
        eplb::fuzz::fail("layer " + std::to_string(layer) + ": heaviest GPU below the lower bound");
      }
    }
  } catch (const eplb::Error&) {
  }
  return 0;
}
