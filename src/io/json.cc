// JSON readers: vLLM load histories and plain matrices (simdjson On-Demand), plans (simdjson DOM).
#include "io/detail/formats.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "eplb/error.h"
#include "eplb/plan.h"
#include "eplb/topology.h"
#include "io/detail/files.h"

namespace eplb::io::detail {
namespace {

namespace od = simdjson::ondemand;
namespace dom = simdjson::dom;

static_assert(kReadPadding >= simdjson::SIMDJSON_PADDING,
              "read_file() must leave the padding simdjson reads past the end");

// Words for the simdjson errors a user can cause; `expected` describes an INCORRECT_TYPE.
std::string describe(simdjson::error_code error, std::string_view expected) {
  switch (error) {
    case simdjson::INCORRECT_TYPE:
      return std::string(expected);
    case simdjson::EMPTY:
      return "empty file";
    case simdjson::INCOMPLETE_ARRAY_OR_OBJECT:
    case simdjson::UNCLOSED_STRING:
      return "truncated JSON (unclosed array, object or string)";
    case simdjson::TAPE_ERROR:
      return "malformed or truncated JSON";
    case simdjson::NUMBER_ERROR:
      return "invalid or out-of-range number";
    case simdjson::NUMBER_OUT_OF_RANGE:
      return "number out of range";
    case simdjson::TRAILING_CONTENT:
      return "unexpected content after the JSON value";
    case simdjson::DEPTH_ERROR:
      return "JSON nested too deeply";
    case simdjson::CAPACITY:
      return "file too large for the JSON parser";
    default:
      break;
  }
  // simdjson's own sentences start upper-case and end with a period; ours do neither.
  std::string text = simdjson::error_message(error);
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  while (!text.empty() && (text.back() == '.' || text.back() == ' ')) text.pop_back();
  return "malformed JSON: " + text;
}

std::string child(std::string_view pointer, int64_t index) {
  return std::string(pointer) + "/" + std::to_string(index);
}

std::string child(std::string_view pointer, std::string_view key) {
  return std::string(pointer) + "/" + std::string(key);
}

// Turns failures into ParseError `<function>: <path>: <JSON pointer>: <what>`.
class JsonErrors {
 public:
  JsonErrors(std::string_view function, const std::filesystem::path& path)
      : function_(function), path_(path) {}

  [[noreturn]] void fail(std::string_view pointer, std::string_view what) const {
    if (pointer.empty()) throw_parse_error(function_, path_, what);
    throw_parse_error(function_, path_, std::string(pointer) + ": " + std::string(what));
  }
  [[noreturn]] void fail(std::string_view pointer, simdjson::error_code error,
                         std::string_view expected) const {
    fail(pointer, describe(error, expected));
  }

 private:
  std::string_view function_;
  const std::filesystem::path& path_;
};

// Appends each step's matrix straight into the Trace, so a trace of hundreds of megabytes is
// parsed in one pass without an intermediate tree.
class LoadReader {
 public:
  LoadReader(std::string_view function, const std::filesystem::path& path)
      : errors_(function, path) {}

  Trace read(const std::string& content, bool vllm) {
    max_values_ = content.size() / 2 + 1;
    od::parser parser;
    od::document doc;
    if (const auto error = parser.iterate(content).get(doc)) errors_.fail("", error, "");
    if (vllm) {
      read_history(doc);
    } else {
      od::array rows;
      if (const auto error = doc.get_array().get(rows)) {
        errors_.fail("", error, "expected a JSON array of rows");
      }
      read_matrix(rows, "");
    }
    check_at_end(doc);
    return std::move(trace_);
  }

