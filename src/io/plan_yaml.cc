// TensorRT-LLM load-balancer YAML: the subset its tools write (mappings, flow or block lists).
#include <charconv>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "eplb/topology.h"  // kMaxLayers, kMaxReplicas
#include "io/detail/files.h"
#include "io/detail/formats.h"

namespace eplb::io::detail {
namespace {

struct Line {
  int64_t number = 0;
  size_t indent = 0;
  std::string_view text;  // without indentation, comment and trailing blanks
};

std::string_view trim(std::string_view text) {
  const size_t begin = text.find_first_not_of(" \t\r");
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(" \t\r") + 1 - begin);
}

// Splits `content` into its non-blank lines; a `#` at the start or after a blank starts a
// comment (the values here are numbers, so no `#` hides inside a string).
std::vector<Line> split_lines(std::string_view content) {
  std::vector<Line> lines;
  int64_t number = 0;
  while (!content.empty()) {
    const size_t end = content.find('\n');
    std::string_view text = content.substr(0, end);
    content.remove_prefix(end == std::string_view::npos ? content.size() : end + 1);
    ++number;
    for (size_t hash = text.find('#'); hash != std::string_view::npos;
         hash = text.find('#', hash + 1)) {
      if (hash == 0 || text[hash - 1] == ' ' || text[hash - 1] == '\t') {
        text = text.substr(0, hash);
        break;
      }
    }
    const std::string_view trimmed = trim(text);
    if (trimmed.empty() || trimmed == "---" || trimmed == "...") continue;
    lines.push_back({number, text.find_first_not_of(" \t"), trimmed});
  }
  return lines;
}

class YamlPlanReader {
 public:
  YamlPlanReader(std::string_view function, const std::filesystem::path& path)
      : function_(function), path_(path) {}

  PlanFile read(std::string_view content, const PlanReadOptions& options) {
    lines_ = split_lines(content);
    while (at_ < lines_.size()) read_top_level();
    if (assignments_.empty()) {
      fail(0, "no initial_global_assignments (a config for the online balancer holds no plan)");
    }
    // num_slots may come after the lists (PyYAML sorts keys), so it is compared at the end.
    if (num_slots_ > 0 && num_slots_ != first_length_) {
      fail(num_slots_line_, "num_slots = " + std::to_string(num_slots_) +
                                " but initial_global_assignments list " +
                                std::to_string(first_length_) + " slots per layer");
    }
    // Keys are model layer indices; the layers between them (and before the first) are dense.
    std::vector<int64_t> phy2log;
    std::vector<int64_t> dense;
    int64_t next_layer = 0;
    for (auto& [layer, slots] : assignments_) {
      while (next_layer < layer) dense.push_back(next_layer++);
      ++next_layer;
      phy2log.insert(phy2log.end(), slots.begin(), slots.end());
    }
    return build_plan_file(function_, path_, "trtllm", std::move(phy2log),
                           static_cast<int64_t>(assignments_.size()), first_length_, ep_size_,
                           &dense, /*rows_are_moe_only=*/true, options);
  }

 private:
  [[noreturn]] void fail(int64_t line_number, const std::string& what) const {
    throw_parse_error(function_, path_,
                      line_number > 0 ? "line " + std::to_string(line_number) + ": " + what : what);
  }

  int64_t parse_integer(std::string_view text, int64_t line_number, const char* what) const {
    text = trim(text);
    if (text.size() >= 2 && (text.front() == '\'' || text.front() == '"') &&
        text.back() == text.front()) {
      text = text.substr(1, text.size() - 2);
    }
    int64_t value = 0;
    const char* end = text.data() + text.size();
    const auto [stop, error] = std::from_chars(text.data(), end, value);
    if (text.empty() || error != std::errc() || stop != end) {
      fail(line_number, std::string("expected ") + what + ", got \"" + std::string(text) + "\"");
    }
    return value;
  }

  // Splits `key: value`; `value` is empty for `key:`.
  std::pair<std::string_view, std::string_view> split_key(const Line& line) const {
    const size_t colon = line.text.find(':');
    if (colon == std::string_view::npos) fail(line.number, "expected \"key: value\"");
    return {trim(line.text.substr(0, colon)), trim(line.text.substr(colon + 1))};
  }

