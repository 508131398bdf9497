// How the writers and readers treat paths (eplb/io/files.h): unique temporary files renamed over
// regular files, straight-through writes to FIFOs, devices and symlink targets, `-`, the input
// size limit, and the checks a command makes before its work.
#include "eplb/io/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "eplb/error.h"
#include "eplb/io/io.h"
#include "eplb/plan.h"
#include "eplb/topology.h"
#include "io/detail/files.h"
#include "support/check_plan.h"  // EXPECT_THROW_MESSAGE
#include "support/fifo_reader.h"
#include "temp_dir.h"

namespace eplb::io {
namespace {

namespace fs = std::filesystem;
using testing::read_text;
using testing::TempDir;

// A plan of `num_layers` layers, 4 slots over 3 experts, that differs with `shift`.
PlanFile plan_file(int64_t num_layers = 2, int64_t shift = 0) {
  std::vector<int64_t> phy2log;
  for (int64_t layer = 0; layer < num_layers; ++layer) {
    for (int64_t slot = 0; slot < 4; ++slot) phy2log.push_back((slot + layer + shift) % 3);
  }
  return PlanFile{plan_from_phy2log(phy2log, num_layers, 4, 3), Topology(4, 1, 1, 2), "global"};
}

// Returns the names in `dir`, sorted.
std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// What write_plan_json() writes for `file`, through a regular file.
std::string plan_text(const TempDir& dir, const PlanFile& file) {
  const fs::path path = dir.path() / "reference" / "plan.json";
  fs::create_directories(path.parent_path());
  write_plan_json(path, file);
  return read_text(path);
}

// Points file descriptor `fd` at `path` while alive, then restores it.
class Redirect {
 public:
  Redirect(int fd, const fs::path& path, int flags) : fd_(fd), saved_(::dup(fd)) {
    const int file = ::open(path.c_str(), flags, 0644);
    ::dup2(file, fd_);
    ::close(file);
  }
  ~Redirect() {
    ::dup2(saved_, fd_);
    ::close(saved_);
  }

