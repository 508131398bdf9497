// Fuzzes read_trace() with automatic format detection, seeded with vLLM load histories: the
// detection itself and every format it can pick (vLLM, SGLang, counts, JSONL, JSON matrix, npy,
// safetensors, CSV) either throw eplb::Error or return a well-formed trace.

#include <cstddef>
#include <cstdint>

#include "eplb/io/io.h"
#include "fuzz_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return eplb::fuzz::fuzz_read_trace(data, size, eplb::io::LoadFormat::automatic);
}