 private:
  void read_history(od::document& doc) {
    od::object root;
    if (const auto error = doc.get_object().get(root)) {
      errors_.fail("", error, "expected a JSON object with a load_history");
    }
    // Fields are visited in order, rather than looked up, so that the whole object is consumed
    // and anything after it can be detected.
    bool found = false;
    for (auto field : root) {
      std::string_view key;
      if (const auto error = field.unescaped_key().get(key)) errors_.fail("", error, "");
      if (key != "load_history") continue;
      if (found) errors_.fail("/load_history", "duplicate field");
      found = true;
      read_steps(field.value());
    }
    if (!found) errors_.fail("", "missing field \"load_history\"");
  }

  void read_steps(od::value history) {
    od::array steps;
    if (const auto error = history.get_array().get(steps)) {
      errors_.fail("/load_history", error, "expected an array of steps");
    }
    size_t num_steps = 0;
    if (const auto error = steps.count_elements().get(num_steps)) {
      errors_.fail("/load_history", error, "");
    }
    num_steps_hint_ = num_steps;
    int64_t step_idx = 0;
    for (auto step_result : steps) {
      const std::string pointer = child("/load_history", step_idx);
      od::object step;
      if (const auto error = step_result.get_object().get(step)) {
        errors_.fail(pointer, error, "expected an object");
      }
      bool found = false;
      for (auto field : step) {
        std::string_view key;
        if (const auto error = field.unescaped_key().get(key)) errors_.fail(pointer, error, "");
        if (key != "logical_expert_load") continue;
        if (found) errors_.fail(child(pointer, key), "duplicate field");
        found = true;
        od::array rows;
        if (const auto error = field.value().get_array().get(rows)) {
          errors_.fail(child(pointer, key), error, "expected an array of rows");
        }
        read_matrix(rows, child(pointer, key));
      }
      if (!found) errors_.fail(pointer, "missing field \"logical_expert_load\"");
      ++step_idx;
    }
    if (step_idx == 0) errors_.fail("/load_history", "no steps");
  }

  // Reads one `[num_layers, num_experts]` step; every step must have the shape of the first.
  void read_matrix(od::array& rows, std::string_view pointer) {
    const bool first_step = trace_.num_steps == 0;
    int64_t row_idx = 0;
    for (auto row_result : rows) {
      od::array row;
      if (const auto error = row_result.get_array().get(row)) {
        errors_.fail(child(pointer, row_idx), error, "expected an array of numbers");
      }
      int64_t num_values = 0;
      for (auto value_result : row) {
        double value = 0;
        if (const auto error = value_result.get_double().get(value)) {
          errors_.fail(child(child(pointer, row_idx), num_values), error, "expected a number");
        }
        if (!is_valid_load(value)) {
          errors_.fail(child(child(pointer, row_idx), num_values), bad_load_message(value));
        }
        trace_.values.push_back(value);
        ++num_values;
      }
      if (first_step && row_idx == 0) {
        if (num_values == 0) errors_.fail(child(pointer, row_idx), "empty row");
        trace_.num_experts = num_values;
      } else if (num_values != trace_.num_experts) {
        errors_.fail(child(pointer, row_idx), "expected " + std::to_string(trace_.num_experts) +
                                                  " values, got " + std::to_string(num_values));
      }
      ++row_idx;
    }
    if (first_step) {
      if (row_idx == 0) errors_.fail(pointer, "empty matrix");
      trace_.num_layers = row_idx;
      // Reserving all steps at once saves about a quarter of the time on large traces; every
      // value takes at least two bytes of text, which bounds what a hostile file can claim.
      trace_.values.reserve(std::min(trace_.values.size() * num_steps_hint_, max_values_));
    } else if (row_idx != trace_.num_layers) {
      errors_.fail(pointer, "expected " + std::to_string(trace_.num_layers) + " rows, got " +
                                std::to_string(row_idx));
    }
    ++trace_.num_steps;
  }

  // On-Demand only looks at what it is asked for; anything after the root value is an error.
  void check_at_end(od::document& doc) {
    const char* location = nullptr;
    if (doc.current_location().get(location) == simdjson::SUCCESS) {
      errors_.fail("", simdjson::TRAILING_CONTENT, "");
    }
  }

