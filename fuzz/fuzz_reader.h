#pragma once
// Shared by the reader fuzzers: reads the input bytes as a load file and checks the result.

#include <unistd.h>  // getpid

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

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

/// Writes `data` to a scratch file of this process (so parallel jobs do not clash) and reads it
/// with read_trace() as `format`. Aborts unless the read throws eplb::Error or returns a
/// well-formed Trace whose steps sum to loads (or to an overflow that throws eplb::Error).
inline int fuzz_read_trace(const uint8_t* data, size_t size, io::LoadFormat format) {
  static const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("eplb_fuzz_" + std::to_string(getpid()));
  std::FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr || std::fwrite(data, 1, size, file) != size || std::fclose(file) != 0) {
    fail("cannot write " + path.string());
  }
  try {
    const Trace trace = io::read_trace(path, format);
    if (!is_well_formed(trace)) fail("read_trace returned a malformed trace");
    trace.sum_steps().view();
  } catch (const Error&) {
  }
  return 0;
}

}  // namespace eplb::fuzz
