// `eplb replay`: walk a trace, re-plan every interval with each planner compared, and report
// in-sample and next-window balance and the slots each re-plan moves.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "eplb/error.h"
#include "eplb/io/io.h"
#include "eplb/io/replay.h"
#include "eplb/planner.h"
#include "eplb/policy.h"
#include "eplb/replay.h"
#include "options.h"
#include "report.h"

namespace eplb::cli {
namespace {

constexpr int kProgressWidth = 30;

struct ReplayCliOptions {
  LoadsOptions loads;
  int64_t interval = ReplayOptions{}.interval;
  int64_t num_replicas = 0;
  int64_t num_groups = 0;
  int64_t num_nodes = 0;
  int64_t num_gpus = 0;
  std::vector<std::string> planners = {std::string(kDefaultReplayPlanner)};
  std::string history;
  double swing_weight = -1;
  double tolerance = -1;
  int64_t repair_rounds = PlannerOptions{}.repair_rounds;
  SearchOptions search;
  std::string plot;
  std::string json;
  bool quiet = false;

  ReplayPlanner planner(const std::string& spec, const Topology& topology) const {
    ReplayOptions base{.interval = interval, .tolerance = tolerance};
    base.planner.repair_rounds = repair_rounds;
    search.apply(base.planner.rebalance, topology.num_gpus());
    return parse_replay_planner(spec, base, history, swing_weight);
  }
};

void draw_progress(const std::string& name, int64_t done, int64_t total) {
  const auto filled = static_cast<int>(kProgressWidth * done / total);
  std::fprintf(stderr, "\r%-16s [%s%s] %lld/%lld windows", name.c_str(),
               std::string(static_cast<size_t>(filled), '#').c_str(),
               std::string(static_cast<size_t>(kProgressWidth - filled), '.').c_str(),
               static_cast<long long>(done), static_cast<long long>(total));
  if (done == total) std::fputc('\n', stderr);
  std::fflush(stderr);
}

void print_windows(const std::vector<io::ReplayRun>& runs) {
  std::cout << "\n| window |";
  for (const io::ReplayRun& run : runs) {
    std::cout << ' ' << run.name << " in-sample | next-window | moved |";
  }
  std::cout << "\n|---:|";
  for (size_t idx = 0; idx < runs.size(); ++idx) std::cout << "---:|---:|---:|";
  std::cout << '\n';
  for (size_t window = 0; window < runs.front().result.windows.size(); ++window) {
    std::cout << "| " << runs.front().result.windows[window].window << " |";
    for (const io::ReplayRun& run : runs) {
      const ReplayWindow& row = run.result.windows[window];
      std::cout << ' ' << format_fixed(row.in_sample, 4) << " | "
                << format_fixed(row.next_window, 4) << " | " << row.moved_slots << " |";
    }
    std::cout << '\n';
  }
}

void print_summary(const std::vector<io::ReplayRun>& runs) {
  std::cout << "\n| planner | in-sample | next-window | moved slots per re-plan | ms per plan |\n"
               "|---|---:|---:|---:|---:|\n";
  for (const io::ReplayRun& run : runs) {
    const ReplaySummary& summary = run.result.summary;
    std::cout << "| " << run.name << " | " << format_fixed(summary.in_sample, 4) << " | "
              << format_fixed(summary.next_window, 4) << " | "
              << format_fixed(100 * summary.moved_fraction, 2) << " % | "
              << format_fixed(summary.plan_ms, 2) << " |\n";
  }
}

void run_replay(const ReplayCliOptions& options) {
  const Trace trace = io::read_trace(
      options.loads.path, {.format = io::parse_load_format(options.loads.format),
                           .num_layers = options.loads.num_layers,
                           .num_experts = options.loads.num_experts,
                           .deployed_plan = options.loads.deployed_plan});
  const Topology topology = replay_topology(trace.num_experts, options.num_replicas,
                                            options.num_groups, options.num_nodes,
                                            options.num_gpus);
  std::vector<ReplayPlanner> planners;
  for (const std::string& spec : options.planners) {
    planners.push_back(options.planner(spec, topology));
  }

  print_field(std::cout, "trace",
              options.loads.path + " (" + std::to_string(trace.num_steps) + " steps x " +
                  std::to_string(trace.num_layers) + " layers x " +
                  std::to_string(trace.num_experts) + " experts)");
  print_topology(std::cout, topology);
  print_field(std::cout, "re-plans", "every " + std::to_string(options.interval) +
                                         " steps, scored on the next " +
                                         std::to_string(options.interval));
  print_field(std::cout, "re-plan mode",
              options.tolerance < 0 ? std::string("fresh plan every window")
                                    : "replan within " + format_fixed(100 * options.tolerance, 2) +
                                          " % of a fresh plan's heaviest GPU");
  const bool show_progress = !options.quiet && isatty(STDERR_FILENO) != 0;
  std::vector<io::ReplayRun> runs;
  for (const ReplayPlanner& planner : planners) {
    ReplayProgress progress;
    if (show_progress) {
      progress = [&planner](int64_t done, int64_t total) {
        draw_progress(planner.name, done, total);
      };
    }
    runs.push_back({.name = planner.name,
                    .interval = options.interval,
                    .result = replay(trace, topology, planner.options, progress)});
  }
  print_windows(runs);
  print_summary(runs);
  if (!options.plot.empty()) {
    io::write_replay_plot(options.plot, runs,
                          "Replay of " + std::filesystem::path(options.loads.path).filename().string() +
                              ": " + std::to_string(topology.num_replicas()) + " slots on " +
                              std::to_string(topology.num_gpus()) + " GPUs");
    print_field(std::cout, "\nplot written to", options.plot);
  }
  if (!options.json.empty()) {
    io::write_replay_json(options.json, runs);
    print_field(std::cout, "\njson written to", options.json);
  }
}

}  // namespace

Command add_replay_command(CLI::App& parent) {
  auto options = std::make_shared<ReplayCliOptions>();
  CLI::App* command = parent.add_subcommand(
      "replay",
      "Replay a trace: re-plan every interval, score each plan on the next interval, count "
      "moved slots");
  add_loads_options(*command, options->loads);
  command->add_option("--interval", options->interval, "Steps between re-plans")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  command->add_option("--replicas", options->num_replicas,
                      "Slots per layer (default: experts + 32, rounded up to whole GPUs)");
  command->add_option("--groups", options->num_groups,
                      "Expert groups (default: 8 when the experts divide by 8, else 1)");
  command->add_option("--nodes", options->num_nodes, "Nodes (default 4)");
  command->add_option("--gpus", options->num_gpus, "GPUs (default 32)");
  command
      ->add_option("--policy", options->planners,
                   "Planners to compare: POLICY or POLICY@HISTORY, comma-separated "
                   "(e.g. deepseek,balanced,global@last; default: the most drift-robust)")
      ->delimiter(',')
      ->type_name("LIST")
      ->capture_default_str();
  command->add_option("--history", options->history,
                      "History of every planner without @HISTORY: robust, last, window:STEPS or "
                      "decay:HALF_LIFE (default: last for deepseek, robust for the others)");
  command->add_option("--swing-weight", options->swing_weight,
                      "Weight of each expert's load swing in the planning loads (default 0)")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--tolerance", options->tolerance,
                      "Re-plan by moving few slots while staying within this fraction of a "
                      "fresh plan's heaviest GPU (e.g. 0.005); without it every window gets a "
                      "fresh plan")
      ->check(CLI::NonNegativeNumber);
  command->add_option("--repair-rounds", options->repair_rounds,
                      "Ruin-and-recreate rounds per layer when re-planning with --tolerance: "
                      "more rounds move fewer slots and take longer")
      ->check(CLI::Range(int64_t{0}, kMaxRepairRounds))
      ->capture_default_str();
  add_search_options(*command, options->search,
                     "GPUs to plan around, e.g. 3,17 (balanced and global; deepseek plans on "
                     "all)");
  command->add_option("--plot", options->plot,
                      "Draw balancedness and moved slots per window (.png or .svg)")
      ->type_name("FILE");
  command->add_option("--json", options->json, "Write the windows and summary as JSON")
      ->type_name("FILE");
  command->add_flag("--quiet", options->quiet, "No progress bar");
  return {command, [options] { run_replay(*options); }};
}

}  // namespace eplb::cli
