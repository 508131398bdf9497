// Fuzzes rebalance_experts(): the bytes give a small topology (sometimes invalid), options
// (excluded GPUs and cross-node replicas included) and loads (sometimes NaN, infinite or
// negative). Every plan must pass check_plan() and validate() with its `active_gpus`, and no
// layer's heaviest GPU may be lighter than the global lower bound.

#include <algorithm>
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
  const eplb::RebalanceOptions options = eplb::fuzz::read_options(in, num_gpus);
  const eplb::fuzz::FuzzLoads values(in, num_layers, num_experts);
  try {
    const eplb::Topology topology(num_replicas, num_groups, num_nodes, num_gpus);
    const eplb::LoadMatrix loads = values.view();
    const eplb::Plan plan = eplb::rebalance_experts(loads, topology, options);
    const std::string problem = eplb::testing::check_plan(plan, topology, num_experts);
    if (!problem.empty()) eplb::fuzz::fail("invalid plan: " + problem);
    eplb::fuzz::require_valid(plan, topology, {.active_gpus = options.active_gpus});
    eplb::fuzz::require_lower_bound_holds(eplb::evaluate(plan, loads, topology));
  } catch (const eplb::Error&) {
  }
  return 0;
}
