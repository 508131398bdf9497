#pragma once
// Reading per-token routing samples (eplb/routing.h) from files.

#include <cstdint>
#include <filesystem>

#include "eplb/routing.h"
#include "eplb/trace.h"  // StepRange

namespace eplb::io {

/// Options of read_routing().
struct RoutingReadOptions {
  /// Layers per forward pass: the topk-jsonl format does not record it. Required.
  int64_t num_layers = 0;
  /// Experts per layer, which every id must be below; 0: the largest id + 1.
  int64_t num_experts = 0;
  /// The forward passes whose tokens form the sample (e.g. a prefill pass); default all.
  StepRange passes = {};
};

/// Reads a topk-jsonl routing trace: one line per layer per forward pass, layers in order
/// within a pass, each `{"topk_ids": [[top_k ids], ...one per token], ...}`. The sample's
/// tokens are the forward passes' tokens, pass after pass. Throws InvalidArgument for options
/// out of range, ParseError naming the file and the line for malformed JSON, a token without
/// its own array of ids, a top-k differing from the first token's, an id out of range or
/// repeated within a token, or a layer of a pass routing another number of tokens than the
/// pass's first layer; InvalidArgument when `passes` is out of range or holds no token; IoError
/// when the file cannot be read.
Routing read_routing(const std::filesystem::path& path, const RoutingReadOptions& options);

}  // namespace eplb::io
