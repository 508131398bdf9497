// Plan writers: eplb's plan JSON, SGLang's map, vllm-ascend's expert map, TensorRT-LLM's YAML.
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "eplb/io/io.h"
#include "io/detail/files.h"
#include "io/detail/formats.h"

namespace eplb::io::detail {
namespace {

void append_integer(std::string& out, int64_t value) { out += std::to_string(value); }

// Writes `[a<separator>b...]` of `count` integers starting at `values`.
void append_int_row(std::string& out, const int64_t* values, int64_t count,
                    std::string_view separator = ",") {
  out += '[';
  for (int64_t i = 0; i < count; ++i) {
    if (i > 0) out += separator;
    append_integer(out, values[i]);
  }
  out += ']';
}

// Writes a `[rows, cols]` integer matrix, one row per line, rows indented by four spaces.
void append_int_matrix(OutputFile& file, const std::vector<int64_t>& values, int64_t rows,
                       int64_t cols) {
  std::string& out = file.text();
  out += "[\n";
  for (int64_t row = 0; row < rows; ++row) {
    out += "    ";
    append_int_row(out, values.data() + row * cols, cols);
    out += row + 1 < rows ? ",\n" : "\n";
    file.flush_if_full();
  }
  out += "  ]";
}

void append_double_or_null(std::string& out, double value) {
  if (std::isfinite(value)) {
    append_number(out, value);
  } else {
    out += "null";
  }
}

void append_metrics(std::string& out, const PlanMetrics& metrics) {
  const auto append_field = [&](const char* name, double value) {
    out += "    \"";
    out += name;
    out += "\": ";
    append_double_or_null(out, value);
    out += ",\n";
  };
  const auto append_list = [&](const char* name, const std::vector<double>& values, bool last) {
    out += "    \"";
    out += name;
    out += "\": [";
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out += ',';
      append_double_or_null(out, values[i]);
    }
    out += last ? "]\n" : "],\n";
  };
  out += ",\n  \"metrics\": {\n";
  append_field("gpu_balancedness", metrics.gpu_balancedness);
  append_field("slot_balancedness", metrics.slot_balancedness);
  append_field("gap", metrics.gap);
  append_field("mean_layer_gap", metrics.mean_layer_gap);
  const bool hierarchical = metrics.hierarchical_gap >= 0;
  if (hierarchical) append_field("hierarchical_gap", metrics.hierarchical_gap);
  append_list("max_gpu_load", metrics.max_gpu_load, false);
  append_list("lower_bound", metrics.lower_bound, !hierarchical);
  if (hierarchical) append_list("hierarchical_bound", metrics.hierarchical_bound, true);
  out += "  }";
}

// Returns the rows that are MoE layers (not in `plan_file.dense_layers`), ascending.
std::vector<int64_t> moe_layers(const PlanFile& plan_file) {
  std::vector<int64_t> layers;
  size_t dense_idx = 0;
  for (int64_t layer = 0; layer < plan_file.plan.num_layers; ++layer) {
    if (dense_idx < plan_file.dense_layers.size() && plan_file.dense_layers[dense_idx] == layer) {
      ++dense_idx;
    } else {
      layers.push_back(layer);
    }
  }
  return layers;
}

}  // namespace

