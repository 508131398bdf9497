#pragma once
// Reading load files and writing plan files, with the format chosen by content or by name.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eplb/error.h"  // the exceptions the readers and writers throw
#include "eplb/metrics.h"
#include "eplb/plan.h"
#include "eplb/topology.h"
#include "eplb/trace.h"

namespace eplb::io {

/// Formats of load files (docs/formats.md has an example of each).
enum class LoadFormat {
  /// Detect from the content: a folder or safetensors file is `trtllm`, `.npy` magic is `npy`, a
  /// JSON array is `json_matrix`, a JSON object is told by its keys (see below), else CSV.
  automatic,
  /// vLLM's `{"load_history": [{"logical_expert_load": [[...]]}, ...]}`, one matrix per step.
  vllm_trace,
  /// A plain JSON matrix `[[...], ...]` (one row per layer).
  json_matrix,
  /// CSV, one row per layer, comma-separated numbers; no header.
  csv,
  /// NumPy `.npy`, 2-D (or 3-D = steps), C order, int32/int64/float32/float64 little-endian.
  npy,
  /// SGLang's `{"logical_count": ...}`, `[num_layers, num_experts]` or `[num_steps, num_layers,
  /// num_experts]` (what `--init-expert-location` accepts and its recorder dumps).
  sglang,
  /// `{"counts": [[...]], "num_layers": L, "num_experts": E, ...}`: SGLang recorder sums.
  counts,
  /// JSONL, one `{"layer": N, "counts": [...]}` per line in any order. `layer` is the model's
  /// layer index: layers must be contiguous, and rows before the first one are zero (dense).
  layer_jsonl,
  /// JSONL per-token routing, `{"topk_ids": [[...top_k ids], ...], ...}`, one line per layer
  /// per forward pass in layer order; each pass is one step. Needs ReadOptions::num_layers.
  topk_jsonl,
  /// TensorRT-LLM expert statistics: a folder of `rank<N>.safetensors` (tensors
  /// `"<iteration>_<layer>"` of `[num_experts]` counts, summed over ranks) and `meta_info.json`;
  /// iterations become steps, rows keep the model's layer numbering (unrecorded rows are zero).
  trtllm,
};

/// Returns the format named `name` ("auto", "vllm", "json", "csv", "npy", "sglang", "counts",
/// "layer-jsonl", "topk-jsonl", "trtllm"); throws InvalidArgument.
LoadFormat parse_load_format(std::string_view name);

/// Returns the name parse_load_format() accepts for `format`.
std::string_view to_string(LoadFormat format);

/// Options of read_trace() and read_loads().
struct ReadOptions {
  LoadFormat format = LoadFormat::automatic;
  /// Layers per forward pass of a `topk_jsonl` trace, which does not record it; required there
  /// (0 = not given) and ignored by the other formats.
  int64_t num_layers = 0;
  /// Experts of a `topk_jsonl` trace; 0 = the largest expert id + 1. Ignored by other formats.
  int64_t num_experts = 0;
  /// The plan file deployed while the loads were recorded (any PlanFormat; TensorRT-LLM's load
  /// balancer YAML). When set, the loads count slots (TensorRT-LLM statistics with its load
  /// balancer active: `num_experts` there is `num_slots`) and are mapped to experts through it
  /// (map_slot_loads()). Empty: the loads count experts.
  std::filesystem::path deployed_plan = {};
};

/// Reads every step of a load file (or statistics folder; `-`: standard input, eplb/io/files.h). A file holding one matrix is a trace
/// of one step. Throws IoError when the file cannot be read, ParseError (naming the file and the
/// location: JSON pointer, line, column, tensor) when its content is malformed, has rows of
/// unequal length, steps of different shapes, or a value that is negative or not finite, and
/// InvalidArgument for bad `options`.
Trace read_trace(const std::filesystem::path& path, const ReadOptions& options);
/// Same as read_trace(path, {.format = format}).
Trace read_trace(const std::filesystem::path& path, LoadFormat format = LoadFormat::automatic);

/// Reads a load file and sums the steps of `steps`. Throws as read_trace() and InvalidArgument
/// for a step range out of bounds.
Loads read_loads(const std::filesystem::path& path, StepRange steps, const ReadOptions& options);
/// Same as read_loads(path, steps, {.format = format}).
Loads read_loads(const std::filesystem::path& path, StepRange steps = {},
                 LoadFormat format = LoadFormat::automatic);

/// Writes `trace` in vLLM's load-history JSON format (integers where every value is integral).
/// Written row by row as eplb/io/files.h says (`-`: stdout; a regular file is never partial).
/// Throws IoError.
void write_trace_json(const std::filesystem::path& path, const Trace& trace);

/// A plan file's content.
struct PlanFile {
  Plan plan;
  Topology topology;
  /// The policy name recorded by the writer (may be empty).
  std::string policy;
  /// Rows of `plan` that are dense layers of the model (no routed experts), ascending. Their
  /// rows hold the trivial placement (slot `s` holds expert `s % num_experts`, as SGLang's
  /// `trivial`); formats that list MoE layers only (trtllm, vllm-ascend) leave them out.
  std::vector<int64_t> dense_layers = {};
  /// True when the rows are the model's MoE layers only and where its dense layers go is not
  /// known (a vllm-ascend file read without PlanReadOptions::dense_layers, a plan of a recording
  /// without dense rows). write_plan() refuses the formats that number the model's layers
  /// (sglang, trtllm) for such a plan, and the eplb format records it.
  bool moe_layers_only = false;
};

/// Formats of plan files.
enum class PlanFormat {
  /// Detect from the content (read_plan() only).
  automatic,
  /// eplb's plan JSON: topology, policy, `phy2log`, `log2phy`, `logcnt`, dense layers, metrics.
  eplb,
  /// SGLang's `{"physical_to_logical_map": [num_layers][num_replicas]}`, every layer
  /// (`--init-expert-location FILE`).
  sglang,
  /// TensorRT-LLM's `moe_config.load_balancer` YAML: `num_slots`, `initial_global_assignments`
  /// (MoE layer index -> expert of every global slot), `layer_updates_per_iter: 0`.
  trtllm,
  /// vllm-ascend's expert map JSON (`expert_map_path`): `moe_layer_count` and, per MoE layer,
  /// each device's experts in slot order.
  vllm_ascend,
};

/// Returns the format named `name` ("auto", "eplb", "sglang", "trtllm", "vllm-ascend"); throws
/// InvalidArgument.
PlanFormat parse_plan_format(std::string_view name);

/// Returns the name parse_plan_format() accepts for `format`.
std::string_view to_string(PlanFormat format);

/// Writes `plan_file` in `format` (not automatic). `metrics` are written by the eplb format only.
/// Dense layers are written as trivial rows (eplb, sglang) or left out (trtllm, vllm-ascend).
/// Streamed as eplb/io/files.h says. Throws InvalidArgument for an inconsistent `plan_file`,
/// for a file its server would misroute (check_server_plan()) and IoError.
void write_plan(const std::filesystem::path& path, const PlanFile& plan_file, PlanFormat format,
                const std::optional<PlanMetrics>& metrics = std::nullopt);

/// Throws InvalidArgument, naming the format and what is wrong, when a server would route
/// tokens wrongly with `plan_file` written in `format`: excluded GPUs (slots of -1) in any
/// server format, since none of them can leave a GPU empty (SGLang and vllm-ascend read -1 as
/// the last expert, TensorRT-LLM refuses it); two replicas of one expert on one GPU in
/// vllm-ascend (it addresses one slot per expert per device); a `moe_layers_only` plan in a
/// format that numbers the model's layers (sglang, trtllm). The eplb format takes all of them.
void check_server_plan(const PlanFile& plan_file, PlanFormat format);

/// Options of read_plan(): what a plan format does not record.
struct PlanReadOptions {
  PlanFormat format = PlanFormat::automatic;
  /// GPUs; required for sglang and for trtllm files without `ep_size`. 0 = not given. When the
  /// file records it (eplb, vllm-ascend, `ep_size`), a different value is an InvalidArgument.
  int64_t num_gpus = 0;
  /// Expert groups and nodes; 0 = not given: 1 when the file does not record them (only eplb
  /// does), else they must match.
  int64_t num_groups = 0;
  int64_t num_nodes = 0;
  /// Dense layers of the model (rows of the result). sglang and eplb files without the field:
  /// marks those rows; vllm-ascend (MoE layers only): inserts trivial rows there. Files that
  /// record them (eplb with the field; trtllm, whose missing layer keys are the dense layers)
  /// must agree when this is not empty.
  std::vector<int64_t> dense_layers = {};
  /// The model has no dense layers (CLI `--dense-layers none`): the rows of a vllm-ascend file
  /// are the model's layers. Must not be set with `dense_layers`.
  bool no_dense_layers = false;
};

/// Reads a plan file of any PlanFormat and validates it (validate()). The number of experts is
/// the largest expert index + 1 for formats that do not record it. Throws IoError, ParseError
/// (malformed file, missing or mistyped field, naming the file and the location) and
/// InvalidArgument (options missing or disagreeing with the file; a plan that fails validate()).
PlanFile read_plan(const std::filesystem::path& path, const PlanReadOptions& options = {});

/// Returns the expert loads of `slot_loads`, whose rows count the tokens of each slot of
/// `deployed_plan` (`[num_steps, num_layers, num_replicas]`, rows numbered as the plan's): each
/// slot's count goes to the expert the plan puts there. Throws InvalidArgument, naming
/// `plan_name`, when the shapes disagree (slots per layer, layers), a dense row of the plan has
/// counts, or the plan's rows are MoE layers only (`moe_layers_only`).
Trace map_slot_loads(const Trace& slot_loads, const PlanFile& deployed_plan,
                     std::string_view plan_name);

/// Writes eplb's plan JSON: write_plan(path, plan_file, PlanFormat::eplb, metrics).
void write_plan_json(const std::filesystem::path& path, const PlanFile& plan_file,
                     const std::optional<PlanMetrics>& metrics = std::nullopt);

/// Reads eplb's plan JSON: read_plan(path, {.format = PlanFormat::eplb}).
PlanFile read_plan_json(const std::filesystem::path& path);

}  // namespace eplb::io
