#pragma once
// Internal replication helpers shared by the policies and the bounds.

#include <cstdint>
#include <climits>
#include <span>

namespace eplb::detail {

/// Adds `num_extra` replicas to `counts` (each entry >= 1), one at a time, to the expert with the
/// largest load per replica among those below `max_count`; ties go to fewer replicas, then the
/// lower index. Returns how many replicas could not be placed under the cap.
int64_t add_replicas_greedy(std::span<const double> loads, int64_t num_extra,
                            std::span<int64_t> counts, int64_t max_count = INT64_MAX);

}  // namespace eplb::detail
