// JSONL load files: per-layer counts (`{"layer": N, "counts": [...]}`) and per-token top-k traces.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <simdjson.h>

#include "eplb/error.h"
#include "eplb/topology.h"  // kMaxLayers, kMaxExperts
#include "io/detail/files.h"
#include "io/detail/formats.h"
#include "io/detail/json_errors.h"

namespace eplb::io::detail {
namespace {

namespace od = simdjson::ondemand;

// Calls `visit(line_number, json)` for every non-blank line of `content`, which has kReadPadding
// spare bytes of capacity; the bytes after a line (the next lines, then the padding) are what
// simdjson may read past its end.
template <typename Visit>
void for_each_line(const std::string& content, Visit visit) {
  size_t begin = 0;
  int64_t line_number = 0;
  while (begin < content.size()) {
    size_t end = content.find('\n', begin);
    if (end == std::string::npos) end = content.size();
    ++line_number;
    std::string_view line(content.data() + begin, end - begin);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) {
      line.remove_suffix(1);
    }
    if (line.find_first_not_of(" \t") != std::string_view::npos) {
      visit(line_number, simdjson::padded_string_view(line.data(), line.size(),
                                                      content.capacity() - begin));
    }
    begin = end + 1;
  }
}

// Shared by both readers: one parser for every line, errors located by line number.
class LineReader {
 public:
  LineReader(std::string_view function, const std::filesystem::path& path)
      : errors_(function, path) {}

 protected:
  // Parses one line and calls `visit(key, value)` for each field of its object.
  template <typename Visit>
  void read_object(int64_t line_number, simdjson::padded_string_view json, Visit visit) {
    errors_.set_prefix("line " + std::to_string(line_number) + ": ");
    od::document doc;
    od::object object;
    if (const auto error = parser_.iterate(json).get(doc)) errors_.fail("", error, "");
    if (const auto error = doc.get_object().get(object)) {
      errors_.fail("", error, "expected a JSON object");
    }
    for (auto field : object) {
      std::string_view key;
      if (const auto error = field.unescaped_key().get(key)) errors_.fail("", error, "");
      visit(key, field.value());
    }
    const char* location = nullptr;
    if (doc.current_location().get(location) == simdjson::SUCCESS) {
      errors_.fail("", simdjson::TRAILING_CONTENT, "");
    }
  }

  [[noreturn]] void fail(const std::string& what) {
    errors_.set_prefix("");
    errors_.fail("", what);
  }

  od::parser parser_;
  JsonErrors errors_;
};

// One `{"layer": N, "counts": [...]}` line.
struct LayerLine {
  int64_t layer_idx = -1;
  int64_t line_number = 0;
  std::vector<double> counts;
};

class LayerJsonlReader : public LineReader {
 public:
  using LineReader::LineReader;

  Trace read(const std::string& content) {
    for_each_line(content, [&](int64_t line_number, simdjson::padded_string_view json) {
      read_line(line_number, json);
    });
    if (lines_.empty()) fail("empty file");
    // Lines may come in any order (imatrix tools write them sorted as text: 1, 10, 11, ...).
    std::stable_sort(lines_.begin(), lines_.end(), [](const LayerLine& a, const LayerLine& b) {
      return a.layer_idx < b.layer_idx;
    });
    for (size_t i = 1; i < lines_.size(); ++i) {
      const LayerLine& line = lines_[i];
      if (line.layer_idx == lines_[i - 1].layer_idx) {
        fail("line " + std::to_string(line.line_number) + ": layer " +
             std::to_string(line.layer_idx) + " was already given on line " +
             std::to_string(lines_[i - 1].line_number));
      }
      if (line.layer_idx != lines_[i - 1].layer_idx + 1) {
        fail("layer " + std::to_string(lines_[i - 1].layer_idx + 1) + " is missing (layers " +
             std::to_string(lines_.front().layer_idx) + " to " +
             std::to_string(lines_.back().layer_idx) + " must all be given)");
      }
    }
    // `layer` is the model's layer index: layers before the first one given had no routed
    // experts (dense layers) and stay as all-zero rows, so rows keep the model's numbering.
    Trace trace;
    trace.num_steps = 1;
    trace.num_layers = lines_.back().layer_idx + 1;
    trace.num_experts = static_cast<int64_t>(lines_.front().counts.size());
    if (trace.num_layers * trace.num_experts > kMaxBuiltValues) {
      fail("too large: " + std::to_string(trace.num_layers) + " layers x " +
           std::to_string(trace.num_experts) + " experts is more than " +
           std::to_string(kMaxBuiltValues) + " values");
    }
    trace.values.assign(static_cast<size_t>(lines_.front().layer_idx * trace.num_experts), 0.0);
    for (const LayerLine& line : lines_) {
      trace.values.insert(trace.values.end(), line.counts.begin(), line.counts.end());
    }
    return trace;
  }

