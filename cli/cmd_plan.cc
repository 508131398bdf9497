// `eplb plan`: plan a placement for a load file, report its quality and optionally save it.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "eplb/io/io.h"
#include "eplb/metrics.h"
#include "eplb/policy.h"
#include "eplb/topology.h"
#include "options.h"
#include "report.h"

namespace eplb::cli {
namespace {

struct PlanOptions {
  LoadsOptions loads;
  int64_t num_replicas = 0;
  int64_t num_groups = 0;
  int64_t num_nodes = 0;
  int64_t num_gpus = 0;
  std::string policy = std::string(to_string(RebalanceOptions{}.policy));
  std::string output;
};

void run_plan(const PlanOptions& options) {
  const Loads loads = read_loads(options.loads);
  const LoadMatrix view = loads.view();
  const Topology topology(options.num_replicas, options.num_groups, options.num_nodes,
                          options.num_gpus);
  const Policy policy = parse_policy(options.policy);

  const auto start = std::chrono::steady_clock::now();
  const Plan plan = rebalance_experts(view, topology, {.policy = policy});
  const std::chrono::duration<double, std::milli> elapsed =
      std::chrono::steady_clock::now() - start;
  const PlanMetrics metrics = evaluate(plan, view, topology);

  print_loads(std::cout, options.loads.path, options.loads.step_range(), loads.num_layers,
              loads.num_experts);
  print_topology(std::cout, topology);
  print_field(std::cout, "policy", to_string(policy));
  print_metrics(std::cout, metrics);
  print_field(std::cout, "time", format_fixed(elapsed.count(), 3) + " ms");
  if (!options.output.empty()) {
    io::write_plan_json(options.output,
                        io::PlanFile{.plan = plan, .topology = topology,
                                     .policy = std::string(to_string(policy))},
                        metrics);
    print_field(std::cout, "plan written to", options.output);
  }
}

}  // namespace

Command add_plan_command(CLI::App& parent) {
  auto options = std::make_shared<PlanOptions>();
  CLI::App* command = parent.add_subcommand(
      "plan", "Plan a placement of the experts of a load file and report its balance");
  command->add_option("--replicas", options->num_replicas, "Physical expert slots per layer")
      ->required();
  command->add_option("--groups", options->num_groups, "Expert groups (node-limited routing)")
      ->required();
  command->add_option("--nodes", options->num_nodes, "Nodes")->required();
  command->add_option("--gpus", options->num_gpus, "GPUs over all nodes")->required();
  add_loads_options(*command, options->loads);
  add_policy_option(*command, options->policy);
  command->add_option("-o,--output", options->output, "Write the plan (with its metrics) as JSON")
      ->type_name("PLAN.json");
  return {command, [options] { run_plan(*options); }};
}

}  // namespace eplb::cli
