// `eplb plan`: plan a placement for a load file, report its quality and optionally save it.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "eplb/io/io.h"
#include "eplb/io/layers.h"
#include "eplb/metrics.h"
#include "eplb/error.h"
#include "eplb/packing.h"
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
  std::string format = "eplb";
  std::string dense_layers = "auto";
  std::string packer = std::string(to_string(RebalanceOptions{}.packer));
  SearchOptions search;

  RebalanceOptions rebalance_options() const {
    RebalanceOptions rebalance{.policy = parse_policy(policy),
                               .packer = parse_packing_strategy(packer)};
    search.apply(rebalance, num_gpus);
    return rebalance;
  }
};

// Returns the dense layers: all-zero rows ("auto"), none, or the given list (checked).
std::vector<int64_t> dense_layers_of(const std::string& spec, const LoadMatrix& loads) {
  if (spec == "auto") return io::find_dense_layers(loads);
  std::vector<int64_t> dense = io::parse_layer_list(spec);
  io::check_dense_layers(loads, dense);
  return dense;
}

// Plans the MoE layers only; dense layers keep the trivial placement so that rows still match
// the model's layer numbering.
Plan plan_layers(const Loads& loads, const std::vector<int64_t>& dense, const Topology& topology,
                 const RebalanceOptions& rebalance) {
  if (dense.empty()) return rebalance_experts(loads.view(), topology, rebalance);
  const Loads moe_loads = io::remove_layers(loads, dense);
  const Plan moe_plan = rebalance_experts(moe_loads.view(), topology, rebalance);
  return io::insert_dense_layers(moe_plan, dense);
}

void run_plan(const PlanOptions& options) {
  const Topology topology = from_options([&] {
    return Topology(options.num_replicas, options.num_groups, options.num_nodes,
                    options.num_gpus);
  });
  const RebalanceOptions rebalance = from_options([&] { return options.rebalance_options(); });
  const Loads loads = read_loads(options.loads);
  const LoadMatrix view = loads.view();
  const Policy policy = rebalance.policy;
  const std::vector<int64_t> dense = dense_layers_of(options.dense_layers, view);

  const auto start = std::chrono::steady_clock::now();
  const Plan plan = plan_layers(loads, dense, topology, rebalance);
  const std::chrono::duration<double, std::milli> elapsed =
      std::chrono::steady_clock::now() - start;
  const PlanMetrics metrics = evaluate(plan, view, topology);

  print_loads(std::cout, options.loads.path, options.loads.step_range(), loads.num_layers,
              loads.num_experts);
  if (!dense.empty()) {
    print_field(std::cout, "dense layers", format_layer_list(dense) + " (trivial placement)");
  }
  print_topology(std::cout, topology);
  print_field(std::cout, "policy", to_string(policy));
  if (!options.search.excluded_gpus.empty()) {
    print_field(std::cout, "excluded GPUs", format_layer_list(options.search.excluded_gpus));
    if (policy == Policy::balanced && topology.is_hierarchical()) {
      print_field(std::cout, "hierarchy",
                  uses_hierarchy(topology, view.num_experts(), rebalance)
                      ? std::string("kept (nodes differ in capacity)")
                      : std::string("dropped: a node keeps too few GPUs for its experts, "
                                    "planned on all healthy GPUs as one level"));
    }
  }
  print_metrics(std::cout, metrics);
  print_field(std::cout, "time", format_fixed(elapsed.count(), 3) + " ms");
  if (!options.output.empty()) {
    const io::PlanFormat format = io::parse_plan_format(options.format);
    io::write_plan(options.output,
                   io::PlanFile{.plan = plan,
                                .topology = topology,
                                .policy = std::string(to_string(policy)),
                                .dense_layers = dense},
                   format, metrics);
    print_field(std::cout, "plan written to",
                options.output + " (" + std::string(io::to_string(format)) + ")");
  }
}

}  // namespace

Command add_plan_command(CLI::App& parent) {
  auto options = std::make_shared<PlanOptions>();
  CLI::App* command = parent.add_subcommand(
      "plan", "Plan a placement of the experts of a load file and report its balance");
  command->add_option("--replicas", options->num_replicas, "Physical expert slots per layer")
      ->required()
      ->check(integer_in(1));
  command->add_option("--groups", options->num_groups, "Expert groups (node-limited routing)")
      ->required()
      ->check(integer_in(1));
  command->add_option("--nodes", options->num_nodes, "Nodes")->required()->check(integer_in(1));
  command->add_option("--gpus", options->num_gpus, "GPUs over all nodes")
      ->required()
      ->check(integer_in(1));
  add_loads_options(*command, options->loads);
  add_policy_option(*command, options->policy);
  command->add_option("--packer", options->packer, "Packing strategy of balanced and global")
      ->type_name("greedy|snake|multistart")
      ->capture_default_str()
      ->check([](const std::string& name) {
        try {
          parse_packing_strategy(name);
          return std::string();
        } catch (const Error& error) {
          return std::string(error.what());
        }
      });
  add_search_options(*command, options->search,
                     "Failed or drained GPUs to plan around, e.g. 3,17 (their slots get -1)");
  add_dense_layers_option(*command, options->dense_layers,
                          "Layers without routed experts, kept with a trivial placement: auto "
                          "(all-zero rows), none, or a list such as 0:3",
                          /*allow_auto=*/true);
  CLI::Option* output =
      command->add_option("-o,--output", options->output, "Write the plan (see --format)")
          ->type_name("FILE");
  add_plan_format_option(*command, options->format)->needs(output);
  return {command, [options] { run_plan(*options); }};
}

}  // namespace eplb::cli
