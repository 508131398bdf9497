#include "eplb/replication.h"

#include <algorithm>
#include <vector>

#include "core/detail/check.h"
#include "core/detail/replication.h"

namespace eplb {

std::vector<int64_t> replicate_greedy(std::span<const double> loads, int64_t num_replicas) {
  const auto num_experts = static_cast<int64_t>(loads.size());
  if (num_experts == 0) detail::throw_invalid("replicate_greedy: loads must not be empty");
  if (num_replicas < num_experts) {
    detail::throw_invalid("replicate_greedy: num_replicas = ", num_replicas,
                          " must be at least num_experts = ", num_experts);
  }
  std::vector<int64_t> counts(num_experts, 1);
  detail::add_replicas_greedy(loads, num_replicas - num_experts, counts);
  return counts;
}

namespace detail {

int64_t add_replicas_greedy(std::span<const double> loads, int64_t num_extra,
                            std::span<int64_t> counts, int64_t max_count,
                            std::vector<ReplicaCandidate>* scratch) {
  // The heap's top is the largest load per replica; among equals the expert with fewer replicas
  // (so all-zero loads spread over experts instead of piling onto expert 0), then the lower index.
  const auto before = [](const ReplicaCandidate& a, const ReplicaCandidate& b) {
    if (a.load_per_replica != b.load_per_replica) return a.load_per_replica < b.load_per_replica;
    if (a.count != b.count) return a.count > b.count;
    return a.expert > b.expert;
  };
  std::vector<ReplicaCandidate> own;
  std::vector<ReplicaCandidate>& heap = scratch ? *scratch : own;
  heap.clear();
  for (size_t e = 0; e < counts.size(); ++e) {
    if (counts[e] >= max_count) continue;
    heap.push_back({loads[e] / static_cast<double>(counts[e]), counts[e], static_cast<int64_t>(e)});
  }
  // Only the first num_extra experts in heap order can ever be picked: until one of them is
  // picked, each later expert stays behind every one of them that is still untouched, and fewer
  // than num_extra are touched before the last pick. So the heap keeps only the experts whose
  // load per replica reaches the num_extra-th largest (ties included).
  if (num_extra > 0 && num_extra < static_cast<int64_t>(heap.size())) {
    const auto larger = [](const ReplicaCandidate& a, const ReplicaCandidate& b) {
      return a.load_per_replica > b.load_per_replica;
    };
    std::nth_element(heap.begin(), heap.begin() + (num_extra - 1), heap.end(), larger);
    const double threshold = heap[num_extra - 1].load_per_replica;
    std::erase_if(heap, [&](const ReplicaCandidate& c) { return c.load_per_replica < threshold; });
  }
  std::make_heap(heap.begin(), heap.end(), before);
  for (int64_t added = 0; added < num_extra; ++added) {
    if (heap.empty()) return num_extra - added;
    std::pop_heap(heap.begin(), heap.end(), before);
    ReplicaCandidate& top = heap.back();
    const int64_t count = ++counts[top.expert];
    if (count >= max_count) {
      heap.pop_back();
      continue;
    }
    top = {loads[top.expert] / static_cast<double>(count), count, top.expert};
    std::push_heap(heap.begin(), heap.end(), before);
  }
  return 0;
}

}  // namespace detail
}  // namespace eplb
