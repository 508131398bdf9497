#include "eplb/bounds.h"

#include <algorithm>
#include <functional>
#include <numeric>

#include "core/detail/check.h"
#include "core/detail/replication.h"

namespace eplb {

double min_max_replica_load(std::span<const double> loads, int64_t num_replicas) {
  if (loads.empty()) detail::throw_invalid("min_max_replica_load: loads must not be empty");
  if (num_replicas < static_cast<int64_t>(loads.size())) {
    detail::throw_invalid("min_max_replica_load: num_replicas = ", num_replicas,
                          " must be at least num_experts = ", loads.size());
  }
  std::vector<int64_t> counts(loads.size(), 1);
  detail::add_replicas_greedy(loads, num_replicas - static_cast<int64_t>(loads.size()), counts);
  double largest = 0;
  for (size_t e = 0; e < loads.size(); ++e) {
    largest = std::max(largest, loads[e] / static_cast<double>(counts[e]));
  }
  return largest;
}

double packing_lower_bound(std::span<const double> items, int64_t num_packs) {
  const auto num_items = static_cast<int64_t>(items.size());
  if (num_packs <= 0 || num_items == 0 || num_items % num_packs != 0) {
    detail::throw_invalid("packing_lower_bound: items size = ", num_items,
                          " must be a positive multiple of num_packs = ", num_packs);
  }
  const int64_t per_pack = num_items / num_packs;
  std::vector<double> sorted(items.begin(), items.end());
  std::sort(sorted.begin(), sorted.end(), std::greater<>());
  // smallest_sum[j] = sum of the j smallest items.
  std::vector<double> smallest_sum(per_pack + 1, 0.0);
  for (int64_t j = 1; j <= per_pack; ++j) smallest_sum[j] = smallest_sum[j - 1] + sorted[num_items - j];
  double bound = std::accumulate(sorted.begin(), sorted.end(), 0.0) / static_cast<double>(num_packs);
  // Pigeonhole: of the t*m+1 heaviest items some pack holds t+1, at least the t+1 lightest of them
  // (0-based sorted[t*m-t .. t*m]); its other k-t-1 items weigh at least the smallest ones.
  double top_sum = 0;
  for (int64_t t = 0; t < per_pack; ++t) {
    top_sum = 0;
    for (int64_t i = t * num_packs - t; i <= t * num_packs; ++i) top_sum += sorted[i];
    bound = std::max(bound, top_sum + smallest_sum[per_pack - t - 1]);
  }
  return bound;
}

std::vector<double> global_lower_bounds(const LoadMatrix& loads, const Topology& topology) {
  topology.check_experts(loads.num_experts(), "global_lower_bounds");
  std::vector<double> bounds(loads.num_layers());
  std::vector<double> row(loads.num_experts());
  for (int64_t layer = 0; layer < loads.num_layers(); ++layer) {
    loads.copy_row(layer, row);
    const double total = std::accumulate(row.begin(), row.end(), 0.0);
    bounds[layer] = std::max(total / static_cast<double>(topology.num_gpus()),
                             min_max_replica_load(row, topology.num_replicas()));
  }
  return bounds;
}

}  // namespace eplb
