// Format dispatch of eplb_io: load and plan readers, the plan and trace JSON writers.
#include "eplb/io/io.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "eplb/error.h"
#include "io/detail/files.h"
#include "io/detail/formats.h"

namespace eplb::io {
namespace detail {
std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) {
      out += c;
    } else {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\u%04x", static_cast<unsigned>(c));
      out += escape;
    } else {
      out += c;
    }
  }
  out += '"';
}

void append_number(std::string& out, double value) {
  char buffer[32];
  std::to_chars_result result;
  // Token counts are integers; printing them as such keeps the files short and diffable.
  if (value == std::trunc(value) && std::abs(value) < 0x1p63) {
    result = std::to_chars(buffer, buffer + sizeof buffer, static_cast<int64_t>(value));
  } else {
    result = std::to_chars(buffer, buffer + sizeof buffer, value);
  }
  out.append(buffer, result.ptr);
}

std::string bad_load_message(double value) {
  std::string message = "value ";
  append_number(message, value);
  return message + " must be finite and non-negative";
}

}  // namespace detail

namespace {

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

LoadFormat detect_format(const std::string& content) {
  if (content.starts_with("\x93NUMPY")) return LoadFormat::npy;
  if (detail::looks_like_safetensors(content)) return LoadFormat::trtllm;
  for (const char c : content) {
    if (is_json_space(c)) continue;
    if (c == '{') return detail::detect_json_object_format(content);
    if (c == '[') return LoadFormat::json_matrix;
    break;
  }
  return LoadFormat::csv;
}

// Runs `read`, turning a bare std::bad_alloc into OutOfMemory naming `path` and `what`.
template <typename Read>
auto with_memory_message(std::string_view function, const std::string& path, std::string_view what,
                         Read read) {
  try {
    return read();
  } catch (const OutOfMemory&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw OutOfMemory(std::string(function) + ": " + path + ": out of memory " + std::string(what));
  }
}

Trace parse_trace(std::string_view function, const std::filesystem::path& path,
                  const std::string& content, LoadFormat format, const ReadOptions& options) {
  switch (format) {
    case LoadFormat::vllm_trace:
    case LoadFormat::json_matrix:
    case LoadFormat::sglang:
    case LoadFormat::counts:
      return detail::parse_json_loads(function, path, content, format);
    case LoadFormat::layer_jsonl:
      return detail::parse_layer_jsonl(function, path, content);
    case LoadFormat::topk_jsonl:
      return detail::parse_topk_jsonl(function, path, content, options.num_layers,
                                      options.num_experts);
    case LoadFormat::csv:
      return detail::parse_csv_loads(function, path, content);
    case LoadFormat::npy:
      return detail::parse_npy_loads(function, path, content);
    case LoadFormat::trtllm:
      return detail::parse_trtllm_statistics_file(function, path, content);
    case LoadFormat::automatic:
      break;
  }
  throw InvalidArgument(std::string(function) + ": format = " +
                        std::to_string(static_cast<int>(format)) + " is not a LoadFormat");
}

Trace read_recorded_trace(std::string_view function, const std::filesystem::path& path,
                          const ReadOptions& options) {
  const std::string shown = detail::shown_path(path, /*output=*/false);
  return with_memory_message(function, shown, "building the trace it holds", [&] {
    LoadFormat format = options.format;
    std::error_code ignored;
    // A statistics folder (TensorRT-LLM) is read file by file.
    if ((format == LoadFormat::trtllm || format == LoadFormat::automatic) && path != "-" &&
        std::filesystem::is_directory(path, ignored)) {
      return detail::read_trtllm_statistics(function, path);
    }
    const std::string content = detail::read_file(function, path);
    if (format != LoadFormat::npy) {
      detail::refuse_torch_file(function, shown, content, "eplb.read_loads");
    }
    if (format == LoadFormat::automatic) format = detect_format(content);
    return parse_trace(function, shown, content, format, options);
  });
}

// The deployed plan only maps slots to experts, so its GPU count does not matter: a format that
// does not record it (sglang, trtllm without ep_size) is read as if on one GPU.
PlanFile read_deployed_plan(const std::filesystem::path& path) {
  try {
    return read_plan(path);
  } catch (const InvalidArgument&) {
    return read_plan(path, {.num_gpus = 1});
  }
}

Trace read_trace_as(std::string_view function, const std::filesystem::path& path,
                    const ReadOptions& options) {
  Trace trace = read_recorded_trace(function, path, options);
  if (options.deployed_plan.empty()) return trace;
  return map_slot_loads(trace, read_deployed_plan(options.deployed_plan),
                        options.deployed_plan.string());
}

// The values are indexed below by the shape fields, so a Trace whose fields disagree with its
// values must be refused before any output is produced.
void check_trace(const Trace& trace) {
  const bool shape_ok = trace.num_steps >= 0 && trace.num_layers >= 0 && trace.num_experts >= 0 &&
                        static_cast<int64_t>(trace.values.size()) ==
                            trace.num_steps * trace.num_layers * trace.num_experts;
  if (!shape_ok) {
    throw InvalidArgument("write_trace_json: values.size() = " +
                          std::to_string(trace.values.size()) +
                          " must equal num_steps * num_layers * num_experts = " +
                          std::to_string(trace.num_steps * trace.num_layers * trace.num_experts));
  }
  for (size_t i = 0; i < trace.values.size(); ++i) {
    if (!std::isfinite(trace.values[i])) {
      std::string message = "write_trace_json: values[" + std::to_string(i) + "] = ";
      detail::append_number(message, trace.values[i]);
      throw InvalidArgument(message + " must be finite");
    }
  }
}

// Writers index the arrays by the plan's sizes, so sizes must match before anything is written.
void check_plan_file(std::string_view function, const PlanFile& plan_file) {
  const Plan& plan = plan_file.plan;
  const auto fail = [&](const std::string& what) {
    throw InvalidArgument(std::string(function) + ": " + what);
  };
  if (plan.num_layers < 0 || plan.num_experts < 0 || plan.max_replicas < 0) {
    fail("plan sizes must be non-negative");
  }
  if (plan.num_replicas != plan_file.topology.num_replicas()) {
    fail("plan.num_replicas = " + std::to_string(plan.num_replicas) +
         " must equal topology.num_replicas() = " +
         std::to_string(plan_file.topology.num_replicas()));
  }
  const auto check_size = [&](const char* name, size_t size, int64_t expected) {
    if (static_cast<int64_t>(size) != expected) {
      fail(std::string(name) + " size = " + std::to_string(size) + " must be " +
           std::to_string(expected));
    }
  };
  check_size("phy2log", plan.phy2log.size(), plan.num_layers * plan.num_replicas);
  check_size("log2phy", plan.log2phy.size(),
             plan.num_layers * plan.num_experts * plan.max_replicas);
  check_size("logcnt", plan.logcnt.size(), plan.num_layers * plan.num_experts);
  const std::vector<int64_t>& dense = plan_file.dense_layers;
  for (size_t i = 0; i < dense.size(); ++i) {
    if (dense[i] < 0 || dense[i] >= plan.num_layers || (i > 0 && dense[i] <= dense[i - 1])) {
      fail("dense_layers[" + std::to_string(i) + "] = " + std::to_string(dense[i]) +
           " must be ascending and in [0, " + std::to_string(plan.num_layers) + ")");
    }
  }
}

void write_plan_as(std::string_view function, const std::filesystem::path& path,
                   const PlanFile& plan_file, PlanFormat format, const PlanMetrics* metrics) {
  check_plan_file(function, plan_file);
  check_server_plan(plan_file, format);
  const bool moe_only = format == PlanFormat::trtllm || format == PlanFormat::vllm_ascend;
  if (moe_only && plan_file.dense_layers.size() == static_cast<size_t>(plan_file.plan.num_layers)) {
    throw InvalidArgument(std::string(function) + ": every layer is dense: a " +
                          std::string(to_string(format)) + " plan needs MoE layers");
  }
  if (format == PlanFormat::automatic) {
    throw InvalidArgument(std::string(function) +
                          ": format = auto must be a concrete plan format for writing");
  }
  const std::string shown = detail::shown_path(path, /*output=*/true);
  with_memory_message(function, shown, "writing the plan", [&] {
    detail::OutputFile file(function, path);
    switch (format) {
      case PlanFormat::eplb:
        detail::write_plan_json(plan_file, metrics, file);
        break;
      case PlanFormat::sglang:
        detail::write_sglang_plan(plan_file, file);
        break;
      case PlanFormat::trtllm:
        detail::write_trtllm_plan(plan_file, file);
        break;
      case PlanFormat::vllm_ascend:
        detail::write_vllm_ascend_plan(plan_file, file);
        break;
      case PlanFormat::automatic:
        break;
    }
    file.commit();
  });
}

PlanFile read_plan_as(std::string_view function, const std::filesystem::path& path,
                      const PlanReadOptions& options) {
  const std::string shown = detail::shown_path(path, /*output=*/false);
  return with_memory_message(function, shown, "building the plan it holds", [&] {
    const std::string content = detail::read_file(function, path);
    detail::refuse_torch_file(function, shown, content, "eplb.load_plan");
    PlanFormat format = options.format;
    if (format == PlanFormat::automatic) {
      format = detail::detect_plan_format(function, shown, content);
    }
    if (format == PlanFormat::trtllm) {
      return detail::parse_plan_yaml(function, shown, content, options);
    }
    return detail::parse_plan_json(function, shown, content, format, options);
  });
}

struct LoadFormatName {
  LoadFormat format;
  std::string_view name;
};

constexpr LoadFormatName kLoadFormats[] = {
    {LoadFormat::automatic, "auto"},         {LoadFormat::vllm_trace, "vllm"},
    {LoadFormat::json_matrix, "json"},       {LoadFormat::csv, "csv"},
    {LoadFormat::npy, "npy"},                {LoadFormat::sglang, "sglang"},
    {LoadFormat::counts, "counts"},          {LoadFormat::layer_jsonl, "layer-jsonl"},
    {LoadFormat::topk_jsonl, "topk-jsonl"},  {LoadFormat::trtllm, "trtllm"},
};

struct PlanFormatName {
  PlanFormat format;
  std::string_view name;
};

constexpr PlanFormatName kPlanFormats[] = {
    {PlanFormat::automatic, "auto"},  {PlanFormat::eplb, "eplb"},
    {PlanFormat::sglang, "sglang"},   {PlanFormat::trtllm, "trtllm"},
    {PlanFormat::vllm_ascend, "vllm-ascend"},
};

template <typename Names>
std::string joined_names(const Names& names) {
  std::string text;
  for (const auto& entry : names) text += (text.empty() ? "" : ", ") + std::string(entry.name);
  return text;
}

}  // namespace

