// read_loads() and read_trace(): load files (vLLM traces, JSON, CSV, .npy) into NumPy arrays.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <nanobind/stl/filesystem.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>

#include "bindings.h"
#include "eplb/io/io.h"
#include "eplb/trace.h"

namespace eplb::python {
namespace {

NumpyArray<double> read_loads_file(const std::filesystem::path& path,
                           const std::optional<std::string>& steps, std::string_view format) {
  const io::LoadFormat load_format = io::parse_load_format(format);
  const StepRange range = steps ? parse_step_range(*steps) : StepRange{};
  Loads loads;
  {
    nb::gil_scoped_release release;
    loads = io::read_loads(path, range, load_format);
  }
  const auto layers = static_cast<size_t>(loads.num_layers);
  const auto experts = static_cast<size_t>(loads.num_experts);
  return to_numpy(std::move(loads.values), {layers, experts});
}

NumpyArray<double> read_trace_file(const std::filesystem::path& path, std::string_view format) {
  const io::LoadFormat load_format = io::parse_load_format(format);
  Trace trace;
  {
    nb::gil_scoped_release release;
    trace = io::read_trace(path, load_format);
  }
  return to_numpy(std::move(trace.values),
                  {static_cast<size_t>(trace.num_steps), static_cast<size_t>(trace.num_layers),
                   static_cast<size_t>(trace.num_experts)});
}

}  // namespace

void bind_io(nb::module_& m) {
  m.def("read_loads", &read_loads_file, nb::arg("path"), nb::arg("steps") = nb::none(),
        nb::arg("format") = "auto",
        "Reads a load file and sums the steps of `steps` (\"A:B\", \"A:\" or \":B\", half-open "
        "and 0-based; None for all) into float64 loads `[num_layers, num_experts]`.\n\n"
        "`format` is \"auto\" (from the content), \"vllm\", \"json\", \"csv\" or \"npy\". Raises "
        "IoError (an OSError) when the file cannot be read, ParseError (a ValueError) naming the "
        "file and location when its content is malformed, and InvalidArgument for a bad range.");
  m.def("read_trace", &read_trace_file, nb::arg("path"), nb::arg("format") = "auto",
        "Reads every step of a load file into float64 loads `[num_steps, num_layers, "
        "num_experts]`; a file holding one matrix is a trace of one step.\n\n"
        "Raises like read_loads().");
}

}  // namespace eplb::python
