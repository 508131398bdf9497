// Next-window balance of each history on each synthetic trace family (issue #17).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "eplb/io/io.h"
#include "eplb/io/layers.h"
#include "eplb/metrics.h"
#include "eplb/replay.h"
#include "eplb/synthetic.h"
#include "replay.h"

namespace eplb::bench {
namespace {

// The histories compared (policy global): the last window, the self-tuning default, the fixed
// ones, those on per-step distributions; then DeepSeek's planner as servers run it.
const std::vector<std::string> kHistories = {
    "last",           "auto",           "robust",          "decay:16",       "decay:32",
    "decay:50",       "decay:100",      "window:200",      "share-window:100", "share-decay:8",
    "share-decay:16", "share-decay:50", "sqrt-window:100", "sqrt-decay:8",   "sqrt-decay:50",
    "clip-window:100", "clip-decay:16", "mix:8/100",       "mix:8/all",      "mix:50/all",
    "share-mix:8/all", "deepseek@last",
};

// Moves of tolerance re-plans under the old and the new default history.
void print_family_moves_table(const std::vector<std::vector<Trace>>& traces, int64_t interval) {
  const Topology topology = replay_topology(traces[0][0].num_experts);
  std::printf("\n### Trace families: moved slots per re-plan at tolerance 0.005, policy global "
              "(same traces)\n\n| history |");
  for (const TraceFamily family : kAllTraceFamilies) {
    std::printf(" %s moved | next-window |", std::string(to_string(family)).c_str());
  }
  std::printf("\n|---|");
  for (size_t idx = 0; idx < std::size(kAllTraceFamilies); ++idx) std::printf("---:|---:|");
  std::printf("\n");
  for (const std::string history : {"robust", "auto"}) {
    std::printf("| `%s` |", history.c_str());
    for (const std::vector<Trace>& family_traces : traces) {
      double moved = 0, next_window = 0;
      for (const Trace& trace : family_traces) {
        ReplayOptions base{.interval = interval, .tolerance = 0.005};
        const ReplayResult result =
            replay(trace, topology, parse_replay_planner("global@" + history, base).options);
        moved += result.summary.moved_fraction / static_cast<double>(family_traces.size());
        next_window += result.summary.next_window / static_cast<double>(family_traces.size());
      }
      std::printf(" %.2f %% | %.4f |", 100 * moved, next_window);
    }
    std::printf("\n");
    std::fflush(stdout);
  }
}

}  // namespace

void print_family_table(bool quick) {
  const int64_t num_steps = quick ? 400 : 1200;
  const std::vector<uint64_t> seeds =
      quick ? std::vector<uint64_t>{1} : std::vector<uint64_t>{1, 2};
  constexpr int64_t kInterval = 100;
  std::vector<std::vector<Trace>> traces;
  for (const TraceFamily family : kAllTraceFamilies) {
    traces.emplace_back();
    for (const uint64_t seed : seeds) {
      traces.back().push_back(
          generate_trace({.num_steps = num_steps, .seed = seed, .family = family}));
    }
  }
  const Topology topology = replay_topology(traces[0][0].num_experts);
  std::printf("\n### Trace families: next-window GPU balancedness, policy global, %lld-step traces "
              "(%s)",
              static_cast<long long>(num_steps), quick ? "seed 1" : "mean of seeds 1 and 2");
  std::printf(", re-plan every %lld steps, %lld slots on %lld GPUs\n\n| history |",
              static_cast<long long>(kInterval), static_cast<long long>(topology.num_replicas()),
              static_cast<long long>(topology.num_gpus()));
  for (const TraceFamily family : kAllTraceFamilies) {
    std::printf(" %s |", std::string(to_string(family)).c_str());
  }
  std::printf(" mean | mean vs last | worst family vs last | ms per plan | history ms per "
              "window |\n|---|");
  for (size_t idx = 0; idx < std::size(kAllTraceFamilies) + 5; ++idx) std::printf("---:|");
  std::printf("\n");
  std::vector<double> last;
  for (const std::string& history : kHistories) {
    std::vector<double> per_family;
    double plan_ms = 0;
    double observe_ms = 0;
    for (const std::vector<Trace>& family_traces : traces) {
      double sum = 0;
      for (const Trace& trace : family_traces) {
        const ReplayResult result = replay(
            trace, topology,
            parse_replay_planner(history.find('@') == std::string::npos ? "global@" + history
                                                                         : history,
                                 ReplayOptions{.interval = kInterval})
                .options);
        sum += result.summary.next_window;
        plan_ms += result.summary.plan_ms;
        observe_ms += result.summary.observe_ms;
      }
      per_family.push_back(sum / static_cast<double>(family_traces.size()));
    }
    if (last.empty()) last = per_family;
    double mean = 0, mean_last = 0;
    size_t worst = 0;
    for (size_t idx = 0; idx < per_family.size(); ++idx) {
      mean += per_family[idx] / static_cast<double>(per_family.size());
      mean_last += last[idx] / static_cast<double>(per_family.size());
      if (per_family[idx] - last[idx] < per_family[worst] - last[worst]) worst = idx;
    }
    std::printf("| `%s` |", history.c_str());
    for (const double value : per_family) std::printf(" %.4f |", value);
    const auto num_replays = static_cast<double>(traces.size() * seeds.size());
    std::printf(" %.4f | %+.4f | %+.4f (%s) | %.2f | %.2f |\n", mean, mean - mean_last,
                per_family[worst] - last[worst],
                std::string(to_string(kAllTraceFamilies[worst])).c_str(), plan_ms / num_replays,
                observe_ms / num_replays);
    std::fflush(stdout);
  }
  print_family_moves_table(traces, kInterval);
}

void print_real_history_table(const std::filesystem::path& workloads_root) {
  const std::filesystem::path dir = workloads_root / "sglang-deepseek-v3-ep-stats";
  const std::vector<std::pair<std::string, std::vector<std::string>>> phases = {
      {"prefill",
       {"prefill_in512.json", "prefill_in1024.json", "prefill_in1000out1000.json",
        "prefill_in2000out100.json"}},
      {"decode", {"decode_in1000out1000.json", "decode_in2000out100.json"}}};
  if (!std::filesystem::exists(dir / phases[0].second[0])) return;
  const std::vector<std::string> histories = {"last", "robust", "auto", "decay:16",
                                              "share-decay:50", "mix:50/all"};
  std::printf("\n### Real data: SGLang DeepSeek-V3 stats, each file of a phase held out, the "
              "others observed as steps in file order (interval 1), policy global, 288 slots on "
              "32 GPUs; mean GPU balancedness on the held-out file\n\n| history |");
  for (const auto& [phase, files] : phases) std::printf(" %s (%zu files) |", phase.c_str(), files.size());
  std::printf("\n|---|");
  for (size_t idx = 0; idx < phases.size(); ++idx) std::printf("---:|");
  std::printf("\n");
  for (const std::string& history : histories) {
    std::printf("| `%s` |", history.c_str());
    for (const auto& [phase, files] : phases) {
      std::vector<Loads> loads;
      for (const std::string& file : files) {
        const Loads all = io::read_trace(dir / file).sum_steps();
        loads.push_back(io::remove_layers(all, io::find_dense_layers(all.view())));
      }
      const Topology topology = replay_topology(loads[0].num_experts);
      double sum = 0;
      for (size_t held_out = 0; held_out < loads.size(); ++held_out) {
        PlannerOptions options{.history = parse_history(history, 1)};
        options.rebalance.policy = Policy::global;
        Planner planner(topology, loads[0].num_layers, loads[0].num_experts, options);
        for (size_t idx = 0; idx < loads.size(); ++idx) {
          if (idx != held_out) planner.observe(loads[idx].view());
        }
        sum += evaluate(planner.plan(), loads[held_out].view(), topology).gpu_balancedness;
      }
      std::printf(" %.4f |", sum / static_cast<double>(loads.size()));
    }
    std::printf("\n");
  }
}

}  // namespace eplb::bench
