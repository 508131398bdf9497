// Reproducer main of the fuzzers (EPLB_FUZZ_LINKMAIN): runs LLVMFuzzerTestOneInput once on each
// file named on the command line and on every file of each folder named, in name order, so that
// any compiler builds the fuzzers and replays crashes and corpora.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

bool run_file(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    std::fprintf(stderr, "%s: cannot read\n", path.c_str());
    return false;
  }
  const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  // An exactly sized copy, so that a sanitizer sees any read past the input's end.
  const auto input = std::make_unique<uint8_t[]>(bytes.size());
  std::copy(bytes.begin(), bytes.end(), input.get());
  std::printf("%s: %zu bytes\n", path.c_str(), bytes.size());
  LLVMFuzzerTestOneInput(input.get(), bytes.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE_OR_FOLDER...\n", argv[0]);
    return 2;
  }
  int64_t num_run = 0;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
    std::vector<std::filesystem::path> paths;
    if (std::filesystem::is_directory(argv[i])) {
      for (const auto& entry : std::filesystem::directory_iterator(argv[i])) {
        if (entry.is_regular_file()) paths.push_back(entry.path());
      }
      std::sort(paths.begin(), paths.end());
    } else {
      paths.emplace_back(argv[i]);
    }
    for (const auto& path : paths) {
      const bool read = run_file(path);
      num_run += read;
      ok &= read;
    }
  }
  std::printf("ran %lld inputs\n", static_cast<long long>(num_run));
  return ok ? 0 : 1;
}
