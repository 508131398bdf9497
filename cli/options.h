#pragma once
// Command-line options shared by subcommands: which load or plan file to read and how.

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "eplb/error.h"
#include "eplb/io/io.h"
#include "eplb/io/plan_report.h"
#include "eplb/routing.h"
#include "eplb/load_matrix.h"
#include "eplb/policy.h"
#include "eplb/trace.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace eplb::cli {

/// An option value that only a check made after parsing can refuse (sizes that do not divide,
/// say). main() reports it like CLI11's own usage errors, with exit code 2.
class UsageError : public InvalidArgument {
 public:
  using InvalidArgument::InvalidArgument;
};

/// Runs `make` and turns the InvalidArgument it throws into a UsageError: for building a value
/// from options alone, before any file is read.
template <typename Make>
auto from_options(Make make) -> decltype(make()) {
  try {
    return make();
  } catch (const UsageError&) {
    throw;
  } catch (const InvalidArgument& error) {
    throw UsageError(error.what());
  }
}

/// A check for a floating-point option: a finite number in [min, max] (max may be infinite).
/// NaN and infinities are refused, which CLI11's NonNegativeNumber and Range let through.
CLI::Validator finite_in(double min, double max);

/// A check for an integer option in [min, max]. CLI11's PositiveNumber and Range print their
/// limits as doubles (DBL_MAX in full); this names them as integers.
CLI::Validator integer_in(int64_t min, int64_t max = std::numeric_limits<int64_t>::max());

/// The load file arguments as typed; validated while parsing, so converting them cannot fail.
struct LoadsOptions {
  std::string path;
  std::string steps;
  std::string format = "auto";
  int64_t num_layers = 0;
  int64_t num_experts = 0;
  std::string deployed_plan;

  /// Returns the step range, StepRange{} when `--steps` was not given.
  StepRange step_range() const;
};

/// Adds the positional LOADFILE, `--steps A:B`, `--input-format`, for per-token traces
/// `--layers` and `--experts`, and `--deployed-plan` (loads that count slots) to `command`.
void add_loads_options(CLI::App& command, LoadsOptions& options);

/// Reads and sums the loads that `options` describe (throws eplb::Error).
Loads read_loads(const LoadsOptions& options);

/// `--routing FILE` and `--routing-passes A:B`: a per-token routing sample (topk-jsonl).
struct RoutingCliOptions {
  std::string path;
  std::string passes;

  bool given() const { return !path.empty(); }
  /// Reads the sample for `num_layers` layers of `num_experts` experts (throws eplb::Error).
  Routing read(int64_t num_layers, int64_t num_experts) const;
};

/// Adds `--routing` and `--routing-passes` to `command`; `what` says what the sample is for.
void add_routing_options(CLI::App& command, RoutingCliOptions& options, const std::string& what);

/// Returns the --json report of `plan` or `eval` (`command`) with the loads, topology and metrics
/// filled in; the caller adds what only it knows (policy, plan file, time).
io::PlanReport make_plan_report(std::string command, const LoadsOptions& options,
                                const Loads& loads, const Topology& topology,
                                PlanMetrics metrics);

/// Adds `--policy NAME` (choices listed in --help), checked by eplb::parse_policy() while parsing.
void add_policy_option(CLI::App& command, std::string& policy);

/// The arguments that say how to read a plan file, as typed.
struct PlanInputOptions {
  std::string path;
  std::string format = "auto";
  int64_t num_gpus = 0;
  int64_t num_groups = 0;
  int64_t num_nodes = 0;
  std::string dense_layers;
};

/// Adds the positional PLAN, `format_flag` (the plan's format), `--gpus`, `--groups`, `--nodes`
/// and `--dense-layers` (what a plan format may not record) to `command`.
void add_plan_input_options(CLI::App& command, PlanInputOptions& options,
                            const std::string& format_flag);

/// Reads the plan file that `options` describe (throws eplb::Error).
io::PlanFile read_plan(const PlanInputOptions& options);

/// Adds `--format NAME` (a plan format to write, checked while parsing) to `command`.
CLI::Option* add_plan_format_option(CLI::App& command, std::string& format);

/// Adds `--dense-layers LIST` (checked by io::parse_layer_list(); "auto" too when `allow_auto`).
void add_dense_layers_option(CLI::App& command, std::string& dense_layers,
                             const std::string& description, bool allow_auto);

/// The search options `plan` and `replay` share, as typed.
struct SearchOptions {
  int64_t effort = RebalanceOptions{}.effort;
  uint64_t seed = RebalanceOptions{}.seed;
  int64_t threads = RebalanceOptions{}.threads;
  int64_t cross_node_replicas = 0;
  std::vector<int64_t> excluded_gpus;

  /// Sets these options in `rebalance` (active GPUs out of `num_gpus`; throws InvalidArgument
  /// naming an excluded GPU outside the range).
  void apply(RebalanceOptions& rebalance, int64_t num_gpus) const;
};

/// Adds `--effort`, `--seed`, `--threads`, `--cross-node-replicas` and `--exclude-gpus LIST`
/// (described by `exclude_description`) to `command`.
void add_search_options(CLI::App& command, SearchOptions& options,
                        const std::string& exclude_description);

/// Returns `active_gpus` for `--exclude-gpus`: empty when nothing is excluded, else one flag per
/// GPU, false for the excluded ones. Throws UsageError naming a GPU outside [0, num_gpus) or one
/// listed twice.
std::vector<bool> active_gpus_without(const std::vector<int64_t>& excluded_gpus, int64_t num_gpus);

/// Returns `layers` as "0, 1, 2".
std::string format_layer_list(const std::vector<int64_t>& layers);

}  // namespace eplb::cli
