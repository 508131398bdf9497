// Format dispatch, whole-file reads and the atomic JSON writers of eplb_io.
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
namespace {

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

}  // namespace

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

void throw_io_error(std::string_view function, const std::filesystem::path& path,
                    int error_number) {
  throw IoError(std::string(function) + ": " + printable(path.string()) + ": " +
                    std::generic_category().message(error_number),
                error_number, path.string());
}

void throw_parse_error(std::string_view function, const std::filesystem::path& path,
                       std::string_view what) {
  throw ParseError(std::string(function) + ": " + printable(path.string()) + ": " +
                   printable(what));
}

std::string read_file(std::string_view function, const std::filesystem::path& path) {
  const File file(std::fopen(path.c_str(), "rb"));
  if (!file) throw_io_error(function, path, errno);
  // The size is only a hint (the file may be a pipe or still growing); reading it in one call
  // avoids regrowing a string of hundreds of megabytes.
  std::error_code size_error;
  const uintmax_t size_hint = std::filesystem::file_size(path, size_error);
  std::string content;
  if (!size_error) {
    content.reserve(size_hint + kReadPadding);
    content.resize(size_hint);
    content.resize(std::fread(content.data(), 1, content.size(), file.get()));
  }
  char chunk[1 << 16];
  while (!std::ferror(file.get()) && !std::feof(file.get())) {
    content.append(chunk, std::fread(chunk, 1, sizeof chunk, file.get()));
  }
  if (std::ferror(file.get())) throw_io_error(function, path, errno);
  content.reserve(content.size() + kReadPadding);
  return content;
}

void write_file_atomically(std::string_view function, const std::filesystem::path& path,
                           std::string_view content) {
  std::filesystem::path temporary = path;
  temporary += ".tmp";
  std::FILE* file = std::fopen(temporary.c_str(), "wb");
  if (!file) throw_io_error(function, path, errno);
  const bool written = std::fwrite(content.data(), 1, content.size(), file) == content.size();
  int error_number = errno;
  // fclose flushes the buffer, so it can be the call that hits a full disk.
  const bool closed = std::fclose(file) == 0;
  if (written && !closed) error_number = errno;
  if (!written || !closed) {
    std::remove(temporary.c_str());
    throw_io_error(function, path, error_number);
  }
  std::error_code rename_error;
  std::filesystem::rename(temporary, path, rename_error);
  if (rename_error) {
    std::remove(temporary.c_str());
    throw_io_error(function, path, rename_error.value());
  }
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

Trace read_recorded_trace(std::string_view function, const std::filesystem::path& path,
                          const ReadOptions& options) {
  LoadFormat format = options.format;
  std::error_code ignored;
  // A statistics folder (TensorRT-LLM) is read file by file.
  if (format == LoadFormat::trtllm ||
      (format == LoadFormat::automatic && std::filesystem::is_directory(path, ignored))) {
    return detail::read_trtllm_statistics(function, path);
  }
  const std::string content = detail::read_file(function, path);
  if (format != LoadFormat::npy) detail::refuse_torch_file(function, path, content, "eplb.read_loads");
  if (format == LoadFormat::automatic) format = detect_format(content);
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
      return detail::read_trtllm_statistics(function, path);
    case LoadFormat::automatic:
      break;
  }
  throw InvalidArgument(std::string(function) + ": format = " +
                        std::to_string(static_cast<int>(format)) + " is not a LoadFormat");
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
  std::string content;
  switch (format) {
    case PlanFormat::eplb:
      content = detail::format_plan_json(plan_file, metrics);
      break;
    case PlanFormat::sglang:
      content = detail::format_sglang_plan(plan_file);
      break;
    case PlanFormat::trtllm:
      content = detail::format_trtllm_plan(plan_file);
      break;
    case PlanFormat::vllm_ascend:
      content = detail::format_vllm_ascend_plan(plan_file);
      break;
    case PlanFormat::automatic:
      throw InvalidArgument(std::string(function) +
                            ": format = auto must be a concrete plan format for writing");
  }
  detail::write_file_atomically(function, path, content);
}

PlanFile read_plan_as(std::string_view function, const std::filesystem::path& path,
                      const PlanReadOptions& options) {
  const std::string content = detail::read_file(function, path);
  detail::refuse_torch_file(function, path, content, "eplb.load_plan");
  PlanFormat format = options.format;
  if (format == PlanFormat::automatic) format = detail::detect_plan_format(function, path, content);
  if (format == PlanFormat::trtllm) {
    return detail::parse_plan_yaml(function, path, content, options);
  }
  return detail::parse_plan_json(function, path, content, format, options);
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
  check_trace(trace);
  std::string out;
  // Integral token counts print in about 4 bytes each; reserving avoids most regrowth.
  out.reserve(trace.values.size() * 5 + 64);
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
    }
    out += "]}";
  }
  out += "\n]}\n";
  detail::write_file_atomically("write_trace_json", path, out);
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
