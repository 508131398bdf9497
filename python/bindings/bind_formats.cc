// write_plan() and read_plan(): plan files of every server format; dense layers of a recording.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <nanobind/stl/filesystem.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include "bindings.h"
#include "eplb/io/io.h"
#include "eplb/io/layers.h"
#include "eplb/metrics.h"
#include "eplb/plan.h"
#include "eplb/topology.h"

namespace eplb::python {
namespace {

/// `(num_replicas, num_groups, num_nodes, num_gpus)`.
using TopologyTuple = std::tuple<int64_t, int64_t, int64_t, int64_t>;
/// A plan file's content: the plan's arrays, its topology, policy, dense layers and whether its
/// rows are MoE layers only (io::PlanFile::moe_layers_only).
using PlanFileTuple =
    std::tuple<PlanArrays, TopologyTuple, std::string, std::vector<int64_t>, bool>;

void write_plan_file(const std::filesystem::path& path, const IndexArray& phy2log,
                     const IndexArray& log2phy, const IndexArray& logcnt, int64_t num_replicas,
                     int64_t num_groups, int64_t num_nodes, int64_t num_gpus,
                     std::string_view format, std::string policy,
                     std::vector<int64_t> dense_layers,
                     const std::optional<PlanMetrics>& metrics, bool moe_layers_only) {
  const io::PlanFormat plan_format = io::parse_plan_format(format);
  const io::PlanFile plan_file{.plan = to_plan(phy2log, log2phy, logcnt, "write_plan"),
                               .topology = Topology(num_replicas, num_groups, num_nodes, num_gpus),
                               .policy = std::move(policy),
                               .dense_layers = std::move(dense_layers),
                               .moe_layers_only = moe_layers_only};
  nb::gil_scoped_release release;
  io::write_plan(path, plan_file, plan_format, metrics);
}

PlanFileTuple read_plan_file(const std::filesystem::path& path, std::string_view format,
                             int64_t num_gpus, int64_t num_groups, int64_t num_nodes,
                             std::vector<int64_t> dense_layers, bool no_dense_layers) {
  const io::PlanReadOptions options{.format = io::parse_plan_format(format),
                                    .num_gpus = num_gpus,
                                    .num_groups = num_groups,
                                    .num_nodes = num_nodes,
                                    .dense_layers = std::move(dense_layers),
                                    .no_dense_layers = no_dense_layers};
  std::optional<io::PlanFile> plan_file;  // a Topology has no default value
  {
    nb::gil_scoped_release release;
    plan_file.emplace(io::read_plan(path, options));
  }
  const Topology& topology = plan_file->topology;
  return {to_numpy(std::move(plan_file->plan)),
          {topology.num_replicas(), topology.num_groups(), topology.num_nodes(),
           topology.num_gpus()},
          std::move(plan_file->policy), std::move(plan_file->dense_layers),
          plan_file->moe_layers_only};
}

std::vector<int64_t> dense_layers_of(const InputArray& loads) {
  return io::find_dense_layers(to_load_matrix(loads, "find_dense_layers", "weight"));
}

PlanArrays insert_dense_rows(const IndexArray& phy2log, const IndexArray& log2phy,
                             const IndexArray& logcnt, const std::vector<int64_t>& dense_layers) {
  const Plan plan = to_plan(phy2log, log2phy, logcnt, "insert_dense_layers");
  return to_numpy(io::insert_dense_layers(plan, dense_layers));
}

}  // namespace

void bind_formats(nb::module_& m) {
  m.def("write_plan", &write_plan_file, nb::arg("path"), nb::arg("phy2log").noconvert(),
        nb::arg("log2phy").noconvert(), nb::arg("logcnt").noconvert(), nb::arg("num_replicas"),
        nb::arg("num_groups"), nb::arg("num_nodes"), nb::arg("num_gpus"), nb::arg("format"),
        nb::arg("policy") = "", nb::arg("dense_layers") = std::vector<int64_t>{},
        nb::arg("metrics") = nb::none(), nb::arg("moe_layers_only") = false,
        "Writes the plan `(phy2log, log2phy, logcnt)` (C-contiguous int64, as validate() takes "
        "them) for the topology in `format` (\"eplb\", \"sglang\", \"trtllm\" or "
        "\"vllm-ascend\"). `dense_layers` (ascending rows) are written as given (eplb, sglang) "
        "or left out (trtllm, vllm-ascend); `metrics` are written by the eplb format only. "
        "`moe_layers_only`: the rows are MoE layers only, dense layers unknown (refused by "
        "sglang and trtllm, recorded by eplb). The file is written to a temporary name and "
        "renamed.\n\n"
        "Raises InvalidArgument for a bad format, topology or inconsistent sizes (the plan is "
        "not validated here), for a file its server would misroute (empty GPUs; two replicas "
        "of an expert on a vllm-ascend device), and IoError (an OSError) when the file cannot "
        "be written.");
  m.def("read_plan", &read_plan_file, nb::arg("path"), nb::arg("format") = "auto",
        nb::arg("num_gpus") = 0, nb::arg("num_groups") = 0, nb::arg("num_nodes") = 0,
        nb::arg("dense_layers") = std::vector<int64_t>{}, nb::arg("no_dense_layers") = false,
        "Reads a plan file of any format (\"auto\": from the content) and validates it.\n\n"
        "Returns `((phy2log, log2phy, logcnt), (num_replicas, num_groups, num_nodes, "
        "num_gpus), policy, dense_layers, moe_layers_only)`. `no_dense_layers`: the model has "
        "no dense layers (the rows of a vllm-ascend file are its layers). 0 means not given: `num_gpus` is required for "
        "sglang and for trtllm files without `ep_size`; groups and nodes default to 1 when not "
        "recorded, and given values must match recorded ones. Raises IoError, ParseError "
        "naming the file and location, and InvalidArgument.");
  m.def("find_dense_layers", &dense_layers_of, nb::arg("weight").noconvert(),
        "Returns the all-zero rows of `weight` `[num_layers, num_experts]`, ascending: the "
        "layers a recording marks as dense. Returns nothing when every row is zero.");
  m.def("insert_dense_layers", &insert_dense_rows, nb::arg("phy2log").noconvert(),
        nb::arg("log2phy").noconvert(), nb::arg("logcnt").noconvert(), nb::arg("dense_layers"),
        "Returns the plan of the MoE layers with the trivial placement (slot `s` holds expert "
        "`s % num_experts`) inserted so that rows `dense_layers` of the result hold it.\n\n"
        "Raises InvalidArgument unless `dense_layers` is ascending, unique and less than "
        "`num_layers + len(dense_layers)`.");
}

}  // namespace eplb::python
