#pragma once
// Private helpers of the JSON readers: JSON pointers and ParseError messages for simdjson errors.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include <simdjson.h>

namespace eplb::io::detail {

/// Returns words for a simdjson error a user can cause; `expected` describes an INCORRECT_TYPE.
std::string describe(simdjson::error_code error, std::string_view expected);

/// Returns the offset of the first byte after a complete root array or object in `content` that
/// is not white space, or -1 when there is none (the root is unclosed, a scalar, or all that the
/// content holds). simdjson reports such content as a truncated or malformed document.
int64_t content_after_root(std::string_view content);

/// Returns the JSON pointer `pointer/index`.
std::string child(std::string_view pointer, int64_t index);

/// Returns the JSON pointer `pointer/key`.
std::string child(std::string_view pointer, std::string_view key);

/// Turns failures into ParseError `<function>: <path>: <prefix><JSON pointer>: <what>`. The prefix
/// (such as `line 3: `) locates a document inside a file of several (JSONL).
class JsonErrors {
 public:
  JsonErrors(std::string_view function, const std::filesystem::path& path)
      : function_(function), path_(path) {}

  /// Sets the text put before every location, e.g. `line 3: `; empty for a single document.
  void set_prefix(std::string prefix) { prefix_ = std::move(prefix); }
  const std::string& prefix() const { return prefix_; }

  [[noreturn]] void fail(std::string_view pointer, std::string_view what) const;
  [[noreturn]] void fail(std::string_view pointer, simdjson::error_code error,
                         std::string_view expected) const {
    fail(pointer, describe(error, expected));
  }

 private:
  std::string_view function_;
  const std::filesystem::path& path_;
  std::string prefix_;
};

/// Throws ParseError `unexpected content after the JSON value at byte N` when
/// content_after_root(content) finds some; readers call it when parsing failed, to name the
/// real cause.
inline void check_content_after_root(const JsonErrors& errors, std::string_view content) {
  if (const int64_t at = content_after_root(content); at >= 0) {
    errors.fail("", "unexpected content after the JSON value at byte " + std::to_string(at));
  }
}

}  // namespace eplb::io::detail
