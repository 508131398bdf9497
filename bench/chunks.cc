// Per-layer chunks (issue #19, item 4): how much of a re-plan's gain the first layers buy when
// they are applied in eplb's order (chunk_by_layers) or in layer order, as servers that update
// a few layers per step do by default.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "eplb/replay.h"
#include "eplb/synthetic.h"
#include "replay.h"

namespace eplb::bench {
namespace {

// Share of the re-plan's gain bought by the first `count` layers of one-layer `chunks`, in the
// chunks' order and in layer order. No GPU is excluded, so each layer's mean GPU load stays and
// 1 / balancedness is proportional to the sum of heaviest GPUs: each chunk's drop of it is that
// layer's gain.
struct PrefixShares {
  double chunk_order = 0;
  double layer_order = 0;
};

PrefixShares prefix_shares(const ReplayWindow& window, size_t count) {
  std::vector<std::pair<int64_t, double>> gains;
  double previous = 1 / window.chunks_start;
  for (const ReplayChunk& chunk : window.chunks) {
    const double now = 1 / chunk.balancedness_after;
    gains.emplace_back(chunk.layers.front(), previous - now);
    previous = now;
  }
  const double total = 1 / window.chunks_start - previous;
  double by_chunks = 0;
  for (size_t idx = 0; idx < count; ++idx) by_chunks += gains[idx].second;
  std::sort(gains.begin(), gains.end());
  double by_layers = 0;
  for (size_t idx = 0; idx < count; ++idx) by_layers += gains[idx].second;
  return {by_chunks / total, by_layers / total};
}

}  // namespace

void print_chunk_table(bool quick) {
  const int64_t num_steps = quick ? 400 : 1200;
  const std::vector<uint64_t> seeds = quick ? std::vector<uint64_t>{1} : std::vector<uint64_t>{1, 2};
  const Topology topology(288, 8, 4, 32);
  std::printf("\n### Per-layer chunks: share of a re-plan's gain on the planning loads bought by "
              "its first moved layers, eplb's order (chunk_by_layers) / layer order; policy "
              "global, auto history, %lld-step traces (%s), re-plan every 100 steps, 288 slots on "
              "32 GPUs\n\n| family | re-plan | moved layers | first quarter | first half |\n"
              "|---|---|---:|---:|---:|\n",
              static_cast<long long>(num_steps), quick ? "seed 1" : "seeds 1 and 2");
  for (const TraceFamily family : kAllTraceFamilies) {
    for (const bool budget : {true, false}) {
      double layers = 0, quarter_chunks = 0, quarter_layers = 0, half_chunks = 0, half_layers = 0;
      int64_t num_windows = 0;
      for (const uint64_t seed : seeds) {
        const Trace trace =
            generate_trace({.num_steps = num_steps, .seed = seed, .family = family});
        ReplayOptions options{.interval = 100, .layers_per_chunk = 1};
        options.planner.history = default_history(Policy::global, 100);
        (budget ? options.move_budget : options.tolerance) = budget ? 0.05 : 0.005;
        for (const ReplayWindow& window : replay(trace, topology, options).windows) {
          if (window.chunks.size() < 2 ||
              !(window.chunks.back().balancedness_after > window.chunks_start)) {
            continue;
          }
          const size_t moved = window.chunks.size();
          const PrefixShares quarter = prefix_shares(window, (moved + 3) / 4);
          const PrefixShares half = prefix_shares(window, (moved + 1) / 2);
          layers += static_cast<double>(moved);
          quarter_chunks += quarter.chunk_order;
          quarter_layers += quarter.layer_order;
          half_chunks += half.chunk_order;
          half_layers += half.layer_order;
          ++num_windows;
        }
      }
      if (num_windows == 0) continue;
      const auto count = static_cast<double>(num_windows);
      std::printf("| %s | %s | %.1f | %.1f %% / %.1f %% | %.1f %% / %.1f %% |\n",
                  std::string(to_string(family)).c_str(),
                  budget ? "budget 5 %" : "tolerance 0.005", layers / count,
                  100 * quarter_chunks / count, 100 * quarter_layers / count,
                  100 * half_chunks / count, 100 * half_layers / count);
      std::fflush(stdout);
    }
  }
}

}  // namespace eplb::bench
