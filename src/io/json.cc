// JSON readers: vLLM load histories and plain matrices (simdjson On-Demand), plans (simdjson DOM).
#include "io/detail/formats.h"

#include <algorithm>
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
#include "io/detail/json_errors.h"

namespace eplb::io::detail {
namespace {

namespace od = simdjson::ondemand;
namespace dom = simdjson::dom;

static_assert(kReadPadding >= simdjson::SIMDJSON_PADDING,
              "read_file() must leave the padding simdjson reads past the end");

// Appends each step's matrix straight into the Trace, so a trace of hundreds of megabytes is
// parsed in one pass without an intermediate tree.
class LoadReader {
 public:
  LoadReader(std::string_view function, const std::filesystem::path& path)
      : errors_(function, path) {}

  Trace read(const std::string& content, LoadFormat format) {
    max_values_ = content.size() / 2 + 1;
    od::parser parser;
    od::document doc;
    if (const auto error = parser.iterate(content).get(doc)) errors_.fail("", error, "");
    switch (format) {
      case LoadFormat::vllm_trace:
        read_fields(doc, "load_history", [&](od::value value) { read_steps(value); });
        break;
      case LoadFormat::sglang:
        read_fields(doc, "logical_count", [&](od::value value) { read_nested(value); });
        break;
      case LoadFormat::counts:
        read_fields(doc, "counts", [&](od::value value) {
          read_matrix(get_array(value, "/counts", "expected an array of rows"), "/counts");
        });
        check_declared_shape();
        break;
      default: {
        od::array rows;
        if (const auto error = doc.get_array().get(rows)) {
          errors_.fail("", error, "expected a JSON array of rows");
        }
        read_matrix(rows, "");
      }
    }
    check_at_end(doc);
    return std::move(trace_);
  }

 private:
  // Takes an od::value or a simdjson_result of one (which carries an earlier error).
  template <typename Json>
  od::array get_array(Json&& value, std::string_view pointer, std::string_view expected) {
    od::array array;
    if (const auto error = value.get_array().get(array)) errors_.fail(pointer, error, expected);
    return array;
  }

  // Visits the fields of the root object: `read` gets the value of `wanted`; the sizes of the
  // counts format are kept to be checked; anything else is skipped.
  template <typename Read>
  void read_fields(od::document& doc, std::string_view wanted, Read read) {
    od::object root;
    if (const auto error = doc.get_object().get(root)) {
      errors_.fail("", error, "expected a JSON object with a " + std::string(wanted));
    }
    // Fields are visited in order, rather than looked up, so that the whole object is consumed
    // and anything after it can be detected.
    bool found = false;
    bool plan = false;
    for (auto field : root) {
      std::string_view key;
      if (const auto error = field.unescaped_key().get(key)) errors_.fail("", error, "");
      if (wanted == "counts" && (key == "num_layers" || key == "num_experts")) {
        int64_t size = 0;
        if (const auto error = field.value().get_int64().get(size)) {
          errors_.fail(child("", key), error, "expected an integer");
        }
        (key == "num_layers" ? declared_layers_ : declared_experts_) = size;
      }
      plan = plan || key == "physical_to_logical_map";
      if (key != wanted) continue;
      if (found) errors_.fail(child("", key), "duplicate field");
      found = true;
      read(field.value());
    }
    if (!found) {
      errors_.fail("", "missing field \"" + std::string(wanted) + "\"" +
                           (plan ? " (this is a plan: it has a physical_to_logical_map)" : ""));
    }
  }

  void read_steps(od::value history) {
    od::array steps = get_array(history, "/load_history", "expected an array of steps");
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
        read_matrix(get_array(field.value(), child(pointer, key), "expected an array of rows"),
                    child(pointer, key));
      }
      if (!found) errors_.fail(pointer, "missing field \"logical_expert_load\"");
      ++step_idx;
    }
    if (step_idx == 0) errors_.fail("/load_history", "no steps");
  }

