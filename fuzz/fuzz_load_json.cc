// Fuzzes read_trace() on plain JSON matrix files (LoadFormat::json_matrix): it either throws
// eplb::Error or returns a well-formed trace.

#include <cstddef>
#include <cstdint>

#include "eplb/io/io.h"
#include "fuzz_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return eplb::fuzz::fuzz_read_trace(data, size, eplb::io::LoadFormat::json_matrix);
}
