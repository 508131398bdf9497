// rebalance_experts(): loads in, DeepSeek's three arrays out.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include <nanobind/stl/string_view.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include "bindings.h"
#include "eplb/plan.h"
#include "eplb/policy.h"
#include "eplb/topology.h"

namespace eplb::python {
namespace {

PlanArrays rebalance(const InputArray& loads, int64_t num_replicas, int64_t num_groups,
                    int64_t num_nodes, int64_t num_gpus, std::string_view policy,
                    std::string_view packer, int64_t effort, uint64_t seed, int64_t threads,
                    int64_t cross_node_replicas, std::vector<bool> active_gpus) {
  const RebalanceOptions options{.policy = parse_policy(policy),
                                 .packer = parse_packing_strategy(packer),
                                 .effort = effort,
                                 .seed = seed,
                                 .cross_node_replicas = cross_node_replicas,
                                 .active_gpus = std::move(active_gpus),
                                 .threads = threads,
                                 .should_stop = SignalPoll()};
  // The core keeps no global state and `weight` stays referenced by the caller's frame.
  Plan plan = without_gil(options.should_stop, [&] {
    const Topology topology(num_replicas, num_groups, num_nodes, num_gpus);
    return rebalance_experts(to_load_matrix(loads, "rebalance_experts", "weight"), topology,
                             options);
  });
  return to_numpy(std::move(plan));
}

// The same call timed inside C++ (median of `repeats`), so that bench/bench_python.py can measure
// what the Python layer adds in one process.
double time_rebalance_ms(const InputArray& loads, int64_t num_replicas, int64_t num_groups,
                         int64_t num_nodes, int64_t num_gpus, std::string_view policy,
                         int64_t repeats) {
  const RebalanceOptions options{.policy = parse_policy(policy)};
  const Topology topology(num_replicas, num_groups, num_nodes, num_gpus);
  const LoadMatrix matrix = to_load_matrix(loads, "time_rebalance_ms", "loads");
  nb::gil_scoped_release release;
  std::vector<double> times;
  for (int64_t r = 0; r < std::max<int64_t>(repeats, 1); ++r) {
    const auto start = std::chrono::steady_clock::now();
    const Plan plan = rebalance_experts(matrix, topology, options);
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace

void bind_policy(nb::module_& m) {
  m.def("_time_rebalance_ms", &time_rebalance_ms, nb::arg("loads").noconvert(),
        nb::arg("num_replicas"), nb::arg("num_groups"), nb::arg("num_nodes"), nb::arg("num_gpus"),
        nb::arg("policy"), nb::arg("repeats"),
        "Returns the median milliseconds of `repeats` rebalance_experts calls timed inside C++ "
        "(for bench/bench_python.py).");
  m.def("rebalance_experts", &rebalance, nb::arg("weight").noconvert(), nb::arg("num_replicas"),
        nb::arg("num_groups"), nb::arg("num_nodes"), nb::arg("num_gpus"), nb::kw_only(),
        nb::arg("policy") = "balanced", nb::arg("packer") = "multistart", nb::arg("effort") = 1,
        nb::arg("seed") = 0, nb::arg("threads") = 1, nb::arg("cross_node_replicas") = 0,
        nb::arg("active_gpus") = std::vector<bool>(),
        "Plans a placement of `weight` `[num_layers, num_experts]` (C-contiguous float64, "
        "float32, int32 or int64 on the CPU) on `num_gpus` GPUs in `num_nodes` nodes with "
        "`num_replicas` slots per layer.\n\n"
        "Returns `(phy2log [num_layers, num_replicas], log2phy [num_layers, num_experts, "
        "max_replicas], logcnt [num_layers, num_experts])` as int64 NumPy arrays. `policy` is "
        "\"deepseek\" (DeepSeek's EPLB bit for bit), \"balanced\" or \"global\"; `packer` is "
        "\"greedy\", \"snake\" or \"multistart\". `cross_node_replicas` lets \"balanced\" put "
        "that many replicas per layer outside their group's node; `active_gpus` (one bool per "
        "GPU, empty for all) plans onto the healthy GPUs only, -1 in the others' slots. Raises InvalidArgument (a ValueError) when "
        "the loads do not fit the topology or an option is out of range. Deterministic: the "
        "same inputs and `seed` give the same plan whatever `threads` is. Releases the GIL; "
        "Ctrl-C stops it between layers (KeyboardInterrupt).");
}

}  // namespace eplb::python
