#pragma once
// Private entry points of each file format; io.cc reads the file and dispatches to them.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "eplb/io/io.h"  // PlanFile, LoadFormat, PlanFormat
#include "io/detail/files.h"
#include "eplb/metrics.h"
#include "eplb/routing.h"
#include "eplb/trace.h"

namespace eplb::io::detail {

/// Parses a JSON load file of `format` (vllm_trace, json_matrix, sglang or counts) from
/// `content`, which must have kReadPadding spare bytes of capacity. Throws ParseError naming
/// `path` and a JSON pointer.
Trace parse_json_loads(std::string_view function, const std::filesystem::path& path,
                       const std::string& content, LoadFormat format);

/// Returns the format of a load file whose first non-blank character is `{`, from its keys:
/// vllm_trace, sglang, counts, layer_jsonl or topk_jsonl (vllm_trace when no key tells).
LoadFormat detect_json_object_format(const std::string& content);

/// Parses `{"layer": N, "counts": [...]}` lines (any order; layers contiguous; rows before the
/// first layer are zero). Throws ParseError naming `path` and the line.
Trace parse_layer_jsonl(std::string_view function, const std::filesystem::path& path,
                        const std::string& content);

/// Counts the `topk_ids` of per-token routing lines, `num_layers` lines per forward pass (one
/// step each). `num_experts` 0 means the largest id + 1. Throws InvalidArgument for bad options
/// and ParseError naming `path` and the line.
Trace parse_topk_jsonl(std::string_view function, const std::filesystem::path& path,
                       const std::string& content, int64_t num_layers, int64_t num_experts);

/// The tokens of the forward passes `passes` of per-token routing lines as a Routing sample
/// (see eplb/io/routing.h).
Routing parse_topk_routing(std::string_view function, const std::filesystem::path& path,
                           const std::string& content, int64_t num_layers, int64_t num_experts,
                           StepRange passes);

/// Returns true when `content` starts like a safetensors file (header length, then `{`).
bool looks_like_safetensors(std::string_view content);

/// Reads TensorRT-LLM expert statistics: a folder of rank<N>.safetensors files (summed) with an
/// optional meta_info.json, or one such file. Throws IoError and ParseError naming the file.
Trace read_trtllm_statistics(std::string_view function, const std::filesystem::path& path);

/// Throws ParseError naming `path` when it is a PyTorch file (`torch.save`: a `.pt`/`.pth` name,
/// or a zip or pickle start), which only the Python package reads: the message points at
/// `python_function` (e.g. `eplb.read_loads`).
void refuse_torch_file(std::string_view function, const std::filesystem::path& path,
                       std::string_view content, std::string_view python_function);

/// Parses one TensorRT-LLM statistics file (rank<N>.safetensors) already read into `content`.
/// Throws ParseError naming `path`.
Trace parse_trtllm_statistics_file(std::string_view function, const std::filesystem::path& path,
                                   const std::string& content);

/// Parses a CSV matrix, one row per line. Throws ParseError naming `path`, the line and column.
Trace parse_csv_loads(std::string_view function, const std::filesystem::path& path,
                      std::string_view content);

/// Parses a NumPy `.npy` array, 2-D (one step) or 3-D (steps). Throws ParseError naming `path`.
Trace parse_npy_loads(std::string_view function, const std::filesystem::path& path,
                      std::string_view content);

/// Returns the format of a plan file from its content: eplb, sglang or vllm_ascend for JSON
/// objects, trtllm for YAML. Throws ParseError naming `path` when none fits.
PlanFormat detect_plan_format(std::string_view function, const std::filesystem::path& path,
                              std::string_view content);

/// Parses a JSON plan file of `format` (eplb, sglang or vllm_ascend) into a PlanFile whose
/// topology is completed from `options`; see read_plan(). Throws ParseError naming `path` and a
/// JSON pointer, and InvalidArgument from Topology, validate() and bad options.
PlanFile parse_plan_json(std::string_view function, const std::filesystem::path& path,
                         const std::string& content, PlanFormat format,
                         const PlanReadOptions& options);

/// Parses a TensorRT-LLM load-balancer YAML; see read_plan(). Throws like parse_plan_json().
PlanFile parse_plan_yaml(std::string_view function, const std::filesystem::path& path,
                         std::string_view content, const PlanReadOptions& options);

/// Writes eplb's plan JSON for `plan_file` (with `metrics` when given) to `file`, row by row.
void write_plan_json(const PlanFile& plan_file, const PlanMetrics* metrics, OutputFile& file);

/// Writes SGLang's `{"physical_to_logical_map": [...]}` for `plan_file` to `file`.
void write_sglang_plan(const PlanFile& plan_file, OutputFile& file);

/// Writes vllm-ascend's expert map JSON for `plan_file` (dense layers left out) to `file`.
void write_vllm_ascend_plan(const PlanFile& plan_file, OutputFile& file);

/// Writes TensorRT-LLM's load-balancer YAML for `plan_file` (dense layers left out) to `file`.
void write_trtllm_plan(const PlanFile& plan_file, OutputFile& file);

/// Returns `[a, b, ...]` for messages.
std::string layer_list_text(const std::vector<int64_t>& layers);

/// Returns the dense layers: those recorded in the file (`recorded`, null when it does not
/// record them; then they must equal the given ones when those are set) or the given ones.
/// Throws InvalidArgument for given layers that are not ascending and non-negative.
std::vector<int64_t> resolve_dense_layers(std::string_view function,
                                          const std::filesystem::path& path,
                                          const std::vector<int64_t>* recorded,
                                          const PlanReadOptions& options);

/// Throws InvalidArgument unless every row `dense` of `plan` holds the trivial placement (what
/// eplb and SGLang give dense layers): a row holding anything else is a real MoE layer that a
/// MoE-only format would drop. Rows past the plan are left to the callers' range checks.
void check_dense_rows_trivial(std::string_view function, const std::filesystem::path& path,
                              const Plan& plan, const std::vector<int64_t>& dense);

/// Throws InvalidArgument when `no_dense_layers` and `dense_layers` are both set.
void check_dense_options(std::string_view function, const PlanReadOptions& options);

/// Returns `given` when set (and equal to `recorded` when that is set), else `recorded`; 0 is
/// "not set". Throws InvalidArgument naming `name` and `path` when they differ.
int64_t resolve_size(std::string_view function, const std::filesystem::path& path,
                     const char* name, int64_t given, int64_t recorded);

/// Builds the PlanFile of a format that records `phy2log` rows only: checks `options` against
/// what the file recorded (`recorded_gpus` 0 when it did not; `recorded_dense` when it did),
/// inserts or marks dense layers, builds the plan and validates it. `rows_are_moe_only` is true
/// when the file leaves dense layers out. Throws InvalidArgument.
PlanFile build_plan_file(std::string_view function, const std::filesystem::path& path,
                         std::string_view format_name, std::vector<int64_t> phy2log,
                         int64_t num_layers, int64_t num_replicas, int64_t recorded_gpus,
                         const std::vector<int64_t>* recorded_dense, bool rows_are_moe_only,
                         const PlanReadOptions& options);

}  // namespace eplb::io::detail
