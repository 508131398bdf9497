// The eplb command line: parses arguments, runs one subcommand, maps failures to exit codes
// (0 success, 1 eplb::Error, 2 usage error).
#include "app.h"

#include <exception>
#include <new>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "eplb/error.h"
#include "options.h"

namespace eplb::cli {

int run_cli(int argc, const char* const* argv) {
  CLI::App app("Expert-parallelism load balancer for Mixture-of-Experts inference", "eplb");
  app.set_version_flag("--version", EPLB_VERSION_STRING);
  app.require_subcommand(1);
  const std::vector<Command> commands = {add_plan_command(app),
                                                    add_eval_command(app),
                                                    add_convert_command(app),
                                                    add_gen_command(app),
                                                    add_replay_command(app)};
  // CLI11 would only say that a subcommand is required.
  if (argc > 1 && argv[1][0] != '-') {
    std::string names;
    bool known = false;
    for (const Command& command : commands) {
      known = known || command.app->get_name() == argv[1];
      names += (names.empty() ? "" : ", ") + command.app->get_name();
    }
    if (!known) {
      std::cerr << "eplb: error: unknown subcommand '" << argv[1] << "' (one of: " << names
                << ")\nRun with --help for more information.\n";
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help and --version arrive as "errors" with exit code 0.
    return app.exit(error) == 0 ? 0 : 2;
  }
  try {
    for (const Command& command : commands) {
      if (command.app->parsed()) command.run();
    }
  } catch (const UsageError& error) {
    std::cerr << "eplb: error: " << error.what() << '\n';
    return 2;
  } catch (const eplb::Error& error) {
    std::cerr << "eplb: error: " << error.what() << '\n';
    return 1;
  } catch (const std::bad_alloc& error) {
    // eplb::OutOfMemory says what was being built; a bare bad_alloc only that memory ran out.
    const bool named = dynamic_cast<const eplb::OutOfMemory*>(&error) != nullptr;
    std::cerr << "eplb: error: " << (named ? error.what() : "out of memory") << '\n';
    return 1;
  } catch (const std::exception& error) {
    // Only eplb::Error is thrown on purpose; anything else is a bug, but still no crash.
    std::cerr << "eplb: internal error: " << error.what() << '\n';
    return 1;
  }
  return 0;
}

}  // namespace eplb::cli
