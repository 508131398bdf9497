#pragma once
// Internal replication helpers shared by the policies and the bounds.

#include <cstdint>
#include <climits>
#include <span>
#include <vector>

namespace eplb::detail {

/// An expert competing for the next replica in add_replicas_greedy().
struct ReplicaCandidate {
  double load_per_replica;
  int64_t count;
  int64_t expert;
};

/// Adds `num_extra` replicas to `counts` (each entry >= 1), one at a time, to the expert with the
/// largest load per replica among those below `max_count`; ties go to fewer replicas, then the
/// lower index. Returns how many replicas could not be placed under the cap. `scratch`, when
/// given, is reused instead of allocating.
int64_t add_replicas_greedy(std::span<const double> loads, int64_t num_extra,
                            std::span<int64_t> counts, int64_t max_count = INT64_MAX,
                            std::vector<ReplicaCandidate>* scratch = nullptr);

}  // namespace eplb::detail
