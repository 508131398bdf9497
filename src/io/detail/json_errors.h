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

}  // namespace eplb::io::detail
