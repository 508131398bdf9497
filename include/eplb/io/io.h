#pragma once
// Reading load files and writing plan files, with the format chosen by content or by name.

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "eplb/metrics.h"
#include "eplb/plan.h"
#include "eplb/topology.h"
#include "eplb/trace.h"

namespace eplb::io {

/// Formats of load files.
enum class LoadFormat {
  /// Detect from the content: `.npy` magic, JSON object with `load_history`, JSON array, else CSV.
  automatic,
  /// vLLM's `{"load_history": [{"logical_expert_load": [[...]]}, ...]}`, one matrix per step.
  vllm_trace,
  /// A plain JSON matrix `[[...], ...]` (one row per layer).
  json_matrix,
  /// CSV, one row per layer, comma-separated numbers; no header.
  csv,
  /// NumPy `.npy`, 2-D (or 3-D = steps), C order, int32/int64/float32/float64 little-endian.
  npy,
};

/// Returns the format named `name` ("auto", "vllm", "json", "csv", "npy"); throws InvalidArgument.
LoadFormat parse_load_format(std::string_view name);

/// Reads every step of a load file. A file holding one matrix is a trace of one step. Throws
/// IoError when the file cannot be read and ParseError (naming the file and the location) when
/// its content is malformed, has rows of unequal length, steps of different shapes, or a value
/// that is negative or not finite.
Trace read_trace(const std::filesystem::path& path, LoadFormat format = LoadFormat::automatic);

/// Reads a load file and sums the steps of `steps`. Throws as read_trace() and InvalidArgument
/// for a step range out of bounds.
Loads read_loads(const std::filesystem::path& path, StepRange steps = {},
                 LoadFormat format = LoadFormat::automatic);

/// Writes `trace` in vLLM's load-history JSON format (integers where every value is integral).
/// The file is written to a temporary name and renamed, so it is never left partial. Throws
/// IoError.
void write_trace_json(const std::filesystem::path& path, const Trace& trace);

/// A plan file's content.
struct PlanFile {
  Plan plan;
  Topology topology;
  /// The policy name recorded by the writer (may be empty).
  std::string policy;
};

/// Writes eplb's plan JSON: `format`, `version`, the topology, `policy`, `phy2log`, `log2phy`,
/// `logcnt` and, when given, `metrics` (balancedness, gap, per-layer heaviest GPU and bound).
/// Written atomically (temporary file + rename). Throws IoError.
void write_plan_json(const std::filesystem::path& path, const PlanFile& plan_file,
                     const std::optional<PlanMetrics>& metrics = std::nullopt);

/// Reads a plan JSON written by write_plan_json() and validates it against its topology. Throws
/// IoError, ParseError (malformed JSON, missing or mistyped field) or InvalidArgument (a plan that
/// fails validate()).
PlanFile read_plan_json(const std::filesystem::path& path);

}  // namespace eplb::io
