#pragma once
// Layers are independent: the search policies and re-plans deal them out to threads.

#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

namespace eplb::detail {

/// The number of threads for_each_layer() uses: `num_threads`, but one per layer at most.
inline int64_t layer_threads(int64_t num_layers, int64_t num_threads) {
  return std::max<int64_t>(1, std::min(num_threads, num_layers));
}

/// Calls `plan_layer(layer, thread_idx)` for every layer in [0, num_layers), on layer_threads()
/// threads (the caller's is thread 0), layers dealt round-robin. Results that depend only on
/// their layer's index, with per-thread scratch reset per layer, do not depend on the thread
/// count.
template <typename PlanLayer>
void for_each_layer(int64_t num_layers, int64_t num_threads, PlanLayer&& plan_layer) {
  const int64_t used = layer_threads(num_layers, num_threads);
  const auto run = [&](int64_t thread_idx) {
    for (int64_t layer = thread_idx; layer < num_layers; layer += used) {
      plan_layer(layer, thread_idx);
    }
  };
  std::vector<std::jthread> threads;
  for (int64_t t = 1; t < used; ++t) threads.emplace_back(run, t);
  run(0);
}

}  // namespace eplb::detail
