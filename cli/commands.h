#pragma once
// The eplb subcommands: each registers its options on the app and runs once parsing is done.

#include <functional>

namespace CLI {
class App;
}  // namespace CLI

namespace eplb::cli {

/// A registered subcommand. Parsing fills the options that `run` captured; `run` throws
/// eplb::Error on failure.
struct Command {
  CLI::App* app = nullptr;
  std::function<void()> run;
};

/// Adds `plan LOADFILE --replicas R --groups G --nodes N --gpus P [--policy] [-o] [--format]`.
Command add_plan_command(CLI::App& parent);
/// Adds `eval PLAN LOADFILE`.
Command add_eval_command(CLI::App& parent);
/// Adds `convert PLAN --format NAME -o FILE`.
Command add_convert_command(CLI::App& parent);
/// Adds `replay TRACE [--interval N] [--policy LIST] [--tolerance T] [--plot FILE] [--json FILE]`.
Command add_replay_command(CLI::App& parent);
/// Adds `gen -o TRACE.json [--steps ...]`.
Command add_gen_command(CLI::App& parent);

}  // namespace eplb::cli
