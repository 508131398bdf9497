#pragma once
// The text the subcommands print: one aligned "name  value" line per fact.

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>

#include "eplb/metrics.h"
#include "eplb/routing.h"
#include "eplb/topology.h"
#include "eplb/trace.h"

namespace CLI {
class App;
}  // namespace CLI

namespace eplb::cli {

/// Adds `-q,--quiet` (no report, no progress bar) to `command`.
void add_quiet_flag(CLI::App& command, bool& quiet);

/// Returns where a subcommand's report goes: stdout; stderr when stdout carries a file the
/// command writes (an output path "-"); nowhere when `quiet`.
std::ostream& report_stream(bool quiet, bool stdout_carries_output);

/// Redraws a progress bar `name [#####.....] done/total unit` on stderr (a new line at the end).
void draw_progress(const std::string& name, int64_t done, int64_t total, std::string_view unit);

/// Returns whether a progress bar should be drawn: not `quiet`, and stderr is a terminal.
bool shows_progress(bool quiet);

/// Prints `name` padded to a common width, then `value`.
void print_field(std::ostream& out, std::string_view name, std::string_view value);

/// Prints the load file, the steps summed and the shape.
void print_loads(std::ostream& out, const std::string& path, StepRange steps, int64_t num_layers,
                 int64_t num_experts);

/// Prints the topology's sizes and whether groups are placed on nodes first (DeepSeek's
/// hierarchical policy) or the plan has one level.
void print_topology(std::ostream& out, const Topology& topology);

/// Prints GPU and slot balancedness and the gap to the lower bound.
void print_metrics(std::ostream& out, const PlanMetrics& metrics);
/// Prints what a plan's dispatch costs the routing sample of `num_tokens` tokens from `path`
/// (nodes and GPUs per token), with a warning when the sample is too small to trust.
void print_traffic(std::ostream& out, const TrafficMetrics& metrics, const std::string& path,
                   int64_t num_tokens);

/// Returns "1 node", "4 nodes": `number` and `noun`, plural unless `number` is 1.
std::string count(int64_t number, std::string_view noun);

/// Throws IoError `<option>: <path>: <why>` unless `path` is empty or can be written
/// (io::check_output_path): called before a command's work, so a bad output fails at once.
void check_output_option(const std::string& path, std::string_view option);

/// Returns whether writing `path` writes to stdout: `-`, or a path such as /dev/stdout naming
/// the file stdout is open on (io::is_standard_output); false for an empty path.
bool writes_stdout(const std::string& path);

/// Flushes and closes stdout; returns 0, or 1 after printing why when the report could not be
/// written (a full disk, `> /dev/full`), so a lost report is not a success.
int close_stdout();

/// Formats `value` with `digits` digits after the point.
std::string format_fixed(double value, int digits);

}  // namespace eplb::cli
