#pragma once
// The order of a re-plan's weight copies: rounds in which each GPU sends at most one expert and
// receives at most one (Migration::schedule).

#include <cstdint>
#include <vector>

namespace eplb {

/// Options of Migration::schedule().
struct ScheduleOptions {
  /// Rounds hold copies of one layer only, layers in increasing order, for movers that move
  /// layer by layer (vLLM, SGLang): each layer takes as many rounds as its busiest GPU's copies
  /// in that layer. Otherwise rounds mix layers and the whole re-plan takes as many rounds as
  /// the busiest GPU's copies over all layers.
  bool by_layer = false;
};

/// One expert's weights copied from a slot of the old plan into a slot of the new one.
struct ExpertCopy {
  int64_t layer = 0;
  int64_t expert = 0;
  /// A slot that holds `expert` in the old plan, and its GPU.
  int64_t source_slot = 0;
  int64_t source_gpu = 0;
  /// The slot that holds `expert` in the new plan, and its GPU.
  int64_t target_slot = 0;
  int64_t target_gpu = 0;

  friend bool operator==(const ExpertCopy&, const ExpertCopy&) = default;
};

/// A re-plan's copies in rounds. It assumes a staging mover, as vLLM's is (move_to_buffer, then
/// move_from_buffer): receivers stage what they receive and overwrite their slots only after
/// every round, so every source still holds the old plan in every round (docs/online.md gives
/// the extra constraint of a mover that copies in place).
struct TransferSchedule {
  /// Copies between two GPUs, round by round; in a round no GPU is a source twice or a target
  /// twice. Each round lists its copies by layer, then target slot.
  std::vector<std::vector<ExpertCopy>> rounds;
  /// Copies within one GPU (the expert is already on the target's GPU): no transfer.
  std::vector<ExpertCopy> local_copies;
  /// Copies each GPU sends and receives over all rounds, `[num_gpus]`.
  std::vector<int64_t> sent;
  std::vector<int64_t> received;
  /// Copies whose source is on another node than their target.
  int64_t cross_node_copies = 0;
  /// The fewest rounds any schedule of these copies (these sources) can have: the busiest GPU's
  /// copies, or with ScheduleOptions::by_layer the sum over layers of each layer's busiest
  /// GPU's copies. `rounds` has exactly this many.
  int64_t min_rounds = 0;

  int64_t num_rounds() const { return static_cast<int64_t>(rounds.size()); }
  /// Copies between GPUs (all rounds).
  int64_t network_copies() const;
  /// The busiest GPU's copies over all rounds: max over GPUs of max(sent, received) (equal to
  /// the rounds unless by_layer).
  int64_t max_copies_per_gpu() const;
  /// Bytes each GPU sends (or receives) when one expert's weights take `expert_bytes` bytes.
  /// Throws InvalidArgument naming `expert_bytes` when it is negative or the bytes overflow.
  std::vector<int64_t> sent_bytes(int64_t expert_bytes) const;
  std::vector<int64_t> received_bytes(int64_t expert_bytes) const;
};

}  // namespace eplb
