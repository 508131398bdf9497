// `eplb plan`: plan a placement for a load file, report its quality and optionally save it.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <ostream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "eplb/io/io.h"
#include "eplb/io/layers.h"
#include "eplb/io/plan_report.h"
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
  std::string json;
  bool quiet = false;
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

  // Files first: the report says what was written, so it comes only once that has worked.
  const io::PlanFormat format = io::parse_plan_format(options.format);
  if (!options.output.empty()) {
    io::write_plan(options.output,
                   io::PlanFile{.plan = plan,
                                .topology = topology,
                                .policy = std::string(to_string(policy)),
                                .dense_layers = dense},
                   format, metrics);
  }
  if (!options.json.empty()) {
    io::PlanReport report = make_plan_report("plan", options.loads, loads, topology, metrics);
    report.policy = to_string(policy);
    report.dense_layers = dense;
    report.excluded_gpus = options.search.excluded_gpus;
    report.plan_path = options.output;
    report.plan_format = io::to_string(format);
    report.plan_ms = elapsed.count();
    io::write_plan_report(options.json, report);
  }

  std::ostream& out = report_stream(options.quiet, options.output == "-" || options.json == "-");
  print_loads(out, options.loads.path, options.loads.step_range(), loads.num_layers,
              loads.num_experts);
  if (!dense.empty()) {
    print_field(out, "dense layers", format_layer_list(dense) + " (trivial placement)");
  }
  print_topology(out, topology);
  print_field(out, "policy", to_string(policy));
  if (!options.search.excluded_gpus.empty()) {
    print_field(out, "excluded GPUs", format_layer_list(options.search.excluded_gpus));
    if (policy == Policy::balanced && topology.is_hierarchical()) {
      print_field(out, "hierarchy",
                  uses_hierarchy(topology, view.num_experts(), rebalance)
                      ? std::string("kept (nodes differ in capacity)")
                      : std::string("dropped: a node keeps too few GPUs for its experts, "
                                    "planned on all healthy GPUs as one level"));
    }
  }
  print_metrics(out, metrics);
  print_field(out, "time", format_fixed(elapsed.count(), 3) + " ms");
  if (!options.output.empty()) {
    print_field(out, "plan written to",
                options.output + " (" + std::string(io::to_string(format)) + ")");
  }
  if (!options.json.empty()) print_field(out, "report written to", options.json);
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
  command->add_option("--json", options->json, "Write the report as JSON (- for stdout)")
      ->type_name("FILE");
  add_quiet_flag(*command, options->quiet);
  return {command, [options] { run_plan(*options); }};
}

}  // namespace eplb::cli
