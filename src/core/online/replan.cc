// Planner::replan: per layer, how far to repair the current plan, or whether to take the fresh
// plan relabelled, so that the whole plan stays within the tolerance with the fewest moves.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "core/detail/check.h"
#include "core/detail/layer_threads.h"
#include "core/detail/random.h"
#include "core/detail/repair.h"
#include "eplb/metrics.h"
#include "eplb/planner.h"

namespace eplb {
namespace {

// Loads compared against a budget may differ from it by rounding alone.
constexpr double kRelativeSlack = 1e-9;
// Group swaps tried per layer under the hierarchy, each the start of one more repair path.
constexpr int64_t kGroupSwaps = 4;

bool fits_active_gpus(const Plan& plan, const Topology& topology,
                      const std::vector<bool>& active_gpus) {
  try {
    validate(plan, topology, {.active_gpus = active_gpus});
    return true;
  } catch (const InvalidArgument&) {
    return false;
  }
}

// A layer's choices: points (moved slots, heaviest GPU), each the end of a prefix of one of the
// layer's repair paths, or the relabelled fresh plan (`path` = -1).
struct Point {
  int64_t moved = 0;
  double heaviest = 0;
  int64_t path = -1;
  int64_t step = 0;
};

// Keeps the points no other point beats in both moved slots and heaviest GPU, by moved slots
// (ties: the lower heaviest GPU, then the earlier point).
std::vector<Point> pareto_front(std::vector<Point> points) {
  std::stable_sort(points.begin(), points.end(), [](const Point& a, const Point& b) {
    return a.moved != b.moved ? a.moved < b.moved : a.heaviest < b.heaviest;
  });
  std::vector<Point> front;
  for (const Point& point : points) {
    if (front.empty() || point.heaviest < front.back().heaviest) front.push_back(point);
  }
  return front;
}

// The multiple-choice knapsack over the layers' fronts: lowest[m] is the lowest sum of heaviest
// GPUs with exactly m moved slots in all (infinite when no choice moves m, m < width), and
// pick[layer][m] the point of that layer on the way there.
struct MovesKnapsack {
  std::vector<double> lowest;
  std::vector<std::vector<uint16_t>> pick;

  MovesKnapsack(const std::vector<std::vector<Point>>& fronts, size_t width)
      : lowest(width, std::numeric_limits<double>::infinity()),
        pick(fronts.size(), std::vector<uint16_t>(width, 0)) {
    std::vector<double> next(width);
    lowest[0] = 0;
    for (size_t idx = 0; idx < fronts.size(); ++idx) {
      std::fill(next.begin(), next.end(), std::numeric_limits<double>::infinity());
      for (size_t moved = 0; moved < width; ++moved) {
        if (std::isinf(lowest[moved])) continue;
        for (size_t point = 0; point < fronts[idx].size(); ++point) {
          const size_t reached = moved + static_cast<size_t>(fronts[idx][point].moved);
          if (reached >= width) break;
          const double sum = lowest[moved] + fronts[idx][point].heaviest;
          if (sum < next[reached]) {
            next[reached] = sum;
            pick[idx][reached] = static_cast<uint16_t>(point);
          }
        }
      }
      std::swap(lowest, next);
    }
  }