  JsonErrors errors_;
  size_t num_steps_hint_ = 1;
  size_t max_values_ = 0;
  Trace trace_;
};

// Reads a plan with the DOM: plans are small, and their fields may come in any order.
class PlanReader {
 public:
  PlanReader(std::string_view function, const std::filesystem::path& path)
      : errors_(function, path) {}

  PlanFile read(const std::string& content) {
    dom::parser parser;
    dom::element root;
    if (const auto error = parser.parse(content).get(root)) errors_.fail("", error, "");
    const dom::object object = get_object(root, "");
    std::string_view format;
    if (field(object, "", "format").get_string().get(format) || format != "eplb-plan") {
      errors_.fail("/format", "expected \"eplb-plan\"");
    }
    const int64_t version = get_integer(field(object, "", "version"), "/version");
    if (version != 1) {
      errors_.fail("/version", "unsupported version " + std::to_string(version) + " (expected 1)");
    }
    const dom::object topology_object = get_object(field(object, "", "topology"), "/topology");
    const auto topology_size = [&](std::string_view key) {
      return get_integer(field(topology_object, "/topology", key), child("/topology", key));
    };
    // Topology checks its own sizes and throws InvalidArgument, which callers see unchanged.
    const Topology topology(topology_size("num_replicas"), topology_size("num_groups"),
                            topology_size("num_nodes"), topology_size("num_gpus"));
    std::string_view policy;
    if (field(object, "", "policy").get_string().get(policy)) {
      errors_.fail("/policy", "expected a string");
    }
    Plan plan;
    plan.num_layers = get_size(object, "num_layers");
    plan.num_experts = get_size(object, "num_experts");
    plan.max_replicas = get_size(object, "max_replicas");
    plan.num_replicas = topology.num_replicas();
    const int64_t phy2log_shape[] = {plan.num_layers, plan.num_replicas};
    read_integers(field(object, "", "phy2log"), "/phy2log", phy2log_shape, plan.phy2log);
    const int64_t log2phy_shape[] = {plan.num_layers, plan.num_experts, plan.max_replicas};
    read_integers(field(object, "", "log2phy"), "/log2phy", log2phy_shape, plan.log2phy);
    const int64_t logcnt_shape[] = {plan.num_layers, plan.num_experts};
    read_integers(field(object, "", "logcnt"), "/logcnt", logcnt_shape, plan.logcnt);
    validate(plan, topology);
    return PlanFile{std::move(plan), topology, std::string(policy)};
  }

 private:
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

  // Appends a nested array of integers of shape `shape` to `out` in row-major order. Shapes are
  // compared before anything is stored, so sizes claimed by the file never drive an allocation.
  void read_integers(const dom::element& element, const std::string& pointer,
                     std::span<const int64_t> shape, std::vector<int64_t>& out) {
    dom::array array;
    if (const auto error = element.get_array().get(array)) {
      errors_.fail(pointer, error, "expected an array");
    }
    if (static_cast<int64_t>(array.size()) != shape[0]) {
      errors_.fail(pointer, "expected " + std::to_string(shape[0]) + " entries, got " +
                                std::to_string(array.size()));
    }
    int64_t index = 0;
    for (const dom::element item : array) {
      if (shape.size() > 1) {
        read_integers(item, child(pointer, index), shape.subspan(1), out);
      } else {
        int64_t value = 0;
        if (const auto error = item.get_int64().get(value)) {
          errors_.fail(child(pointer, index), error, "expected an integer");
        }
        out.push_back(value);
      }
      ++index;
    }
  }

  JsonErrors errors_;
};

}  // namespace

Trace parse_json_loads(std::string_view function, const std::filesystem::path& path,
                       const std::string& content, bool vllm) {
  return LoadReader(function, path).read(content, vllm);
}

PlanFile parse_plan_json(std::string_view function, const std::filesystem::path& path,
                         const std::string& content) {
  return PlanReader(function, path).read(content);
}

}  // namespace eplb::io::detail
