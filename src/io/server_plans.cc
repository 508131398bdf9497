// What each server's plan format can express, checked before a file is written: a file the
// server reads differently from the plan would send tokens to the wrong GPU.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "eplb/error.h"
#include "eplb/io/io.h"
#include "eplb/trace.h"

namespace eplb::io {
namespace {

std::string list_text(const std::vector<int64_t>& values) {
  std::string text;
  for (const int64_t value : values) text += (text.empty() ? "" : ",") + std::to_string(value);
  return text;
}

// Returns the GPUs whose slots hold -1 (excluded GPUs) in some layer, ascending.
std::vector<int64_t> empty_gpus(const PlanFile& plan_file) {
  const Plan& plan = plan_file.plan;
  const int64_t slots_per_gpu = plan_file.topology.slots_per_gpu();
  std::vector<int64_t> gpus;
  for (int64_t gpu = 0; gpu < plan_file.topology.num_gpus(); ++gpu) {
    for (int64_t layer = 0; layer < plan.num_layers; ++layer) {
      if (plan.phy2log[layer * plan.num_replicas + gpu * slots_per_gpu] == -1) {
        gpus.push_back(gpu);
        break;
      }
    }
  }
  return gpus;
}

// How each server reads a slot that holds no expert.
std::string_view empty_slot_reading(PlanFormat format) {
  switch (format) {
    case PlanFormat::sglang:
      return "SGLang routes to every slot of physical_to_logical_map and reads -1 as the last "
             "expert";
    case PlanFormat::trtllm:
      return "TensorRT-LLM needs an expert in every slot of initial_global_assignments";
    default:
      return "vllm-ascend reads -1 in device_expert as the last expert and gives every device "
             "the slot count of device 0";
  }
}

void check_no_empty_gpus(const PlanFile& plan_file, PlanFormat format) {
  const std::vector<int64_t> gpus = empty_gpus(plan_file);
  if (gpus.empty()) return;
  const int64_t healthy = plan_file.topology.num_gpus() - static_cast<int64_t>(gpus.size());
  throw InvalidArgument(
      "write_plan: format " + std::string(to_string(format)) + " cannot leave GPUs " +
      list_text(gpus) + " empty (excluded GPUs): " + std::string(empty_slot_reading(format)) +
      ", so tokens would go to them; restart the server on the " + std::to_string(healthy) +
      " other GPUs and plan for those (--gpus " + std::to_string(healthy) +
      " with as many slots per GPU), or write --format eplb");
}

// vllm-ascend maps (layer, device, expert) to one local slot, so a second copy of an expert on a
// device overwrites the first one's entry and misaddresses the device's other slots.
void check_one_replica_per_gpu(const PlanFile& plan_file) {
  const Plan& plan = plan_file.plan;
  const int64_t slots_per_gpu = plan_file.topology.slots_per_gpu();
  std::vector<int64_t> seen_on_gpu(static_cast<size_t>(plan.num_experts), -1);
  size_t dense_idx = 0;
  int64_t moe_idx = 0;
  for (int64_t layer = 0; layer < plan.num_layers; ++layer) {
    if (dense_idx < plan_file.dense_layers.size() && plan_file.dense_layers[dense_idx] == layer) {
      ++dense_idx;  // dense rows are left out of the file
      continue;
    }
    std::fill(seen_on_gpu.begin(), seen_on_gpu.end(), -1);
    const auto row = plan.phy2log_row(layer);
    for (int64_t slot = 0; slot < plan.num_replicas; ++slot) {
      const int64_t expert = row[static_cast<size_t>(slot)];
      const int64_t gpu = slot / slots_per_gpu;
      if (expert < 0) continue;
      if (seen_on_gpu[static_cast<size_t>(expert)] == gpu) {
        throw InvalidArgument(
            "write_plan: format vllm-ascend: layer " + std::to_string(layer) + " (layer_id " +
            std::to_string(moe_idx) + " of the file), gpu " + std::to_string(gpu) +
            " holds expert " + std::to_string(expert) +
            " twice: vllm-ascend addresses one slot per expert per device and would misroute "
            "the device's tokens; re-plan with at most one replica of an expert per GPU");
      }
      seen_on_gpu[static_cast<size_t>(expert)] = gpu;
    }
    ++moe_idx;
  }
}

}  // namespace

void check_server_plan(const PlanFile& plan_file, PlanFormat format) {
  if (plan_file.moe_layers_only && !plan_file.dense_layers.empty()) {
    throw InvalidArgument("write_plan: a plan with moe_layers_only set cannot list dense_layers " +
                          list_text(plan_file.dense_layers));
  }
  if (format != PlanFormat::sglang && format != PlanFormat::trtllm &&
      format != PlanFormat::vllm_ascend) {
    return;
  }
  check_no_empty_gpus(plan_file, format);
  if (format == PlanFormat::vllm_ascend) check_one_replica_per_gpu(plan_file);
  if (plan_file.moe_layers_only && format != PlanFormat::vllm_ascend) {
    throw InvalidArgument(
        "write_plan: format " + std::string(to_string(format)) + " numbers the model's layers, "
        "but the plan's " + std::to_string(plan_file.plan.num_layers) +
        " rows are MoE layers only (from a vllm-ascend file or a recording without dense rows) "
        "and where the dense layers go is not known: give the dense layers (--dense-layers, "
        "e.g. 0:3 for DeepSeek-V3) or say there are none (--dense-layers none)");
  }
}

Trace map_slot_loads(const Trace& slot_loads, const PlanFile& deployed_plan,
                     std::string_view plan_name) {
  const Plan& plan = deployed_plan.plan;
  const auto fail = [&](const std::string& what) {
    throw InvalidArgument("map_slot_loads: deployed plan " + std::string(plan_name) + ": " + what);
  };
  if (deployed_plan.moe_layers_only) {
    fail("its rows are MoE layers only, the statistics' rows are model layers: give its dense "
         "layers");
  }
  if (slot_loads.num_experts != plan.num_replicas) {
    fail("the loads count " + std::to_string(slot_loads.num_experts) +
         " slots per layer, the plan has num_slots = " + std::to_string(plan.num_replicas));
  }
  if (slot_loads.num_layers != plan.num_layers) {
    fail("the loads have " + std::to_string(slot_loads.num_layers) + " layers, the plan " +
         std::to_string(plan.num_layers));
  }
  std::vector<bool> dense(static_cast<size_t>(plan.num_layers), false);
  for (const int64_t layer : deployed_plan.dense_layers) dense[static_cast<size_t>(layer)] = true;
  Trace experts{.num_steps = slot_loads.num_steps,
                .num_layers = plan.num_layers,
                .num_experts = plan.num_experts,
                .values = std::vector<double>(static_cast<size_t>(
                    slot_loads.num_steps * plan.num_layers * plan.num_experts))};
  for (int64_t step = 0; step < slot_loads.num_steps; ++step) {
    for (int64_t layer = 0; layer < plan.num_layers; ++layer) {
      const double* slots = slot_loads.values.data() +
                            (step * slot_loads.num_layers + layer) * slot_loads.num_experts;
      double* row = experts.values.data() + (step * plan.num_layers + layer) * plan.num_experts;
      const auto placement = plan.phy2log_row(layer);
      for (int64_t slot = 0; slot < plan.num_replicas; ++slot) {
        if (slots[slot] == 0) continue;
        const int64_t expert = placement[static_cast<size_t>(slot)];
        if (dense[static_cast<size_t>(layer)] || expert < 0) {
          fail("step " + std::to_string(step) + ", layer " + std::to_string(layer) + ", slot " +
               std::to_string(slot) + " has tokens, but the plan gives it no expert" +
               (expert < 0 ? " (excluded GPU)" : " (dense layer)"));
        }
        row[expert] += slots[slot];
      }
    }
  }
  return experts;
}

}  // namespace eplb::io
