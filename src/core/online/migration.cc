// Migrations between plans and the relabelling that keeps a fresh plan close to the current one.
#include "eplb/migration.h"

#include <algorithm>
#include <limits>
#include <span>
#include <vector>

#include "core/detail/assignment.h"
#include "core/detail/check.h"

namespace eplb {
namespace {

// Above this many GPUs per matching the O(n^3) Hungarian method gives way to a greedy matching.
constexpr int64_t kMaxExactMatching = 96;

void check_same_shape(const Plan& first, const Plan& second, const Topology& topology,
                      const char* function) {
  if (first.num_layers != second.num_layers || first.num_experts != second.num_experts ||
      first.num_replicas != second.num_replicas) {
    detail::throw_invalid(function, ": plans differ in shape: [", first.num_layers, " layers, ",
                          first.num_experts, " experts, ", first.num_replicas, " slots] vs [",
                          second.num_layers, ", ", second.num_experts, ", ",
                          second.num_replicas, "]");
  }
  if (first.num_replicas != topology.num_replicas()) {
    detail::throw_invalid(function, ": plans have ", first.num_replicas,
                          " slots but the topology has ", topology.num_replicas());
  }
}

std::vector<int64_t> best_assignment(std::span<const int64_t> weight, int64_t size) {
  return size <= kMaxExactMatching ? detail::max_weight_assignment(weight, size)
                                   : detail::greedy_assignment(weight, size);
}

// Replicas that GPU `fresh_gpu` of `fresh_row` shares with GPU `current_gpu` of `current_row`
// (multiset intersection). `tally` is all zero on entry and on return.
int64_t shared_replicas(std::span<const int64_t> fresh_row, int64_t fresh_gpu,
                        std::span<const int64_t> current_row, int64_t current_gpu,
                        int64_t slots_per_gpu, std::vector<int64_t>& tally) {
  const auto current = current_row.subspan(current_gpu * slots_per_gpu, slots_per_gpu);
  const auto fresh = fresh_row.subspan(fresh_gpu * slots_per_gpu, slots_per_gpu);
  for (int64_t expert : current) {
    if (expert >= 0) ++tally[expert];
  }
  int64_t shared = 0;
  for (int64_t expert : fresh) {
    if (expert >= 0 && tally[expert] > 0) {
      --tally[expert];
      ++shared;
    }
  }
  for (int64_t expert : current) {
    if (expert >= 0) tally[expert] = 0;
  }
  return shared;
}

// Matches the fresh GPUs `fresh_gpus` to the positions `current_gpus` (same size), writing
// position_of[fresh gpu] and returning the replicas kept.
int64_t match_gpus(std::span<const int64_t> fresh_row, std::span<const int64_t> current_row,
                   std::span<const int64_t> fresh_gpus, std::span<const int64_t> current_gpus,
                   int64_t slots_per_gpu, std::vector<int64_t>& tally,
                   std::vector<int64_t>* position_of) {
  const auto size = static_cast<int64_t>(fresh_gpus.size());
  std::vector<int64_t> weight(static_cast<size_t>(size * size));
  for (int64_t i = 0; i < size; ++i) {
    for (int64_t j = 0; j < size; ++j) {
      weight[static_cast<size_t>(i * size + j)] = shared_replicas(
          fresh_row, fresh_gpus[i], current_row, current_gpus[j], slots_per_gpu, tally);
    }
  }
  const std::vector<int64_t> column_of_row = best_assignment(weight, size);
  int64_t kept = 0;
  for (int64_t i = 0; i < size; ++i) {
    kept += weight[static_cast<size_t>(i * size + column_of_row[i])];
    if (position_of != nullptr) (*position_of)[fresh_gpus[i]] = current_gpus[column_of_row[i]];
  }
  return kept;
}

std::vector<int64_t> active_gpus_of(std::span<const int64_t> row, int64_t first_gpu,
                                    int64_t num_gpus, int64_t slots_per_gpu) {
  std::vector<int64_t> active;
  for (int64_t gpu = first_gpu; gpu < first_gpu + num_gpus; ++gpu) {
    if (row[gpu * slots_per_gpu] >= 0) active.push_back(gpu);
  }
  return active;
}

// position_of[fresh gpu] = the GPU index it takes in the aligned plan.
std::vector<int64_t> align_layer_gpus(std::span<const int64_t> fresh_row,
                                      std::span<const int64_t> current_row,
                                      const Topology& topology, bool keep_nodes,
                                      std::vector<int64_t>& tally) {
  const int64_t num_gpus = topology.num_gpus();
  const int64_t slots_per_gpu = topology.slots_per_gpu();
  std::vector<int64_t> position_of(static_cast<size_t>(num_gpus));
  for (int64_t gpu = 0; gpu < num_gpus; ++gpu) position_of[gpu] = gpu;
  if (!keep_nodes) {
    // Excluded GPUs keep their place; the healthy ones trade places freely.
    const auto active = active_gpus_of(fresh_row, 0, num_gpus, slots_per_gpu);
    match_gpus(fresh_row, current_row, active, active, slots_per_gpu, tally, &position_of);
    return position_of;
  }
  const int64_t num_nodes = topology.num_nodes();
  const int64_t gpus_per_node = topology.gpus_per_node();
  std::vector<std::vector<int64_t>> node_gpus(static_cast<size_t>(num_nodes));
  bool all_active = true;
  for (int64_t node = 0; node < num_nodes; ++node) {
    node_gpus[node] = active_gpus_of(fresh_row, node * gpus_per_node, gpus_per_node, slots_per_gpu);
    all_active = all_active && static_cast<int64_t>(node_gpus[node].size()) == gpus_per_node;
  }
  std::vector<int64_t> node_position(static_cast<size_t>(num_nodes));
  for (int64_t node = 0; node < num_nodes; ++node) node_position[node] = node;
  // Whole nodes trade places only when they are alike (no excluded GPU anywhere).
  if (all_active && num_nodes > 1) {
    std::vector<int64_t> weight(static_cast<size_t>(num_nodes * num_nodes));
    for (int64_t fresh_node = 0; fresh_node < num_nodes; ++fresh_node) {
      for (int64_t current_node = 0; current_node < num_nodes; ++current_node) {
        weight[static_cast<size_t>(fresh_node * num_nodes + current_node)] =
            match_gpus(fresh_row, current_row, node_gpus[fresh_node], node_gpus[current_node],
                       slots_per_gpu, tally, nullptr);
      }
    }
    node_position = best_assignment(weight, num_nodes);
  }
  for (int64_t node = 0; node < num_nodes; ++node) {
    match_gpus(fresh_row, current_row, node_gpus[node], node_gpus[node_position[node]],
               slots_per_gpu, tally, &position_of);
  }
  return position_of;
}

}  // namespace

int64_t Migration::cross_node_copies(const Topology& topology) const {
  return std::count_if(moves.begin(), moves.end(), [&](const SlotMove& move) {
    return move.source_slot >= 0 &&
           topology.node_of_slot(move.source_slot) != topology.node_of_slot(move.slot);
  });
}

int64_t Migration::bytes(int64_t expert_bytes) const {
  if (expert_bytes < 0) {
    detail::throw_invalid("Migration::bytes: expert_bytes = ", expert_bytes,
                          " must be non-negative");
  }
  const int64_t copies = std::count_if(moves.begin(), moves.end(),
                                       [](const SlotMove& move) { return move.new_expert >= 0; });
  if (copies > 0 && expert_bytes > std::numeric_limits<int64_t>::max() / copies) {
    detail::throw_invalid("Migration::bytes: ", copies, " copies of expert_bytes = ", expert_bytes,
                          " bytes overflow int64");
  }
  return copies * expert_bytes;
}

Migration diff_plans(const Plan& from, const Plan& to, const Topology& topology) {
  check_same_shape(from, to, topology, "diff_plans");
  Migration migration;
  const int64_t num_replicas = from.num_replicas;
  for (int64_t layer = 0; layer < from.num_layers; ++layer) {
    const auto old_row = from.phy2log_row(layer);
    const auto new_row = to.phy2log_row(layer);
    for (int64_t slot = 0; slot < num_replicas; ++slot) {
      if (old_row[slot] == new_row[slot]) continue;
      SlotMove move{.layer = layer, .slot = slot, .old_expert = old_row[slot],
                    .new_expert = new_row[slot], .source_slot = -1};
      if (move.new_expert >= 0) {
        // Preference: same GPU (a local copy), then same node, then the lowest slot.
        int64_t best_rank = 3;
        for (int64_t source = 0; source < num_replicas && best_rank > 0; ++source) {
          if (old_row[source] != move.new_expert) continue;
          const int64_t rank = topology.gpu_of_slot(source) == topology.gpu_of_slot(slot) ? 0
                               : topology.node_of_slot(source) == topology.node_of_slot(slot) ? 1
                                                                                              : 2;
          if (rank < best_rank) {
            best_rank = rank;
            move.source_slot = source;
          }
        }
      }
      migration.moves.push_back(move);
    }
  }
  return migration;
}

Plan apply_migration(const Plan& from, const Migration& migration, const Topology& topology) {
  if (from.num_replicas != topology.num_replicas()) {
    detail::throw_invalid("apply_migration: the plan has ", from.num_replicas,
                          " slots but the topology has ", topology.num_replicas());
  }
  std::vector<int64_t> phy2log = from.phy2log;
  for (size_t idx = 0; idx < migration.moves.size(); ++idx) {
    const SlotMove& move = migration.moves[idx];
    if (move.layer < 0 || move.layer >= from.num_layers || move.slot < 0 ||
        move.slot >= from.num_replicas) {
      detail::throw_invalid("apply_migration: moves[", idx, "] (layer ", move.layer, ", slot ",
                            move.slot, ") is outside the plan");
    }
    int64_t& entry = phy2log[static_cast<size_t>(move.layer * from.num_replicas + move.slot)];
    if (entry != move.old_expert) {
      detail::throw_invalid("apply_migration: moves[", idx, "] expects expert ", move.old_expert,
                            " in layer ", move.layer, " slot ", move.slot, " but the plan has ",
                            entry);
    }
    entry = move.new_expert;
  }
  return plan_from_phy2log(phy2log, from.num_layers, from.num_replicas, from.num_experts);
}

namespace {

// Writes GPU `gpu` of `fresh_row` into GPU `position` of `out_row`: experts that GPU `position`
// of `current_row` already holds return to their old slots; the others fill the free slots in
// order. `placed` is scratch.
void place_gpu(std::span<const int64_t> fresh_row, std::span<const int64_t> current_row,
               int64_t gpu, int64_t position, int64_t slots_per_gpu, std::span<int64_t> out_row,
               std::vector<int64_t>& placed) {
  const auto content = fresh_row.subspan(gpu * slots_per_gpu, slots_per_gpu);
  const auto old_slots = current_row.subspan(position * slots_per_gpu, slots_per_gpu);
  const auto out = out_row.subspan(position * slots_per_gpu, slots_per_gpu);
  placed.assign(static_cast<size_t>(slots_per_gpu), 0);
  std::fill(out.begin(), out.end(), -2);
  for (int64_t slot = 0; slot < slots_per_gpu; ++slot) {
    for (int64_t idx = 0; idx < slots_per_gpu; ++idx) {
      if (!placed[idx] && content[idx] == old_slots[slot]) {
        out[slot] = content[idx];
        placed[idx] = 1;
        break;
      }
    }
  }
  int64_t free_slot = 0;
  for (int64_t idx = 0; idx < slots_per_gpu; ++idx) {
    if (placed[idx]) continue;
    while (out[free_slot] != -2) ++free_slot;
    out[free_slot] = content[idx];
  }
}

}  // namespace

Plan align_plan(const Plan& fresh, const Plan& current, const Topology& topology,
                bool keep_nodes) {
  check_same_shape(fresh, current, topology, "align_plan");
  const int64_t slots_per_gpu = topology.slots_per_gpu();
  const int64_t num_gpus = topology.num_gpus();
  std::vector<int64_t> tally(static_cast<size_t>(fresh.num_experts), 0);
  std::vector<int64_t> phy2log(fresh.phy2log.size(), -1);
  std::vector<int64_t> placed;
  for (int64_t layer = 0; layer < fresh.num_layers; ++layer) {
    const auto fresh_row = fresh.phy2log_row(layer);
    const auto current_row = current.phy2log_row(layer);
    const std::vector<int64_t> position_of =
        align_layer_gpus(fresh_row, current_row, topology, keep_nodes, tally);
    const auto out_row = std::span(phy2log).subspan(layer * fresh.num_replicas, fresh.num_replicas);
    for (int64_t gpu = 0; gpu < num_gpus; ++gpu) {
      place_gpu(fresh_row, current_row, gpu, position_of[gpu], slots_per_gpu, out_row, placed);
    }
  }
  return plan_from_phy2log(phy2log, fresh.num_layers, fresh.num_replicas, fresh.num_experts);
}

Plan keep_gpu_slots(const Plan& fresh, const Plan& current, const Topology& topology) {
  check_same_shape(fresh, current, topology, "keep_gpu_slots");
  const int64_t slots_per_gpu = topology.slots_per_gpu();
  std::vector<int64_t> phy2log(fresh.phy2log.size(), -1);
  std::vector<int64_t> placed;
  for (int64_t layer = 0; layer < fresh.num_layers; ++layer) {
    const auto out_row = std::span(phy2log).subspan(layer * fresh.num_replicas, fresh.num_replicas);
    for (int64_t gpu = 0; gpu < topology.num_gpus(); ++gpu) {
      place_gpu(fresh.phy2log_row(layer), current.phy2log_row(layer), gpu, gpu, slots_per_gpu,
                out_row, placed);
    }
  }
  return plan_from_phy2log(phy2log, fresh.num_layers, fresh.num_replicas, fresh.num_experts);
}

}  // namespace eplb