LoadFormat parse_load_format(std::string_view name) {
  for (const LoadFormatName& entry : kLoadFormats) {
    if (entry.name == name) return entry.format;
  }
  throw InvalidArgument("parse_load_format: name = \"" + std::string(name) +
                        "\" must be one of " + joined_names(kLoadFormats));
}

std::string_view to_string(LoadFormat format) {
  for (const LoadFormatName& entry : kLoadFormats) {
    if (entry.format == format) return entry.name;
  }
  return "unknown";
}

PlanFormat parse_plan_format(std::string_view name) {
  for (const PlanFormatName& entry : kPlanFormats) {
    if (entry.name == name) return entry.format;
  }
  throw InvalidArgument("parse_plan_format: name = \"" + std::string(name) +
                        "\" must be one of " + joined_names(kPlanFormats));
}

std::string_view to_string(PlanFormat format) {
  for (const PlanFormatName& entry : kPlanFormats) {
    if (entry.format == format) return entry.name;
  }
  return "unknown";
}

Trace read_trace(const std::filesystem::path& path, const ReadOptions& options) {
  return read_trace_as("read_trace", path, options);
}

Trace read_trace(const std::filesystem::path& path, LoadFormat format) {
  return read_trace_as("read_trace", path, {.format = format});
}

Loads read_loads(const std::filesystem::path& path, StepRange steps, const ReadOptions& options) {
  return read_trace_as("read_loads", path, options).sum_steps(steps);
}

