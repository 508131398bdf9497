// `eplb plan`: plan a placement for a load file, report its quality and optionally save it.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <ostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "eplb/io/files.h"
#include "eplb/io/io.h"
#include "eplb/io/layers.h"
#include "eplb/io/plan_report.h"
#include "eplb/routing.h"
#include "eplb/traffic.h"
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
  RoutingCliOptions routing;
  double balance_tolerance = TrafficOptions{}.balance_tolerance;
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

// Where the model's dense layers are among the rows of the loads.
struct DenseLayers {
  std::vector<int64_t> rows;
  /// The loads held MoE layers only and got zero rows at `rows`.
  bool inserted = false;
  /// Not told, and no row is all zero: the rows may be MoE layers only.
  bool unknown = false;
};

// sglang and trtllm number the model's layers: a recording of MoE layers only (vLLM's, 58 rows
// for DeepSeek-V3) written there unchanged would give layer 6's plan to layer 3.
bool numbers_model_layers(const PlanOptions& options) {
  if (options.output.empty()) return false;
  const io::PlanFormat format = io::parse_plan_format(options.format);
  return format == io::PlanFormat::sglang || format == io::PlanFormat::trtllm;
}

// Returns the dense layers: all-zero rows ("auto"), none, or the given list. A list names rows
// that are all zero, or, when no row is (the loads hold MoE layers only), where zero rows go.
DenseLayers resolve_dense_layers(const PlanOptions& options, Loads& loads) {
  const std::vector<int64_t> zero_rows = io::find_dense_layers(loads.view());
  const std::string& spec = options.dense_layers;
  if (spec == "auto") {
    if (!zero_rows.empty()) return {zero_rows};
    if (numbers_model_layers(options)) {
      throw InvalidArgument(
          "plan: --dense-layers auto: --format " + options.format +
          " numbers the model's layers, but none of the " + std::to_string(loads.num_layers) +
          " rows of " + options.loads.path +
          " is all zero (dense): give the model's dense layers (--dense-layers 0:3 for "
          "DeepSeek-V3, whose MoE-only recordings such as vLLM's have 58 rows) or "
          "--dense-layers none when every row is a model layer");
    }
    return {.rows = {}, .inserted = false, .unknown = true};
  }
  std::vector<int64_t> dense = io::parse_layer_list(spec);
  if (!dense.empty() && zero_rows.empty()) {
    loads = io::insert_dense_layers(loads, dense);
    return {dense, /*inserted=*/true};
  }
  io::check_dense_layers(loads.view(), dense);
  return {dense};
}
// Plans the MoE layers only; dense layers keep the trivial placement so that rows still match
// the model's layer numbering.
// With a routing sample (of the MoE layers), the plan is then placed for traffic.
Plan plan_layers(const Loads& loads, const std::vector<int64_t>& dense, const Topology& topology,
                 const RebalanceOptions& rebalance, const Routing* routing,
                 const TrafficOptions& traffic) {
  const Loads moe_loads = dense.empty() ? loads : io::remove_layers(loads, dense);
  Plan moe_plan = rebalance_experts(moe_loads.view(), topology, rebalance);
  if (routing != nullptr) {
    moe_plan = place_for_traffic(moe_plan, moe_loads.view(), *routing, topology, traffic);
  }
  return dense.empty() ? moe_plan : io::insert_dense_layers(moe_plan, dense);
}

// Server formats cannot leave a GPU empty (io::check_server_plan()); say so before planning.
void check_excluded_gpus_format(const PlanOptions& options) {
  const std::vector<int64_t>& excluded = options.search.excluded_gpus;
  if (excluded.empty() || options.output.empty() ||
      io::parse_plan_format(options.format) == io::PlanFormat::eplb) {
    return;
  }
  const int64_t healthy = options.num_gpus - static_cast<int64_t>(excluded.size());
  throw InvalidArgument("plan: --exclude-gpus " + format_layer_list(excluded) + ": --format " +
                        options.format +
                        " cannot leave a GPU empty, so its server would route tokens to the "
                        "excluded GPUs (docs/formats.md); restart the server on the " +
                        std::to_string(healthy) + " other GPUs and plan for those (--gpus " +
                        std::to_string(healthy) + "), or write --format eplb");
}

