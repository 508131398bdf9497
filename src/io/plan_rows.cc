// Dense layers and sizes of plan files that do not record them: what every plan reader shares.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "eplb/error.h"
#include "eplb/io/layers.h"
#include "eplb/plan.h"
#include "eplb/topology.h"
#include "io/detail/files.h"
#include "io/detail/formats.h"

namespace eplb::io::detail {

std::string layer_list_text(const std::vector<int64_t>& layers) {
  std::string text = "[";
  for (size_t i = 0; i < layers.size(); ++i) {
    text += (i > 0 ? ", " : "") + std::to_string(layers[i]);
  }
  return text + "]";
}

std::vector<int64_t> resolve_dense_layers(std::string_view function,
                                          const std::filesystem::path& path,
                                          const std::vector<int64_t>* recorded,
                                          const PlanReadOptions& options) {
  const std::vector<int64_t>& given = options.dense_layers;
  for (size_t i = 0; i < given.size(); ++i) {
    if (given[i] < 0 || (i > 0 && given[i] <= given[i - 1])) {
      throw InvalidArgument(std::string(function) + ": dense_layers = " + layer_list_text(given) +
                            " must be ascending, unique and non-negative");
    }
  }
  if (recorded == nullptr) return given;
  if (!options.dense_layers.empty() && options.dense_layers != *recorded) {
    throw InvalidArgument(std::string(function) + ": dense_layers = " +
                          layer_list_text(options.dense_layers) + " must equal the dense layers " +
                          layer_list_text(*recorded) + " recorded in " + path.string());
  }
  return *recorded;
}

void check_dense_rows_trivial(std::string_view function, const std::filesystem::path& path,
                              const Plan& plan, const std::vector<int64_t>& dense) {
  for (const int64_t layer : dense) {
    if (layer >= plan.num_layers) break;  // reported by the callers' range checks
    const auto row = plan.phy2log_row(layer);
    for (int64_t slot = 0; slot < plan.num_replicas; ++slot) {
      if (row[static_cast<size_t>(slot)] != slot % plan.num_experts) {
        throw InvalidArgument(std::string(function) + ": dense_layers = " +
                              layer_list_text(dense) + " names layer " + std::to_string(layer) +
                              " of " + path.string() + ", a MoE layer: its slot " +
                              std::to_string(slot) + " holds expert " +
                              std::to_string(row[static_cast<size_t>(slot)]) +
                              ", not the trivial placement of a dense layer (slot s holds "
                              "expert s % " + std::to_string(plan.num_experts) + ")");
      }
    }
  }
}

void check_dense_options(std::string_view function, const PlanReadOptions& options) {
  if (options.no_dense_layers && !options.dense_layers.empty()) {
    throw InvalidArgument(std::string(function) + ": dense_layers = " +
                          layer_list_text(options.dense_layers) +
                          " cannot be given with no_dense_layers");
  }
}

int64_t resolve_size(std::string_view function, const std::filesystem::path& path,
                     const char* name, int64_t given, int64_t recorded) {
  if (given != 0 && recorded != 0 && given != recorded) {
    throw InvalidArgument(std::string(function) + ": " + name + " = " + std::to_string(given) +
                          " must equal the " + std::to_string(recorded) + " recorded in " +
                          path.string());
  }
  return given != 0 ? given : recorded;
}

PlanFile build_plan_file(std::string_view function, const std::filesystem::path& path,
                         std::string_view format_name, std::vector<int64_t> phy2log,
                         int64_t num_layers, int64_t num_replicas, int64_t recorded_gpus,
                         const std::vector<int64_t>* recorded_dense, bool rows_are_moe_only,
                         const PlanReadOptions& options) {
  const int64_t num_gpus = resolve_size(function, path, "num_gpus", options.num_gpus,
                                        recorded_gpus);
  if (num_gpus == 0) {
    throw InvalidArgument(std::string(function) + ": num_gpus = 0 must be given: a " +
                          std::string(format_name) + " plan does not record the number of GPUs");
  }
  const Topology topology(num_replicas, std::max<int64_t>(options.num_groups, 1),
                          std::max<int64_t>(options.num_nodes, 1), num_gpus);
  check_dense_options(function, options);
  if (options.no_dense_layers && recorded_dense != nullptr && !recorded_dense->empty()) {
    throw InvalidArgument(std::string(function) + ": no_dense_layers is set, but " +
                          path.string() + " leaves out dense layers " +
                          layer_list_text(*recorded_dense));
  }
  std::vector<int64_t> dense = resolve_dense_layers(function, path, recorded_dense, options);
  for (size_t i = 0; i < phy2log.size(); ++i) {
    if (phy2log[i] < 0 || phy2log[i] >= kMaxExperts) {
      throw_parse_error(function, path,
                        "row " + std::to_string(i / num_replicas) + ", slot " +
                            std::to_string(i % num_replicas) + ": expert " +
                            std::to_string(phy2log[i]) + " must be in [0, " +
                            std::to_string(kMaxExperts) + ")");
    }
  }
  const int64_t max_expert = *std::max_element(phy2log.begin(), phy2log.end());
  Plan plan = plan_from_phy2log(phy2log, num_layers, num_replicas, max_expert + 1);
  // MoE-only rows (vllm-ascend) get model layer ids only when told where the dense layers go.
  const bool moe_layers_only = rows_are_moe_only && recorded_dense == nullptr && dense.empty() &&
                               !options.no_dense_layers;
  if (rows_are_moe_only) {
    if (!dense.empty()) plan = insert_dense_layers(plan, dense);
  } else if (!dense.empty() && dense.back() >= num_layers) {
    throw InvalidArgument(std::string(function) + ": dense_layers = " + layer_list_text(dense) +
                          " must be rows of the plan's " + std::to_string(num_layers) +
                          " layers");
  } else if (recorded_dense == nullptr) {
    check_dense_rows_trivial(function, path, plan, dense);
  }
  validate(plan, topology);
  return PlanFile{std::move(plan), topology, "", std::move(dense), moe_layers_only};
}

}  // namespace eplb::io::detail
