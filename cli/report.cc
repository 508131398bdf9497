#include "report.h"

#include <unistd.h>  // isatty

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iomanip>
#include <iostream>
#include <ostream>
#include <sstream>
#include <string>

#include <CLI/CLI.hpp>

#include "eplb/io/files.h"

namespace eplb::cli {
namespace {

constexpr int kNameWidth = 20;
constexpr int kProgressWidth = 30;

std::string format_range(StepRange steps) {
  if (steps.begin == 0 && steps.end == -1) return "all steps";
  std::string text = "steps " + std::to_string(steps.begin) + ":";
  if (steps.end != -1) text += std::to_string(steps.end);
  return text;
}

}  // namespace

std::string count(int64_t number, std::string_view noun) {
  return std::to_string(number) + " " + std::string(noun) + (number == 1 ? "" : "s");
}

void add_quiet_flag(CLI::App& command, bool& quiet) {
  command.add_flag("-q,--quiet", quiet, "Print no report and no progress bar");
}

std::ostream& report_stream(bool quiet, bool stdout_carries_output) {
  // A stream without a buffer drops what is written to it.
  static std::ostream nowhere(nullptr);
  if (quiet) return nowhere;
  return stdout_carries_output ? std::cerr : std::cout;
}

void draw_progress(const std::string& name, int64_t done, int64_t total, std::string_view unit) {
  const auto filled = static_cast<int>(kProgressWidth * done / std::max<int64_t>(total, 1));
  std::fprintf(stderr, "\r%-16s [%s%s] %lld/%lld %.*s", name.c_str(),
               std::string(static_cast<size_t>(filled), '#').c_str(),
               std::string(static_cast<size_t>(kProgressWidth - filled), '.').c_str(),
               static_cast<long long>(done), static_cast<long long>(total),
               static_cast<int>(unit.size()), unit.data());
  if (done == total) std::fputc('\n', stderr);
  std::fflush(stderr);
}

bool shows_progress(bool quiet) { return !quiet && isatty(STDERR_FILENO) != 0; }

void print_field(std::ostream& out, std::string_view name, std::string_view value) {
  out << std::left << std::setw(kNameWidth) << name << value << '\n';
}

void print_loads(std::ostream& out, const std::string& path, StepRange steps, int64_t num_layers,
                 int64_t num_experts) {
  print_field(out, "loads", path + " (" + format_range(steps) + ")");
  print_field(out, "shape",
              std::to_string(num_layers) + " layers x " + std::to_string(num_experts) + " experts");
}

void print_topology(std::ostream& out, const Topology& topology) {
  const std::string levels =
      topology.num_nodes() == 1 ? "one node"
      : topology.is_hierarchical()
          ? "groups placed on nodes, then replicas on GPUs"
          : "groups do not divide among the nodes: planned as one level";
  print_field(out, "topology",
              count(topology.num_replicas(), "replica") + ", " +
                  count(topology.num_groups(), "group") + ", " +
                  count(topology.num_nodes(), "node") + ", " + count(topology.num_gpus(), "GPU") +
                  " (" + count(topology.slots_per_gpu(), "slot") + " per GPU; " + levels + ")");
}

void print_metrics(std::ostream& out, const PlanMetrics& metrics) {
  print_field(out, "GPU balancedness",
              format_fixed(metrics.gpu_balancedness, 4) + " (mean GPU load / heaviest GPU's)");
  print_field(out, "slot balancedness",
              format_fixed(metrics.slot_balancedness, 4) + " (mean slot load / heaviest slot's)");
  print_field(out, "gap to lower bound",
              format_fixed(100 * metrics.gap, 3) + " % (global bound: any counts, any nodes)");
  if (metrics.hierarchical_gap >= 0) {
    print_field(out, "gap to node bound",
                format_fixed(100 * metrics.hierarchical_gap, 3) +
                    " % (best plan keeping this placement of groups on nodes)");
  }
  print_field(out, "mean layer gap",
              format_fixed(100 * metrics.mean_layer_gap, 3) +
                  " % (each layer's heaviest GPU above its bound, averaged)");
  if (metrics.off_node_load_fraction >= 0) {
    print_field(out, "off-node load", format_fixed(100 * metrics.off_node_load_fraction, 2) +
                                          " % (served outside the group's home node)");
  }
}

void print_traffic(std::ostream& out, const TrafficMetrics& metrics, const std::string& path,
                   int64_t num_tokens) {
  print_field(out, "routing", path + " (" + std::to_string(num_tokens) + " tokens per layer)");
  if (num_tokens < kFewRoutingTokens) {
    print_field(out, "warning", "only " + std::to_string(num_tokens) + " tokens: fewer than " +
                                    std::to_string(kFewRoutingTokens) +
                                    " are too few to trust the traffic figures");
  }
  print_field(out, "nodes per token",
              format_fixed(metrics.nodes_per_token, 3) + " (" +
                  format_fixed(metrics.remote_nodes_per_token, 3) + " besides its own)");
  print_field(out, "GPUs per token", format_fixed(metrics.gpus_per_token, 3));
  print_field(out, "cross-node copies",
              format_fixed(100 * metrics.cross_node_fraction, 2) +
                  " % of the token copies sent to GPUs");
}

void check_output_option(const std::string& path, std::string_view option) {
  if (!path.empty()) io::check_output_path(path, option);
}

bool writes_stdout(const std::string& path) {
  return !path.empty() && io::is_standard_output(path);
}

int close_stdout() {
  // std::cout writes through stdio's stdout, so its flush is the call that sees the error.
  errno = 0;
  std::cout.flush();
  const bool flushed = std::fflush(stdout) == 0;
  int error_number = errno;
  const bool failed = !flushed || std::ferror(stdout) != 0 || !std::cout;
  const bool closed = std::fclose(stdout) == 0;
  if (!failed && closed) return 0;
  if (flushed && !closed) error_number = errno;
  std::cerr << "eplb: error: writing the report to stdout: "
            << (error_number != 0 ? std::strerror(error_number) : "write failed") << '\n';
  return 1;
}

std::string format_fixed(double value, int digits) {
  std::ostringstream stream;
  stream << std::fixed << std::setprecision(digits) << value;
  return stream.str();
}

}  // namespace eplb::cli
