// Fuzzes Planner::replan(): the bytes give a small topology, options (excluded GPUs included,
// sometimes only for the new plan, as when a GPU fails between two plans; 0 to 120 repair
// rounds), a history and the steps of two windows. The re-plan must be valid, keep the healthy
// GPUs only, fit the tolerance against a fresh plan, and its migration must rebuild it from the
// current plan.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "eplb/eplb.h"
#include "fuzz_input.h"
#include "support/check_plan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  eplb::fuzz::ByteReader in(data, size);
  const int64_t num_nodes = in.pick(1, 4);
  const int64_t num_gpus = num_nodes * in.pick(1, 6);
  const int64_t num_replicas = num_gpus * in.pick(1, 4);
  const int64_t num_groups = in.pick(1, 8);
  int64_t num_experts = in.pick(1, num_replicas);
  if (in.pick(0, 7) != 0 && num_experts > num_groups) num_experts -= num_experts % num_groups;
  const int64_t num_layers = in.pick(1, 3);
  eplb::PlannerOptions options{.rebalance = eplb::fuzz::read_options(in, num_gpus)};
  constexpr const char* kHistories[] = {"robust", "last", "window:4", "decay:2"};
  const int64_t interval = in.pick(1, 4);
  const double tolerance = static_cast<double>(in.pick(0, 40)) / 1000;
  const bool failed_between = in.pick(0, 3) == 0;
  options.repair_rounds = in.pick(0, 3) * 40;
  try {
    options.history = eplb::parse_history(kHistories[in.pick(0, 3)], interval);
    options.history.swing_weight = static_cast<double>(in.pick(0, 2)) / 2;
    const eplb::Topology topology(num_replicas, num_groups, num_nodes, num_gpus);
    eplb::PlannerOptions before = options;
    if (failed_between) before.rebalance.active_gpus.clear();
    eplb::Planner first(topology, num_layers, num_experts, before);
    eplb::Planner planner(topology, num_layers, num_experts, options);
    for (int64_t step = 0; step < 2 * interval; ++step) {
      const eplb::fuzz::FuzzLoads loads(in, num_layers, num_experts);
      if (step < interval) first.observe(loads.view());
      planner.observe(loads.view());
    }
    const eplb::Plan current = first.plan();
    const eplb::Replan replan = planner.replan(current, tolerance);
    const std::string problem = eplb::testing::check_plan(replan.plan, topology, num_experts);
    if (!problem.empty()) eplb::fuzz::fail("invalid re-plan: " + problem);
    eplb::fuzz::require_valid(replan.plan, topology,
                              {.active_gpus = options.rebalance.active_gpus});
    const eplb::Plan rebuilt = eplb::apply_migration(current, replan.migration, topology);
    if (rebuilt.phy2log != replan.plan.phy2log) {
      eplb::fuzz::fail("the migration does not rebuild the re-plan");
    }
    const eplb::Loads loads = planner.planning_loads();
    const double fresh = eplb::evaluate(planner.plan(), loads.view(), topology).gpu_balancedness;
    const double got = eplb::evaluate(replan.plan, loads.view(), topology).gpu_balancedness;
    if (got < fresh / (1 + tolerance) * (1 - 1e-9)) {
      eplb::fuzz::fail("re-plan balancedness " + std::to_string(got) + " below fresh " +
                       std::to_string(fresh) + " / (1 + " + std::to_string(tolerance) + ")");
    }
  } catch (const eplb::Error&) {
  }
  return 0;
}
