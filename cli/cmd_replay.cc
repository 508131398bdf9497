// `eplb replay`: walk a trace, re-plan every interval with each planner compared, and report
// in-sample and next-window balance and the slots each re-plan moves.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <ostream>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "eplb/error.h"
#include "eplb/io/files.h"
#include "eplb/io/io.h"
#include "eplb/io/replay.h"
#include "eplb/planner.h"
#include "eplb/policy.h"
#include "eplb/replay.h"
#include "options.h"
#include "plot.h"
#include "report.h"

namespace eplb::cli {
namespace {

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
  double move_budget = -1;
  double min_gain = 0;
  int64_t expert_bytes = 0;
  int64_t layers_per_chunk = 0;
  int64_t repair_rounds = PlannerOptions{}.repair_rounds;
  SearchOptions search;
  std::string plot;
  std::string json;
  bool quiet = false;

  ReplayPlanner planner(const std::string& spec, const Topology& topology) const {
    ReplayOptions base{.interval = interval,
                       .tolerance = tolerance,
                       .move_budget = move_budget,
                       .min_gain = min_gain,
                       .expert_bytes = expert_bytes,
                       .layers_per_chunk = layers_per_chunk};
    base.planner.repair_rounds = repair_rounds;
    search.apply(base.planner.rebalance, topology.num_gpus());
    return parse_replay_planner(spec, base, history, swing_weight);
  }
};

// A self-tuning history names the candidate each plan was made on.
bool names_histories(const io::ReplayRun& run) {
  return !run.result.windows.empty() && !run.result.windows.front().history.empty();
}

// How much of the re-plans' gain on the planning loads their first chunks buy, with what share
// of the moves.
std::string chunk_summary(const io::ReplayRun& run) {
  int64_t num_chunked = 0, num_chunks = 0, first_moves = 0, all_moves = 0;
  double first_gain = 0, all_gain = 0;
  for (const ReplayWindow& window : run.result.windows) {
    if (window.chunks.empty()) continue;
    ++num_chunked;
    num_chunks += static_cast<int64_t>(window.chunks.size());
    first_moves += window.chunks.front().moved_slots;
    all_moves += window.moved_slots;
    first_gain += window.chunks.front().balancedness_after - window.chunks_start;
    all_gain += window.chunks.back().balancedness_after - window.chunks_start;
  }
  if (num_chunked == 0) return "no re-plan moved a slot";
  std::string text =
      format_fixed(static_cast<double>(num_chunks) / static_cast<double>(num_chunked), 1) +
      " per re-plan; the first holds " +
      format_fixed(100.0 * static_cast<double>(first_moves) / static_cast<double>(all_moves), 1) +
      " % of the moves";
  if (all_gain > 0) text += " and buys " + format_fixed(100 * first_gain / all_gain, 1) + " % of the gain";
  return text;
}

void print_windows(std::ostream& out, const std::vector<io::ReplayRun>& runs) {
  out << "\n| window |";
  for (const io::ReplayRun& run : runs) {
    out << ' ' << run.name << " in-sample | next-window | moved |";
    if (names_histories(run)) out << " history |";
  }
  out << "\n|---:|";
  for (const io::ReplayRun& run : runs) {
    out << (names_histories(run) ? "---:|---:|---:|---|" : "---:|---:|---:|");
  }
  out << '\n';
  for (size_t window = 0; window < runs.front().result.windows.size(); ++window) {
    out << "| " << runs.front().result.windows[window].window << " |";
    for (const io::ReplayRun& run : runs) {
      const ReplayWindow& row = run.result.windows[window];
      out << ' ' << format_fixed(row.in_sample, 4) << " | " << format_fixed(row.next_window, 4)
          << " | " << row.moved_slots << " |";
      if (names_histories(run)) out << ' ' << row.history << " |";
    }
    out << '\n';
  }
}

void print_summary(std::ostream& out, const std::vector<io::ReplayRun>& runs) {
  out << "\n| planner | in-sample | next-window | moved slots per re-plan | ms per plan |\n"
         "|---|---:|---:|---:|---:|\n";
  for (const io::ReplayRun& run : runs) {
    const ReplaySummary& summary = run.result.summary;
    out << "| " << run.name << " | " << format_fixed(summary.in_sample, 4) << " | "
        << format_fixed(summary.next_window, 4) << " | "
        << (summary.num_replans > 0 ? format_fixed(100 * summary.moved_fraction, 2) + " %"
                                    : std::string("none (one plan, no re-plan)"))
        << " | " << format_fixed(summary.plan_ms, 2) << " |\n";
  }
}

// The trace, cut to `--steps` when given.
Trace read_replay_trace(const LoadsOptions& loads) {
  Trace trace = io::read_trace(loads.path, {.format = io::parse_load_format(loads.format),
                                            .num_layers = loads.num_layers,
                                            .num_experts = loads.num_experts,
                                            .deployed_plan = loads.deployed_plan});
  if (loads.steps.empty()) return trace;
  try {
    return trace.slice_steps(loads.step_range());
  } catch (const InvalidArgument& error) {
    throw InvalidArgument("--steps " + loads.steps + " of " + loads.path + ": " + error.what());
  }
}

void run_replay(const ReplayCliOptions& options) {
  if (options.min_gain > 0 && options.tolerance < 0 && options.move_budget < 0) {
    throw UsageError("--min-gain needs a re-plan mode: --tolerance or --move-budget");
  }
  if (options.layers_per_chunk > 0 && options.tolerance < 0 && options.move_budget < 0) {
    throw UsageError("--layers-per-chunk needs a re-plan mode: --tolerance or --move-budget");
  }
  check_output_option(options.plot, "--plot");
  check_output_option(options.json, "--json");
  // Python, eplb.plot and matplotlib are checked before the replay, which takes minutes.
  std::optional<Plotter> plotter;
  if (!options.plot.empty()) plotter.emplace(options.plot);
  const Trace trace = read_replay_trace(options.loads);
  const Topology topology = from_options([&] {
    return replay_topology(trace.num_experts, options.num_replicas, options.num_groups,
                           options.num_nodes, options.num_gpus);
  });
  std::vector<ReplayPlanner> planners;
  for (const std::string& spec : options.planners) {
    planners.push_back(from_options([&] { return options.planner(spec, topology); }));
  }
  std::ostream& out = report_stream(options.quiet, writes_stdout(options.json));

  const std::string steps =
      options.loads.steps.empty() ? "" : "steps " + options.loads.steps + ": ";
  print_field(out, "trace",
              options.loads.path + " (" + steps + std::to_string(trace.num_steps) + " steps x " +
                  std::to_string(trace.num_layers) + " layers x " +
                  std::to_string(trace.num_experts) + " experts)");
  print_topology(out, topology);
  print_field(out, "re-plans", "every " + std::to_string(options.interval) +
                                         " steps, scored on the next " +
                                         std::to_string(options.interval));
  std::string mode = "fresh plan every window";
  if (options.move_budget >= 0) {
    mode = "replan moving at most " + format_fixed(100 * options.move_budget, 2) +
           " % of the slots";
  } else if (options.tolerance >= 0) {
    mode = "replan within " + format_fixed(100 * options.tolerance, 2) +
           " % of a fresh plan's heaviest GPU";
  }
  if (options.min_gain > 0) {
    mode += ", kept when it gains under " + format_fixed(options.min_gain, 4) + " balancedness";
  }
  print_field(out, "re-plan mode", mode);
  const bool show_progress = shows_progress(options.quiet);
  std::vector<io::ReplayRun> runs;
  for (const ReplayPlanner& planner : planners) {
    ReplayProgress progress;
    if (show_progress) {
      progress = [&planner](int64_t done, int64_t total) {
        draw_progress(planner.name, done, total, "windows");
      };
    }
    runs.push_back({.name = planner.name,
                    .interval = options.interval,
                    .layers_per_chunk = options.layers_per_chunk,
                    .result = replay(trace, topology, planner.options, progress)});
  }
  print_windows(out, runs);
  print_summary(out, runs);
  if (options.min_gain > 0) {
    out << '\n';
    for (const io::ReplayRun& run : runs) {
      print_field(out, run.name + " kept",
                  std::to_string(run.result.summary.num_skipped) + " of " +
                      std::to_string(run.result.summary.num_replans) +
                      " re-plans (gain under --min-gain)");
    }
  }
  if (options.layers_per_chunk > 0) {
    out << '\n';
    for (const io::ReplayRun& run : runs) print_field(out, run.name + " chunks", chunk_summary(run));
  }
  // The JSON report first: a plot that fails after the replay does not lose it.
  if (!options.json.empty()) {
    io::write_replay_json(options.json, runs);
    print_field(out, "\njson written to", options.json);
  }
  if (plotter) {
    plotter->draw(io::replay_json(runs),
                  "Replay of " + std::filesystem::path(options.loads.path).filename().string() +
                      ": " + std::to_string(topology.num_replicas()) + " slots on " +
                      std::to_string(topology.num_gpus()) + " GPUs");
    print_field(out, "\nplot written to", options.plot);
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
      ->check(integer_in(1));
  command->add_option("--replicas", options->num_replicas,
                      "Slots per layer (default: experts + 32, rounded up to whole GPUs)")
      ->check(integer_in(0));
  command->add_option("--groups", options->num_groups,
                      "Expert groups (default: 8 when the experts divide by 8, else 1)")
      ->check(integer_in(0));
  command->add_option("--nodes", options->num_nodes, "Nodes (default 4)")->check(integer_in(0));
  command->add_option("--gpus", options->num_gpus, "GPUs (default 32)")->check(integer_in(0));
  command
      ->add_option("--policy", options->planners,
                   "Planners to compare: POLICY or POLICY@HISTORY, comma-separated "
                   "(e.g. deepseek,balanced,global@last; default: global, the planner that "
                   "holds up best on the next window)")
      ->delimiter(',')
      ->type_name("LIST")
      ->capture_default_str();
  command->add_option("--history", options->history,
                      "History of every planner without @HISTORY: auto (self-tuning), robust, "
                      "last, window:STEPS, decay:HALF_LIFE, mix:HALF_LIFE/LONG|all[/W], or those "
                      "with share-, sqrt- or clip- (share-decay:8; docs/online.md) (default: "
                      "last for deepseek, auto for the others)");
  command->add_option("--swing-weight", options->swing_weight,
                      "Weight of each expert's load swing in the planning loads (default 0)")
      ->check(finite_in(0, HUGE_VAL));
  command->add_option("--tolerance", options->tolerance,
                      "Re-plan by moving few slots while staying within this fraction of a "
                      "fresh plan's heaviest GPU (e.g. 0.005); without it every window gets a "
                      "fresh plan")
      ->check(finite_in(0, HUGE_VAL));
  command
      ->add_option("--move-budget", options->move_budget,
                   "Re-plan by moving at most this fraction of all slots (e.g. 0.05), where it "
                   "buys the most balance")
      ->check(finite_in(0, 1))
      ->excludes("--tolerance");
  command->add_option("--min-gain", options->min_gain,
                      "With --tolerance or --move-budget: keep the plan when a re-plan would "
                      "raise GPU balancedness on the planning loads by less (e.g. 0.01)")
      ->check(finite_in(0, 1));
  command->add_option("--expert-bytes", options->expert_bytes,
                      "Bytes of one expert's weights: the JSON report's transfer schedules then "
                      "give bytes per GPU")
      ->check(integer_in(0));
  command->add_option("--layers-per-chunk", options->layers_per_chunk,
                      "With --tolerance or --move-budget: group each re-plan's moves into "
                      "chunks of this many layers, the most balance first (the JSON report "
                      "lists them), as servers that update a few layers per step apply them")
      ->check(integer_in(1));
  command->add_option("--repair-rounds", options->repair_rounds,
                      "Ruin-and-recreate rounds per layer when re-planning with --tolerance: "
                      "more rounds move fewer slots and take longer")
      ->check(integer_in(0, kMaxRepairRounds))
      ->capture_default_str();
  add_search_options(*command, options->search,
                     "GPUs to plan around, e.g. 3,17 (balanced and global; deepseek plans on "
                     "all)");
  command
      ->add_option("--plot", options->plot,
                   "Draw balancedness and moved slots per window (.png, .svg, .pdf, ...) with "
                   "eplb's Python package and matplotlib (pip install 'eplb[plot]'; the Python "
                   "is $EPLB_PYTHON, else python3 beside eplb, else on PATH)")
      ->type_name("FILE")
      ->check(CLI::Validator(
          [](const std::string& path) -> std::string {
            return path == "-" ? "a plot is written to a named file whose ending names its "
                                 "format, not to standard output"
                               : "";
          },
          ""));
  command
      ->add_option("--json", options->json, "Write the windows and summary as JSON (- for stdout)")
      ->type_name("FILE");
  add_quiet_flag(*command, options->quiet);
  return {command, [options] { run_replay(*options); }};
}

}  // namespace eplb::cli