 private:
  void read_line(int64_t line_number, simdjson::padded_string_view json) {
    LayerLine line;
    line.line_number = line_number;
    bool has_counts = false;
    read_object(line_number, json, [&](std::string_view key, od::value value) {
      if (key == "layer") {
        if (line.layer_idx >= 0) errors_.fail("/layer", "duplicate field");
        if (const auto error = value.get_int64().get(line.layer_idx)) {
          errors_.fail("/layer", error, "expected an integer");
        }
        if (line.layer_idx < 0 || line.layer_idx >= kMaxLayers) {
          errors_.fail("/layer", "layer " + std::to_string(line.layer_idx) +
                                     " must be in [0, " + std::to_string(kMaxLayers) + ")");
        }
      } else if (key == "counts") {
        if (has_counts) errors_.fail("/counts", "duplicate field");
        has_counts = true;
        read_counts(value, line.counts);
      }
    });
    if (line.layer_idx < 0) errors_.fail("", "missing field \"layer\"");
    if (!has_counts) errors_.fail("", "missing field \"counts\"");
    if (line.counts.empty()) errors_.fail("/counts", "empty row");
    if (!lines_.empty() && line.counts.size() != lines_.front().counts.size()) {
      errors_.fail("/counts", "expected " + std::to_string(lines_.front().counts.size()) +
                                  " values, got " + std::to_string(line.counts.size()));
    }
    lines_.push_back(std::move(line));
  }

  void read_counts(od::value value, std::vector<double>& out) {
    od::array array;
    if (const auto error = value.get_array().get(array)) {
      errors_.fail("/counts", error, "expected an array of numbers");
    }
    for (auto item : array) {
      const std::string pointer = child("/counts", static_cast<int64_t>(out.size()));
      double count = 0;
      if (const auto error = item.get_double().get(count)) {
        errors_.fail(pointer, error, "expected a number");
      }
      if (!is_valid_load(count)) errors_.fail(pointer, bad_load_message(count));
      out.push_back(count);
    }
  }

  std::vector<LayerLine> lines_;
};

// Per-token routing: one line per layer per forward pass, layers in order within a pass.
class TopkJsonlReader : public LineReader {
 public:
  TopkJsonlReader(std::string_view function, const std::filesystem::path& path,
                  int64_t num_layers, int64_t num_experts)
      : LineReader(function, path),
        function_(std::string(function) + ": " + shown_path(path, false)),
        num_layers_(num_layers),
        num_experts_(num_experts) {}

  Trace read(const std::string& content) {
    read_lines(content);
    const auto num_lines = static_cast<int64_t>(line_starts_.size()) - 1;
    const int64_t num_experts = num_experts_ > 0 ? num_experts_ : max_id_ + 1;
    if (num_experts == 0) fail("no expert ids in the file; num_experts must be given");
    if (num_lines * num_experts > kMaxBuiltValues) {
      fail("too large: " + std::to_string(num_lines) + " lines x " + std::to_string(num_experts) +
           " experts is more than " + std::to_string(kMaxBuiltValues) + " values");
    }
    Trace trace;
    trace.num_steps = num_lines / num_layers_;
    trace.num_layers = num_layers_;
    trace.num_experts = num_experts;
    trace.values.assign(static_cast<size_t>(num_lines * num_experts), 0);
    // Line i is layer i % num_layers of forward pass i / num_layers: row i of the trace.
    for (int64_t line = 0; line < num_lines; ++line) {
      for (size_t i = line_starts_[line]; i < line_starts_[line + 1]; ++i) {
        ++trace.values[static_cast<size_t>(line * num_experts + ids_[i])];
      }
    }
    return trace;
  }

