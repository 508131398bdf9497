// `eplb convert`: rewrite a plan file in another server's format.
#include <cstdint>
#include <iostream>
#include <ostream>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "eplb/io/io.h"
#include "eplb/io/layers.h"
#include "options.h"
#include "report.h"

namespace eplb::cli {
namespace {

struct ConvertOptions {
  PlanInputOptions input;
  std::string format;
  std::string output;
  bool quiet = false;
};

// trtllm and vllm-ascend list MoE layers only; a plan that does not mark its dense layers
// would give them every row, so point at rows that look dense (the library does not guess).
void hint_dense_layers(const io::PlanFile& plan_file, io::PlanFormat format) {
  if (!plan_file.dense_layers.empty() ||
      (format != io::PlanFormat::trtllm && format != io::PlanFormat::vllm_ascend)) {
    return;
  }
  const std::vector<int64_t> trivial = io::find_trivial_layers(plan_file.plan);
  if (trivial.empty()) return;
  std::cerr << "eplb: note: layers " << format_layer_list(trivial)
            << " hold the trivial placement; if they are dense layers, pass --dense-layers so "
            << "that the " << io::to_string(format) << " plan lists MoE layers only\n";
}

void run_convert(const ConvertOptions& options) {
  check_output_option(options.output, "--output");
  const io::PlanFile plan_file = read_plan(options.input);
  const io::PlanFormat format = io::parse_plan_format(options.format);
  hint_dense_layers(plan_file, format);
  io::write_plan(options.output, plan_file, format);
  const Plan& plan = plan_file.plan;
  std::ostream& out = report_stream(options.quiet, writes_stdout(options.output));
  print_field(out, "plan", options.input.path);
  print_field(out, "shape",
              std::to_string(plan.num_layers) + " layers x " + std::to_string(plan.num_experts) +
                  " experts");
  if (!plan_file.dense_layers.empty()) {
    print_field(out, "dense layers", format_layer_list(plan_file.dense_layers));
  }
  print_topology(out, plan_file.topology);
  print_field(out, "plan written to",
              options.output + " (" + std::string(io::to_string(format)) + ")");
}

}  // namespace

Command add_convert_command(CLI::App& parent) {
  auto options = std::make_shared<ConvertOptions>();
  CLI::App* command =
      parent.add_subcommand("convert", "Rewrite a plan file in another format (server)");
  add_plan_input_options(*command, options->input, "--plan-format");
  // --input-format names a load file's format everywhere else; here it would be the plan's.
  command
      ->add_option("--input-format", options->input.format,
                   "Not for convert: name the plan's format with --plan-format")
      ->check(CLI::Validator(
          [](const std::string&) -> std::string {
            return "convert reads a plan: name its format with --plan-format (--input-format is "
                   "a load file's format)";
          },
          ""));
  add_plan_format_option(*command, options->format)->required();
  command->add_option("-o,--output", options->output, "Plan file to write (- for stdout)")
      ->required()
      ->type_name("FILE");
  add_quiet_flag(*command, options->quiet);
  return {command, [options] { run_convert(*options); }};
}

}  // namespace eplb::cli
