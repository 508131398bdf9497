// Reading and writing files as eplb/io/files.h describes: `-`, the input size limit, unique
// temporary files renamed over regular files, straight-through writes to everything else.
#include "eplb/io/files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <new>
#include <string>
#include <system_error>

#include "eplb/error.h"
#include "io/detail/files.h"

namespace eplb::io {
namespace detail {
namespace {

namespace fs = std::filesystem;

bool is_dash(const fs::path& path) { return path.native() == "-"; }

std::string size_limit_message(std::string_view function, const fs::path& path,
                               std::string_view size, int64_t max_bytes) {
  constexpr int64_t kGiB = int64_t{1} << 30;
  std::string message = std::string(function) + ": " + printable(shown_path(path, false)) + ": " +
                        std::string(size) + " is more than the limit of " +
                        std::to_string(max_bytes) + " bytes";
  if (max_bytes % kGiB == 0) message += " (" + std::to_string(max_bytes / kGiB) + " GiB)";
  return message + " for an input file (docs/limits.md)";
}

// Reads all of `fd` into `content`, at most `max_bytes`. Returns false when there was more.
bool read_all(int fd, std::string& content, int64_t max_bytes, int& error_number) {
  char chunk[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error_number = errno;
      return true;
    }
    if (n == 0) return true;
    if (static_cast<int64_t>(content.size()) + n > max_bytes) return false;
    content.append(chunk, static_cast<size_t>(n));
  }
}

// Paths whose files stand for something else (/dev/stdout, /proc/self/fd/3): renaming over
// them would replace the link with a file, so they are always written straight through.
bool is_special_path(const fs::path& path) {
  const std::string& text = path.native();
  return text.starts_with("/dev/") || text.starts_with("/proc/");
}

// Creates a new file next to `target` with a name no other writer uses, mode 0666 less the
// umask; O_EXCL never opens a file that exists (such as the user's own `plan.json.tmp`).
int create_temporary(const fs::path& target, fs::path& temporary) {
  static std::atomic<uint64_t> counter{0};
  const uint64_t seed =
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  for (int attempt = 0; attempt < 100; ++attempt) {
    char suffix[64];
    std::snprintf(suffix, sizeof suffix, ".eplb-%ld-%llx.tmp", static_cast<long>(::getpid()),
                  static_cast<unsigned long long>((seed + counter++) * 0x9E3779B97F4A7C15ull));
    std::string name = target.filename().string();
    name.insert(0, 1, '.');
    name += suffix;
    temporary = target.parent_path() / name;
    const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0 || errno != EEXIST) return fd;
  }
  return -1;
}

}  // namespace

void throw_io_error(std::string_view function, const fs::path& path, int error_number) {
  throw IoError(std::string(function) + ": " + printable(path.string()) + ": " +
                    std::generic_category().message(error_number),
                error_number, path.string());
}

void throw_parse_error(std::string_view function, const fs::path& path, std::string_view what) {
  throw ParseError(std::string(function) + ": " + printable(path.string()) + ": " +
                   printable(what));
}

std::string shown_path(const fs::path& path, bool output) {
  if (is_dash(path)) return output ? "<stdout>" : "<stdin>";
  return path.string();
}

std::string read_file(std::string_view function, const fs::path& path, int64_t max_bytes) {
  const bool from_stdin = is_dash(path);
  const int fd = from_stdin ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_io_error(function, path, errno);
  struct Closer {
    int fd;
    bool owned;
    ~Closer() {
      if (owned) ::close(fd);
    }
  } closer{fd, !from_stdin};
  struct stat info {};
  const bool regular = ::fstat(fd, &info) == 0 && S_ISREG(info.st_mode);
  // The size is only a hint for a pipe or a growing file, but a regular file above the limit is
  // refused before anything of its size is allocated.
  if (regular && info.st_size > max_bytes) {
    throw InvalidArgument(size_limit_message(function, path,
                                             "size " + std::to_string(info.st_size) + " bytes",
                                             max_bytes));
  }
  std::string content;
  int error_number = 0;
  try {
    if (regular) content.reserve(static_cast<size_t>(info.st_size) + kReadPadding);
    if (!read_all(fd, content, max_bytes, error_number)) {
      throw InvalidArgument(size_limit_message(function, path, "its content", max_bytes));
    }
    content.reserve(content.size() + kReadPadding);
  } catch (const std::bad_alloc&) {
    throw OutOfMemory(std::string(function) + ": " + shown_path(path, false) +
                      ": out of memory reading the file (" + std::to_string(info.st_size) +
                      " bytes)");
  }
  if (error_number != 0) throw_io_error(function, shown_path(path, false), error_number);
  return content;
}

