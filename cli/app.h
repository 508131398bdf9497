#pragma once
// The eplb command line as a function: main() and the option fuzzer call it.

namespace eplb::cli {

/// Parses `argv`, runs one subcommand and returns the exit code: 0 success, 1 a failure
/// (eplb::Error, out of memory), 2 a usage error. Never throws; messages go to std::cerr.
int run_cli(int argc, const char* const* argv);

}  // namespace eplb::cli
