// read_loads(), read_trace() and sum_steps(): load files into NumPy arrays, and step ranges.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nanobind/stl/filesystem.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>

#include "bindings.h"
#include "eplb/io/io.h"
#include "eplb/trace.h"

namespace eplb::python {
namespace {

/// A read-only, C-contiguous CPU float64 trace `[num_steps, num_layers, num_experts]`.
using TraceArray = nb::ndarray<const double, nb::ndim<3>, nb::c_contig, nb::device::cpu>;

NumpyArray<double> loads_to_numpy(Loads&& loads) {
  const auto layers = static_cast<size_t>(loads.num_layers);
  const auto experts = static_cast<size_t>(loads.num_experts);
  return to_numpy(std::move(loads.values), {layers, experts});
}

io::ReadOptions read_options(std::string_view format, int64_t num_layers, int64_t num_experts,
                             const std::optional<std::filesystem::path>& deployed_plan) {
  return {.format = io::parse_load_format(format),
          .num_layers = num_layers,
          .num_experts = num_experts,
          .deployed_plan = deployed_plan.value_or(std::filesystem::path())};
}

NumpyArray<double> read_loads_file(const std::filesystem::path& path,
                                   const std::optional<std::string>& steps,
                                   std::string_view format, int64_t num_layers,
                                   int64_t num_experts,
                                   const std::optional<std::filesystem::path>& deployed_plan) {
  const io::ReadOptions options = read_options(format, num_layers, num_experts, deployed_plan);
  const StepRange range = steps ? parse_step_range(*steps) : StepRange{};
  Loads loads;
  {
    nb::gil_scoped_release release;
    loads = io::read_loads(path, range, options);
  }
  return loads_to_numpy(std::move(loads));
}

NumpyArray<double> read_trace_file(const std::filesystem::path& path, std::string_view format,
                                   int64_t num_layers, int64_t num_experts,
                                   const std::optional<std::filesystem::path>& deployed_plan) {
  const io::ReadOptions options = read_options(format, num_layers, num_experts, deployed_plan);
  Trace trace;
  {
    nb::gil_scoped_release release;
    trace = io::read_trace(path, options);
  }
  return to_numpy(std::move(trace.values),
                  {static_cast<size_t>(trace.num_steps), static_cast<size_t>(trace.num_layers),
                   static_cast<size_t>(trace.num_experts)});
}

NumpyArray<double> sum_trace_steps(const TraceArray& trace_array,
                                   const std::optional<std::string>& steps) {
  const StepRange range = steps ? parse_step_range(*steps) : StepRange{};
  Trace trace{.num_steps = static_cast<int64_t>(trace_array.shape(0)),
              .num_layers = static_cast<int64_t>(trace_array.shape(1)),
              .num_experts = static_cast<int64_t>(trace_array.shape(2)),
              .values = std::vector<double>(trace_array.data(),
                                            trace_array.data() + trace_array.size())};
  return loads_to_numpy(trace.sum_steps(range));
}

}  // namespace

void bind_io(nb::module_& m) {
  m.def("read_loads", &read_loads_file, nb::arg("path"), nb::arg("steps") = nb::none(),
        nb::arg("format") = "auto", nb::arg("num_layers") = 0, nb::arg("num_experts") = 0,
        nb::arg("deployed_plan") = nb::none(),
        "Reads a load file (or TensorRT-LLM statistics folder) and sums the steps of `steps` "
        "(\"A:B\", \"A:\" or \":B\", half-open and 0-based; None for all) into float64 loads "
        "`[num_layers, num_experts]`.\n\n"
        "`format` is \"auto\" (from the content), \"vllm\", \"json\", \"csv\", \"npy\", "
        "\"sglang\", \"counts\", \"layer-jsonl\", \"topk-jsonl\" or \"trtllm\". `num_layers` "
        "(required there) and `num_experts` (0: the largest id + 1) apply to \"topk-jsonl\" "
        "only. `deployed_plan` (a plan file, None for none): the loads count that plan's slots "
        "(TensorRT-LLM statistics with its load balancer active) and are mapped to experts "
        "through it. Raises IoError (an OSError) when the file cannot be read, ParseError (a "
        "ValueError) naming the file and location when its content is malformed, and "
        "InvalidArgument for a bad format, option or range.");
  m.def("read_trace", &read_trace_file, nb::arg("path"), nb::arg("format") = "auto",
        nb::arg("num_layers") = 0, nb::arg("num_experts") = 0,
        nb::arg("deployed_plan") = nb::none(),
        "Reads every step of a load file into float64 loads `[num_steps, num_layers, "
        "num_experts]`; a file holding one matrix is a trace of one step.\n\n"
        "Raises like read_loads().");
  m.def("sum_steps", &sum_trace_steps, nb::arg("trace").noconvert(),
        nb::arg("steps") = nb::none(),
        "Sums the steps of `steps` (as for read_loads()) of `trace` `[num_steps, num_layers, "
        "num_experts]` (C-contiguous float64) into `[num_layers, num_experts]`.\n\n"
        "Raises InvalidArgument when the range is malformed, empty or out of bounds.");
}

}  // namespace eplb::python
