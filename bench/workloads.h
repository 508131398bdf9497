#pragma once
// Benchmark rows on the real expert loads of ../shared/workloads (issue #9).

#include <filesystem>

namespace eplb::bench {

/// Prints one table per real workload group found under `root`: in-sample GPU balancedness, gap
/// to the policy's own bound and to the global bound, and cross-workload balancedness (plan on
/// one file, score on the others of the same group), for deepseek, balanced and global. Prints a
/// note and nothing else when `root` does not exist.
void print_real_workloads(const std::filesystem::path& root, int repeats);

}  // namespace eplb::bench