  // Reads SGLang's logical_count, `[num_layers, num_experts]` or `[num_steps, num_layers,
  // num_experts]`. The depth is told by the first element of the first entry, read in the same
  // pass: On-Demand can peek at a value's type without consuming it.
  void read_nested(od::value value) {
    constexpr std::string_view kPointer = "/logical_count";
    od::array outer = get_array(value, kPointer, "expected an array of rows or of steps");
    bool steps = false;
    int64_t outer_idx = 0;
    for (auto item : outer) {
      const std::string item_pointer = child(kPointer, outer_idx);
      od::array inner;
      if (const auto error = item.get_array().get(inner)) {
        errors_.fail(item_pointer, error,
                     steps ? "expected an array of rows" : "expected an array");
      }
      int64_t inner_idx = 0;
      for (auto element : inner) {
        od::json_type type{};
        if (const auto error = element.type().get(type)) errors_.fail(item_pointer, error, "");
        if (outer_idx == 0 && inner_idx == 0) steps = type == od::json_type::array;
        if (steps) {
          if (inner_idx == 0) begin_step();
          read_row(get_array(element, child(item_pointer, inner_idx),
                             "expected an array of numbers"),
                   item_pointer, inner_idx);
        } else {
          if (outer_idx == 0 && inner_idx == 0) begin_step();
          add_value(element, child(item_pointer, inner_idx));
        }
        ++inner_idx;
      }
      if (steps) {
        if (inner_idx == 0) begin_step();
        end_step(inner_idx, item_pointer);
      } else {
        if (outer_idx == 0 && inner_idx == 0) begin_step();
        end_row(inner_idx, kPointer, outer_idx);
      }
      ++outer_idx;
    }
    if (outer_idx == 0) errors_.fail(kPointer, "empty array");
    if (!steps) end_step(outer_idx, kPointer);
  }

  // Reads one `[num_layers, num_experts]` step; every step must have the shape of the first.
  void read_matrix(od::array rows, std::string_view pointer) {
    begin_step();
    int64_t row_idx = 0;
    for (auto row_result : rows) {
      read_row(get_array(row_result, child(pointer, row_idx),
                         "expected an array of numbers"),
               pointer, row_idx);
      ++row_idx;
    }
    end_step(row_idx, pointer);
  }

  void begin_step() { row_in_step_ = 0; }

  void read_row(od::array row, std::string_view matrix_pointer, int64_t row_idx) {
    const std::string pointer = child(matrix_pointer, row_idx);
    int64_t num_values = 0;
    for (auto value_result : row) {
      add_value(value_result, child(pointer, num_values));
      ++num_values;
    }
    end_row(num_values, matrix_pointer, row_idx);
  }

  template <typename Json>
  void add_value(Json&& value_json, std::string_view pointer) {
    double value = 0;
    if (const auto error = value_json.get_double().get(value)) {
      errors_.fail(pointer, error, "expected a number");
    }
    if (!is_valid_load(value)) errors_.fail(pointer, bad_load_message(value));
    trace_.values.push_back(value);
  }

  void end_row(int64_t num_values, std::string_view matrix_pointer, int64_t row_idx) {
    if (trace_.num_steps == 0 && row_in_step_ == 0) {
      if (num_values == 0) errors_.fail(child(matrix_pointer, row_idx), "empty row");
      trace_.num_experts = num_values;
    } else if (num_values != trace_.num_experts) {
      errors_.fail(child(matrix_pointer, row_idx),
                   "expected " + std::to_string(trace_.num_experts) + " values, got " +
                       std::to_string(num_values));
    }
    ++row_in_step_;
  }

