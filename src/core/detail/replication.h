#pragma once
// Internal replication helpers shared by the policies and the bounds.

#include <cstdint>
#include <span>

namespace eplb::detail {

/// Adds `num_extra` replicas to `counts` (each entry >= 1), one at a time, to the expert with the
/// largest load per replica; ties go to fewer replicas, then the lower index.
void add_replicas_greedy(std::span<const double> loads, int64_t num_extra,
                         std::span<int64_t> counts);

}  // namespace eplb::detail
