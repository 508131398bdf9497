// JSON plan readers (eplb, SGLang, vllm-ascend) with the simdjson DOM, and what they share.
#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "eplb/error.h"
#include "eplb/io/layers.h"
#include "eplb/plan.h"
#include "eplb/topology.h"
#include "io/detail/files.h"
#include "io/detail/formats.h"
#include "io/detail/json_errors.h"

namespace eplb::io::detail {
namespace {

namespace dom = simdjson::dom;

// DOM helpers: plans are small, and their fields may come in any order.
class DomReader {
 public:
  DomReader(std::string_view function, const std::filesystem::path& path)
      : function_(function), path_(path), errors_(function, path) {}

 protected:
  dom::object parse_root(const std::string& content) {
    dom::element root;
    if (const auto error = parser_.parse(content).get(root)) {
      check_content_after_root(errors_, content);
      errors_.fail("", error, "");
    }
    return get_object(root, "");
  }

  dom::element field(const dom::object& object, std::string_view pointer, std::string_view key) {
    dom::element value;
    if (object.at_key(key).get(value)) {
      errors_.fail(pointer, "missing field \"" + std::string(key) + "\"");
    }
    return value;
  }

  dom::object get_object(const dom::element& element, std::string_view pointer) {
    dom::object object;
    if (const auto error = element.get_object().get(object)) {
      errors_.fail(pointer, error, "expected an object");
    }
    return object;
  }

  dom::array get_array(const dom::element& element, std::string_view pointer) {
    dom::array array;
    if (const auto error = element.get_array().get(array)) {
      errors_.fail(pointer, error, "expected an array");
    }
    return array;
  }

  int64_t get_integer(const dom::element& element, std::string_view pointer) {
    int64_t value = 0;
    if (const auto error = element.get_int64().get(value)) {
      errors_.fail(pointer, error, "expected an integer");
    }
    return value;
  }

  int64_t get_size(const dom::object& object, std::string_view key) {
    const std::string pointer = child("", key);
    const int64_t value = get_integer(field(object, "", key), pointer);
    if (value < 0) errors_.fail(pointer, "expected a non-negative integer");
    return value;
  }

  // Appends a nested array of integers of shape `shape` to `out` in row-major order; a
  // dimension of -1 takes the size of the first array met at that depth. Shapes are compared
  // before anything is stored, so sizes claimed by the file never drive an allocation.
  void read_integers(const dom::element& element, const std::string& pointer,
                     std::span<int64_t> shape, std::vector<int64_t>& out) {
    const dom::array array = get_array(element, pointer);
    if (shape[0] < 0) shape[0] = static_cast<int64_t>(array.size());
    if (static_cast<int64_t>(array.size()) != shape[0]) {
      errors_.fail(pointer, "expected " + std::to_string(shape[0]) + " entries, got " +
                                std::to_string(array.size()));
    }
    int64_t index = 0;
    for (const dom::element item : array) {
      if (shape.size() > 1) {
        read_integers(item, child(pointer, index), shape.subspan(1), out);
      } else {
        out.push_back(get_integer(item, child(pointer, index)));
      }
      ++index;
    }
  }

  std::string_view function_;
  const std::filesystem::path& path_;
  JsonErrors errors_;
  dom::parser parser_;
};

class EplbPlanReader : public DomReader {
 public:
  using DomReader::DomReader;

