// `eplb gen`: write a seeded synthetic DeepSeek-V3-like trace in vLLM's load-history format.
#include <cstdio>
#include <functional>
#include <iostream>
#include <ostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "eplb/io/io.h"
#include "eplb/synthetic.h"
#include "options.h"
#include "report.h"

namespace eplb::cli {
namespace {

struct GenOptions {
  std::string output;
  bool quiet = false;
  SyntheticTraceOptions trace;
};

void run_gen(const GenOptions& options) {
  std::function<void(int64_t, int64_t)> progress;
  if (shows_progress(options.quiet)) {
    progress = [](int64_t done, int64_t total) {
      draw_progress("generating", done, total, "steps");
    };
  }
  const Trace trace = from_options([&] { return generate_trace(options.trace, progress); });
  if (progress) std::fprintf(stderr, "writing %s ...\n", options.output.c_str());
  io::write_trace_json(options.output, trace);
  std::ostream& out = report_stream(options.quiet, options.output == "-");
  print_field(out, "trace written to", options.output);
  print_field(out, "shape",
              std::to_string(trace.num_steps) + " steps x " + std::to_string(trace.num_layers) +
                  " layers x " + std::to_string(trace.num_experts) + " experts");
  print_field(out, "seed", std::to_string(options.trace.seed));
}

}  // namespace

Command add_gen_command(CLI::App& parent) {
  auto options = std::make_shared<GenOptions>();
  SyntheticTraceOptions& trace = options->trace;
  CLI::App* command = parent.add_subcommand(
      "gen", "Generate a synthetic trace: small decode steps, rare prefill bursts, drifting skew");
  command->add_option("-o,--output", options->output, "Trace file to write (vLLM JSON)")
      ->required()
      ->type_name("TRACE.json");
  command->add_option("--steps", trace.num_steps, "Steps")
      ->capture_default_str()
      ->check(integer_in(1));
  command->add_option("--layers", trace.num_layers, "MoE layers")
      ->capture_default_str()
      ->check(integer_in(1));
  command->add_option("--experts", trace.num_experts, "Experts per layer")
      ->capture_default_str()
      ->check(integer_in(1));
  command->add_option("--top-k", trace.top_k, "Experts each token is routed to")
      ->capture_default_str()
      ->check(integer_in(1));
  command->add_option("--prefill-probability", trace.prefill_probability,
                      "Chance that a step is a prefill burst")
      ->capture_default_str()
      ->check(finite_in(0, 1));
  command->add_option("--seed", trace.seed, "Random seed")
      ->capture_default_str()
      ->check(integer_in(0));
  add_quiet_flag(*command, options->quiet);
  return {command, [options] { run_gen(*options); }};
}

}  // namespace eplb::cli
