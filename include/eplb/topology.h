#pragma once
// The cluster a plan is made for: slots, expert groups, nodes and GPUs.

#include <cstdint>

namespace eplb {

/// Largest sizes eplb accepts; larger requests fail with InvalidArgument before allocating.
inline constexpr int64_t kMaxLayers = 1 << 16;
inline constexpr int64_t kMaxExperts = 1 << 16;
inline constexpr int64_t kMaxReplicas = 1 << 20;
/// Largest number of entries (layers x slots, or layers x experts x max replicas) of one plan.
inline constexpr int64_t kMaxPlanEntries = int64_t{1} << 28;
/// Largest sum of one layer's loads. Metrics, bounds and re-plans add up loads within a layer
/// (with roundings that can carry a sum just below the largest double over it) and across up
/// to kMaxLayers layers, so a layer keeps a wide margin: 1e300 x 2^16 layers is still far below
/// the largest double (1.8e308). Token counts are nowhere near it.
inline constexpr double kMaxLayerLoad = 1e300;

/// Describes the physical side of expert parallelism.
///
/// `num_replicas` physical slots per layer (R) are spread over `num_gpus` GPUs, `R / num_gpus`
/// contiguous slots each (GPU of slot `s` is `s / slots_per_gpu()`); the GPUs sit on `num_nodes`
/// nodes, `num_gpus / num_nodes` contiguous GPUs each. Logical experts form `num_groups` groups of
/// consecutive experts (DeepSeek-V3's node-limited routing).
class Topology {
 public:
  /// Validates and stores the sizes. Throws InvalidArgument unless every size is positive and at
  /// most the limits above, and InvalidSizes unless `num_replicas` is a multiple of `num_gpus` and
  /// `num_gpus` a multiple of `num_nodes`. As in DeepSeek's reference, the last rule holds only
  /// when groups divide nodes: otherwise (its global fallback) a `num_gpus` that nodes cannot
  /// share evenly is accepted and the topology becomes one group on one node, what the fallback
  /// plans on.
  Topology(int64_t num_replicas, int64_t num_groups, int64_t num_nodes, int64_t num_gpus);

  int64_t num_replicas() const { return num_replicas_; }
  int64_t num_groups() const { return num_groups_; }
  int64_t num_nodes() const { return num_nodes_; }
  int64_t num_gpus() const { return num_gpus_; }
  int64_t slots_per_gpu() const { return num_replicas_ / num_gpus_; }
  int64_t gpus_per_node() const { return num_gpus_ / num_nodes_; }
  int64_t slots_per_node() const { return num_replicas_ / num_nodes_; }
  /// Returns true when groups can be packed whole onto nodes (`num_groups % num_nodes == 0`), the
  /// condition under which DeepSeek's algorithm runs its hierarchical policy.
  bool is_hierarchical() const { return num_groups_ % num_nodes_ == 0; }
  /// Returns the GPU that holds slot `slot_idx`.
  int64_t gpu_of_slot(int64_t slot_idx) const { return slot_idx / slots_per_gpu(); }
  /// Returns the node that holds slot `slot_idx`.
  int64_t node_of_slot(int64_t slot_idx) const { return slot_idx / slots_per_node(); }

  /// Throws InvalidArgument (InvalidSizes for the last two rules, which the reference asserts)
  /// unless `num_experts` logical experts fit this topology: at least one,
  /// at most `num_replicas`, and a multiple of `num_groups` when the topology is hierarchical.
  /// `function` names the caller in the message.
  void check_experts(int64_t num_experts, const char* function) const;

  friend bool operator==(const Topology&, const Topology&) = default;

 private:
  int64_t num_replicas_;
  int64_t num_groups_;
  int64_t num_nodes_;
  int64_t num_gpus_;
};

}  // namespace eplb
