// Fuzzes read_plan() with automatic format detection (eplb JSON, SGLang, TensorRT-LLM YAML,
// vllm-ascend): the first byte gives `num_gpus` (0: not given), the rest is the file. It either
// throws eplb::Error or returns a plan that passes check_plan().

#include <cstddef>
#include <cstdint>
#include <string>

#include "eplb/io/io.h"
#include "fuzz_input.h"  // fail
#include "fuzz_reader.h"
#include "support/check_plan.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::filesystem::path& path = eplb::fuzz::write_scratch_file(data + 1, size - 1);
  try {
    const eplb::io::PlanFile file = eplb::io::read_plan(path, {.num_gpus = data[0] % 9});
    const std::string problem =
        eplb::testing::check_plan(file.plan, file.topology, file.plan.num_experts);
    if (!problem.empty()) eplb::fuzz::fail("read_plan returned an invalid plan: " + problem);
  } catch (const eplb::Error&) {
  }
  return 0;
}
