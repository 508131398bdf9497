// Planner::replan: per layer, how far to repair the current plan, or whether to take the fresh
// plan relabelled, so that the whole plan stays within the tolerance with the fewest moves.
#include <cmath>
#include <limits>
#include <span>
#include <vector>

#include "core/detail/check.h"
#include "core/detail/repair.h"
#include "eplb/metrics.h"
#include "eplb/planner.h"

namespace eplb {
namespace {

// Loads compared against a budget may differ from it by rounding alone.
constexpr double kRelativeSlack = 1e-9;

double heaviest_gpu(std::span<const int64_t> row, std::span<const double> weight,
                    std::span<const int64_t> counts, const Topology& topology) {
  std::vector<double> loads(static_cast<size_t>(topology.num_gpus()), 0.0);
  for (int64_t slot = 0; slot < static_cast<int64_t>(row.size()); ++slot) {
    const int64_t expert = row[slot];
    if (expert >= 0) {
      loads[topology.gpu_of_slot(slot)] += weight[expert] / static_cast<double>(counts[expert]);
    }
  }
  double heaviest = 0;
  for (double load : loads) heaviest = std::max(heaviest, load);
  return heaviest;
}

bool fits_active_gpus(const Plan& plan, const Topology& topology,
                      const std::vector<bool>& active_gpus) {
  try {
    validate(plan, topology, {.active_gpus = active_gpus});
    return true;
  } catch (const InvalidArgument&) {
    return false;
  }
}

// A layer's choices: points of its repair path (moved slots, heaviest GPU), then the relabelled
// fresh plan as the last point.
struct LayerChoices {
  std::vector<int64_t> moved;
  std::vector<double> heaviest;
  int64_t chosen = 0;
};

// Picks a point per layer so that the heaviest GPUs sum to at most `budget` with few moved
// slots: starting from every layer's first point, repeatedly advances the layer whose next
// points lower its heaviest GPU most per extra moved slot. The last point of every layer (the
// fresh plan) always fits the budget together.
void choose_points(std::vector<LayerChoices>& layers, double budget) {
  double total = 0;
  for (const LayerChoices& layer : layers) total += layer.heaviest[layer.chosen];
  while (total > budget) {
    size_t best_layer = layers.size();
    size_t best_point = 0;
    double best_rate = -1;
    for (size_t idx = 0; idx < layers.size(); ++idx) {
      const LayerChoices& layer = layers[idx];
      const auto current = static_cast<size_t>(layer.chosen);
      for (size_t point = current + 1; point < layer.moved.size(); ++point) {
        const double saved = layer.heaviest[current] - layer.heaviest[point];
        if (saved <= 0) continue;
        const int64_t extra = layer.moved[point] - layer.moved[current];
        const double rate = extra <= 0 ? std::numeric_limits<double>::infinity()
                                       : saved / static_cast<double>(extra);
        if (rate > best_rate) {
          best_rate = rate;
          best_layer = idx;
          best_point = point;
        }
      }
    }
    if (best_layer == layers.size()) return;  // every layer is at its lowest point
    LayerChoices& layer = layers[best_layer];
    total += layer.heaviest[best_point] - layer.heaviest[static_cast<size_t>(layer.chosen)];
    layer.chosen = static_cast<int64_t>(best_point);
  }
}

}  // namespace

Replan Planner::replan(const Plan& current, double tolerance) const {
  if (!std::isfinite(tolerance) || tolerance < 0) {
    detail::throw_invalid("Planner::replan: tolerance = ", tolerance,
                          " must be finite and non-negative");
  }
  if (current.num_layers != num_layers_ || current.num_experts != num_experts_ ||
      current.num_replicas != topology_.num_replicas()) {
    detail::throw_invalid("Planner::replan: current is a plan of [", current.num_layers,
                          " layers, ", current.num_experts, " experts, ", current.num_replicas,
                          " slots] but the planner plans [", num_layers_, ", ", num_experts_,
                          ", ", topology_.num_replicas(), "]");
  }
  try {
    validate(current, topology_);
  } catch (const InvalidArgument& error) {
    detail::throw_invalid("Planner::replan: current is not a valid plan: ", error.what());
  }
  const Plan fresh = plan();
  const bool keep_nodes = uses_hierarchy(topology_, num_experts_, options_.rebalance);
  const Plan aligned = align_plan(fresh, current, topology_, keep_nodes);
  // A plan made for other healthy GPUs cannot be repaired in place: its slots on a failed GPU
  // must move anyway.
  const bool repairable = fits_active_gpus(current, topology_, options_.rebalance.active_gpus);
  const Loads loads = planning_loads();
  const int64_t num_replicas = topology_.num_replicas();

  std::vector<LayerChoices> layers(static_cast<size_t>(num_layers_));
  std::vector<detail::RepairPath> paths(static_cast<size_t>(num_layers_));
  double budget = 0;
  for (int64_t layer = 0; layer < num_layers_; ++layer) {
    const auto weight = std::span(loads.values).subspan(layer * num_experts_, num_experts_);
    const auto current_row = current.phy2log_row(layer);
    const auto aligned_row = aligned.phy2log_row(layer);
    int64_t aligned_moved = 0;
    for (int64_t slot = 0; slot < num_replicas; ++slot) {
      aligned_moved += static_cast<int64_t>(current_row[slot] != aligned_row[slot]);
    }
    const double fresh_heaviest =
        heaviest_gpu(fresh.phy2log_row(layer), weight, fresh.logcnt_row(layer), topology_);
    budget += fresh_heaviest;
    LayerChoices& choices = layers[static_cast<size_t>(layer)];
    if (repairable && aligned_moved > 0) {
      // Repair towards the fresh plan's heaviest GPU; the budget then decides how far to go.
      paths[layer] = detail::repair_layer({.topology = topology_,
                                           .current = current_row,
                                           .weight = weight,
                                           .target = fresh_heaviest * (1 + tolerance) *
                                                     (1 + kRelativeSlack),
                                           .max_moved = aligned_moved,
                                           .keep_nodes = keep_nodes});
      choices.moved = paths[layer].moved;
      choices.heaviest = paths[layer].heaviest;
    }
    choices.moved.push_back(aligned_moved);
    choices.heaviest.push_back(fresh_heaviest);
  }
  choose_points(layers, budget * (1 + tolerance) * (1 + kRelativeSlack));

  std::vector<int64_t> phy2log = aligned.phy2log;
  Replan result;
  for (int64_t layer = 0; layer < num_layers_; ++layer) {
    const LayerChoices& choices = layers[static_cast<size_t>(layer)];
    if (choices.chosen + 1 == static_cast<int64_t>(choices.moved.size())) continue;  // aligned
    const auto current_row = current.phy2log_row(layer);
    const auto out = phy2log.begin() + layer * num_replicas;
    std::copy(current_row.begin(), current_row.end(), out);
    const detail::RepairPath& path = paths[layer];
    for (int64_t change = 0; change < path.num_changes[choices.chosen]; ++change) {
      out[path.changes[change].slot] = path.changes[change].expert;
    }
    ++result.repaired_layers;
  }
  result.plan = plan_from_phy2log(phy2log, num_layers_, num_replicas, num_experts_);
  result.migration = diff_plans(current, result.plan, topology_);
  return result;
}

}  // namespace eplb
