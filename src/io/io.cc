// Format dispatch, whole-file reads and the atomic JSON writers of eplb_io.
#include "eplb/io/io.h"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
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

void throw_io_error(std::string_view function, const std::filesystem::path& path,
                    int error_number) {
  throw IoError(std::string(function) + ": " + path.string() + ": " +
                std::generic_category().message(error_number));
}

void throw_parse_error(std::string_view function, const std::filesystem::path& path,
                       std::string_view what) {
  throw ParseError(std::string(function) + ": " + path.string() + ": " + std::string(what));
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

void append_integer(std::string& out, int64_t value) {
  char buffer[24];
  out.append(buffer, std::to_chars(buffer, buffer + sizeof buffer, value).ptr);
}

bool is_json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

LoadFormat detect_format(std::string_view content) {
  if (content.starts_with("\x93NUMPY")) return LoadFormat::npy;
  for (const char c : content) {
    if (is_json_space(c)) continue;
    if (c == '{') return LoadFormat::vllm_trace;
    if (c == '[') return LoadFormat::json_matrix;
    break;
  }
  return LoadFormat::csv;
}

Trace read_trace_as(std::string_view function, const std::filesystem::path& path,
                    LoadFormat format) {
  const std::string content = detail::read_file(function, path);
  if (format == LoadFormat::automatic) format = detect_format(content);
  switch (format) {
    case LoadFormat::vllm_trace:
      return detail::parse_json_loads(function, path, content, /*vllm=*/true);
    case LoadFormat::json_matrix:
      return detail::parse_json_loads(function, path, content, /*vllm=*/false);
    case LoadFormat::csv:
      return detail::parse_csv_loads(function, path, content);
    case LoadFormat::npy:
      return detail::parse_npy_loads(function, path, content);
    case LoadFormat::automatic:
      break;
  }
  throw InvalidArgument(std::string(function) + ": format = " +
                        std::to_string(static_cast<int>(format)) + " is not a LoadFormat");
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

// Writes `[a, b, ...]` of `count` integers starting at `values`.
void append_int_row(std::string& out, const int64_t* values, int64_t count) {
  out += '[';
  for (int64_t i = 0; i < count; ++i) {
    if (i > 0) out += ',';
    append_integer(out, values[i]);
  }
  out += ']';
}

// Writes a `[rows, cols]` integer matrix, one row per line, rows indented by four spaces.
void append_int_matrix(std::string& out, const std::vector<int64_t>& values, int64_t rows,
                       int64_t cols) {
  out += "[\n";
  for (int64_t row = 0; row < rows; ++row) {
    out += "    ";
    append_int_row(out, values.data() + row * cols, cols);
    out += row + 1 < rows ? ",\n" : "\n";
  }
  out += "  ]";
}

void append_double_or_null(std::string& out, double value) {
  if (std::isfinite(value)) {
    detail::append_number(out, value);
  } else {
    out += "null";
  }
}

void append_metrics(std::string& out, const PlanMetrics& metrics) {
  const auto append_field = [&](const char* name, double value) {
    out += "    \"";
    out += name;
    out += "\": ";
    append_double_or_null(out, value);
    out += ",\n";
  };
  const auto append_list = [&](const char* name, const std::vector<double>& values, bool last) {
    out += "    \"";
    out += name;
    out += "\": [";
    for (size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out += ',';
      append_double_or_null(out, values[i]);
    }
    out += last ? "]\n" : "],\n";
  };
  out += ",\n  \"metrics\": {\n";
  append_field("gpu_balancedness", metrics.gpu_balancedness);
  append_field("slot_balancedness", metrics.slot_balancedness);
  append_field("gap", metrics.gap);
  append_field("mean_layer_gap", metrics.mean_layer_gap);
  const bool hierarchical = metrics.hierarchical_gap >= 0;
  if (hierarchical) append_field("hierarchical_gap", metrics.hierarchical_gap);
  append_list("max_gpu_load", metrics.max_gpu_load, false);
  append_list("lower_bound", metrics.lower_bound, !hierarchical);
  if (hierarchical) append_list("hierarchical_bound", metrics.hierarchical_bound, true);
  out += "  }";
}

void check_plan_shape(const Plan& plan, const Topology& topology) {
  const auto fail = [](const std::string& what) {
    throw InvalidArgument("write_plan_json: " + what);
  };
  if (plan.num_layers < 0 || plan.num_experts < 0 || plan.max_replicas < 0) {
    fail("plan sizes must be non-negative");
  }
  if (plan.num_replicas != topology.num_replicas()) {
    fail("plan.num_replicas = " + std::to_string(plan.num_replicas) +
         " must equal topology.num_replicas() = " + std::to_string(topology.num_replicas()));
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
}

}  // namespace

LoadFormat parse_load_format(std::string_view name) {
  if (name == "auto") return LoadFormat::automatic;
  if (name == "vllm") return LoadFormat::vllm_trace;
  if (name == "json") return LoadFormat::json_matrix;
  if (name == "csv") return LoadFormat::csv;
  if (name == "npy") return LoadFormat::npy;
  throw InvalidArgument("parse_load_format: name = \"" + std::string(name) +
                        "\" must be one of auto, vllm, json, csv, npy");
}

Trace read_trace(const std::filesystem::path& path, LoadFormat format) {
  return read_trace_as("read_trace", path, format);
}

Loads read_loads(const std::filesystem::path& path, StepRange steps, LoadFormat format) {
  return read_trace_as("read_loads", path, format).sum_steps(steps);
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

void write_plan_json(const std::filesystem::path& path, const PlanFile& plan_file,
                     const std::optional<PlanMetrics>& metrics) {
  const Plan& plan = plan_file.plan;
  const Topology& topology = plan_file.topology;
  check_plan_shape(plan, topology);
  std::string out = "{\n  \"format\": \"eplb-plan\",\n  \"version\": 1,\n";
  out += "  \"topology\": {\"num_replicas\": " + std::to_string(topology.num_replicas()) +
         ", \"num_groups\": " + std::to_string(topology.num_groups()) +
         ", \"num_nodes\": " + std::to_string(topology.num_nodes()) +
         ", \"num_gpus\": " + std::to_string(topology.num_gpus()) + "},\n";
  out += "  \"policy\": ";
  append_json_string(out, plan_file.policy);
  out += ",\n  \"num_layers\": " + std::to_string(plan.num_layers) +
         ",\n  \"num_experts\": " + std::to_string(plan.num_experts) +
         ",\n  \"max_replicas\": " + std::to_string(plan.max_replicas) + ",\n  \"phy2log\": ";
  append_int_matrix(out, plan.phy2log, plan.num_layers, plan.num_replicas);
  out += ",\n  \"log2phy\": [\n";
  for (int64_t layer = 0; layer < plan.num_layers; ++layer) {
    out += "    [";
    for (int64_t expert = 0; expert < plan.num_experts; ++expert) {
      if (expert > 0) out += ',';
      append_int_row(out,
                     plan.log2phy.data() + (layer * plan.num_experts + expert) * plan.max_replicas,
                     plan.max_replicas);
    }
    out += layer + 1 < plan.num_layers ? "],\n" : "]\n";
  }
  out += "  ],\n  \"logcnt\": ";
  append_int_matrix(out, plan.logcnt, plan.num_layers, plan.num_experts);
  if (metrics) append_metrics(out, *metrics);
  out += "\n}\n";
  detail::write_file_atomically("write_plan_json", path, out);
}

PlanFile read_plan_json(const std::filesystem::path& path) {
  const std::string content = detail::read_file("read_plan_json", path);
  return detail::parse_plan_json("read_plan_json", path, content);
}

}  // namespace eplb::io
