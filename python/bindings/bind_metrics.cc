// evaluate() and lower_bounds(): how good a placement is, and how good any placement can be.

#include <cstdint>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <nanobind/stl/string.h>

#include "bindings.h"
#include "eplb/bounds.h"
#include "eplb/metrics.h"
#include "eplb/plan.h"
#include "eplb/topology.h"

namespace eplb::python {
namespace {

PlanMetrics evaluate_phy2log(const IndexArray& phy2log, const InputArray& loads,
                             int64_t num_gpus) {
  check_ndim(phy2log, 2, "evaluate", "phy2log");
  const LoadMatrix matrix = to_load_matrix(loads, "evaluate", "weight");
  const auto num_layers = static_cast<int64_t>(phy2log.shape(0));
  const auto num_replicas = static_cast<int64_t>(phy2log.shape(1));
  nb::gil_scoped_release release;
  // GPU loads depend only on the slots per GPU, so one node and one group describe any plan.
  const Topology topology(num_replicas, 1, 1, num_gpus);
  const Plan plan = plan_from_phy2log(std::span(phy2log.data(), phy2log.size()), num_layers,
                                      num_replicas, matrix.num_experts());
  validate(plan, topology);
  return evaluate(plan, matrix, topology);
}

NumpyArray<double> global_bounds(const InputArray& loads, int64_t num_replicas, int64_t num_gpus) {
  std::vector<double> bounds;
  {
    const LoadMatrix matrix = to_load_matrix(loads, "lower_bounds", "weight");
    nb::gil_scoped_release release;
    bounds = global_lower_bounds(matrix, Topology(num_replicas, 1, 1, num_gpus));
  }
  const size_t num_layers = bounds.size();
  return to_numpy(std::move(bounds), {num_layers});
}

NumpyArray<double> copy_to_numpy(const std::vector<double>& values) {
  return to_numpy(std::vector<double>(values), {values.size()});
}

std::string repr(const PlanMetrics& metrics) {
  std::ostringstream out;
  out << "PlanMetrics(gpu_balancedness=" << metrics.gpu_balancedness
      << ", slot_balancedness=" << metrics.slot_balancedness << ", gap=" << metrics.gap
      << ", mean_layer_gap=" << metrics.mean_layer_gap
      << ", duplicate_slots=" << metrics.duplicate_slots
      << ", num_layers=" << metrics.max_gpu_load.size() << ")";
  return out.str();
}

}  // namespace

void bind_metrics(nb::module_& m) {
  nb::class_<PlanMetrics>(m, "PlanMetrics",
                          "Scores of one plan on one load matrix. A replica carries `load / "
                          "count` of its expert.")
      .def_ro("gpu_balancedness", &PlanMetrics::gpu_balancedness,
              "Sum over layers of the mean GPU load / sum over layers of the heaviest GPU (1 = "
              "perfect; all-zero layers drop out).")
      .def_ro("slot_balancedness", &PlanMetrics::slot_balancedness,
              "The same with slots in place of GPUs.")
      .def_ro("gap", &PlanMetrics::gap,
              "Sum of heaviest GPUs / sum of lower bounds - 1 (0 when provably optimal).")
      .def_ro("mean_layer_gap", &PlanMetrics::mean_layer_gap,
              "Mean over non-zero layers of heaviest GPU / lower bound - 1.")
      .def_prop_ro(
          "max_gpu_load", [](const PlanMetrics& p) { return copy_to_numpy(p.max_gpu_load); },
          nb::rv_policy::move, "Heaviest GPU per layer, float64 `[num_layers]`.")
      .def_prop_ro(
          "lower_bound", [](const PlanMetrics& p) { return copy_to_numpy(p.lower_bound); },
          nb::rv_policy::move,
          "Global lower bound on the heaviest GPU per layer, float64 `[num_layers]`.")
      .def_ro("duplicate_slots", &PlanMetrics::duplicate_slots,
              "Slots, over all layers, holding a second (third, ...) replica of an expert on a GPU "
              "that already holds one. balanced and global use one only where it lowers the "
              "heaviest GPU; deepseek wherever DeepSeek's reference does.")
      .def("__repr__", &repr);

  m.def("evaluate", &evaluate_phy2log, nb::arg("phy2log").noconvert(),
        nb::arg("weight").noconvert(), nb::arg("num_gpus"),
        "Scores the placement `phy2log` `[num_layers, num_replicas]` (C-contiguous int64) on "
        "`weight` `[num_layers, num_experts]` (which may differ from the loads it was planned on, "
        "e.g. the next window), with `num_replicas / num_gpus` consecutive slots per GPU.\n\n"
        "Returns a PlanMetrics. Raises InvalidArgument (a ValueError) when the shapes disagree or "
        "the placement is not valid. Releases the GIL.");
  m.def("lower_bounds", &global_bounds, nb::arg("weight").noconvert(), nb::arg("num_replicas"),
        nb::arg("num_gpus"),
        "Returns, per layer, a lower bound on the heaviest GPU of any placement of `weight` "
        "`[num_layers, num_experts]` in `num_replicas` slots on `num_gpus` GPUs: max(total / "
        "num_gpus, the smallest possible largest load per replica), float64 `[num_layers]`.\n\n"
        "Raises InvalidArgument (a ValueError) for bad sizes. Releases the GIL.");
}

}  // namespace eplb::python