  void end_step(int64_t num_rows, std::string_view pointer) {
    if (trace_.num_steps == 0) {
      if (num_rows == 0) errors_.fail(pointer, "empty matrix");
      trace_.num_layers = num_rows;
      // Reserving all steps at once saves about a quarter of the time on large traces; every
      // value takes at least two bytes of text, which bounds what a hostile file can claim.
      trace_.values.reserve(std::min(trace_.values.size() * num_steps_hint_, max_values_));
    } else if (num_rows != trace_.num_layers) {
      errors_.fail(pointer, "expected " + std::to_string(trace_.num_layers) + " rows, got " +
                                std::to_string(num_rows));
    }
    ++trace_.num_steps;
  }

  // The counts format repeats its shape in num_layers and num_experts; they must agree.
  void check_declared_shape() {
    const auto check = [&](std::string_view key, int64_t declared, int64_t actual,
                           const char* what) {
      if (declared >= 0 && declared != actual) {
        errors_.fail(child("", key), std::to_string(declared) + " does not match the " +
                                         std::to_string(actual) + " " + what + " of /counts");
      }
    };
    check("num_layers", declared_layers_, trace_.num_layers, "rows");
    check("num_experts", declared_experts_, trace_.num_experts, "columns");
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
  int64_t row_in_step_ = 0;
  int64_t declared_layers_ = -1;
  int64_t declared_experts_ = -1;
  Trace trace_;
};

// Returns the format that a root object with key `key` has, or automatic when the key does not
// tell. A plan's physical_to_logical_map goes to the SGLang reader, which explains the mix-up.
LoadFormat format_of_key(std::string_view key) {
  if (key == "load_history") return LoadFormat::vllm_trace;
  if (key == "logical_count" || key == "physical_to_logical_map") return LoadFormat::sglang;
  if (key == "topk_ids" || key == "topk_weights") return LoadFormat::topk_jsonl;
  if (key == "layer") return LoadFormat::layer_jsonl;
  return LoadFormat::automatic;
}

// Returns the first key of the object that `text` starts with (after `{` and blanks), when it
// has no escapes; empty otherwise.
std::string_view first_key(std::string_view text) {
  size_t at = text.find_first_not_of(" \t\r\n", 1);
  if (at == std::string_view::npos || text[at] != '"') return {};
  const size_t end = text.find_first_of("\"\\", at + 1);
  if (end == std::string_view::npos || text[end] != '"') return {};
  return text.substr(at + 1, end - at - 1);
}

}  // namespace

LoadFormat detect_json_object_format(const std::string& content) {
  const size_t start = content.find('{');
  const std::string_view text = std::string_view(content).substr(start);
  // The first key decides for every known writer, so large files are not parsed twice.
  const std::string_view key = first_key(text);
  if (const LoadFormat format = format_of_key(key); format != LoadFormat::automatic) {
    return format;
  }
  const std::string_view first_line = text.substr(0, text.find('\n'));
  if (key == "counts") {
    return first_line.find("\"layer\"") != std::string_view::npos ? LoadFormat::layer_jsonl
                                                                  : LoadFormat::counts;
  }
  // Keys in another order: look at every key of the first object (of the first line, for JSONL).
  od::parser parser;
  od::document doc;
  od::object root;
  bool counts = false;
  if (parser.iterate(content).get(doc) == simdjson::SUCCESS &&
      doc.get_object().get(root) == simdjson::SUCCESS) {
    for (auto field : root) {
      std::string_view name;
      if (field.unescaped_key().get(name) != simdjson::SUCCESS) break;
      if (const LoadFormat format = format_of_key(name); format != LoadFormat::automatic) {
        return format;
      }
      counts = counts || name == "counts";
    }
  }
  // Unknown objects go to the vLLM reader, whose error names the field it expected.
  return counts ? LoadFormat::counts : LoadFormat::vllm_trace;
}

Trace parse_json_loads(std::string_view function, const std::filesystem::path& path,
                       const std::string& content, LoadFormat format) {
  try {
    return LoadReader(function, path).read(content, format);
  } catch (const ParseError&) {
    check_content_after_root(JsonErrors(function, path), content);
    throw;
  }
}

}  // namespace eplb::io::detail