  PlanFile read(const std::string& content, const PlanReadOptions& options) {
    const dom::object object = parse_root(content);
    std::string_view format;
    if (field(object, "", "format").get_string().get(format) || format != "eplb-plan") {
      errors_.fail("/format", "expected \"eplb-plan\"");
    }
    const int64_t version = get_integer(field(object, "", "version"), "/version");
    if (version != 1) {
      errors_.fail("/version", "unsupported version " + std::to_string(version) + " (expected 1)");
    }
    const Topology topology = read_topology(object, options);
    std::string_view policy;
    if (field(object, "", "policy").get_string().get(policy)) {
      errors_.fail("/policy", "expected a string");
    }
    Plan plan;
    plan.num_layers = get_size(object, "num_layers");
    plan.num_experts = get_size(object, "num_experts");
    plan.max_replicas = get_size(object, "max_replicas");
    plan.num_replicas = topology.num_replicas();
    int64_t phy2log_shape[] = {plan.num_layers, plan.num_replicas};
    read_integers(field(object, "", "phy2log"), "/phy2log", phy2log_shape, plan.phy2log);
    int64_t log2phy_shape[] = {plan.num_layers, plan.num_experts, plan.max_replicas};
    read_integers(field(object, "", "log2phy"), "/log2phy", log2phy_shape, plan.log2phy);
    int64_t logcnt_shape[] = {plan.num_layers, plan.num_experts};
    read_integers(field(object, "", "logcnt"), "/logcnt", logcnt_shape, plan.logcnt);
    validate(plan, topology);
    check_dense_options(function_, options);
    std::vector<int64_t> dense;
    const bool recorded = read_dense_layers(object, plan.num_layers, dense);
    if (read_moe_layers_only(object)) {
      if (recorded && !dense.empty()) {
        errors_.fail("/moe_layers_only", "cannot be true with dense_layers");
      }
      // As a vllm-ascend file: given dense layers are inserted, and the rows get model ids.
      const bool told = !options.dense_layers.empty() || options.no_dense_layers;
      if (!options.dense_layers.empty()) plan = insert_dense_layers(plan, options.dense_layers);
      return PlanFile{std::move(plan), topology, std::string(policy), options.dense_layers,
                      /*moe_layers_only=*/!told};
    }
    if (options.no_dense_layers && recorded && !dense.empty()) {
      throw InvalidArgument(std::string(function_) + ": no_dense_layers is set, but " +
                            path_.string() + " records dense_layers = " + layer_list_text(dense));
    }
    dense = resolve_dense_layers(function_, path_, recorded ? &dense : nullptr, options);
    if (!dense.empty() && dense.back() >= plan.num_layers) {
      throw InvalidArgument(std::string(function_) + ": dense_layers = " + layer_list_text(dense) +
                            " must be rows of the plan's " + std::to_string(plan.num_layers) +
                            " layers");
    }
    if (!recorded) check_dense_rows_trivial(function_, path_, plan, dense);
    return PlanFile{std::move(plan), topology, std::string(policy), std::move(dense)};
  }

 private:
  Topology read_topology(const dom::object& object, const PlanReadOptions& options) {
    const dom::object topology_object = get_object(field(object, "", "topology"), "/topology");
    const auto size = [&](std::string_view key, const char* name, int64_t given) {
      const int64_t recorded =
          get_integer(field(topology_object, "/topology", key), child("/topology", key));
      return resolve_size(function_, path_, name, given, recorded);
    };
    // Topology checks its own sizes and throws InvalidArgument, which callers see unchanged.
    return Topology(size("num_replicas", "num_replicas", 0),
                    size("num_groups", "num_groups", options.num_groups),
                    size("num_nodes", "num_nodes", options.num_nodes),
                    size("num_gpus", "num_gpus", options.num_gpus));
  }

  // Reads the optional `moe_layers_only` (false when absent).
  bool read_moe_layers_only(const dom::object& object) {
    dom::element element;
    if (object.at_key("moe_layers_only").get(element)) return false;
    bool value = false;
    if (element.get_bool().get(value)) errors_.fail("/moe_layers_only", "expected true or false");
    return value;
  }

  // Reads the optional `dense_layers`; returns whether the file has the field.
  bool read_dense_layers(const dom::object& object, int64_t num_layers,
                         std::vector<int64_t>& dense) {
    dom::element element;
    if (object.at_key("dense_layers").get(element)) return false;
    int64_t shape[] = {-1};
    read_integers(element, "/dense_layers", shape, dense);
    for (size_t i = 0; i < dense.size(); ++i) {
      if (dense[i] < 0 || dense[i] >= num_layers || (i > 0 && dense[i] <= dense[i - 1])) {
        errors_.fail(child("/dense_layers", static_cast<int64_t>(i)),
                     "expected ascending layer indices below num_layers = " +
                         std::to_string(num_layers));
      }
    }
    return true;
  }
};

class SglangPlanReader : public DomReader {
 public:
  using DomReader::DomReader;

  PlanFile read(const std::string& content, const PlanReadOptions& options) {
    const dom::object object = parse_root(content);
    std::vector<int64_t> phy2log;
    int64_t shape[] = {-1, -1};
    read_integers(field(object, "", "physical_to_logical_map"), "/physical_to_logical_map", shape,
                  phy2log);
    if (shape[0] == 0 || shape[1] <= 0) errors_.fail("/physical_to_logical_map", "empty map");
    return build_plan_file(function_, path_, "sglang", std::move(phy2log), shape[0], shape[1], 0,
                           nullptr, /*rows_are_moe_only=*/false, options);
  }
};

class VllmAscendPlanReader : public DomReader {
 public:
  using DomReader::DomReader;

