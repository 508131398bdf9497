#pragma once
// Reads a FIFO on a thread, for tests of writers that must write through to one.

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>

namespace eplb::testing {

/// Reads everything written to a FIFO. Its read end is opened at once, so no byte goes to a pipe
/// without a reader, and the FIFO is also held open for writing until finish(), so the reader
/// gets its end of file (and the test ends) even if the writer under test never opens it.
class FifoReader {
 public:
  explicit FifoReader(const std::filesystem::path& fifo)
      : keep_open_(::open(fifo.c_str(), O_RDWR)),
        read_end_(::open(fifo.c_str(), O_RDONLY | O_NONBLOCK)) {
    ::fcntl(read_end_, F_SETFL, ::fcntl(read_end_, F_GETFL) & ~O_NONBLOCK);
    thread_ = std::thread([this] {
      char chunk[4096];
      for (ssize_t n; (n = ::read(read_end_, chunk, sizeof chunk)) > 0;) {
        received_.append(chunk, static_cast<size_t>(n));
      }
    });
  }
  ~FifoReader() {
    if (thread_.joinable()) finish();
  }
  FifoReader(const FifoReader&) = delete;
  FifoReader& operator=(const FifoReader&) = delete;

  /// Returns what was read, once the writers have closed the FIFO.
  std::string finish() {
    ::close(keep_open_);
    thread_.join();
    ::close(read_end_);
    return received_;
  }

 private:
  int keep_open_;
  int read_end_;
  std::thread thread_;
  std::string received_;
};

}  // namespace eplb::testing
