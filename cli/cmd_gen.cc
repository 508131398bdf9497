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
  std::string family = "drift";
  SyntheticTraceOptions trace;
};

// The families and their parameters, for --help (docs/online.md, "Trace families").
constexpr const char* kFamiliesHelp =
    "Trace families (--family):\n"
    "  drift        decode 24-200 tokens; prefill 2,048-32,768 tokens on 3 % of steps, routed\n"
    "               like the traffic; popularity drifts (~0.9 correlation over 100 steps);\n"
    "               a fifth of every layer redrawn on 0.4 % of steps\n"
    "  burst-topic  decode 50-150 tokens; prefill 1,000-12,000 tokens on 5 % of steps (every\n"
    "               ~20), each routed by its own topic (log-popularity + Normal(0, 0.75) drawn\n"
    "               for that burst); the base drifts 5x slower than drift\n"
    "  switch       sizes as drift; every 200-400 steps every layer's popularity is redrawn\n"
    "               (hot experts stay); slow drift in between\n"
    "  daily        sizes as drift; a mix of two fixed workloads, the second's weight rising\n"
    "               from 0 to 1 and back over 1,200 steps (smoothstep of a triangle wave)\n"
    "  stationary   sizes as drift; fixed popularity, only sampling noise\n"
    "--prefill-probability overrides the family's chance of a prefill step.\n";

void run_gen(GenOptions& options) {
  check_output_option(options.output, "--output");
  options.trace.family = parse_trace_family(options.family);
  std::function<void(int64_t, int64_t)> progress;
  if (shows_progress(options.quiet)) {
    progress = [](int64_t done, int64_t total) {
      draw_progress("generating", done, total, "steps");
    };
  }
  const Trace trace = from_options([&] { return generate_trace(options.trace, progress); });
  if (progress) std::fprintf(stderr, "writing %s ...\n", options.output.c_str());
  io::write_trace_json(options.output, trace);
  std::ostream& out = report_stream(options.quiet, writes_stdout(options.output));
  print_field(out, "trace written to", options.output);
  print_field(out, "shape",
              std::to_string(trace.num_steps) + " steps x " + std::to_string(trace.num_layers) +
                  " layers x " + std::to_string(trace.num_experts) + " experts");
  print_field(out, "family", std::string(to_string(options.trace.family)));
  print_field(out, "seed", std::to_string(options.trace.seed));
}

}  // namespace

Command add_gen_command(CLI::App& parent) {
  auto options = std::make_shared<GenOptions>();
  SyntheticTraceOptions& trace = options->trace;
  CLI::App* command = parent.add_subcommand(
      "gen", "Generate a synthetic trace: small decode steps, rare prefill bursts, a skew that "
             "moves as the trace family says");
  command->footer(kFamiliesHelp);
  command
      ->add_option("-o,--output", options->output, "Trace file to write (vLLM JSON; - for stdout)")
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
  command->add_option("--family", options->family,
                      "How popularity moves: drift, burst-topic, switch, daily or stationary "
                      "(below)")
      ->capture_default_str()
      ->type_name("NAME")
      ->check(CLI::Validator(
          [](std::string& name) -> std::string {
            try {
              parse_trace_family(name);
              return {};
            } catch (const Error& error) {
              return error.what();
            }
          },
          ""));
  command->add_option("--prefill-probability", trace.prefill_probability,
                      "Chance that a step is a prefill burst (default: the family's, 0.03; "
                      "burst-topic 0.05)")
      ->check(finite_in(0, 1));
  command->add_option("--seed", trace.seed, "Random seed")
      ->capture_default_str()
      ->check(integer_in(0));
  add_quiet_flag(*command, options->quiet);
  return {command, [options] { run_gen(*options); }};
}

}  // namespace eplb::cli