  PlanFile read(const std::string& content, const PlanReadOptions& options) {
    const dom::object object = parse_root(content);
    const int64_t num_layers = get_size(object, "moe_layer_count");
    const dom::array layers = get_array(field(object, "", "layer_list"), "/layer_list");
    if (static_cast<int64_t>(layers.size()) != num_layers || num_layers == 0) {
      errors_.fail("/layer_list", "expected moe_layer_count = " + std::to_string(num_layers) +
                                      " layers, got " + std::to_string(layers.size()));
    }
    std::vector<int64_t> phy2log;
    int64_t num_devices = -1;
    int64_t slots_per_device = -1;
    int64_t layer_idx = 0;
    for (const dom::element layer : layers) {
      const std::string pointer = child("/layer_list", layer_idx);
      const dom::object layer_object = get_object(layer, pointer);
      check_position(layer_object, pointer, "layer_id", layer_idx);
      const dom::array devices = get_array(field(layer_object, pointer, "device_list"),
                                           child(pointer, "device_list"));
      dom::element count;
      if (!layer_object.at_key("device_count").get(count) &&
          get_integer(count, child(pointer, "device_count")) !=
              static_cast<int64_t>(devices.size())) {
        errors_.fail(child(pointer, "device_count"),
                     "expected the " + std::to_string(devices.size()) + " devices of device_list");
      }
      if (num_devices < 0) num_devices = static_cast<int64_t>(devices.size());
      if (static_cast<int64_t>(devices.size()) != num_devices || num_devices == 0) {
        errors_.fail(child(pointer, "device_list"),
                     "expected " + std::to_string(num_devices) + " devices, got " +
                         std::to_string(devices.size()));
      }
      int64_t device_idx = 0;
      for (const dom::element device : devices) {
        const std::string device_pointer = child(child(pointer, "device_list"), device_idx);
        const dom::object device_object = get_object(device, device_pointer);
        check_position(device_object, device_pointer, "device_id", device_idx);
        int64_t shape[] = {slots_per_device};
        read_integers(field(device_object, device_pointer, "device_expert"),
                      child(device_pointer, "device_expert"), shape, phy2log);
        slots_per_device = shape[0];
        ++device_idx;
      }
      ++layer_idx;
    }
    if (slots_per_device <= 0) errors_.fail("/layer_list", "devices hold no experts");
    return build_plan_file(function_, path_, "vllm-ascend", std::move(phy2log), num_layers,
                           num_devices * slots_per_device, num_devices, nullptr,
                           /*rows_are_moe_only=*/true, options);
  }

 private:
  // vllm-ascend reads layers and devices in list order; an id (optional) must agree with it.
  void check_position(const dom::object& object, const std::string& pointer, const char* key,
                      int64_t position) {
    dom::element id;
    if (object.at_key(key).get(id)) return;
    if (get_integer(id, child(pointer, key)) != position) {
      errors_.fail(child(pointer, key), "expected " + std::to_string(position) +
                                            " (entries are read in list order)");
    }
  }
};

}  // namespace

PlanFormat detect_plan_format(std::string_view function, const std::filesystem::path& path,
                              std::string_view content) {
  const size_t start = content.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) throw_parse_error(function, path, "empty file");
  if (content[start] != '{') {
    if (content.find("initial_global_assignments") != std::string_view::npos ||
        content.find("num_slots") != std::string_view::npos) {
      return PlanFormat::trtllm;
    }
    throw_parse_error(function, path,
                      "not a plan file: expected a JSON object or TensorRT-LLM YAML");
  }
  // Plans are small: a DOM parse of the keys costs little next to the read itself.
  const simdjson::padded_string json(content);
  dom::parser parser;
  dom::object object;
  if (const auto error = parser.parse(json).get_object().get(object)) {
    JsonErrors(function, path).fail("", error, "expected a JSON object");
  }
  if (!object["phy2log"].error() || !object["format"].error()) return PlanFormat::eplb;
  if (!object["physical_to_logical_map"].error()) return PlanFormat::sglang;
  if (!object["layer_list"].error() || !object["moe_layer_count"].error()) {
    return PlanFormat::vllm_ascend;
  }
  if (!object["logical_count"].error()) {
    throw_parse_error(function, path,
                      "holds loads (logical_count), not a plan: plan it with `eplb plan`");
  }
  throw_parse_error(function, path,
                    "not a plan file: expected phy2log (eplb), physical_to_logical_map (sglang) "
                    "or layer_list (vllm-ascend)");
}

PlanFile parse_plan_json(std::string_view function, const std::filesystem::path& path,
                         const std::string& content, PlanFormat format,
                         const PlanReadOptions& options) {
  switch (format) {
    case PlanFormat::sglang:
      return SglangPlanReader(function, path).read(content, options);
    case PlanFormat::vllm_ascend:
      return VllmAscendPlanReader(function, path).read(content, options);
    default:
      return EplbPlanReader(function, path).read(content, options);
  }
}

}  // namespace eplb::io::detail
