#include "options.h"

#include <string>
#include <utility>

#include <CLI/CLI.hpp>

#include "eplb/error.h"
#include "eplb/io/io.h"
#include "eplb/policy.h"

namespace eplb::cli {
namespace {

// Lets the library's own parser judge a value while CLI11 parses, so a bad name is a usage error
// (exit 2) carrying the library's message, and the accepted names live in one place.
template <typename Parse>
CLI::Validator checked_by(Parse parse, std::string description) {
  return CLI::Validator(
      [parse](std::string& value) -> std::string {
        try {
          parse(value);
          return {};
        } catch (const Error& error) {
          return error.what();
        }
      },
      std::move(description));
}

}  // namespace

StepRange LoadsOptions::step_range() const {
  return steps.empty() ? StepRange{} : parse_step_range(steps);
}

void add_loads_options(CLI::App& command, LoadsOptions& options) {
  command.add_option("loads", options.path, "Load file: vLLM trace JSON, JSON matrix, CSV or .npy")
      ->required()
      ->type_name("LOADFILE");
  command
      .add_option("--steps", options.steps,
                  "Steps to sum, half-open and 0-based: A:B, A: or :B (default: all)")
      ->type_name("A:B")
      ->check(checked_by([](const std::string& text) { parse_step_range(text); }, ""));
  command.add_option("--input-format", options.format, "Format of the load file")
      ->capture_default_str()
      ->type_name("FORMAT")
      ->check(checked_by([](const std::string& name) { io::parse_load_format(name); },
                         "auto|vllm|json|csv|npy"));
}

Loads read_loads(const LoadsOptions& options) {
  return io::read_loads(options.path, options.step_range(), io::parse_load_format(options.format));
}

void add_policy_option(CLI::App& command, std::string& policy) {
  command.add_option("--policy", policy, "Planning policy")
      ->capture_default_str()
      ->type_name("NAME")
      ->check(checked_by([](const std::string& name) { parse_policy(name); }, ""));
}

}  // namespace eplb::cli
