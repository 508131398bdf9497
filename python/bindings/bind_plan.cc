// validate() and plan_from_phy2log(): checking and completing placements made elsewhere.

#include <cstdint>
#include <span>

#include <nanobind/stl/tuple.h>

#include "bindings.h"
#include "eplb/plan.h"
#include "eplb/topology.h"

namespace eplb::python {
namespace {

void validate_arrays(const IndexArray& phy2log, const IndexArray& log2phy,
                     const IndexArray& logcnt, int64_t num_replicas, int64_t num_groups,
                     int64_t num_nodes, int64_t num_gpus, bool forbid_duplicates_on_gpu) {
  const Plan plan = to_plan(phy2log, log2phy, logcnt, "validate");
  nb::gil_scoped_release release;
  validate(plan, Topology(num_replicas, num_groups, num_nodes, num_gpus),
           {.forbid_duplicates_on_gpu = forbid_duplicates_on_gpu});
}

PlanArrays complete_plan(const IndexArray& phy2log, int64_t num_experts) {
  check_ndim(phy2log, 2, "plan_from_phy2log", "phy2log");
  const auto num_layers = static_cast<int64_t>(phy2log.shape(0));
  const auto num_replicas = static_cast<int64_t>(phy2log.shape(1));
  return to_numpy(plan_from_phy2log(std::span(phy2log.data(), phy2log.size()), num_layers,
                                    num_replicas, num_experts));
}

}  // namespace

void bind_plan(nb::module_& m) {
  m.def("validate", &validate_arrays, nb::arg("phy2log").noconvert(),
        nb::arg("log2phy").noconvert(), nb::arg("logcnt").noconvert(), nb::arg("num_replicas"),
        nb::arg("num_groups"), nb::arg("num_nodes"), nb::arg("num_gpus"), nb::kw_only(),
        nb::arg("forbid_duplicates_on_gpu") = false,
        "Checks that `phy2log` `[num_layers, num_replicas]`, `log2phy` `[num_layers, "
        "num_experts, max_replicas]` and `logcnt` `[num_layers, num_experts]` (C-contiguous "
        "int64) form a well-formed placement for the topology: every expert has a replica, each "
        "row of `logcnt` sums to `num_replicas`, the two maps describe the same placement and "
        "padding is -1.\n\n"
        "Raises InvalidArgument (a ValueError) naming the first violation, e.g. "
        "`validate: logcnt[2][5] = 0 must be in [1, max_replicas = 2]`.");
  m.def("plan_from_phy2log", &complete_plan, nb::arg("phy2log").noconvert(),
        nb::arg("num_experts"),
        "Builds `(phy2log, log2phy, logcnt)` from `phy2log` `[num_layers, num_replicas]` "
        "(C-contiguous int64) alone: counts are tallied and each expert's `log2phy` entry lists "
        "its slots in increasing order.\n\n"
        "Raises InvalidArgument (a ValueError) when an entry is not in `[0, num_experts)`; does "
        "not check that every expert has a replica (validate() does).");
}

}  // namespace eplb::python
