// ParseError messages for the JSON and JSONL readers.
#include "io/detail/json_errors.h"

#include <cctype>
#include <string>

#include "io/detail/files.h"

namespace eplb::io::detail {

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

int64_t content_after_root(std::string_view content) {
  size_t at = content.find_first_not_of(" \t\r\n");
  if (at == std::string_view::npos || (content[at] != '[' && content[at] != '{')) return -1;
  int64_t depth = 0;
  bool in_string = false;
  for (; at < content.size(); ++at) {
    const char c = content[at];
    if (in_string) {
      if (c == '\\') {
        ++at;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      ++depth;
    } else if ((c == ']' || c == '}') && --depth == 0) {
      const size_t next = content.find_first_not_of(" \t\r\n", at + 1);
      return next == std::string_view::npos ? -1 : static_cast<int64_t>(next);
    }
  }
  return -1;
}

std::string child(std::string_view pointer, int64_t index) {
  return std::string(pointer) + "/" + std::to_string(index);
}

std::string child(std::string_view pointer, std::string_view key) {
  return std::string(pointer) + "/" + std::string(key);
}

void JsonErrors::fail(std::string_view pointer, std::string_view what) const {
  std::string where = prefix_;
  if (!pointer.empty()) where += std::string(pointer) + ": ";
  throw_parse_error(function_, path_, where + std::string(what));
}

}  // namespace eplb::io::detail