void run_plan(const PlanOptions& options) {
  check_excluded_gpus_format(options);
  check_output_option(options.output, "--output");
  check_output_option(options.json, "--json");
  const Topology topology = from_options([&] {
    return Topology(options.num_replicas, options.num_groups, options.num_nodes,
                    options.num_gpus);
  });
  const RebalanceOptions rebalance = from_options([&] { return options.rebalance_options(); });
  Loads loads = read_loads(options.loads);
  const int64_t num_rows = loads.num_layers;
  const DenseLayers dense_layers = resolve_dense_layers(options, loads);
  const std::vector<int64_t>& dense = dense_layers.rows;
  const LoadMatrix view = loads.view();
  const Policy policy = rebalance.policy;
  std::optional<Routing> routing;
  if (options.routing.given()) {
    // Traffic-aware placement moves replicas across nodes: only `global` has none to keep.
    if (policy != Policy::global) {
      throw UsageError("plan: --routing places replicas across nodes, which --policy " +
                       std::string(to_string(policy)) + " keeps on their group's node: use "
                       "--policy global");
    }
    routing = options.routing.read(loads.num_layers - static_cast<int64_t>(dense.size()),
                                   loads.num_experts);
  }

  const auto start = std::chrono::steady_clock::now();
  Plan plan = plan_layers(loads, dense, topology, rebalance, routing ? &*routing : nullptr,
                          {.balance_tolerance = options.balance_tolerance});
  const std::chrono::duration<double, std::milli> elapsed =
      std::chrono::steady_clock::now() - start;
  const PlanMetrics metrics = evaluate(plan, view, topology);
  // The sample covers the MoE layers: scored on the plan without the dense ones.
  std::optional<TrafficMetrics> traffic;
  if (routing) {
    traffic = evaluate_traffic(dense.empty() ? plan : io::remove_layers(plan, dense), *routing,
                               topology);
  }

  // Files first: the report says what was written, so it comes only once that has worked.
  const io::PlanFormat format = io::parse_plan_format(options.format);
  if (!options.output.empty()) {
    io::write_plan(options.output,
                   // Moved, not copied: the plan can take gigabytes and is not needed after.
                   io::PlanFile{.plan = std::move(plan),
                                .topology = topology,
                                .policy = std::string(to_string(policy)),
                                .dense_layers = dense,
                                .moe_layers_only = dense_layers.unknown},
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
    if (traffic) {
      report.routing_path = options.routing.path;
      report.routing_tokens = routing->num_tokens;
      report.traffic = traffic;
    }
    io::write_plan_report(options.json, report);
  }

  std::ostream& out =
      report_stream(options.quiet, writes_stdout(options.output) || writes_stdout(options.json));
  print_loads(out, options.loads.path, options.loads.step_range(), num_rows,
              loads.num_experts);
  if (dense_layers.inserted) {
    print_field(out, "dense layers",
                format_layer_list(dense) + " (inserted: the " + std::to_string(num_rows) +
                    " rows are MoE layers; trivial placement)");
  } else if (!dense.empty()) {
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
  if (traffic) print_traffic(out, *traffic, options.routing.path, routing->num_tokens);
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
  add_routing_options(*command, options->routing,
                      "place co-routed experts on shared nodes (--policy global), and report "
                      "the nodes and GPUs each token is sent to");
  command
      ->add_option("--balance-tolerance", options->balance_tolerance,
                   "With --routing: how much heavier each layer's heaviest GPU may get than the "
                   "traffic-unaware plan's, as a fraction")
      ->check(finite_in(0, HUGE_VAL))
      ->capture_default_str();
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
                          "(all-zero rows), none, or a list such as 0:3 (all-zero rows, or "
                          "where they go when every row is a MoE layer); --format sglang and "
                          "trtllm need it when no row is all zero",
                          /*allow_auto=*/true);
  CLI::Option* output =
      command->add_option("-o,--output", options->output, "Write the plan (--format; - for stdout)")
          ->type_name("FILE");
  add_plan_format_option(*command, options->format)->needs(output);
  command->add_option("--json", options->json, "Write the report as JSON (- for stdout)")
      ->type_name("FILE");
  add_quiet_flag(*command, options->quiet);
  return {command, [options] { run_plan(*options); }};
}

}  // namespace eplb::cli
