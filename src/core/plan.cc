#include "eplb/plan.h"

#include <algorithm>
#include <vector>

#include "core/detail/check.h"
#include "core/detail/plan_builder.h"

namespace eplb {

Plan plan_from_phy2log(std::span<const int64_t> phy2log, int64_t num_layers, int64_t num_replicas,
                       int64_t num_experts) {
  return detail::plan_from_phy2log_as("plan_from_phy2log", phy2log, num_layers, num_replicas,
                                      num_experts);
}

namespace detail {
namespace {

// The checks of plan_from_phy2log_as() that need only the shape: limits first, so that the
// products below cannot overflow and nothing is allocated beyond them.
void check_phy2log_shape(const char* function, int64_t size, int64_t num_layers,
                         int64_t num_replicas, int64_t num_experts) {
  if (num_layers <= 0 || num_replicas <= 0 || num_experts <= 0) {
    throw_invalid(function, ": shape [", num_layers, ", ", num_replicas,
                          "] with num_experts = ", num_experts, " must have positive sizes");
  }
  const auto check_limit = [function](const char* name, int64_t value, int64_t limit) {
    if (value > limit) {
      throw_invalid(function, ": ", name, " = ", value, " exceeds the limit of ", limit);
    }
  };
  check_limit("num_layers", num_layers, kMaxLayers);
  check_limit("num_experts", num_experts, kMaxExperts);
  check_limit("num_replicas", num_replicas, kMaxReplicas);
  check_limit("num_layers * num_replicas", num_layers * num_replicas, kMaxPlanEntries);
  check_limit("num_layers * num_experts", num_layers * num_experts, kMaxPlanEntries);
  if (size != num_layers * num_replicas) {
    throw_invalid(function, ": phy2log size = ", size,
                          " must equal num_layers * num_replicas = ", num_layers * num_replicas);
  }
}

Plan plan_from_checked(const char* function, std::vector<int64_t> phy2log, int64_t num_layers,
                       int64_t num_replicas, int64_t num_experts) {
  Plan plan;
  plan.num_layers = num_layers;
  plan.num_experts = num_experts;
  plan.num_replicas = num_replicas;
  plan.logcnt.assign(num_layers * num_experts, 0);
  for (int64_t layer = 0; layer < num_layers; ++layer) {
    const int64_t* row = &phy2log[layer * num_replicas];
    int64_t* count = &plan.logcnt[layer * num_experts];
    for (int64_t slot = 0; slot < num_replicas; ++slot) {
      const int64_t expert = row[slot];
      if (expert == -1) continue;
      if (expert < 0 || expert >= num_experts) {
        throw_invalid(function, ": phy2log[", layer, "][", slot, "] = ", expert,
                      " must be -1 or in [0, ", num_experts, ")");
      }
      plan.max_replicas = std::max(plan.max_replicas, ++count[expert]);
    }
  }
  const int64_t width = plan.max_replicas;
  if (num_layers * num_experts * width > kMaxPlanEntries) {
    throw_invalid(function, ": log2phy would hold ", num_layers * num_experts * width,
                          " entries, more than the limit of ", kMaxPlanEntries);
  }
  // log2phy is written once, in order: each layer's slots grouped by expert (counting sort, slots
  // ascending), each expert's row padded with -1. Filling it with -1 first and scattering the
  // slots into it would touch the whole array twice, the second time in cache-missing order.
  plan.log2phy.reserve(num_layers * num_experts * width);
  std::vector<int64_t> end(num_experts), grouped(num_replicas);
  for (int64_t layer = 0; layer < num_layers; ++layer) {
    const int64_t* row = &phy2log[layer * num_replicas];
    const int64_t* count = &plan.logcnt[layer * num_experts];
    for (int64_t e = 0, sum = 0; e < num_experts; ++e) end[e] = sum += count[e];
    for (int64_t slot = num_replicas - 1; slot >= 0; --slot) {
      if (row[slot] != -1) grouped[--end[row[slot]]] = slot;
    }
    // end[e] is now where expert e's slots begin.
    for (int64_t e = 0; e < num_experts; ++e) {
      plan.log2phy.insert(plan.log2phy.end(), grouped.begin() + end[e], grouped.begin() + end[e] + count[e]);
      plan.log2phy.resize(plan.log2phy.size() + static_cast<size_t>(width - count[e]), -1);
    }
  }
  plan.phy2log = std::move(phy2log);
  return plan;
}

}  // namespace

Plan plan_from_phy2log_as(const char* function, std::span<const int64_t> phy2log,
                          int64_t num_layers, int64_t num_replicas, int64_t num_experts) {
  check_phy2log_shape(function, static_cast<int64_t>(phy2log.size()), num_layers, num_replicas,
                      num_experts);
  return plan_from_checked(function, std::vector<int64_t>(phy2log.begin(), phy2log.end()),
                           num_layers, num_replicas, num_experts);
}

Plan plan_from_phy2log_as(const char* function, std::vector<int64_t>&& phy2log,
                          int64_t num_layers, int64_t num_replicas, int64_t num_experts) {
  check_phy2log_shape(function, static_cast<int64_t>(phy2log.size()), num_layers, num_replicas,
                      num_experts);
  return plan_from_checked(function, std::move(phy2log), num_layers, num_replicas, num_experts);
}

}  // namespace detail

namespace {

void check_shapes(const Plan& plan, const Topology& topology) {
  if (plan.num_layers <= 0 || plan.num_experts <= 0) {
    detail::throw_invalid("validate: plan shape [num_layers = ", plan.num_layers,
                          ", num_experts = ", plan.num_experts, "] must be positive");
  }
  if (plan.num_layers > kMaxLayers) {
    detail::throw_invalid("validate: num_layers = ", plan.num_layers, " exceeds the limit of ",
                          kMaxLayers);
  }
  if (plan.num_replicas != topology.num_replicas()) {
    detail::throw_invalid("validate: num_replicas = ", plan.num_replicas,
                          " must equal the topology's num_replicas = ", topology.num_replicas());
  }
  topology.check_experts(plan.num_experts, "validate");
  if (plan.max_replicas < 1 || plan.max_replicas > plan.num_replicas) {
    detail::throw_invalid("validate: max_replicas = ", plan.max_replicas, " must be in [1, ",
                          plan.num_replicas, "]");
  }
  const auto expect_size = [](const char* name, size_t size, int64_t expected) {
    if (static_cast<int64_t>(size) != expected) {
      detail::throw_invalid("validate: ", name, " size = ", size, " must be ", expected);
    }
  };
  expect_size("phy2log", plan.phy2log.size(), plan.num_layers * plan.num_replicas);
  expect_size("logcnt", plan.logcnt.size(), plan.num_layers * plan.num_experts);
  expect_size("log2phy", plan.log2phy.size(),
              plan.num_layers * plan.num_experts * plan.max_replicas);
}

void check_layer(const Plan& plan, const Topology& topology, int64_t layer,
                 const ValidateOptions& options, std::vector<int64_t>& seen_on_gpu,
                 std::vector<char>& slot_listed) {
  const int64_t num_experts = plan.num_experts;
  const int64_t max_replicas = plan.max_replicas;
  int64_t total = 0;
  std::fill(slot_listed.begin(), slot_listed.end(), 0);
  for (int64_t expert = 0; expert < num_experts; ++expert) {
    const int64_t count = plan.logcnt[layer * num_experts + expert];
    if (count < 1 || count > max_replicas) {
      detail::throw_invalid("validate: logcnt[", layer, "][", expert, "] = ", count,
                            " must be in [1, max_replicas = ", max_replicas, "]");
    }
    total += count;
    const int64_t* slots = &plan.log2phy[(layer * num_experts + expert) * max_replicas];
    for (int64_t rank = 0; rank < max_replicas; ++rank) {
      const int64_t slot = slots[rank];
      if (rank >= count) {
        if (slot != -1) {
          detail::throw_invalid("validate: log2phy[", layer, "][", expert, "][", rank, "] = ", slot,
                                " must be -1 past logcnt = ", count);
        }
        continue;
      }
      if (slot < 0 || slot >= plan.num_replicas ||
          plan.phy2log[layer * plan.num_replicas + slot] != expert) {
        detail::throw_invalid("validate: log2phy[", layer, "][", expert, "][", rank, "] = ", slot,
                              " must be a slot whose phy2log entry is ", expert);
      }
      if (slot_listed[slot]) {
        detail::throw_invalid("validate: log2phy[", layer, "][", expert, "][", rank, "] = ", slot,
                              " lists a slot twice");
      }
      slot_listed[slot] = 1;
    }
  }
  // Unused slots come in whole GPUs: an excluded GPU has every slot -1, the others none.
  int64_t used = 0;
  const int64_t slots_per_gpu = topology.slots_per_gpu();
  for (int64_t gpu = 0; gpu < topology.num_gpus(); ++gpu) {
    const int64_t first = plan.phy2log[layer * plan.num_replicas + gpu * slots_per_gpu];
    const bool excluded = first == -1;
    if (!options.active_gpus.empty() && options.active_gpus[gpu] == excluded) {
      detail::throw_invalid("validate: gpu ", gpu, " of layer ", layer, " is ",
                            excluded ? "unused but active" : "used but excluded", " in active_gpus");
    }
    for (int64_t s = gpu * slots_per_gpu; s < (gpu + 1) * slots_per_gpu; ++s) {
      if ((plan.phy2log[layer * plan.num_replicas + s] == -1) != excluded) {
        detail::throw_invalid("validate: phy2log[", layer, "][", s, "] = ",
                              plan.phy2log[layer * plan.num_replicas + s],
                              " mixes used and unused slots on gpu ", gpu);
      }
    }
    if (!excluded) used += slots_per_gpu;
  }
  if (total != used) {
    detail::throw_invalid("validate: logcnt[", layer, "] sums to ", total,
                          ", must equal the used slots = ", used);
  }
  // The counts sum to num_replicas and each listed slot is distinct and holds its expert, so
  // every slot is listed exactly once: phy2log and log2phy describe the same placement.
  std::fill(seen_on_gpu.begin(), seen_on_gpu.end(), -1);
  for (int64_t slot = 0; slot < plan.num_replicas; ++slot) {
    const int64_t expert = plan.phy2log[layer * plan.num_replicas + slot];
    if (expert == -1) continue;
    if (expert < 0 || expert >= num_experts) {
      detail::throw_invalid("validate: phy2log[", layer, "][", slot, "] = ", expert,
                            " must be in [0, ", num_experts, ")");
    }
    if (options.forbid_duplicates_on_gpu) {
      const int64_t gpu = topology.gpu_of_slot(slot);
      if (seen_on_gpu[expert] == gpu) {
        detail::throw_invalid("validate: expert ", expert, " of layer ", layer,
                              " has two replicas on gpu ", gpu);
      }
      seen_on_gpu[expert] = gpu;
    }
  }
}

}  // namespace

void validate(const Plan& plan, const Topology& topology, const ValidateOptions& options) {
  check_shapes(plan, topology);
  if (!options.active_gpus.empty() &&
      static_cast<int64_t>(options.active_gpus.size()) != topology.num_gpus()) {
    detail::throw_invalid("validate: active_gpus has ", options.active_gpus.size(),
                          " entries, must have num_gpus = ", topology.num_gpus());
  }
  std::vector<int64_t> seen_on_gpu(plan.num_experts);
  std::vector<char> slot_listed(plan.num_replicas);
  for (int64_t layer = 0; layer < plan.num_layers; ++layer) {
    check_layer(plan, topology, layer, options, seen_on_gpu, slot_listed);
  }
  int64_t largest = 0;
  for (int64_t count : plan.logcnt) largest = std::max(largest, count);
  if (largest != plan.max_replicas) {
    detail::throw_invalid("validate: max_replicas = ", plan.max_replicas,
                          " must equal the largest logcnt = ", largest);
  }
}

}  // namespace eplb
