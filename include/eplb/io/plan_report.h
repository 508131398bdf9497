#pragma once
// The machine-readable report of `eplb plan` and `eplb eval` (their --json): what was planned or
// scored, on which loads and topology, and the plan's metrics.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "eplb/metrics.h"
#include "eplb/routing.h"
#include "eplb/topology.h"

namespace eplb::io {

/// What `eplb plan` or `eplb eval` reports.
struct PlanReport {
  /// "plan" or "eval".
  std::string command;
  std::string loads_path;
  /// The `--steps` range as given; empty for all steps.
  std::string steps;
  int64_t num_layers = 0;
  int64_t num_experts = 0;
  Topology topology;
  /// Empty when the plan file does not record it.
  std::string policy;
  std::vector<int64_t> dense_layers;
  std::vector<int64_t> excluded_gpus;
  /// plan: the plan file written (empty when none); eval: the plan file read.
  std::string plan_path;
  std::string plan_format;
  /// plan: wall time of the planning in milliseconds; negative when not measured (eval).
  double plan_ms = -1;
  PlanMetrics metrics;
  /// With a routing sample (`--routing`): its path, its tokens per layer and what the plan's
  /// dispatch costs them; `traffic` empty otherwise.
  std::string routing_path;
  int64_t routing_tokens = 0;
  std::optional<TrafficMetrics> traffic;
};

/// Returns `report` as one JSON object: {"command", "loads": {"path", "steps", "num_layers",
/// "num_experts"}, "topology": {"num_replicas", "num_groups", "num_nodes", "num_gpus",
/// "slots_per_gpu", "hierarchical"}, "policy", "dense_layers", "excluded_gpus", "plan": {"path",
/// "format"}, "plan_ms", "metrics": {...}}; "steps", "policy", "plan" and "plan_ms" are null
/// when unknown, and "metrics" holds the fields of PlanMetrics by name (per-layer lists too).
/// "traffic" is null without a routing sample, else {"routing", "tokens", "warning" (null unless
/// the sample has fewer than kFewRoutingTokens tokens), "nodes_per_token", "gpus_per_token",
/// "remote_nodes_per_token", "cross_node_fraction", "layer_nodes_per_token"}.
std::string plan_report_json(const PlanReport& report);

/// Writes plan_report_json(report) to `path` as the other writers do. Throws IoError naming it.
void write_plan_report(const std::filesystem::path& path, const PlanReport& report);

}  // namespace eplb::io
