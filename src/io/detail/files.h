#pragma once
// Private helpers of eplb_io: whole-file reads, atomic writes, error messages and number text.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace eplb::io::detail {

/// Spare capacity read_file() leaves after the content; json.cc checks it covers simdjson's.
inline constexpr size_t kReadPadding = 64;

/// Most values (steps x layers x experts) a reader builds that the file does not spell out one
/// by one: zero rows of unrecorded (dense) layers, counted top-k ids. Keeps a small hostile file
/// from asking for gigabytes.
inline constexpr int64_t kMaxBuiltValues = int64_t{1} << 26;

/// Returns `text` with every byte outside printable ASCII written as `\xNN`, so that a message
/// quoting a damaged file or an odd path holds no raw binary.
std::string printable(std::string_view text);

/// Throws IoError `<function>: <path>: <strerror(error_number)>`.
[[noreturn]] void throw_io_error(std::string_view function, const std::filesystem::path& path,
                                 int error_number);

/// Throws ParseError `<function>: <path>: <what>`, both made printable().
[[noreturn]] void throw_parse_error(std::string_view function, const std::filesystem::path& path,
                                    std::string_view what);

/// Returns the whole content of `path`, with at least kReadPadding bytes of capacity after it.
/// Throws IoError.
std::string read_file(std::string_view function, const std::filesystem::path& path);

/// Writes `content` to `path` + ".tmp" and renames it over `path`, so that `path` never holds a
/// partial file; the temporary file is removed on failure. Throws IoError naming `path`.
void write_file_atomically(std::string_view function, const std::filesystem::path& path,
                           std::string_view content);

/// Appends `text` as a JSON string: quoted, `"` and backslash escaped, control bytes as \u00XX.
void append_json_string(std::string& out, std::string_view text);

/// Appends `value` in its shortest round-trip form, without decimals when it is integral.
void append_number(std::string& out, double value);

/// Returns true for a value a load file may hold: finite and non-negative.
inline bool is_valid_load(double value) { return std::isfinite(value) && value >= 0; }

/// Returns `value <value> must be finite and non-negative`.
std::string bad_load_message(double value);

}  // namespace eplb::io::detail