  // The point of every layer on the way to `moved` slots in all (lowest[moved] finite).
  std::vector<size_t> points_with(const std::vector<std::vector<Point>>& fronts,
                                  size_t moved) const {
    std::vector<size_t> chosen(fronts.size(), 0);
    for (size_t idx = fronts.size(); idx-- > 0;) {
      chosen[idx] = pick[idx][moved];
      moved -= static_cast<size_t>(fronts[idx][chosen[idx]].moved);
    }
    return chosen;
  }
};

// Picks a point per layer (an index into its Pareto front) with the fewest moved slots in all
// whose heaviest GPUs sum to at most `budget`, the lowest sum among those. A greedy bounds the
// moved slots first (from every layer's first point, repeatedly advance the layer whose next
// points lower its heaviest GPU most per extra moved slot); then an exact dynamic program over
// the total moved slots up to that bound (a multiple-choice knapsack). The last point of every
// front (the fresh plan, or better) always fits the budget together.
std::vector<size_t> choose_points(const std::vector<std::vector<Point>>& fronts, double budget) {
  const size_t num_layers = fronts.size();
  std::vector<size_t> chosen(num_layers, 0);
  double total = 0;
  for (const auto& front : fronts) total += front[0].heaviest;
  while (total > budget) {
    size_t best_layer = num_layers;
    size_t best_point = 0;
    double best_rate = -1;
    for (size_t idx = 0; idx < num_layers; ++idx) {
      const auto& front = fronts[idx];
      for (size_t point = chosen[idx] + 1; point < front.size(); ++point) {
        const double rate = (front[chosen[idx]].heaviest - front[point].heaviest) /
                            static_cast<double>(front[point].moved - front[chosen[idx]].moved);
        if (rate > best_rate) {
          best_rate = rate;
          best_layer = idx;
          best_point = point;
        }
      }
    }
    if (best_layer == num_layers) break;  // every layer is at its lowest point
    total += fronts[best_layer][best_point].heaviest - fronts[best_layer][chosen[best_layer]].heaviest;
    chosen[best_layer] = best_point;
  }
  int64_t bound = 0;
  for (size_t idx = 0; idx < num_layers; ++idx) bound += fronts[idx][chosen[idx]].moved;
  if (total > budget) return chosen;
  const MovesKnapsack knapsack(fronts, static_cast<size_t>(bound + 1));
  size_t moved = 0;
  while (moved < knapsack.lowest.size() && knapsack.lowest[moved] > budget) ++moved;
  if (moved == knapsack.lowest.size()) return chosen;  // rounding: keep the greedy's choice
  return knapsack.points_with(fronts, moved);
}

// Picks a point per layer with at most `max_moved` moved slots in all and the lowest sum of
// heaviest GPUs, the fewest moved slots among equal sums: a multiple-choice knapsack solved
// exactly over the total moved slots. A layer whose first point already moves slots (a plan that
// must leave excluded GPUs) takes them even beyond the budget.
std::vector<size_t> choose_within_moves(const std::vector<std::vector<Point>>& fronts,
                                        int64_t max_moved) {
  const size_t num_layers = fronts.size();
  int64_t forced = 0;
  int64_t most = 0;
  for (const auto& front : fronts) {
    forced += front.front().moved;
    most += front.back().moved;
  }
  const int64_t capacity = std::min(std::max(max_moved, forced), most);
  const MovesKnapsack knapsack(fronts, static_cast<size_t>(capacity + 1));
  const std::vector<double>& lowest = knapsack.lowest;
  size_t best = 0;
  for (size_t moved = 1; moved < lowest.size(); ++moved) {
    if (lowest[moved] < lowest[best]) best = moved;
  }
  if (std::isinf(lowest[best])) return std::vector<size_t>(num_layers, 0);
  return knapsack.points_with(fronts, best);
}

// A layer's options: repair paths, each from a start (index 0: `current` itself, then rows
// after group swaps), and the Pareto front of their points with the relabelled fresh plan.
struct LayerOptions {
  struct Path {
    detail::RepairPath repair;
    size_t start = 0;
  };
  std::vector<std::vector<int64_t>> starts;  // empty row: `current`
  std::vector<Path> paths;
  std::vector<Point> front;
};

// `problem` without start, preference or max_moved: those are set here.
LayerOptions layer_options(detail::RepairProblem problem, std::span<const int64_t> aligned_row,
                           double fresh_heaviest, bool repairable, int64_t repair_rounds,
                           uint64_t seed) {
  LayerOptions options;
  int64_t aligned_moved = 0;
  for (size_t slot = 0; slot < aligned_row.size(); ++slot) {
    aligned_moved += static_cast<int64_t>(problem.current[slot] != aligned_row[slot]);
  }
  std::vector<Point> points = {{.moved = aligned_moved, .heaviest = fresh_heaviest}};
  if (repairable && aligned_moved > 0) {
    problem.max_moved = aligned_moved;
    options.starts.emplace_back();
    if (problem.keep_nodes) {
      for (auto& row : detail::group_swap_rows(problem.topology, problem.current, problem.weight,
                                               kGroupSwaps)) {
        options.starts.push_back(std::move(row));
      }
    }
    // Every start, repaired towards the target under every fix preference: the paths differ
    // from layer to layer and the front keeps the best of each. The budget then decides how
    // far along a path to go.
    for (size_t start = 0; start < options.starts.size(); ++start) {
      for (const detail::FixPreference preference : detail::kAllFixPreferences) {
        detail::RepairProblem variant = problem;
        variant.start = options.starts[start];
        variant.preference = preference;
        options.paths.push_back({.repair = detail::repair_layer(variant), .start = start});
      }
    }
    // The best repair from `current` that reaches the target, improved further.
    const detail::RepairPath* best = nullptr;
    for (const LayerOptions::Path& path : options.paths) {
      if (path.start != 0 || path.repair.heaviest.back() > problem.target ||
          (best != nullptr && path.repair.moved.back() >= best->moved.back())) {
        continue;
      }
      best = &path.repair;
    }
    if (best != nullptr && repair_rounds > 0) {
      options.paths.push_back(
          {.repair = detail::improve_repair(problem, *best, repair_rounds, seed), .start = 0});
    }
    for (size_t idx = 0; idx < options.paths.size(); ++idx) {
      const detail::RepairPath& path = options.paths[idx].repair;
      for (size_t step = 0; step < path.moved.size(); ++step) {
        points.push_back({.moved = path.moved[step],
                          .heaviest = path.heaviest[step],
                          .path = static_cast<int64_t>(idx),
                          .step = static_cast<int64_t>(step)});
      }
    }
  }
  options.front = pareto_front(std::move(points));
  return options;
}

}  // namespace

Replan Planner::replan(const Plan& current, const ReplanOptions& options) const {
  const double tolerance = options.tolerance;
  const bool budget_mode = !(options.move_budget < 0);
  if (!std::isfinite(tolerance) || tolerance < 0) {
    detail::throw_invalid("Planner::replan: tolerance = ", tolerance,
                          " must be finite and non-negative");
  }
  if (budget_mode && !(options.move_budget <= 1)) {
    detail::throw_invalid("Planner::replan: move_budget = ", options.move_budget,
                          " must be in [0, 1] (a fraction of all slots), or negative for none");
  }
  if (!std::isfinite(options.min_gain) || options.min_gain < 0) {
    detail::throw_invalid("Planner::replan: min_gain = ", options.min_gain,
                          " must be finite and non-negative");
  }
  if (options.layers_per_chunk < 0) {
    detail::throw_invalid("Planner::replan: layers_per_chunk = ", options.layers_per_chunk,
                          " must be positive, or 0 for no chunks");
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
  if (num_observed_steps_ == 0) {
    detail::throw_invalid("Planner::replan: no step observed yet (call observe first)");
  }
  // One computation of the planning loads serves the fresh plan, its heaviest GPUs and the
  // repairs.
  const Loads loads = planning_loads();
  const LoadMatrix loads_view = loads.view();
  const Plan fresh = rebalance_experts(loads_view, topology_, options_.rebalance);
  const std::vector<double> fresh_heaviest_gpus =
      evaluate(fresh, loads_view, topology_).max_gpu_load;
  const bool keep_nodes = uses_hierarchy(topology_, num_experts_, options_.rebalance);
  const Plan aligned = align_plan(fresh, current, topology_, keep_nodes);
  // A plan made for other healthy GPUs cannot be repaired in place: its slots on a failed GPU
  // must move anyway.
  const bool repairable = fits_active_gpus(current, topology_, options_.rebalance.active_gpus);
  const int64_t num_replicas = topology_.num_replicas();

  // A budget is spent towards the fresh plan's balance; how far each layer goes is the choice.
  const double target_tolerance = budget_mode ? 0 : tolerance;
  std::vector<LayerOptions> layers(static_cast<size_t>(num_layers_));
  // Each layer's result depends only on its own index (its seed), not on its thread.
  // rebalance_experts() above has checked the thread count.
  detail::for_each_layer(num_layers_, options_.rebalance.threads, options_.rebalance.should_stop,
                         "Planner::replan", [&](int64_t layer, int64_t) {
    const auto weight = std::span(loads.values).subspan(layer * num_experts_, num_experts_);
    layers[static_cast<size_t>(layer)] = layer_options(
        {.topology = topology_,
         .current = current.phy2log_row(layer),
         .weight = weight,
         .target = fresh_heaviest_gpus[static_cast<size_t>(layer)] * (1 + target_tolerance) *
                   (1 + kRelativeSlack),
         .keep_nodes = keep_nodes},
        aligned.phy2log_row(layer), fresh_heaviest_gpus[static_cast<size_t>(layer)], repairable,
        options_.repair_rounds,
        detail::mix_seed(options_.rebalance.seed, static_cast<uint64_t>(layer)));
  });
  double budget = 0;
  std::vector<std::vector<Point>> fronts;
  for (int64_t layer = 0; layer < num_layers_; ++layer) {
    budget += fresh_heaviest_gpus[static_cast<size_t>(layer)];
    fronts.push_back(std::move(layers[static_cast<size_t>(layer)].front));
  }
  const auto total_slots = static_cast<double>(num_layers_ * topology_.num_replicas());
  const std::vector<size_t> chosen =
      budget_mode
          ? choose_within_moves(fronts, static_cast<int64_t>(options.move_budget * total_slots))
          : choose_points(fronts, budget * (1 + tolerance) * (1 + kRelativeSlack));

  std::vector<int64_t> phy2log = aligned.phy2log;
  Replan result;
  for (int64_t layer = 0; layer < num_layers_; ++layer) {
    const Point& point = fronts[static_cast<size_t>(layer)][chosen[static_cast<size_t>(layer)]];
    if (point.path < 0) continue;  // the aligned fresh plan
    const LayerOptions& layer_choices = layers[static_cast<size_t>(layer)];
    const LayerOptions::Path& path = layer_choices.paths[static_cast<size_t>(point.path)];
    const auto& start = layer_choices.starts[static_cast<size_t>(path.start)];
    const auto first = start.empty() ? current.phy2log_row(layer) : std::span(start);
    const auto out = phy2log.begin() + layer * num_replicas;
    std::copy(first.begin(), first.end(), out);
    for (int64_t change = 0; change < path.repair.num_changes[point.step]; ++change) {
      out[path.repair.changes[change].slot] = path.repair.changes[change].expert;
    }
    ++result.repaired_layers;
  }
  result.plan = plan_from_phy2log(phy2log, num_layers_, num_replicas, num_experts_);
  result.balancedness_before = evaluate(current, loads_view, topology_).gpu_balancedness;
  result.balancedness_after = evaluate(result.plan, loads_view, topology_).gpu_balancedness;
  // A plan that uses GPUs now excluded must move, whatever it gains.
  if (repairable && result.balancedness_after - result.balancedness_before < options.min_gain) {
    result.plan = current;
    result.repaired_layers = 0;
    result.balancedness_after = result.balancedness_before;
    result.skipped = true;
  }
  result.migration = diff_plans(current, result.plan, topology_);
  if (options.layers_per_chunk > 0) {
    result.chunks = chunk_by_layers(result.migration, current, loads_view, topology_,
                                    options.layers_per_chunk);
  }
  return result;
}

}  // namespace eplb
