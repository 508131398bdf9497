#include "options.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <utility>

#include <CLI/CLI.hpp>

#include "eplb/error.h"
#include "eplb/io/layers.h"
#include "eplb/io/routing.h"
#include "eplb/policy.h"

namespace eplb::cli {
namespace {

// Lets the library's own parser judge a value while CLI11 parses, so a bad name is a usage error
// (exit 2) carrying the library's message, and the accepted names live in one place.
template <typename Parse>
CLI::Validator checked_by(Parse parse, std::string description) {
  return CLI::Validator(
      [parse](std::string& value) -> std::string {
        try {
          parse(value);
          return {};
        } catch (const Error& error) {
          return error.what();
        }
      },
      std::move(description));
}

// "%g" keeps limits such as 1e+300 readable; std::to_string(double) would print every digit.
std::string format_limit(double value) {
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

}  // namespace

CLI::Validator finite_in(double min, double max) {
  const std::string range = std::isinf(max) ? ">= " + format_limit(min)
                                            : "in [" + format_limit(min) + ", " +
                                                  format_limit(max) + "]";
  return CLI::Validator(
      [min, max, range](std::string& text) -> std::string {
        double value = 0;
        if (!CLI::detail::lexical_cast(text, value) || !std::isfinite(value) || value < min ||
            value > max) {
          return "value " + text + " must be a finite number " + range;
        }
        return {};
      },
      "FLOAT " + range);
}

CLI::Validator integer_in(int64_t min, int64_t max) {
  const std::string range = max == std::numeric_limits<int64_t>::max()
                                ? ">= " + std::to_string(min)
                                : "in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
  return CLI::Validator(
      [min, max, range](std::string& text) -> std::string {
        const char* end = text.data() + text.size();
        int64_t value = 0;
        uint64_t large = 0;
        if (const auto parsed = std::from_chars(text.data(), end, value);
            parsed.ec == std::errc() && parsed.ptr == end) {
          if (value >= min && value <= max) return {};
        } else if (const auto parsed_large = std::from_chars(text.data(), end, large);
                   max == std::numeric_limits<int64_t>::max() &&
                   parsed_large.ec == std::errc() && parsed_large.ptr == end) {
          return {};  // a seed above int64_t (from_chars takes no minus sign for unsigned)
        }
        return "value " + text + " must be an integer " + range;
      },
      "INT " + range);
}

StepRange LoadsOptions::step_range() const {
  return steps.empty() ? StepRange{} : parse_step_range(steps);
}

Routing RoutingCliOptions::read(int64_t num_layers, int64_t num_experts) const {
  return io::read_routing(path, {.num_layers = num_layers,
                                 .num_experts = num_experts,
                                 .passes = passes.empty() ? StepRange{} : parse_step_range(passes)});
}

void add_routing_options(CLI::App& command, RoutingCliOptions& options, const std::string& what) {
  CLI::Option* routing =
      command
          .add_option("--routing", options.path,
                      "Per-token routing sample (topk-jsonl, one line per layer per forward "
                      "pass, as many layers as the plan's MoE layers): " + what)
          ->type_name("FILE");
  command
      .add_option("--routing-passes", options.passes,
                  "Forward passes of --routing whose tokens form the sample, half-open and "
                  "0-based: A:B, A: or :B (default: all)")
      ->type_name("A:B")
      ->needs(routing)
      ->check(checked_by([](const std::string& text) { parse_step_range(text); }, ""));
}

void add_loads_options(CLI::App& command, LoadsOptions& options) {
  command
      .add_option("loads", options.path,
                  "Load file (vLLM, SGLang or JSON/CSV/NPY matrix, JSONL) or TensorRT-LLM "
                  "statistics folder")
      ->required()
      ->type_name("LOADFILE");
  command
      .add_option("--steps", options.steps,
                  "Steps to sum, half-open and 0-based: A:B, A: or :B (default: all)")
      ->type_name("A:B")
      ->check(checked_by([](const std::string& text) { parse_step_range(text); }, ""));
  command.add_option("--input-format", options.format, "Format of the load file")
      ->capture_default_str()
      ->type_name("FORMAT")
      ->check(checked_by([](const std::string& name) { io::parse_load_format(name); },
                         "auto|vllm|json|csv|npy|sglang|counts|layer-jsonl|topk-jsonl|trtllm"));
  command
      .add_option("--layers", options.num_layers,
                  "Layers per forward pass of a topk-jsonl trace (required there)")
      ->check(integer_in(1));
  command
      .add_option("--experts", options.num_experts,
                  "Experts of a topk-jsonl trace (default: largest expert id + 1)")
      ->check(integer_in(1));
  command
      .add_option("--deployed-plan", options.deployed_plan,
                  "The plan the server ran while recording, when the loads count its slots "
                  "(TensorRT-LLM statistics with its load balancer active): maps them to experts")
      ->type_name("PLAN");
}

Loads read_loads(const LoadsOptions& options) {
  return io::read_loads(options.path, options.step_range(),
                        {.format = io::parse_load_format(options.format),
                         .num_layers = options.num_layers,
                         .num_experts = options.num_experts,
                         .deployed_plan = options.deployed_plan});
}

io::PlanReport make_plan_report(std::string command, const LoadsOptions& options,
                                const Loads& loads, const Topology& topology,
                                PlanMetrics metrics) {
  return io::PlanReport{.command = std::move(command),
                        .loads_path = options.path,
                        .steps = options.steps,
                        .num_layers = loads.num_layers,
                        .num_experts = loads.num_experts,
                        .topology = topology,
                        .policy = {},
                        .dense_layers = {},
                        .excluded_gpus = {},
                        .plan_path = {},
                        .plan_format = {},
                        .plan_ms = -1,
                        .metrics = std::move(metrics),
                        .routing_path = {},
                        .routing_tokens = 0,
                        .traffic = std::nullopt};
}

void add_policy_option(CLI::App& command, std::string& policy) {
  command.add_option("--policy", policy, "Planning policy: deepseek, balanced or global")
      ->capture_default_str()
      ->type_name("deepseek|balanced|global")
      ->check(checked_by([](const std::string& name) { parse_policy(name); }, ""));
}

void add_plan_input_options(CLI::App& command, PlanInputOptions& options,
                            const std::string& format_flag) {
  command.add_option("plan", options.path, "Plan file (eplb, sglang, trtllm or vllm-ascend)")
      ->required()
      ->type_name("PLAN");
  command.add_option(format_flag, options.format, "Format of the plan file")
      ->capture_default_str()
      ->type_name("FORMAT")
      ->check(checked_by([](const std::string& name) { io::parse_plan_format(name); },
                         "auto|eplb|sglang|trtllm|vllm-ascend"));
  command
      .add_option("--gpus", options.num_gpus,
                  "GPUs, when the plan does not record them (sglang, trtllm)")
      ->check(integer_in(1));
  command.add_option("--groups", options.num_groups, "Expert groups (default: 1 when unrecorded)")
      ->check(integer_in(1));
  command.add_option("--nodes", options.num_nodes, "Nodes (default: 1 when unrecorded)")
      ->check(integer_in(1));
  add_dense_layers_option(
      command, options.dense_layers,
      "Dense layers of the model, e.g. 0:3 (rows a vllm-ascend plan leaves out), or none",
      /*allow_auto=*/false);
}

void add_dense_layers_option(CLI::App& command, std::string& dense_layers,
                             const std::string& description, bool allow_auto) {
  CLI::Option* option = command.add_option("--dense-layers", dense_layers, description)
                            ->type_name("LIST")
                            ->check(checked_by(
                                [allow_auto](const std::string& text) {
                                  if (!(allow_auto && text == "auto")) io::parse_layer_list(text);
                                },
                                ""));
  if (allow_auto) option->capture_default_str();
}

io::PlanFile read_plan(const PlanInputOptions& options) {
  return io::read_plan(options.path, {.format = io::parse_plan_format(options.format),
                                      .num_gpus = options.num_gpus,
                                      .num_groups = options.num_groups,
                                      .num_nodes = options.num_nodes,
                                      .dense_layers = io::parse_layer_list(options.dense_layers),
                                      .no_dense_layers = options.dense_layers == "none"});
}

CLI::Option* add_plan_format_option(CLI::App& command, std::string& format) {
  return command
      .add_option("--format", format,
                  "Plan format to write: eplb (with metrics), sglang, trtllm, vllm-ascend")
      ->capture_default_str()
      ->type_name("FORMAT")
      ->check(checked_by(
          [](const std::string& name) {
            if (io::parse_plan_format(name) == io::PlanFormat::automatic) {
              throw InvalidArgument("format = auto is for reading; name a plan format to write");
            }
          },
          "eplb|sglang|trtllm|vllm-ascend"));
}

std::string format_layer_list(const std::vector<int64_t>& layers) {
  std::string text;
  for (const int64_t layer : layers) text += (text.empty() ? "" : ", ") + std::to_string(layer);
  return text;
}

void SearchOptions::apply(RebalanceOptions& rebalance, int64_t num_gpus) const {
  rebalance.effort = effort;
  rebalance.seed = seed;
  rebalance.threads = threads;
  rebalance.cross_node_replicas = cross_node_replicas;
  rebalance.active_gpus = active_gpus_without(excluded_gpus, num_gpus);
}

void add_search_options(CLI::App& command, SearchOptions& options,
                        const std::string& exclude_description) {
  command.add_option("--effort", options.effort, "Search effort (higher: slower)")
      ->capture_default_str()
      ->check(integer_in(1, kMaxEffort));
  command.add_option("--seed", options.seed, "Seed of the randomized search")
      ->capture_default_str()
      ->check(integer_in(0));
  command.add_option("--threads", options.threads,
                     "Threads planning layers in parallel (plans do not depend on it)")
      ->capture_default_str()
      ->check(integer_in(1, kMaxThreads));
  command.add_option("--exclude-gpus", options.excluded_gpus, exclude_description)
      ->delimiter(',')
      ->type_name("LIST");
  command.add_option("--cross-node-replicas", options.cross_node_replicas,
                     "balanced, hierarchical: replicas per layer allowed outside their group's "
                     "node (0 = strict hierarchy)")
      ->capture_default_str()
      ->check(integer_in(0));
}

std::vector<bool> active_gpus_without(const std::vector<int64_t>& excluded_gpus, int64_t num_gpus) {
  std::vector<bool> active;
  if (excluded_gpus.empty()) return active;
  active.assign(static_cast<size_t>(std::max<int64_t>(num_gpus, 0)), true);
  for (const int64_t gpu : excluded_gpus) {
    if (gpu < 0 || gpu >= num_gpus) {
      throw UsageError("--exclude-gpus: gpu " + std::to_string(gpu) + " must be in [0, " +
                       std::to_string(num_gpus) + ")");
    }
    if (!active[static_cast<size_t>(gpu)]) {
      throw UsageError("--exclude-gpus: gpu " + std::to_string(gpu) + " is listed twice");
    }
    active[static_cast<size_t>(gpu)] = false;
  }
  return active;
}

}  // namespace eplb::cli
