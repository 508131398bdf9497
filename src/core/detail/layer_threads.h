#pragma once
// Layers are independent: the search policies and re-plans deal them out to threads.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "eplb/error.h"

namespace eplb::detail {

/// The number of threads for_each_layer() uses: `num_threads`, but one per layer at most.
inline int64_t layer_threads(int64_t num_layers, int64_t num_threads) {
  return std::max<int64_t>(1, std::min(num_threads, num_layers));
}

/// Throws Cancelled when `should_stop` is set and returns true: `function` was asked to stop.
inline void check_stop(const std::function<bool()>& should_stop, const char* function) {
  if (should_stop && should_stop()) {
    throw Cancelled(std::string(function) + ": stopped by its should_stop check");
  }
}

/// Calls `plan_layer(layer, thread_idx)` for every layer in [0, num_layers), on layer_threads()
/// threads (the caller's is thread 0), layers dealt round-robin. Results that depend only on
/// their layer's index, with per-thread scratch reset per layer, do not depend on the thread
/// count. Before each of its layers the caller's thread asks `should_stop` (only that thread:
/// the check may need to run there); once it returns true no thread starts another layer and
/// Cancelled naming `function` is thrown after all have finished.
template <typename PlanLayer>
void for_each_layer(int64_t num_layers, int64_t num_threads,
                    const std::function<bool()>& should_stop, const char* function,
                    PlanLayer&& plan_layer) {
  const int64_t used = layer_threads(num_layers, num_threads);
  std::atomic<bool> stopped = false;
  const auto run = [&](int64_t thread_idx) {
    for (int64_t layer = thread_idx; layer < num_layers; layer += used) {
      if (stopped.load(std::memory_order_relaxed)) return;
      if (thread_idx == 0 && should_stop && should_stop()) {
        stopped.store(true, std::memory_order_relaxed);
        return;
      }
      plan_layer(layer, thread_idx);
    }
  };
  {
    std::vector<std::jthread> threads;
    for (int64_t t = 1; t < used; ++t) threads.emplace_back(run, t);
    run(0);
  }
  if (stopped) throw Cancelled(std::string(function) + ": stopped by its should_stop check");
}

}  // namespace eplb::detail