void write_plan_json(const PlanFile& plan_file, const PlanMetrics* metrics, OutputFile& file) {
  const Plan& plan = plan_file.plan;
  const Topology& topology = plan_file.topology;
  std::string& out = file.text();
  out += "{\n  \"format\": \"eplb-plan\",\n  \"version\": 1,\n";
  out += "  \"topology\": {\"num_replicas\": " + std::to_string(topology.num_replicas()) +
         ", \"num_groups\": " + std::to_string(topology.num_groups()) +
         ", \"num_nodes\": " + std::to_string(topology.num_nodes()) +
         ", \"num_gpus\": " + std::to_string(topology.num_gpus()) + "},\n";
  out += "  \"policy\": ";
  append_json_string(out, plan_file.policy);
  out += ",\n  \"num_layers\": " + std::to_string(plan.num_layers) +
         ",\n  \"num_experts\": " + std::to_string(plan.num_experts) +
         ",\n  \"max_replicas\": " + std::to_string(plan.max_replicas) + ",\n";
  if (!plan_file.dense_layers.empty()) {
    out += "  \"dense_layers\": ";
    append_int_row(out, plan_file.dense_layers.data(),
                   static_cast<int64_t>(plan_file.dense_layers.size()));
    out += ",\n";
  }
  // Rows that are MoE layers only, dense layers unknown: a later server file needs them given.
  if (plan_file.moe_layers_only) out += "  \"moe_layers_only\": true,\n";
  out += "  \"phy2log\": ";
  append_int_matrix(file, plan.phy2log, plan.num_layers, plan.num_replicas);
  out += ",\n  \"log2phy\": [\n";
  for (int64_t layer = 0; layer < plan.num_layers; ++layer) {
    out += "    [";
    for (int64_t expert = 0; expert < plan.num_experts; ++expert) {
      if (expert > 0) out += ',';
      append_int_row(out,
                     plan.log2phy.data() + (layer * plan.num_experts + expert) * plan.max_replicas,
                     plan.max_replicas);
    }
    out += layer + 1 < plan.num_layers ? "],\n" : "]\n";
    file.flush_if_full();
  }
  out += "  ],\n  \"logcnt\": ";
  append_int_matrix(file, plan.logcnt, plan.num_layers, plan.num_experts);
  if (metrics != nullptr) append_metrics(out, *metrics);
  out += "\n}\n";
}

void write_sglang_plan(const PlanFile& plan_file, OutputFile& file) {
  const Plan& plan = plan_file.plan;
  std::string& out = file.text();
  out += "{\"physical_to_logical_map\": [\n";
  for (int64_t layer = 0; layer < plan.num_layers; ++layer) {
    out += "  ";
    append_int_row(out, plan.phy2log_row(layer).data(), plan.num_replicas);
    out += layer + 1 < plan.num_layers ? ",\n" : "\n";
    file.flush_if_full();
  }
  out += "]}\n";
}

void write_vllm_ascend_plan(const PlanFile& plan_file, OutputFile& file) {
  const Plan& plan = plan_file.plan;
  const int64_t num_gpus = plan_file.topology.num_gpus();
  const int64_t slots_per_gpu = plan_file.topology.slots_per_gpu();
  const std::vector<int64_t> layers = moe_layers(plan_file);
  // vllm-ascend numbers MoE layers from 0 and skips dense ones (its num_dense_layers offset).
  std::string& out = file.text();
  out += "{\n  \"moe_layer_count\": " + std::to_string(layers.size()) + ",\n  \"layer_list\": [\n";
  for (size_t moe_idx = 0; moe_idx < layers.size(); ++moe_idx) {
    out += "    {\"layer_id\": " + std::to_string(moe_idx) +
           ", \"device_count\": " + std::to_string(num_gpus) + ", \"device_list\": [\n";
    const int64_t* row = plan.phy2log_row(layers[moe_idx]).data();
    for (int64_t gpu = 0; gpu < num_gpus; ++gpu) {
      out += "      {\"device_id\": " + std::to_string(gpu) + ", \"device_expert\": ";
      append_int_row(out, row + gpu * slots_per_gpu, slots_per_gpu, ", ");
      out += gpu + 1 < num_gpus ? "},\n" : "}\n";
    }
    out += moe_idx + 1 < layers.size() ? "    ]},\n" : "    ]}\n";
    file.flush_if_full();
  }
  out += "  ]\n}\n";
}

void write_trtllm_plan(const PlanFile& plan_file, OutputFile& file) {
  const Plan& plan = plan_file.plan;
  // Keys are the model's layer indices (rows); global slot s sits on rank s / slots_per_gpu.
  std::string& out = file.text();
  out += "num_slots: " + std::to_string(plan.num_replicas) + "\ninitial_global_assignments:\n";
  for (const int64_t layer : moe_layers(plan_file)) {
    out += "  " + std::to_string(layer) + ": ";
    append_int_row(out, plan.phy2log_row(layer).data(), plan.num_replicas, ", ");
    out += '\n';
    file.flush_if_full();
  }
  out += "layer_updates_per_iter: 0\n";
}

}  // namespace eplb::io::detail
