#pragma once
// Moving from one plan to another: which slots change, where their new weights come from, and
// relabelling a fresh plan so that it changes as few slots as possible.

#include <cstdint>
#include <vector>

#include "eplb/load_matrix.h"
#include "eplb/plan.h"
#include "eplb/schedule.h"
#include "eplb/topology.h"

namespace eplb {

/// One slot that holds a different expert after a re-plan.
struct SlotMove {
  int64_t layer = 0;
  int64_t slot = 0;
  /// The expert the slot held before (-1 for a slot of an excluded GPU).
  int64_t old_expert = -1;
  /// The expert it holds after (-1 when its GPU is now excluded).
  int64_t new_expert = -1;
  /// A slot of the old plan that holds `new_expert`, to copy its weights from: on the same GPU
  /// if possible, else on the same node, else the lowest such slot; -1 when `new_expert` is -1.
  /// Sources refer to the old plan: copy every move's weights before overwriting any slot.
  int64_t source_slot = -1;
};

/// The slots that change between two plans of the same shape, layer by layer, slot by slot.
struct Migration {
  std::vector<SlotMove> moves;

  /// Slots whose expert changes.
  int64_t moved_slots() const { return static_cast<int64_t>(moves.size()); }
  /// Moves whose weights come from another node.
  int64_t cross_node_copies(const Topology& topology) const;
  /// Bytes copied when each expert's weights take `expert_bytes` bytes. Throws InvalidArgument
  /// when `expert_bytes` is negative or the total overflows int64.
  int64_t bytes(int64_t expert_bytes) const;

  /// Orders the copies that turn `current` (the plan these moves start from) into the new plan
  /// into the fewest rounds in which each GPU sends at most one expert and receives at most
  /// one. Each copy's source is a GPU that holds the expert in `current`: the target's own GPU
  /// when it does (a local copy, in no round), else the holder on the target's node, else any
  /// holder, taking among those the one with the fewest sends so far (then the lowest GPU).
  /// The rounds equal the busiest GPU's copies (TransferSchedule::min_rounds; a bipartite edge
  /// colouring meets that bound), over all layers or, with `options.by_layer`, layer by layer.
  /// Deterministic. Throws InvalidArgument naming `current` when it has another topology's
  /// slots or a move does not fit it.
  TransferSchedule schedule(const Plan& current, const Topology& topology,
                            const ScheduleOptions& options = {}) const;
};

/// The moves of a few layers, applied together (as SGLang's --eplb-rebalance-layers-per-chunk
/// and TensorRT-LLM's layer_updates_per_iter update a few layers per step).
struct MigrationChunk {
  /// The chunk's layers, the one whose moves lower its heaviest GPU most first.
  std::vector<int64_t> layers;
  /// Their moves, layer by layer (in `layers` order), slot by slot.
  Migration migration;
  /// GPU balancedness (see PlanMetrics) on the loads once this chunk and every chunk before it
  /// are applied, the other layers keeping the current plan.
  double balancedness_after = 1;
};

/// Groups the moves of `migration` (from `current`) into chunks of at most `layers_per_chunk`
/// layers, in the order that buys the most balance on `loads` first: the layers ranked by how
/// much their moves lower their heaviest GPU (the lower layer first among equal gains), the
/// first `layers_per_chunk` of them in the first chunk, and so on. Layers without moves are in
/// no chunk. Throws InvalidArgument when `layers_per_chunk` is not positive, a shape differs
/// from `current`'s or a move does not fit it.
std::vector<MigrationChunk> chunk_by_layers(const Migration& migration, const Plan& current,
                                            const LoadMatrix& loads, const Topology& topology,
                                            int64_t layers_per_chunk);

/// Returns the moves that turn `from` into `to` (same layers, experts and slots, both valid for
/// `topology`). Throws InvalidArgument when the shapes differ.
Migration diff_plans(const Plan& from, const Plan& to, const Topology& topology);

/// Applies `migration` to `from`: every move's slot must hold its `old_expert`. Returns the new
/// plan (logcnt rebuilt, log2phy listing each expert's slots in increasing order). Throws InvalidArgument naming the first move that does not
/// fit `from`.
Plan apply_migration(const Plan& from, const Migration& migration, const Topology& topology);

/// Relabels `fresh` so that it keeps as many of `current`'s slots as possible, without changing
/// any GPU's load: GPUs are matched to GPUs (within a node, and nodes to nodes, when
/// `keep_nodes`; excluded GPUs stay where they are) to maximize the replicas they keep, and
/// within each GPU kept experts return to their old slots. Both plans must be valid for
/// `topology` with the same shape.
Plan align_plan(const Plan& fresh, const Plan& current, const Topology& topology, bool keep_nodes);

/// Reorders the slots of each GPU of `fresh` so that every expert that GPU held in `current`
/// keeps its old slot there (one slot per replica the GPU keeps); the other experts fill the free
/// slots in their order in `fresh`. GPUs keep their contents, so loads do not change; a server
/// then copies weights only for experts new to a GPU. Both plans must have the same shape, for
/// `topology`'s slots.
Plan keep_gpu_slots(const Plan& fresh, const Plan& current, const Topology& topology);

}  // namespace eplb
