#include "support/check_plan.h"

#include <sstream>
#include <string>
#include <vector>

#include "eplb/error.h"

namespace eplb::testing {

std::string check_plan(const Plan& plan, const Topology& topology, int64_t num_experts) {
  try {
    validate(plan, topology);
  } catch (const Error& error) {
    return std::string("validate() rejected the plan: ") + error.what();
  }
  std::ostringstream problem;
  if (plan.num_experts != num_experts) {
    problem << "num_experts = " << plan.num_experts << ", expected " << num_experts;
    return problem.str();
  }
  const int64_t num_replicas = topology.num_replicas();
  for (int64_t layer = 0; layer < plan.num_layers; ++layer) {
    std::vector<int64_t> occurrences(num_experts, 0);
    for (int64_t slot = 0; slot < num_replicas; ++slot) {
      const int64_t expert = plan.phy2log[layer * num_replicas + slot];
      if (expert == -1) continue;  // a slot of an excluded GPU (validate() checks whole GPUs)
      if (expert < 0 || expert >= num_experts) {
        problem << "layer " << layer << " slot " << slot << " holds " << expert;
        return problem.str();
      }
      ++occurrences[expert];
      bool listed = false;
      for (int64_t rank = 0; rank < plan.max_replicas; ++rank) {
        listed |= plan.log2phy[(layer * num_experts + expert) * plan.max_replicas + rank] == slot;
      }
      if (!listed) {
        problem << "layer " << layer << " slot " << slot << " missing from log2phy of expert "
                << expert;
        return problem.str();
      }
    }
    for (int64_t expert = 0; expert < num_experts; ++expert) {
      if (occurrences[expert] != plan.logcnt[layer * num_experts + expert] ||
          occurrences[expert] < 1) {
        problem << "layer " << layer << " expert " << expert << " has " << occurrences[expert]
                << " slots but logcnt " << plan.logcnt[layer * num_experts + expert];
        return problem.str();
      }
    }
  }
  return {};
}

}  // namespace eplb::testing