  // The tokens of every forward pass, pass after pass: token t of layer l is the same token in
  // every layer, so each pass must route as many tokens in each of its layers.
  Routing read_routing(const std::string& content, StepRange passes) {
    read_lines(content);
    if (!flat_line_.empty()) {
      fail(flat_line_ + ": a routing sample needs each token as an array of its top_k ids");
    }
    if (top_k_ <= 0) fail("no expert ids in the file");
    const auto num_lines = static_cast<int64_t>(line_starts_.size()) - 1;
    const int64_t num_passes = num_lines / num_layers_;
    const int64_t end = passes.end < 0 ? num_passes : passes.end;
    if (passes.begin < 0 || passes.begin >= end || end > num_passes) {
      throw InvalidArgument(function_ + ": passes " + std::to_string(passes.begin) + ":" +
                            (passes.end < 0 ? "" : std::to_string(passes.end)) +
                            " out of range for a file of " + std::to_string(num_passes) +
                            " forward passes");
    }
    Routing routing{.num_layers = num_layers_, .num_tokens = 0, .top_k = top_k_, .expert_ids = {}};
    for (int64_t pass = 0; pass < num_passes; ++pass) {
      const int64_t first = pass * num_layers_;
      for (int64_t layer = 1; layer < num_layers_; ++layer) {
        if (line_tokens(first + layer) != line_tokens(first)) {
          fail("line " + std::to_string(line_numbers_[first + layer]) + " (layer " +
               std::to_string(layer) + " of forward pass " + std::to_string(pass) + ") routes " +
               std::to_string(line_tokens(first + layer)) + " tokens but line " +
               std::to_string(line_numbers_[first]) + " (layer 0) routes " +
               std::to_string(line_tokens(first)));
        }
      }
      if (pass >= passes.begin && pass < end) routing.num_tokens += line_tokens(first);
    }
    if (routing.num_tokens == 0) fail("no token in the chosen forward passes");
    routing.expert_ids.resize(static_cast<size_t>(routing.num_layers * routing.num_tokens * top_k_));
    int64_t token_offset = 0;
    for (int64_t pass = passes.begin; pass < end; ++pass) {
      for (int64_t layer = 0; layer < num_layers_; ++layer) {
        const int64_t line = pass * num_layers_ + layer;
        std::copy(ids_.begin() + static_cast<std::ptrdiff_t>(line_starts_[line]),
                  ids_.begin() + static_cast<std::ptrdiff_t>(line_starts_[line + 1]),
                  routing.expert_ids.begin() +
                      static_cast<std::ptrdiff_t>((layer * routing.num_tokens + token_offset) * top_k_));
      }
      token_offset += line_tokens(pass * num_layers_);
    }
    return routing;
  }

 private:
  int64_t line_tokens(int64_t line) const {
    return static_cast<int64_t>(line_starts_[line + 1] - line_starts_[line]) / std::max<int64_t>(top_k_, 1);
  }

  void read_lines(const std::string& content) {
    for_each_line(content, [&](int64_t line_number, simdjson::padded_string_view json) {
      line_starts_.push_back(ids_.size());
      line_numbers_.push_back(line_number);
      bool found = false;
      read_object(line_number, json, [&](std::string_view key, od::value value) {
        if (key != "topk_ids") return;
        if (found) errors_.fail("/topk_ids", "duplicate field");
        found = true;
        read_ids(value);
      });
      if (!found) errors_.fail("", "missing field \"topk_ids\"");
    });
    const auto num_lines = static_cast<int64_t>(line_starts_.size());
    line_starts_.push_back(ids_.size());
    if (num_lines == 0) fail("empty file");
    if (num_lines % num_layers_ != 0) {
      fail(std::to_string(num_lines) + " lines are not a whole number of forward passes of " +
           "num_layers = " + std::to_string(num_layers_) + " lines each");
    }
  }