  void read_top_level() {
    const Line& line = lines_[at_++];
    if (line.indent != 0) fail(line.number, "unexpected indentation");
    const auto [key, value] = split_key(line);
    if (key == "num_slots") {
      num_slots_ = parse_integer(value, line.number, "an integer num_slots");
      num_slots_line_ = line.number;
      if (num_slots_ <= 0 || num_slots_ > kMaxReplicas) {
        fail(line.number, "num_slots = " + std::to_string(num_slots_) + " must be in [1, " +
                              std::to_string(kMaxReplicas) + "]");
      }
    } else if (key == "ep_size") {
      ep_size_ = parse_integer(value, line.number, "an integer ep_size");
      if (ep_size_ <= 0) {
        fail(line.number, "ep_size = " + std::to_string(ep_size_) + " must be positive");
      }
    } else if (key == "layer_updates_per_iter") {
      parse_integer(value, line.number, "an integer layer_updates_per_iter");
    } else if (key == "initial_global_assignments") {
      if (!value.empty() && value != "{}") {
        fail(line.number, "expected one \"layer: [experts]\" line per layer under "
                          "initial_global_assignments (flow mappings are not supported)");
      }
      while (at_ < lines_.size() && lines_[at_].indent > 0) read_layer();
    } else {
      // Other settings do not affect the plan; skip their nested lines too.
      while (at_ < lines_.size() && lines_[at_].indent > 0) ++at_;
    }
  }

  // Reads `layer: [e, e, ...]` (possibly over several lines) or `layer:` + `- e` lines.
  void read_layer() {
    const Line& line = lines_[at_++];
    const auto [key, value] = split_key(line);
    const int64_t layer = parse_integer(key, line.number, "an integer layer index");
    if (layer < 0 || layer >= kMaxLayers) {
      fail(line.number, "layer " + std::to_string(layer) + " must be in [0, " +
                            std::to_string(kMaxLayers) + ")");
    }
    if (assignments_.contains(layer)) {
      fail(line.number, "layer " + std::to_string(layer) + " is given twice");
    }
    std::vector<int64_t> slots;
    if (value.empty()) {
      // Block list: `- e` items, indented at least as much as the key (PyYAML indents them
      // level with it).
      while (at_ < lines_.size() && lines_[at_].indent >= line.indent &&
             lines_[at_].text.starts_with('-')) {
        const Line& item = lines_[at_++];
        slots.push_back(parse_expert(item.text.substr(1), item.number));
      }
    } else {
      std::string list(value);
      while (list.find(']') == std::string::npos && at_ < lines_.size() &&
             lines_[at_].indent > line.indent) {
        list += ' ';
        list += lines_[at_++].text;
      }
      if (!list.starts_with('[') || !list.ends_with(']')) {
        fail(line.number, "expected a list [e, e, ...] of the expert in every slot");
      }
      std::string_view items = std::string_view(list).substr(1, list.size() - 2);
      while (!trim(items).empty()) {
        const size_t comma = items.find(',');
        slots.push_back(parse_expert(items.substr(0, comma), line.number));
        items.remove_prefix(comma == std::string_view::npos ? items.size() : comma + 1);
      }
    }
    if (slots.empty()) fail(line.number, "layer " + std::to_string(layer) + " lists no slots");
    if (first_length_ > 0 && static_cast<int64_t>(slots.size()) != first_length_) {
      fail(line.number, "layer " + std::to_string(layer) + " lists " +
                            std::to_string(slots.size()) + " slots, the first layer " +
                            std::to_string(first_length_));
    }
    first_length_ = static_cast<int64_t>(slots.size());
    assignments_.emplace(layer, std::move(slots));
  }

  int64_t parse_expert(std::string_view text, int64_t line_number) const {
    const int64_t expert = parse_integer(text, line_number, "an integer expert id");
    if (expert < 0) {
      fail(line_number, "expert id " + std::to_string(expert) + " must be non-negative");
    }
    return expert;
  }

  std::string_view function_;
  const std::filesystem::path& path_;
  std::vector<Line> lines_;
  size_t at_ = 0;
  int64_t num_slots_ = 0;
  int64_t num_slots_line_ = 0;
  int64_t ep_size_ = 0;
  int64_t first_length_ = 0;
  std::map<int64_t, std::vector<int64_t>> assignments_;
};

}  // namespace

PlanFile parse_plan_yaml(std::string_view function, const std::filesystem::path& path,
                         std::string_view content, const PlanReadOptions& options) {
  return YamlPlanReader(function, path).read(content, options);
}

}  // namespace eplb::io::detail