 private:
  int fd_;
  int saved_;
};

TEST(OutputFileTest, RegularFileLeavesNoTemporaryAndKeepsTheUsersTmpFile) {
  const TempDir dir;
  const fs::path users_tmp = dir.write("plan.json.tmp", "mine");
  const fs::path path = dir.path() / "plan.json";
  write_plan_json(path, plan_file());
  write_plan_json(path, plan_file(2, 1));  // over an existing file
  EXPECT_EQ(read_text(path), plan_text(dir, plan_file(2, 1)));
  EXPECT_EQ(read_text(users_tmp), "mine");
  EXPECT_EQ(names_in(dir.path()), (std::vector<std::string>{"plan.json", "plan.json.tmp",
                                                             "reference"}));
}

TEST(OutputFileTest, ReplacingAFileKeepsItsPermissions) {
  const TempDir dir;
  const fs::path path = dir.write("plan.json", "old");
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  write_plan_json(path, plan_file());
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
}

TEST(OutputFileTest, SymlinkStaysALinkAndItsTargetGetsTheContent) {
  const TempDir dir;
  const fs::path target = dir.write("elsewhere/real.json", "old");
  const fs::path link = dir.path() / "link.json";
  fs::create_symlink(target, link);
  write_plan_json(link, plan_file());
  EXPECT_TRUE(fs::is_symlink(link));
  EXPECT_EQ(fs::read_symlink(link), target);
  EXPECT_EQ(read_text(target), plan_text(dir, plan_file()));
  // The temporary file was made next to the target, and is gone.
  EXPECT_EQ(names_in(target.parent_path()), std::vector<std::string>{"real.json"});
  EXPECT_EQ(names_in(dir.path()), (std::vector<std::string>{"elsewhere", "link.json",
                                                             "reference"}));
  // A dangling link gets its target created.
  const fs::path dangling = dir.path() / "dangling.json";
  fs::create_symlink(dir.path() / "new.json", dangling);
  write_plan_json(dangling, plan_file());
  EXPECT_TRUE(fs::is_symlink(dangling));
  EXPECT_EQ(read_text(dir.path() / "new.json"), plan_text(dir, plan_file()));
}

TEST(OutputFileTest, FifoReaderGetsTheBytes) {
  const TempDir dir;
  const fs::path fifo = dir.path() / "plan.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  eplb::testing::FifoReader reader(fifo);
  // Large enough to take several chunks through the pipe.
  write_plan_json(fifo, plan_file(5000));
  const std::string received = reader.finish();
  EXPECT_EQ(received, plan_text(dir, plan_file(5000)));
  EXPECT_TRUE(fs::is_fifo(fifo));
}

TEST(OutputFileTest, ConcurrentWritersAllSucceedAndLeaveAWholeFile) {
  const TempDir dir;
  const fs::path path = dir.path() / "plan.json";
  constexpr int kThreads = 4;
  constexpr int kRounds = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> writers;
  for (int thread = 0; thread < kThreads; ++thread) {
    writers.emplace_back([&, thread] {
      for (int round = 0; round < kRounds; ++round) {
        try {
          write_plan_json(path, plan_file(200, thread));
        } catch (const Error&) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  EXPECT_EQ(failures.load(), 0);
  const PlanFile read = read_plan_json(path);  // whole: it parses
  bool matches_a_writer = false;
  for (int thread = 0; thread < kThreads; ++thread) {
    matches_a_writer |= read.plan.phy2log == plan_file(200, thread).plan.phy2log;
  }
  EXPECT_TRUE(matches_a_writer);
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"plan.json"});
}

TEST(OutputFileTest, AbandonedWriteKeepsTheOldFileAndLeavesNoTemporary) {
  const TempDir dir;
  const fs::path path = dir.write("out.json", "old");
  {
    detail::OutputFile file("test", path);
    file.text().assign(size_t{1} << 20, 'x');
    file.flush_if_full();  // written to the temporary file, then abandoned as by an exception
  }
  EXPECT_EQ(read_text(path), "old");
  EXPECT_EQ(names_in(dir.path()), std::vector<std::string>{"out.json"});
}

TEST(OutputFileTest, DevFullIsAnErrorAndStaysADevice) {
  EXPECT_THROW_MESSAGE(write_plan_json("/dev/full", plan_file()), IoError,
                       "write_plan_json: /dev/full: No space left on device");
  EXPECT_TRUE(fs::is_character_file("/dev/full"));
}

TEST(OutputFileTest, DashIsStandardOutput) {
  const TempDir dir;
  const fs::path captured = dir.path() / "stdout.txt";
  {
    const Redirect out(STDOUT_FILENO, captured, O_WRONLY | O_CREAT | O_TRUNC);
    EXPECT_TRUE(is_standard_output("-"));
    EXPECT_TRUE(is_standard_output(captured));
    EXPECT_FALSE(is_standard_output(dir.path() / "other"));
    write_plan_json("-", plan_file());
  }
  EXPECT_EQ(read_text(captured), plan_text(dir, plan_file()));
  EXPECT_FALSE(fs::exists(fs::current_path() / "-"));
  EXPECT_THROW_MESSAGE(
      [] {
        const Redirect full(STDOUT_FILENO, "/dev/full", O_WRONLY);
        write_plan_json("-", plan_file());
      }(),
      IoError, "write_plan_json: <stdout>: No space left on device");
}

TEST(OutputFileTest, DashIsStandardInputForReaders) {
  const TempDir dir;
  const fs::path loads = dir.write("loads.csv", "1,2,3\n4,5,6\n");
  const Redirect in(STDIN_FILENO, loads, O_RDONLY);
  const Trace trace = read_trace("-");
  EXPECT_EQ(trace.values, (std::vector<double>{1, 2, 3, 4, 5, 6}));
}

TEST(OutputFileTest, ReadErrorsNameStandardInput) {
  const TempDir dir;
  const fs::path loads = dir.write("loads.csv", "1,2\n3\n");
  const Redirect in(STDIN_FILENO, loads, O_RDONLY);
  try {
    read_trace("-");
    ADD_FAILURE() << "a ragged matrix was read";
  } catch (const ParseError& error) {
    EXPECT_NE(std::string(error.what()).find("read_trace: <stdin>: "), std::string::npos)
        << error.what();
  }
}

TEST(InputLimitTest, FileAboveTheLimitIsRefusedBeforeItIsRead) {
  const TempDir dir;
  const fs::path big = dir.path() / "big.npy";
  std::ofstream(big) << "\x93NUMPY";
  fs::resize_file(big, static_cast<uintmax_t>(kMaxInputBytes) + 1);  // sparse: no disk used
  EXPECT_THROW_MESSAGE(read_trace(big), InvalidArgument,
                       "read_trace: " + big.string() + ": size 4294967297 bytes is more than " +
                           "the limit of 4294967296 bytes (4 GiB) for an input file " +
                           "(docs/limits.md)");
  EXPECT_THROW_MESSAGE(read_plan(big), InvalidArgument,
                       "read_plan: " + big.string() + ": size 4294967297 bytes is more than " +
                           "the limit of 4294967296 bytes (4 GiB) for an input file " +
                           "(docs/limits.md)");
}

TEST(InputLimitTest, StreamAboveTheLimitIsRefusedWhileReading) {
  const TempDir dir;
  const fs::path fifo = dir.path() / "loads.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::thread writer([&] { std::ofstream(fifo) << std::string(1000, '1'); });
  EXPECT_THROW_MESSAGE(detail::read_file("test", fifo, 100), InvalidArgument,
                       "test: " + fifo.string() +
                           ": its content is more than the limit of 100 bytes for an input file "
                           "(docs/limits.md)");
  writer.join();
}

TEST(CheckOutputPathTest, NamesThePathAndWhy) {
  const TempDir dir;
  check_output_path("-");
  check_output_path(dir.path() / "new.json");
  check_output_path(dir.write("old.json", "x"));
  const fs::path fifo = dir.path() / "out.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  check_output_path(fifo);  // does not open it (that would wait for a reader)
  const fs::path missing = dir.path() / "no" / "plan.json";
  EXPECT_THROW_MESSAGE(check_output_path(missing, "--output"), IoError,
                       "--output: " + missing.string() + ": No such file or directory");
  EXPECT_THROW_MESSAGE(check_output_path(dir.path(), "--json"), IoError,
                       "--json: " + dir.path().string() + ": Is a directory");
  const fs::path under_file = dir.path() / "old.json" / "plan.json";
  EXPECT_THROW_MESSAGE(check_output_path(under_file), IoError,
                       "check_output_path: " + under_file.string() + ": Not a directory");
  EXPECT_FALSE(fs::exists(missing.parent_path()));
}

}  // namespace
}  // namespace eplb::io
