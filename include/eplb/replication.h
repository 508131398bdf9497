#pragma once
// Replica counts per logical expert.

#include <cstdint>
#include <span>
#include <vector>

namespace eplb {

/// Returns replica counts `[num_experts]` that sum to `num_replicas`, each at least 1, that
/// minimize the largest `load / count` (DeepSeek's greedy, i.e. Adams' apportionment: each extra
/// replica goes to the expert with the largest load per replica, lowest index on ties). Throws
/// InvalidArgument when `num_replicas < loads.size()` or `loads` is empty. O(R log E).
std::vector<int64_t> replicate_greedy(std::span<const double> loads, int64_t num_replicas);

}  // namespace eplb
