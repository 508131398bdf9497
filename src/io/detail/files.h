#pragma once
// Private helpers of eplb_io: whole-file reads, output files, error messages and number text.

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "eplb/io/files.h"

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

/// Returns how messages name `path`: `<stdin>` / `<stdout>` for `-`, else the path.
std::string shown_path(const std::filesystem::path& path, bool output);

/// Returns the whole content of `path` (`-`: standard input), with at least kReadPadding bytes
/// of capacity after it. Throws InvalidArgument when it holds more than `max_bytes` (checked
/// before reading a regular file), IoError, and OutOfMemory.
std::string read_file(std::string_view function, const std::filesystem::path& path,
                      int64_t max_bytes = kMaxInputBytes);

/// A file being written as eplb/io/files.h describes: to a unique temporary name renamed over
/// the path by commit(), or straight through to stdout, a FIFO or a device. Writers append to
/// text() and call flush_if_full() after each row, so a large file is streamed, not built whole.
/// Destroyed without commit() (an exception), it removes its temporary file.
class OutputFile {
 public:
  /// Opens `path` for writing; throws IoError `<function>: <path>: <why>`.
  OutputFile(std::string_view function, const std::filesystem::path& path);
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  /// The text not yet written.
  std::string& text() { return text_; }
  /// Writes the pending text once it holds a chunk (64 KiB). Throws IoError.
  void flush_if_full() {
    if (text_.size() >= kChunkBytes) flush();
  }
  /// Writes the rest, closes the file and renames the temporary over the path. Throws IoError;
  /// the path then keeps its old content (a regular file) and no temporary file is left.
  void commit();

 private:
  static constexpr size_t kChunkBytes = size_t{1} << 16;
  void flush();
  [[noreturn]] void fail(int error_number);

  std::string function_;
  std::filesystem::path path_;
  std::filesystem::path target_;     // what the temporary is renamed over (symlinks resolved)
  std::filesystem::path temporary_;  // empty when writing straight through
  int fd_ = -1;
  bool owns_fd_ = false;
  std::string text_;
};

/// Writes `content` to `path` through an OutputFile. Throws IoError naming `path`.
void write_file(std::string_view function, const std::filesystem::path& path,
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
