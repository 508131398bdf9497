#pragma once
// Private entry points of each file format; io.cc reads the file and dispatches to them.

#include <filesystem>
#include <string>
#include <string_view>

#include "eplb/io/io.h"  // PlanFile
#include "eplb/trace.h"

namespace eplb::io::detail {

/// Parses a vLLM load history (`vllm` true) or a plain JSON matrix from `content`, which must
/// have kReadPadding spare bytes of capacity. Throws ParseError naming `path` and a JSON pointer.
Trace parse_json_loads(std::string_view function, const std::filesystem::path& path,
                       const std::string& content, bool vllm);

/// Parses a CSV matrix, one row per line. Throws ParseError naming `path`, the line and column.
Trace parse_csv_loads(std::string_view function, const std::filesystem::path& path,
                      std::string_view content);

/// Parses a NumPy `.npy` array, 2-D (one step) or 3-D (steps). Throws ParseError naming `path`.
Trace parse_npy_loads(std::string_view function, const std::filesystem::path& path,
                      std::string_view content);

/// Parses and validates a plan JSON (see write_plan_json()). Throws ParseError naming `path` and
/// a JSON pointer, and InvalidArgument from Topology and validate().
PlanFile parse_plan_json(std::string_view function, const std::filesystem::path& path,
                         const std::string& content);

}  // namespace eplb::io::detail
