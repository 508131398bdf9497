#!/usr/bin/env bash
# Builds the fuzzers with clang, libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer in
# build-fuzz and runs each for a fixed time: `fuzz/run.sh [seconds] [target...]` (default 30 s,
# every target). Prints the executions of each target and their total. On a crash it prints the
# log and exits 1; the input is kept as build-fuzz/artifacts/<target>/crash-*, and any build
# (fuzz/main.cc) replays it: `build/fuzz/<target> <file>`. Needs clang and libclang-rt-14-dev.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-30}"
if [ $# -gt 0 ]; then shift; fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(fuzz_cli_options fuzz_load_csv fuzz_load_json fuzz_load_npy fuzz_load_plan fuzz_load_vllm fuzz_rebalance fuzz_replan)
fi
build=build-fuzz

# Debug keeps EPLB_DCHECK on; -O1 makes the runs several times faster than -O0.
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g" -DEPLB_SANITIZE="address;undefined;fuzzer-no-link" \
  -DEPLB_FUZZ_LINKMAIN=OFF -DEPLB_FUZZ_LDFLAGS=-fsanitize=fuzzer \
  -DEPLB_BUILD_TESTS=OFF -DEPLB_BUILD_BENCH=OFF -DEPLB_BUILD_CLI=ON >/dev/null
cmake --build "$build" -j 2 --target "${targets[@]}"

total=0
for target in "${targets[@]}"; do
  # New inputs go to the first folder, so the committed seeds in fuzz/corpus stay untouched.
  corpus="$build/corpus/$target"
  artifacts="$build/artifacts/$target"
  log="$build/$target.log"
  mkdir -p "$corpus" "$artifacts"
  if ! "$build/fuzz/$target" -max_total_time="$seconds" -timeout=20 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" "$corpus" "fuzz/corpus/$target" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "$target: crashed; input in $artifacts/" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  echo "$target: $runs executions in $seconds s"
  total=$((total + runs))
done
echo "total: $total executions"
