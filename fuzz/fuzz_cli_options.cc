// Fuzzes the option parsing and checks of `eplb plan` and `eplb replay`: the bytes pick options
// and their values (NaN, infinities, huge, negative and malformed numbers among them) for a run
// on a small load file. Every run must end with exit code 0, 1 or 2 and no escaped exception,
// and a non-finite value given to a floating-point option must be a usage error (exit 2).
// Files are read from and written to a scratch folder only.

#include <unistd.h>  // getpid

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "app.h"  // from cli/
#include "fuzz_input.h"

namespace {

namespace fs = std::filesystem;

// A scratch folder holding a 6-step trace of 2 layers x 8 experts.
class Scratch {
 public:
  Scratch() : dir_(fs::temp_directory_path() / ("eplb_fuzz_cli_" + std::to_string(getpid()))) {
    fs::create_directories(dir_);
    // --plot starts a Python plotter; one that cannot start keeps each run fast and hermetic
    // (the refusal is exit 1, before the replay).
    ::setenv("EPLB_PYTHON", (dir_ / "no-python").c_str(), 1);
    std::ofstream trace(dir_ / "trace.json");
    trace << "{\"load_history\": [";
    for (int step = 0; step < 6; ++step) {
      trace << (step > 0 ? ", " : "") << "{\"logical_expert_load\": [[" << step + 1
            << ", 2, 3, 4, 5, 6, 7, 8], [8, 7, 6, 5, 4, 3, 2, " << step << "]]}";
    }
    trace << "]}\n";
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  fs::path dir_;
};

enum class Value { other, floating, path };

struct Option {
  const char* name;
  Value value;
};

constexpr Option kPlanOptions[] = {
    {"--replicas", Value::other}, {"--groups", Value::other}, {"--nodes", Value::other},
    {"--gpus", Value::other}, {"--policy", Value::other}, {"--packer", Value::other},
    {"--effort", Value::other}, {"--seed", Value::other}, {"--threads", Value::other},
    {"--steps", Value::other}, {"--exclude-gpus", Value::other},
    {"--cross-node-replicas", Value::other}, {"--dense-layers", Value::other},
    {"--format", Value::other}, {"-o", Value::path}, {"--json", Value::path},
    {"--input-format", Value::other},
};
constexpr Option kReplayOptions[] = {
    {"--interval", Value::other}, {"--replicas", Value::other}, {"--groups", Value::other},
    {"--nodes", Value::other}, {"--gpus", Value::other}, {"--policy", Value::other},
    {"--history", Value::other}, {"--swing-weight", Value::floating},
    {"--tolerance", Value::floating}, {"--repair-rounds", Value::other}, {"--effort", Value::other},
    {"--seed", Value::other}, {"--threads", Value::other}, {"--steps", Value::other},
    {"--exclude-gpus", Value::other}, {"--json", Value::path}, {"--plot", Value::path},
    {"-q", Value::other},
};
constexpr const char* kValues[] = {
    "0",    "1",    "2",     "3",     "4",     "8",     "16",   "-1",   "nan",  "NaN",
    "inf",  "-inf", "1e999", "1e-9",  "0.005", "0.5",   "1.5",  "",     "x",    "0x10",
    "9223372036854775808",   "18446744073709551616",    "-0",   " 3",   "1,1",  "0,1,0",
    "0:3",  "2:",   ":1",    "3:1",   "global", "deepseek", "balanced", "last", "decay:0",
    "window:2", "global@last", "auto", "none", "eplb", "sglang", "out.json", "out.png",
};

bool is_non_finite(const std::string& value) {
  return value == "nan" || value == "NaN" || value == "inf" || value == "-inf" ||
         value == "1e999";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Scratch scratch;
  eplb::fuzz::ByteReader in(data, size);
  const bool replay = in.pick(0, 1) == 1;
  std::vector<std::string> args = {"eplb", replay ? "replay" : "plan", scratch.path("trace.json")};
  if (!replay) {
    args.insert(args.end(), {"--replicas", "16", "--groups", "2", "--nodes", "2", "--gpus", "4"});
  }
  const auto* options = replay ? kReplayOptions : kPlanOptions;
  const auto num_options =
      static_cast<int64_t>(replay ? std::size(kReplayOptions) : std::size(kPlanOptions));
  bool non_finite_float = false;
  const int64_t count = in.pick(0, 6);
  for (int64_t i = 0; i < count; ++i) {
    const Option& option = options[in.pick(0, num_options - 1)];
    args.emplace_back(option.name);
    if (std::string(option.name) == "-q") continue;
    std::string value = kValues[in.pick(0, static_cast<int64_t>(std::size(kValues)) - 1)];
    if (option.value == Value::path) value = scratch.path(value);
    non_finite_float =
        non_finite_float || (option.value == Value::floating && is_non_finite(value));
    args.push_back(value);
  }
  std::vector<const char*> argv;
  for (const std::string& arg : args) argv.push_back(arg.c_str());

  // The report and the messages are not what is checked here.
  std::ostringstream sink;
  std::streambuf* const out = std::cout.rdbuf(sink.rdbuf());
  std::streambuf* const err = std::cerr.rdbuf(sink.rdbuf());
  const int code = eplb::cli::run_cli(static_cast<int>(argv.size()), argv.data());
  std::cout.rdbuf(out);
  std::cerr.rdbuf(err);
  if (code < 0 || code > 2 || (non_finite_float && code != 2)) {
    std::string line;
    for (const std::string& arg : args) line += "'" + arg + "' ";
    std::fprintf(stderr, "exit %d for: %s\n%s\n", code, line.c_str(), sink.str().c_str());
    std::abort();
  }
  return 0;
}
