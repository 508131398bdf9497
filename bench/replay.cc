// Online planning rows (issues #6, #19): replay of synthetic traces, re-planning every 100
// steps, and the curve of next-window balance against the move budget.
#include "replay.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "eplb/io/io.h"
#include "eplb/replay.h"
#include "eplb/synthetic.h"

namespace eplb::bench {
namespace {

struct ReplayRow {
  std::string planner;
  double tolerance = -1;
  int64_t repair_rounds = PlannerOptions{}.repair_rounds;
};

// Each planner fresh (as servers re-plan today), then the re-planning ones; the last spends
// seconds per re-plan on its search, so --quick leaves it out.
const std::vector<ReplayRow> kRows = {
    {"deepseek"},         {"balanced@last"},         {"balanced"},
    {"global@last"},      {"global"},                {"balanced", 0.005},
    {"global", 0.005},    {"global", 0.0},           {"global@last", 0.005},
    {"global", 0.005, 3000},
};

// The transfer schedules of the rows' re-plans (Migration::schedule from each previous plan).
void print_schedule_table(const std::vector<ReplayResult>& results, size_t num_rows) {
  std::printf("\nTransfer schedules of the re-plans (each GPU sends <= 1 and receives <= 1 expert "
              "per round; bound: the busiest GPU's copies):\n\n"
              "| planner | re-plan | copies per re-plan | rounds, mean (min-max) | rounds == bound "
              "| rounds by layer, mean | busiest sender / receiver | cross-node copies |\n"
              "|---|---|---:|---:|---:|---:|---:|---:|\n");
  for (size_t idx = 0; idx < num_rows; ++idx) {
    const ReplayRow& row = kRows[idx];
    const ReplayResult& result = results[idx];
    int64_t copies = 0;
    int64_t cross_node = 0;
    int64_t at_bound = 0;
    int64_t min_rounds = -1;
    double by_layer = 0;
    double sender = 0;
    double receiver = 0;
    const auto replans = static_cast<double>(result.summary.num_replans);
    if (replans == 0) continue;
    for (size_t window = 1; window < result.windows.size(); ++window) {
      const ReplaySchedule& schedule = result.windows[window].schedule;
      copies += schedule.network_copies;
      cross_node += schedule.cross_node_copies;
      at_bound += schedule.rounds == schedule.max_copies_per_gpu;
      min_rounds = min_rounds < 0 ? schedule.rounds : std::min(min_rounds, schedule.rounds);
      by_layer += static_cast<double>(schedule.rounds_by_layer) / replans;
      sender += static_cast<double>(schedule.max_sent) / replans;
      receiver += static_cast<double>(schedule.max_received) / replans;
    }
    char replan[64] = "fresh";
    if (row.tolerance >= 0) {
      std::snprintf(replan, sizeof(replan), "tolerance %.3g, %lld rounds", row.tolerance,
                    static_cast<long long>(row.repair_rounds));
    }
    std::printf("| %s | %s | %.0f | %.1f (%lld-%lld) | %lld/%lld | %.1f | %.1f / %.1f "
                "| %.1f %% |\n",
                row.planner.c_str(), replan, static_cast<double>(copies) / replans,
                result.summary.mean_rounds, static_cast<long long>(min_rounds),
                static_cast<long long>(result.summary.max_rounds),
                static_cast<long long>(at_bound),
                static_cast<long long>(result.summary.num_replans), by_layer, sender, receiver,
                100 * result.summary.cross_node_share);
  }
}

void print_trace_table(const std::string& title, const Trace& trace, int64_t interval,
                       bool quick) {
  const Topology topology = replay_topology(trace.num_experts);
  std::printf("\n### Replay: %s, %lld steps, re-plan every %lld steps, %lld slots on %lld GPUs\n\n",
              title.c_str(), static_cast<long long>(trace.num_steps),
              static_cast<long long>(interval), static_cast<long long>(topology.num_replicas()),
              static_cast<long long>(topology.num_gpus()));
  std::printf("| planner | re-plan | in-sample bal. | next-window bal. | next-window vs deepseek | "
              "windows above last-window planner | moved slots per re-plan | ms per plan |\n"
              "|---|---|---:|---:|---:|---:|---:|---:|\n");
  std::vector<ReplayResult> results;
  const size_t num_rows = quick ? kRows.size() - 1 : kRows.size();
  for (size_t idx = 0; idx < num_rows; ++idx) {
    const ReplayRow& row = kRows[idx];
    ReplayOptions base{.interval = interval, .tolerance = row.tolerance};
    base.planner.repair_rounds = row.repair_rounds;
    results.push_back(replay(trace, topology, parse_replay_planner(row.planner, base).options));
  }
  const ReplayResult& deepseek = results[0];
  for (size_t idx = 0; idx < num_rows; ++idx) {
    const ReplayRow& row = kRows[idx];
    const ReplayResult& result = results[idx];
    // The last-window planner of the same policy: the row named "POLICY@last" (deepseek is it).
    const std::string policy = row.planner.substr(0, row.planner.find('@'));
    std::string above = "-";
    for (size_t other = 0; other < num_rows; ++other) {
      if (kRows[other].planner != policy + "@last" || row.planner == kRows[other].planner ||
          row.tolerance >= 0) {
        continue;
      }
      int64_t wins = 0;
      for (size_t window = 0; window < result.windows.size(); ++window) {
        wins += result.windows[window].next_window > results[other].windows[window].next_window;
      }
      char text[64];
      std::snprintf(text, sizeof(text), "%lld/%zu (%+.4f)", static_cast<long long>(wins),
                    result.windows.size(),
                    result.summary.next_window - results[other].summary.next_window);
      above = text;
    }
    char replan[64] = "fresh";
    if (row.tolerance >= 0) {
      std::snprintf(replan, sizeof(replan), "tolerance %.3g, %lld rounds", row.tolerance,
                    static_cast<long long>(row.repair_rounds));
    }
    std::printf("| %s | %s | %.4f | %.4f | %+.4f | %s | %.2f %% | %.2f |\n", row.planner.c_str(),
                replan, result.summary.in_sample, result.summary.next_window,
                result.summary.next_window - deepseek.summary.next_window, above.c_str(),
                100 * result.summary.moved_fraction, result.summary.plan_ms);
  }
  print_schedule_table(results, num_rows);
}

// Issue #19's curve: next-window balance against the move budget, with the default planner.
void print_budget_table(const std::string& title, const Trace& trace, int64_t interval,
                        bool quick) {
  const Topology topology = replay_topology(trace.num_experts);
  std::printf("\n### Move budget: %s, re-plan every %lld steps, default planner (%s)\n\n"
              "| move budget | next-window bal. | in-sample bal. | moved slots per re-plan | "
              "ms per plan |\n|---:|---:|---:|---:|---:|\n",
              title.c_str(), static_cast<long long>(interval),
              std::string(kDefaultReplayPlanner).c_str());
  const std::vector<double> budgets =
      quick ? std::vector<double>{0, 0.05, -1}
            : std::vector<double>{0, 0.01, 0.02, 0.05, 0.1, 0.2, -1};
  for (const double budget : budgets) {
    ReplayOptions base{.interval = interval, .move_budget = budget};
    const ReplayResult result =
        replay(trace, topology, parse_replay_planner(kDefaultReplayPlanner, base).options);
    char label[32] = "fresh plan";
    if (budget >= 0) std::snprintf(label, sizeof(label), "%.0f %%", 100 * budget);
    std::printf("| %s | %.4f | %.4f | %.2f %% | %.2f |\n", label, result.summary.next_window,
                result.summary.in_sample, 100 * result.summary.moved_fraction,
                result.summary.plan_ms);
  }
}

}  // namespace

void print_replay_tables(bool quick, const std::filesystem::path& bundled_trace) {
  const int64_t num_steps = quick ? 400 : 1200;
  for (uint64_t seed : {1, 2}) {
    SyntheticTraceOptions options;
    options.num_steps = num_steps;
    options.seed = seed;
    const Trace trace = generate_trace(options);
    const std::string title = "synthetic DeepSeek-V3 trace, seed " + std::to_string(seed);
    print_trace_table(title, trace, 100, quick);
    print_budget_table(title, trace, 100, quick);
  }
  if (std::filesystem::exists(bundled_trace)) {
    print_trace_table(bundled_trace.filename().string() + " (bundled)",
                      io::read_trace(bundled_trace), 50, quick);
  }
  // The speed target: a 1,200-step trace replayed, parsing included.
  SyntheticTraceOptions options;
  options.num_steps = quick ? 300 : 1200;
  options.seed = 1;
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / "eplb_bench_replay_trace.json";
  io::write_trace_json(path, generate_trace(options));
  const auto start = std::chrono::steady_clock::now();
  const Trace trace = io::read_trace(path);
  const double parse_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const ReplayResult result = replay(trace, replay_topology(trace.num_experts),
                                     parse_replay_planner(kDefaultReplayPlanner, {}).options);
  const double total_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::filesystem::remove(path);
  std::printf("\nreplay of a %lld-step trace (%lld x %lld), default planner: %.2f s including "
              "%.2f s of parsing (%zu plans)\n",
              static_cast<long long>(trace.num_steps), static_cast<long long>(trace.num_layers),
              static_cast<long long>(trace.num_experts), total_s, parse_s, result.windows.size());
}

}  // namespace eplb::bench
