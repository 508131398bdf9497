#pragma once
// Runs the eplb binary in a fresh folder per test and captures its exit code and output.
#include <sys/wait.h>  // WIFEXITED
#include <unistd.h>    // getpid

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace eplb {

namespace fs = std::filesystem;

struct RunResult {
  int exit_code = -1;  // -1 when the process did not exit normally (a crash)
  std::string out;
  std::string err;
};

inline std::string quote(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

inline std::string read_file(const fs::path& path) {
  std::ifstream stream(path, std::ios::binary);
  std::ostringstream content;
  content << stream.rdbuf();
  return content.str();
}

inline std::string data(const std::string& name) {
  return quote(std::string(EPLB_TEST_DATA_DIR) + "/cli/" + name);
}

class CliTest : public ::testing::Test {
 public:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::temp_directory_path() /
           ("eplb_cli_test_" + std::to_string(getpid()) + "_" + info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs `eplb args` through the shell; stdout and stderr are captured separately.
  RunResult run(const std::string& args) const {
    return run_shell(quote(EPLB_CLI_PATH) + " " + args);
  }

  // Runs a shell command line; stdout and stderr are captured separately, `tag` naming the
  // stderr file so that threads can run at once.
  RunResult run_shell(const std::string& command_line, const std::string& tag = "") const {
    const fs::path err_path = dir_ / ("stderr" + tag + ".txt");
    const std::string command = command_line + " 2>" + quote(err_path.string());
    RunResult result;
    FILE* pipe = popen(command.c_str(), "r");
    if (pipe == nullptr) return result;
    std::array<char, 4096> buffer{};
    for (size_t n; (n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0;) {
      result.out.append(buffer.data(), n);
    }
    const int status = pclose(pipe);
    if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
    result.err = read_file(err_path);
    return result;
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  // Returns the Python that this build's eplb runs for --plot (EPLB_PYTHON, else python3 on
  // PATH: none lies beside build/cli/eplb) when it imports eplb.plot and matplotlib, else "".
  std::string plotting_python() const {
    const char* configured = std::getenv("EPLB_PYTHON");
    const std::string python =
        configured != nullptr && configured[0] != '\0' ? configured : "python3";
    const bool works =
        run_shell(quote(python) + " -c 'import eplb.plot, matplotlib'").exit_code == 0;
    return works ? python : "";
  }

  fs::path dir_;
};

// Reports the whole run when an expectation on it fails.
inline std::string describe(const RunResult& result) {
  return "exit " + std::to_string(result.exit_code) + "\nstdout:\n" + result.out + "stderr:\n" +
         result.err;
}

}  // namespace eplb
