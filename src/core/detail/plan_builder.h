#pragma once
// Assembling a Plan from per-slot experts and replica ranks.

#include <cstdint>
#include <span>
#include <vector>

#include "eplb/plan.h"

namespace eplb::detail {

/// Builds a Plan whose `log2phy[l][e][r]` is the slot holding replica `r` of expert `e`, given
/// `phy2log` and `replica_rank` `[num_layers, num_replicas]`. Ranks of an expert must be
/// 0..count-1. Throws InvalidArgument when log2phy would exceed kMaxPlanEntries.
Plan build_plan(std::vector<int64_t> phy2log, std::span<const int32_t> replica_rank,
                int64_t num_layers, int64_t num_replicas, int64_t num_experts);

/// plan_from_phy2log() whose errors name `function` (the public entry point the caller serves).
Plan plan_from_phy2log_as(const char* function, std::span<const int64_t> phy2log,
                          int64_t num_layers, int64_t num_replicas, int64_t num_experts);
/// The same, taking over `phy2log` instead of copying it.
Plan plan_from_phy2log_as(const char* function, std::vector<int64_t>&& phy2log,
                          int64_t num_layers, int64_t num_replicas, int64_t num_experts);

}  // namespace eplb::detail
