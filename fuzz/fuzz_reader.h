#pragma once
// Shared by the reader fuzzers: reads the input bytes as a load file and checks the result.

#include <unistd.h>  // getpid

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

#include "eplb/error.h"
#include "eplb/io/io.h"
#include "eplb/topology.h"  // kMaxLayers, kMaxExperts
#include "fuzz_input.h"  // fail

namespace eplb::fuzz {

/// Returns true when `trace` is what a reader may return: positive sizes within the limits,
/// `values` of size steps x layers x experts, every value finite and non-negative.
inline bool is_well_formed(const Trace& trace) {
  if (trace.num_steps <= 0 || trace.num_layers <= 0 || trace.num_experts <= 0 ||
      trace.num_layers > kMaxLayers || trace.num_experts > kMaxExperts) {
    return false;
  }
  if (static_cast<int64_t>(trace.values.size()) !=
      trace.num_steps * trace.num_layers * trace.num_experts) {
    return false;
  }
  for (const double value : trace.values) {
    if (!std::isfinite(value) || value < 0) return false;
  }
  return true;
}

/// A file of this process (so parallel jobs do not clash), in memory when /dev/shm exists: a
/// file rewritten on disk every run costs more than parsing it. Removed at exit.
class ScratchFile {
 public:
  ScratchFile() {
    std::error_code error;
    const std::filesystem::path folder = std::filesystem::is_directory("/dev/shm", error)
                                             ? std::filesystem::path("/dev/shm")
                                             : std::filesystem::temp_directory_path();
    path_ = folder / ("eplb_fuzz_" + std::to_string(getpid()));
  }
  ~ScratchFile() {
    std::error_code error;
    std::filesystem::remove(path_, error);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// Writes `data` to this process's scratch file and returns its path.
inline const std::filesystem::path& write_scratch_file(const uint8_t* data, size_t size) {
  static const ScratchFile scratch;
  std::FILE* file = std::fopen(scratch.path().c_str(), "wb");
  if (file == nullptr || std::fwrite(data, 1, size, file) != size || std::fclose(file) != 0) {
    fail("cannot write " + scratch.path().string());
  }
  return scratch.path();
}

/// Reads `data` as a file with read_trace() as `format`. Aborts unless the read throws
/// eplb::Error or returns a well-formed Trace whose steps sum to loads (or to an overflow that
/// throws eplb::Error).
inline int fuzz_read_trace(const uint8_t* data, size_t size, io::LoadFormat format) {
  const std::filesystem::path& path = write_scratch_file(data, size);
  try {
    const Trace trace = io::read_trace(path, format);
    if (!is_well_formed(trace)) fail("read_trace returned a malformed trace");
    trace.sum_steps().view();
  } catch (const Error&) {
  }
  return 0;
}

}  // namespace eplb::fuzz