Loads read_loads(const std::filesystem::path& path, StepRange steps, LoadFormat format) {
  return read_loads(path, steps, {.format = format});
}

void write_trace_json(const std::filesystem::path& path, const Trace& trace) {
  constexpr std::string_view kFunction = "write_trace_json";
  check_trace(trace);
  with_memory_message(kFunction, detail::shown_path(path, true), "writing the trace", [&] {
    detail::OutputFile file(kFunction, path);
    std::string& out = file.text();
    out += "{\"load_history\": [";
    const int64_t layer_size = trace.num_experts;
    const double* value = trace.values.data();
    for (int64_t step = 0; step < trace.num_steps; ++step) {
      out += step > 0 ? ",\n  {\"logical_expert_load\": [" : "\n  {\"logical_expert_load\": [";
      for (int64_t layer = 0; layer < trace.num_layers; ++layer) {
        out += layer > 0 ? ",\n    [" : "\n    [";
        for (int64_t expert = 0; expert < layer_size; ++expert) {
          if (expert > 0) out += ',';
          detail::append_number(out, *value++);
        }
        out += ']';
        file.flush_if_full();
      }
      out += "]}";
    }
    out += "\n]}\n";
    file.commit();
  });
}

void write_plan(const std::filesystem::path& path, const PlanFile& plan_file, PlanFormat format,
                const std::optional<PlanMetrics>& metrics) {
  write_plan_as("write_plan", path, plan_file, format, metrics ? &*metrics : nullptr);
}

PlanFile read_plan(const std::filesystem::path& path, const PlanReadOptions& options) {
  return read_plan_as("read_plan", path, options);
}

void write_plan_json(const std::filesystem::path& path, const PlanFile& plan_file,
                     const std::optional<PlanMetrics>& metrics) {
  write_plan_as("write_plan_json", path, plan_file, PlanFormat::eplb,
                metrics ? &*metrics : nullptr);
}

PlanFile read_plan_json(const std::filesystem::path& path) {
  return read_plan_as("read_plan_json", path, {.format = PlanFormat::eplb});
}

}  // namespace eplb::io