  // Collects `[num_tokens, top_k]` ids (a flat list of ids is accepted too). They are counted
  // once every line is read and the number of experts is known.
  void read_ids(od::value value) {
    od::array tokens;
    if (const auto error = value.get_array().get(tokens)) {
      errors_.fail("/topk_ids", error, "expected an array of [top_k] arrays of expert ids");
    }
    int64_t token_idx = 0;
    for (auto token : tokens) {
      const std::string pointer = child("/topk_ids", token_idx);
      od::json_type type{};
      if (const auto error = token.type().get(type)) errors_.fail(pointer, error, "");
      if (type != od::json_type::array) {
        if (flat_line_.empty()) flat_line_ = errors_.prefix() + pointer;
        add_id(token, pointer);
      } else {
        int64_t k = 0;
        for (auto id : token.get_array()) add_id(id, child(pointer, k++));
        if (top_k_ < 0) top_k_ = k;
        if (k != top_k_) {
          errors_.fail(pointer, std::to_string(k) + " expert ids where the first token has " +
                                    std::to_string(top_k_));
        }
      }
      ++token_idx;
    }
  }

  template <typename Json>
  void add_id(Json&& json, const std::string& pointer) {
    int64_t id = 0;
    if (const auto error = json.get_int64().get(id)) {
      errors_.fail(pointer, error, "expected an integer expert id");
    }
    const int64_t limit = num_experts_ > 0 ? num_experts_ : kMaxExperts;
    if (id < 0 || id >= limit) {
      errors_.fail(pointer, "expert id " + std::to_string(id) + " must be in [0, " +
                                std::to_string(limit) + ")" +
                                (num_experts_ > 0 ? " (num_experts)" : ""));
    }
    ids_.push_back(id);
    max_id_ = std::max(max_id_, id);
  }

  std::string function_;  // "<function>: <path>", for errors outside the JSON
  int64_t num_layers_;
  int64_t num_experts_;
  int64_t max_id_ = -1;
  std::vector<int64_t> ids_;  // every id, line after line
  std::vector<size_t> line_starts_;  // where each line's ids start in ids_, then ids_.size()
  std::vector<int64_t> line_numbers_;  // each line's number in the file
  int64_t top_k_ = -1;  // ids of the first token given as an array
  std::string flat_line_;  // where the first id not inside a token's array is, if any
};

void check_topk_shape(std::string_view function, int64_t num_layers, int64_t num_experts) {
  if (num_layers <= 0 || num_layers > kMaxLayers) {
    throw InvalidArgument(std::string(function) + ": num_layers = " + std::to_string(num_layers) +
                          " must be in [1, " + std::to_string(kMaxLayers) +
                          "]: a topk-jsonl trace does not record the layers per forward pass");
  }
  if (num_experts < 0 || num_experts > kMaxExperts) {
    throw InvalidArgument(std::string(function) + ": num_experts = " +
                          std::to_string(num_experts) + " must be in [0, " +
                          std::to_string(kMaxExperts) + "] (0: largest expert id + 1)");
  }
}

}  // namespace

Trace parse_layer_jsonl(std::string_view function, const std::filesystem::path& path,
                        const std::string& content) {
  return LayerJsonlReader(function, path).read(content);
}

Trace parse_topk_jsonl(std::string_view function, const std::filesystem::path& path,
                       const std::string& content, int64_t num_layers, int64_t num_experts) {
  check_topk_shape(function, num_layers, num_experts);
  return TopkJsonlReader(function, path, num_layers, num_experts).read(content);
}

Routing parse_topk_routing(std::string_view function, const std::filesystem::path& path,
                           const std::string& content, int64_t num_layers, int64_t num_experts,
                           StepRange passes) {
  check_topk_shape(function, num_layers, num_experts);
  return TopkJsonlReader(function, path, num_layers, num_experts).read_routing(content, passes);
}

}  // namespace eplb::io::detail