OutputFile::OutputFile(std::string_view function, const fs::path& path)
    : function_(function), path_(path) {
  check_output_path(path_, function_);
  struct stat info {};
  if (is_standard_output(path_)) {
    // Whatever stdio holds for fd 1 goes first, so the output lands after it.
    std::fflush(stdout);
    fd_ = STDOUT_FILENO;
    return;
  }
  const bool exists = ::stat(path_.c_str(), &info) == 0;
  struct stat link_info {};
  const bool dangling_link =
      !exists && ::lstat(path_.c_str(), &link_info) == 0 && S_ISLNK(link_info.st_mode);
  if ((exists && !S_ISREG(info.st_mode)) || dangling_link || is_special_path(path_)) {
    // A FIFO's reader or a device gets the bytes; a dangling link gets its target created.
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd_ < 0) fail(errno);
    owns_fd_ = true;
    return;
  }
  target_ = path_;
  if (exists) {
    std::error_code error;
    const fs::path resolved = fs::canonical(path_, error);
    if (!error) target_ = resolved;
  }
  fd_ = create_temporary(target_, temporary_);
  if (fd_ < 0) {
    const int error_number = errno;
    temporary_.clear();
    fail(error_number);
  }
  owns_fd_ = true;
  // Replacing a file keeps its permissions.
  if (exists) ::fchmod(fd_, info.st_mode & 07777);
}

OutputFile::~OutputFile() {
  if (owns_fd_ && fd_ >= 0) ::close(fd_);
  if (!temporary_.empty()) ::unlink(temporary_.c_str());
}

void OutputFile::fail(int error_number) {
  if (owns_fd_ && fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!temporary_.empty()) ::unlink(temporary_.c_str());
  temporary_.clear();
  throw_io_error(function_, shown_path(path_, true), error_number);
}

void OutputFile::flush() {
  const char* data = text_.data();
  size_t left = text_.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail(errno);
    data += n;
    left -= static_cast<size_t>(n);
  }
  text_.clear();
}

void OutputFile::commit() {
  flush();
  if (owns_fd_) {
    // close() can be the call that reports a full disk (NFS).
    const int closed = ::close(fd_);
    fd_ = -1;
    if (closed != 0) fail(errno);
  }
  if (!temporary_.empty()) {
    if (::rename(temporary_.c_str(), target_.c_str()) != 0) fail(errno);
    temporary_.clear();
  }
}

void write_file(std::string_view function, const fs::path& path, std::string_view content) {
  OutputFile file(function, path);
  file.text() = content;
  file.commit();
}

}  // namespace detail

void check_output_path(const std::filesystem::path& path, std::string_view name) {
  if (detail::is_dash(path)) return;
  // The messages are those open() would give, so a check and a failed write read alike.
  const auto fail = [&](int error_number) { detail::throw_io_error(name, path, error_number); };
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0) {
    if (S_ISDIR(info.st_mode)) fail(EISDIR);
    if (::access(path.c_str(), W_OK) != 0) fail(errno);
    if (!S_ISREG(info.st_mode) || detail::is_special_path(path)) return;
  }
  // A new or replaced regular file is created in its folder; a symlink's in its target's.
  std::filesystem::path folder = path.parent_path();
  struct stat link_info {};
  if (::lstat(path.c_str(), &link_info) == 0 && S_ISLNK(link_info.st_mode)) {
    std::error_code error;
    const std::filesystem::path target = std::filesystem::weakly_canonical(path, error);
    if (!error) folder = target.parent_path();
  }
  if (folder.empty()) folder = ".";
  if (::stat(folder.c_str(), &info) != 0) fail(errno);
  if (!S_ISDIR(info.st_mode)) fail(ENOTDIR);
  if (::access(folder.c_str(), W_OK | X_OK) != 0) fail(errno);
}

bool is_standard_output(const std::filesystem::path& path) {
  if (detail::is_dash(path)) return true;
  struct stat file {};
  struct stat out {};
  return ::stat(path.c_str(), &file) == 0 && ::fstat(STDOUT_FILENO, &out) == 0 &&
         file.st_dev == out.st_dev && file.st_ino == out.st_ino;
}

}  // namespace eplb::io
