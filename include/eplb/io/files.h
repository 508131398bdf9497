#pragma once
// How eplb's readers and writers treat the paths they are given (docs/formats.md, "Paths").
//
// Writers: `-` is standard output. A regular file (or a new one) is written to a unique
// temporary name in its folder and renamed over the path, so readers never see a partial file
// and concurrent writers each leave a whole one (the last rename wins); a symlink to one is
// followed, so the link stays and its target gets the content. Anything else (a FIFO, a device
// such as /dev/stdout, a path under /dev or /proc) is opened and written straight through.
// Readers: `-` is standard input; a file above kMaxInputBytes is refused before it is read.

#include <cstdint>
#include <filesystem>
#include <string_view>

namespace eplb::io {

/// Largest input file the readers take: 4 GiB, the largest document simdjson parses. A larger
/// file (or stream) is refused with InvalidArgument naming it and the limit, before its content
/// is allocated.
inline constexpr int64_t kMaxInputBytes = int64_t{1} << 32;

/// Throws IoError `<name>: <path>: <strerror>` when a writer could not write `path`: a folder,
/// its folder does not exist or is not a folder, or the file or the folder is not writable.
/// Lets a command refuse a bad output before its work (`name`: the option, e.g. "--output").
/// `-` always passes. Every writer makes the same check when it opens the path.
void check_output_path(const std::filesystem::path& path,
                       std::string_view name = "check_output_path");

/// Returns true when `path` is `-` or names the file standard output is open on (such as
/// /dev/stdout), so that a command can print its report elsewhere.
bool is_standard_output(const std::filesystem::path& path);

}  // namespace eplb::io
