// chunk_by_layers: a migration's moves in layer chunks, the most balance first.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/detail/check.h"
#include "eplb/metrics.h"
#include "eplb/migration.h"

namespace eplb {

std::vector<MigrationChunk> chunk_by_layers(const Migration& migration, const Plan& current,
                                            const LoadMatrix& loads, const Topology& topology,
                                            int64_t layers_per_chunk) {
  if (layers_per_chunk < 1) {
    detail::throw_invalid("chunk_by_layers: layers_per_chunk = ", layers_per_chunk,
                          " must be positive");
  }
  if (loads.num_layers() != current.num_layers || loads.num_experts() != current.num_experts) {
    detail::throw_invalid("chunk_by_layers: loads are [", loads.num_layers(), ", ",
                          loads.num_experts(), "] but current plans [", current.num_layers,
                          " layers, ", current.num_experts, " experts]");
  }
  // Checks every move against `current`.
  const Plan target = apply_migration(current, migration, topology);
  const std::vector<double> heaviest_before = evaluate(current, loads, topology).max_gpu_load;
  const std::vector<double> heaviest_after = evaluate(target, loads, topology).max_gpu_load;

  std::vector<std::vector<SlotMove>> moves_by_layer(static_cast<size_t>(current.num_layers));
  for (const SlotMove& move : migration.moves) {
    moves_by_layer[static_cast<size_t>(move.layer)].push_back(move);
  }
  std::vector<int64_t> order;
  for (int64_t layer = 0; layer < current.num_layers; ++layer) {
    if (!moves_by_layer[static_cast<size_t>(layer)].empty()) order.push_back(layer);
  }
  const auto gain = [&](int64_t layer) {
    return heaviest_before[static_cast<size_t>(layer)] - heaviest_after[static_cast<size_t>(layer)];
  };
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t first, int64_t second) { return gain(first) > gain(second); });

  std::vector<MigrationChunk> chunks;
  std::vector<int64_t> phy2log = current.phy2log;
  const int64_t num_replicas = current.num_replicas;
  for (size_t begin = 0; begin < order.size(); begin += static_cast<size_t>(layers_per_chunk)) {
    const size_t end = std::min(order.size(), begin + static_cast<size_t>(layers_per_chunk));
    MigrationChunk chunk;
    for (size_t idx = begin; idx < end; ++idx) {
      const int64_t layer = order[idx];
      chunk.layers.push_back(layer);
      for (const SlotMove& move : moves_by_layer[static_cast<size_t>(layer)]) {
        chunk.migration.moves.push_back(move);
        phy2log[static_cast<size_t>(layer * num_replicas + move.slot)] = move.new_expert;
      }
    }
    // Each chunk is scored on the plan it leaves (a layer's mean GPU load can change with the
    // GPUs it uses, so the balancedness is not a sum of per-layer gains).
    chunk.balancedness_after =
        evaluate(plan_from_phy2log(phy2log, current.num_layers, num_replicas, current.num_experts),
                 loads, topology)
            .gpu_balancedness;
    chunks.push_back(std::move(chunk));
  }
  return chunks;
}

}  // namespace eplb
