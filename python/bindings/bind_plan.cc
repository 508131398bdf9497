// validate(), plan_from_phy2log() and keep_gpu_slots(): checking, completing and reordering
// placements made elsewhere.

#include <cstdint>
#include <span>

#include <nanobind/stl/tuple.h>

#include "bindings.h"
#include "eplb/migration.h"
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

PlanArrays keep_slots(const IndexArray& phy2log, const IndexArray& current, int64_t num_experts,
                      int64_t num_gpus) {
  check_ndim(phy2log, 2, "keep_gpu_slots", "phy2log");
  check_ndim(current, 2, "keep_gpu_slots", "current");
  const auto num_layers = static_cast<int64_t>(phy2log.shape(0));
  const auto num_replicas = static_cast<int64_t>(phy2log.shape(1));
  const Plan fresh = plan_from_phy2log(std::span(phy2log.data(), phy2log.size()), num_layers,
                                       num_replicas, num_experts);
  const Plan old = plan_from_phy2log(std::span(current.data(), current.size()),
                                     static_cast<int64_t>(current.shape(0)),
                                     static_cast<int64_t>(current.shape(1)), num_experts);
  const Topology topology(num_replicas, 1, 1, num_gpus);
  nb::gil_scoped_release release;
  return to_numpy(keep_gpu_slots(fresh, old, topology));
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
  m.def("keep_gpu_slots", &keep_slots, nb::arg("phy2log").noconvert(),
        nb::arg("current").noconvert(), nb::arg("num_experts"), nb::arg("num_gpus"),
        "Reorders the slots of each of the `num_gpus` GPUs of `phy2log` `[num_layers, "
        "num_replicas]` so that every expert the GPU held in `current` (same shape) keeps its "
        "old slot; GPU contents do not change. Returns `(phy2log, log2phy, logcnt)`.\n\n"
        "Raises InvalidArgument (a ValueError) when the shapes differ, an entry is not in "
        "`[0, num_experts)` or -1, or `num_gpus` does not divide the slots.");
}

}  // namespace eplb::python
