// `eplb replay --plot`: runs the Python package's plotter on the replay report.
#include "plot.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>  // std::move
#include <vector>

#include "eplb/error.h"
#include "options.h"

extern char** environ;  // NOLINT: POSIX declares it nowhere else

namespace eplb::cli {
namespace {

constexpr std::string_view kInstallHint =
    "install eplb's plotting extra into that Python (pip install 'eplb[plot]'), or set "
    "EPLB_PYTHON to a Python that has it";

struct ProcessResult {
  int spawn_error = 0;  // errno when the program could not be started
  int wait_status = 0;
  std::string output;   // stdout and stderr together
};

// Closes a file descriptor when it goes out of scope.
class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

// Runs `program` (searched on PATH when it has no slash) with `args`, stdin from /dev/null and
// stdout and stderr captured: the report may be on our stdout, and Python's output belongs in
// our error message, not in the report.
ProcessResult run_process(const std::string& program, const std::vector<std::string>& args) {
  ProcessResult result;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    result.spawn_error = errno;
    return result;
  }
  Descriptor read_end(pipe_fds[0]);
  Descriptor write_end(pipe_fds[1]);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, write_end.get(), STDERR_FILENO);
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(program.c_str()));
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const bool search_path = program.find('/') == std::string::npos;
  result.spawn_error =
      search_path ? ::posix_spawnp(&pid, program.c_str(), &actions, nullptr, argv.data(), environ)
                  : ::posix_spawn(&pid, program.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  write_end.reset();  // the child holds the only write end: reading ends when it exits
  if (result.spawn_error != 0) return result;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(read_end.get(), buffer, sizeof buffer);
    if (n > 0) {
      result.output.append(buffer, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  while (::waitpid(pid, &result.wait_status, 0) < 0 && errno == EINTR) {
  }
  return result;
}

// The last line that says something: Python's own error line after a traceback.
std::string last_line(const std::string& output) {
  size_t end = output.find_last_not_of(" \t\r\n");
  if (end == std::string::npos) return "";
  const size_t start = output.rfind('\n', end);
  std::string line = output.substr(start == std::string::npos ? 0 : start + 1,
                                   end + 1 - (start == std::string::npos ? 0 : start + 1));
  constexpr std::string_view kPrefix = "eplb.plot: error: ";
  if (line.compare(0, kPrefix.size(), kPrefix) == 0) line.erase(0, kPrefix.size());
  return line;
}

std::string describe_exit(const ProcessResult& result) {
  if (WIFEXITED(result.wait_status)) {
    return "exit status " + std::to_string(WEXITSTATUS(result.wait_status));
  }
  if (WIFSIGNALED(result.wait_status)) {
    return std::string("killed by signal ") + std::to_string(WTERMSIG(result.wait_status));
  }
  return "stopped";
}

bool succeeded(const ProcessResult& result) {
  return result.spawn_error == 0 && WIFEXITED(result.wait_status) &&
         WEXITSTATUS(result.wait_status) == 0;
}

[[noreturn]] void fail_report_file(const std::string& path, int error_number) {
  throw IoError("--plot: the report for the plotter: " + path + ": " +
                std::strerror(error_number));
}

// Returns the path of a new empty file in TMPDIR for the report.
std::string create_report_file() {
  std::error_code error;
  const std::filesystem::path folder = std::filesystem::temp_directory_path(error);
  if (error) {
    const char* configured = std::getenv("TMPDIR");
    throw IoError("--plot: the folder for the plotter's report: TMPDIR = " +
                  std::string(configured != nullptr ? configured : "") + ": " + error.message());
  }
  std::string path = (folder / "eplb-replay-XXXXXX.json").string();
  const Descriptor fd(::mkstemps(path.data(), 5));
  if (fd.get() < 0) fail_report_file(path, errno);
  return path;
}

void write_report_file(const std::string& path, std::string_view content) {
  const Descriptor fd(::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
  if (fd.get() < 0) fail_report_file(path, errno);
  for (size_t done = 0; done < content.size();) {
    const ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail_report_file(path, errno);
    done += static_cast<size_t>(n);
  }
}

}  // namespace

PlotPython find_plot_python() {
  const char* configured = std::getenv("EPLB_PYTHON");
  if (configured != nullptr && configured[0] != '\0') {
    return {configured, "EPLB_PYTHON=" + std::string(configured)};
  }
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (!error) {
    const std::filesystem::path beside = self.parent_path() / "python3";
    if (::access(beside.c_str(), X_OK) == 0) return {beside.string(), beside.string()};
  }
  return {"python3", "python3 on PATH"};
}

Plotter::Plotter(std::string output) : python_(find_plot_python()), output_(std::move(output)) {
  const ProcessResult probe =
      run_process(python_.program, {"-m", "eplb.plot", "--check", "--", output_});
  if (succeeded(probe)) {
    report_path_ = create_report_file();
    return;
  }
  const std::string prefix = "--plot: " + output_ + ": ";
  if (probe.spawn_error != 0) {
    throw Error(prefix + "plots are drawn by eplb's Python package with matplotlib, and " +
                python_.origin + " cannot be run (" + std::strerror(probe.spawn_error) + "); " +
                std::string(kInstallHint));
  }
  const std::string said = last_line(probe.output);
  // Exit status 2 is the plotter's usage error: a format matplotlib does not write.
  if (WIFEXITED(probe.wait_status) && WEXITSTATUS(probe.wait_status) == 2 &&
      said.find("must end in one of") != std::string::npos) {
    throw UsageError("--plot: " + said);
  }
  throw Error(prefix + "plots are drawn by eplb's Python package with matplotlib, and " +
              python_.origin + " cannot draw them (" + describe_exit(probe) +
              (said.empty() ? "" : ": " + said) + "); " + std::string(kInstallHint));
}

Plotter::~Plotter() {
  if (!report_path_.empty()) ::unlink(report_path_.c_str());
}

void Plotter::draw(std::string_view report_json, const std::string& title) const {
  write_report_file(report_path_, report_json);
  const ProcessResult drawn = run_process(
      python_.program, {"-m", "eplb.plot", "--title", title, "--", report_path_, output_});
  if (succeeded(drawn)) return;
  const std::string said = drawn.spawn_error != 0 ? std::strerror(drawn.spawn_error)
                                                  : last_line(drawn.output);
  throw Error("--plot: " + output_ + ": " + python_.origin + " -m eplb.plot failed (" +
              (drawn.spawn_error != 0 ? "not started" : describe_exit(drawn)) +
              (said.empty() ? "" : ": " + said) + ")");
}

}  // namespace eplb::cli
