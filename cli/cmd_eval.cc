// `eplb eval`: score a saved plan on a load file, e.g. the window after the one it was made on.
#include <iostream>
#include <ostream>
#include <memory>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "eplb/error.h"
#include "eplb/io/io.h"
#include "eplb/io/plan_report.h"
#include "eplb/metrics.h"
#include "eplb/routing.h"
#include "options.h"
#include "report.h"

namespace eplb::cli {
namespace {

struct EvalOptions {
  PlanInputOptions plan;
  LoadsOptions loads;
  RoutingCliOptions routing;
  std::string json;
  bool quiet = false;
};

// evaluate() would also refuse a mismatch, but only the CLI knows both file names.
void check_shapes(const EvalOptions& options, const Plan& plan, const Loads& loads) {
  if (loads.num_layers == plan.num_layers && loads.num_experts == plan.num_experts) return;
  if (loads.num_experts == plan.num_replicas && plan.num_replicas > plan.num_experts &&
      options.loads.deployed_plan.empty()) {
    throw InvalidArgument(
        "eval: " + options.loads.path + " counts " + std::to_string(loads.num_experts) +
        " per layer, the plan's num_slots, not its " + std::to_string(plan.num_experts) +
        " experts: TensorRT-LLM statistics recorded with its load balancer active count "
        "slots; give the plan the server ran with --deployed-plan PLAN to map them to experts");
  }
  throw InvalidArgument("eval: loads shape [num_layers, num_experts] = [" +
                        std::to_string(loads.num_layers) + ", " +
                        std::to_string(loads.num_experts) + "] of " + options.loads.path +
                        " must equal the plan's [" + std::to_string(plan.num_layers) + ", " +
                        std::to_string(plan.num_experts) + "] of " + options.plan.path);
}

void run_eval(const EvalOptions& options) {
  check_output_option(options.json, "--json");
  if (options.plan.path == "-" && options.loads.path == "-") {
    throw UsageError("eval: the plan and the load file cannot both be - (stdin is read once)");
  }
  const io::PlanFile plan_file = read_plan(options.plan);
  const Loads loads = read_loads(options.loads);
  check_shapes(options, plan_file.plan, loads);
  const PlanMetrics metrics = evaluate(plan_file.plan, loads.view(), plan_file.topology);
  std::optional<Routing> routing;
  std::optional<TrafficMetrics> traffic;
  if (options.routing.given()) {
    routing = options.routing.read(plan_file.plan.num_layers, plan_file.plan.num_experts);
    traffic = evaluate_traffic(plan_file.plan, *routing, plan_file.topology);
  }

  if (!options.json.empty()) {
    io::PlanReport report =
        make_plan_report("eval", options.loads, loads, plan_file.topology, metrics);
    report.policy = plan_file.policy;
    report.dense_layers = plan_file.dense_layers;
    report.plan_path = options.plan.path;
    // null when detected: the reader does not say which format it found
    if (options.plan.format != "auto") report.plan_format = options.plan.format;
    if (traffic) {
      report.routing_path = options.routing.path;
      report.routing_tokens = routing->num_tokens;
      report.traffic = traffic;
    }
    io::write_plan_report(options.json, report);
  }
  std::ostream& out = report_stream(options.quiet, writes_stdout(options.json));
  print_field(out, "plan", options.plan.path);
  print_loads(out, options.loads.path, options.loads.step_range(), loads.num_layers,
              loads.num_experts);
  print_topology(out, plan_file.topology);
  print_field(out, "policy", plan_file.policy.empty() ? "(not recorded)" : plan_file.policy);
  print_metrics(out, metrics);
  if (traffic) print_traffic(out, *traffic, options.routing.path, routing->num_tokens);
  if (!options.json.empty()) print_field(out, "report written to", options.json);
}

}  // namespace

Command add_eval_command(CLI::App& parent) {
  auto options = std::make_shared<EvalOptions>();
  CLI::App* command =
      parent.add_subcommand("eval", "Score a saved plan on a load file and report its balance");
  add_plan_input_options(*command, options->plan, "--plan-format");
  add_loads_options(*command, options->loads);
  add_routing_options(*command, options->routing,
                      "also report the nodes and GPUs each token is sent to");
  command->add_option("--json", options->json, "Write the report as JSON (- for stdout)")
      ->type_name("FILE");
  add_quiet_flag(*command, options->quiet);
  return {command, [options] { run_eval(*options); }};
}

}  // namespace eplb::cli
