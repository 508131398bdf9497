#pragma once
// Command-line options shared by subcommands: which load file to read and how.

#include <string>

#include "eplb/load_matrix.h"
#include "eplb/trace.h"

namespace CLI {
class App;
}  // namespace CLI

namespace eplb::cli {

/// The load file arguments as typed; validated while parsing, so converting them cannot fail.
struct LoadsOptions {
  std::string path;
  std::string steps;
  std::string format = "auto";

  /// Returns the step range, StepRange{} when `--steps` was not given.
  StepRange step_range() const;
};

/// Adds the positional LOADFILE, `--steps A:B` and `--input-format` to `command`.
void add_loads_options(CLI::App& command, LoadsOptions& options);

/// Reads and sums the loads that `options` describe (throws eplb::Error).
Loads read_loads(const LoadsOptions& options);

/// Adds `--policy NAME`, checked by eplb::parse_policy() while parsing.
void add_policy_option(CLI::App& command, std::string& policy);

}  // namespace eplb::cli
