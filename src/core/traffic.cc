// place_for_traffic: co-activated experts onto shared nodes, within a GPU balance tolerance.
#include "eplb/traffic.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <span>
#include <vector>

#include "core/detail/check.h"
#include "eplb/packing.h"

namespace eplb {
namespace {

// Node caps tried per layer, loosest first: a looser cap lets more co-activated experts
// gather but leaves the nodes' GPUs harder to balance.
constexpr double kNodeSlack[] = {0.08, 0.04, 0.02, 0.01, 0.005, 0.0025, 0.001, 0.0};
constexpr int kMaxPasses = 10;

// One layer. How often experts share a node is scored as sum over expert pairs (x, y) of
// tokens(x, y) * sum_n f_x(n) f_y(n), where f_x(n) is the share of x's replicas on node n:
// the chance that x and y meet on a node when each token takes one replica of each at random.
// A swap of two slots on different nodes changes it by an amount computed from `together_`
// (sum_y tokens(x, y) f_y(n)) in O(1); applying it costs one pass over the experts.
class NodeSwapSearch {
 public:
  NodeSwapSearch(std::span<const double> pair_tokens, std::span<const double> weight,
                 const Topology& topology)
      : pair_tokens_(pair_tokens),
        weight_(weight),
        num_experts_(static_cast<int64_t>(weight.size())),
        num_nodes_(topology.num_nodes()),
        slots_per_node_(topology.slots_per_node()) {}

  // Swaps slots of `row` between nodes while the score rises, each node's load at most `cap`.
  void run(std::vector<int64_t>& row, double cap) {
    start(row);
    const auto num_slots = static_cast<int64_t>(row.size());
    for (int pass = 0; pass < kMaxPasses; ++pass) {
      bool changed = false;
      for (int64_t a = 0; a < num_slots; ++a) {
        for (int64_t b = (a / slots_per_node_ + 1) * slots_per_node_; b < num_slots; ++b) {
          if (try_swap(row, a, b, cap)) changed = true;
        }
      }
      if (!changed) break;
    }
  }

 private:
  void start(const std::vector<int64_t>& row) {
    count_.assign(static_cast<size_t>(num_experts_), 0);
    for (const int64_t expert : row) ++count_[static_cast<size_t>(expert)];
    share_.assign(static_cast<size_t>(num_experts_ * num_nodes_), 0);
    node_load_.assign(static_cast<size_t>(num_nodes_), 0);
    for (size_t slot = 0; slot < row.size(); ++slot) {
      const int64_t expert = row[slot];
      const int64_t node = static_cast<int64_t>(slot) / slots_per_node_;
      share_[static_cast<size_t>(expert * num_nodes_ + node)] += 1.0 / count(expert);
      node_load_[static_cast<size_t>(node)] += carried(expert);
    }
    together_.assign(static_cast<size_t>(num_experts_ * num_nodes_), 0);
    for (int64_t x = 0; x < num_experts_; ++x) {
      for (int64_t y = 0; y < num_experts_; ++y) {
        const double tokens = pair_tokens_[static_cast<size_t>(x * num_experts_ + y)];
        if (tokens == 0) continue;
        for (int64_t node = 0; node < num_nodes_; ++node) {
          together_[static_cast<size_t>(x * num_nodes_ + node)] +=
              tokens * share_[static_cast<size_t>(y * num_nodes_ + node)];
        }
      }
    }
  }

  double count(int64_t expert) const { return static_cast<double>(count_[static_cast<size_t>(expert)]); }
  double carried(int64_t expert) const { return weight_[static_cast<size_t>(expert)] / count(expert); }
  double share(int64_t expert, int64_t node) const {
    return share_[static_cast<size_t>(expert * num_nodes_ + node)];
  }
  double together(int64_t expert, int64_t node) const {
    return together_[static_cast<size_t>(expert * num_nodes_ + node)];
  }

  bool try_swap(std::vector<int64_t>& row, int64_t a, int64_t b, double cap) {
    const int64_t x = row[static_cast<size_t>(a)];
    const int64_t y = row[static_cast<size_t>(b)];
    if (x == y) return false;
    const int64_t node_a = a / slots_per_node_;
    const int64_t node_b = b / slots_per_node_;
    // One replica of an expert per node: a second would serve no token a first does not.
    if (share(x, node_b) > 0 || share(y, node_a) > 0) return false;
    const double step_x = 1.0 / count(x);
    const double step_y = 1.0 / count(y);
    const double pair = pair_tokens_[static_cast<size_t>(x * num_experts_ + y)];
    const double gain = step_x * (together(x, node_b) - together(x, node_a)) +
                        step_y * (together(y, node_a) - together(y, node_b)) -
                        2 * step_x * step_y * pair;
    if (!(gain > 1e-9)) return false;
    const double load_x = carried(x);
    const double load_y = carried(y);
    double& load_a = node_load_[static_cast<size_t>(node_a)];
    double& load_b = node_load_[static_cast<size_t>(node_b)];
    if (load_a - load_x + load_y > cap || load_b - load_y + load_x > cap) return false;
    row[static_cast<size_t>(a)] = y;
    row[static_cast<size_t>(b)] = x;
    load_a += load_y - load_x;
    load_b += load_x - load_y;
    share_[static_cast<size_t>(x * num_nodes_ + node_a)] -= step_x;
    share_[static_cast<size_t>(x * num_nodes_ + node_b)] += step_x;
    share_[static_cast<size_t>(y * num_nodes_ + node_b)] -= step_y;
    share_[static_cast<size_t>(y * num_nodes_ + node_a)] += step_y;
    for (int64_t z = 0; z < num_experts_; ++z) {
      const double with_x = pair_tokens_[static_cast<size_t>(z * num_experts_ + x)] * step_x;
      const double with_y = pair_tokens_[static_cast<size_t>(z * num_experts_ + y)] * step_y;
      together_[static_cast<size_t>(z * num_nodes_ + node_a)] += with_y - with_x;
      together_[static_cast<size_t>(z * num_nodes_ + node_b)] += with_x - with_y;
    }
    return true;
  }

  std::span<const double> pair_tokens_;
  std::span<const double> weight_;
  int64_t num_experts_;
  int64_t num_nodes_;
  int64_t slots_per_node_;
  std::vector<int64_t> count_;
  std::vector<double> share_;
  std::vector<double> together_;
  std::vector<double> node_load_;
};

// Packs each node's slots of `row` onto the node's GPUs (no expert twice on a GPU); returns the
// heaviest GPU.
double pack_nodes(std::vector<int64_t>& row, std::span<const double> weight,
                  const Topology& topology, Packer& packer) {
  const int64_t slots_per_node = topology.slots_per_node();
  const int64_t slots_per_gpu = topology.slots_per_gpu();
  std::vector<int64_t> count(weight.size(), 0);
  for (const int64_t expert : row) ++count[static_cast<size_t>(expert)];
  std::vector<double> item_weight(static_cast<size_t>(slots_per_node));
  std::vector<int32_t> item_class(item_weight.size()), pack(item_weight.size()),
      rank(item_weight.size());
  std::vector<int64_t> packed(item_weight.size());
  std::vector<double> gpu_load(static_cast<size_t>(topology.gpus_per_node()));
  double heaviest = 0;
  for (int64_t node = 0; node < topology.num_nodes(); ++node) {
    const auto slots = std::span(row).subspan(static_cast<size_t>(node * slots_per_node),
                                              static_cast<size_t>(slots_per_node));
    for (size_t idx = 0; idx < slots.size(); ++idx) {
      const auto expert = static_cast<size_t>(slots[idx]);
      item_weight[idx] = weight[expert] / static_cast<double>(count[expert]);
      item_class[idx] = static_cast<int32_t>(slots[idx]);
    }
    packer.pack(item_weight, item_class, topology.gpus_per_node(), static_cast<uint64_t>(node),
                pack, rank);
    std::fill(gpu_load.begin(), gpu_load.end(), 0.0);
    for (size_t idx = 0; idx < slots.size(); ++idx) {
      packed[static_cast<size_t>(pack[idx] * slots_per_gpu + rank[idx])] = slots[idx];
      gpu_load[static_cast<size_t>(pack[idx])] += item_weight[idx];
    }
    std::copy(packed.begin(), packed.end(), slots.begin());
    heaviest = std::max(heaviest, *std::max_element(gpu_load.begin(), gpu_load.end()));
  }
  return heaviest;
}

// How many tokens of the layer route to each pair of experts, `[num_experts, num_experts]`.
std::vector<double> pair_tokens(const Routing& routing, int64_t layer, int64_t num_experts) {
  std::vector<double> pairs(static_cast<size_t>(num_experts * num_experts), 0);
  for (int64_t token = 0; token < routing.num_tokens; ++token) {
    for (int64_t first = 0; first < routing.top_k; ++first) {
      const int64_t x = routing.expert(layer, token, first);
      for (int64_t second = first + 1; second < routing.top_k; ++second) {
        const int64_t y = routing.expert(layer, token, second);
        pairs[static_cast<size_t>(x * num_experts + y)] += 1;
        pairs[static_cast<size_t>(y * num_experts + x)] += 1;
      }
    }
  }
  return pairs;
}

}  // namespace

Plan place_for_traffic(const Plan& plan, const LoadMatrix& loads, const Routing& routing,
                       const Topology& topology, const TrafficOptions& options) {
  if (!std::isfinite(options.balance_tolerance) || options.balance_tolerance < 0) {
    detail::throw_invalid("place_for_traffic: balance_tolerance = ", options.balance_tolerance,
                          " must be finite and non-negative");
  }
  validate(plan, topology);
  if (loads.num_layers() != plan.num_layers || loads.num_experts() != plan.num_experts) {
    detail::throw_invalid("place_for_traffic: loads are [", loads.num_layers(), ", ",
                          loads.num_experts(), "] but the plan is of [", plan.num_layers,
                          " layers, ", plan.num_experts, " experts]");
  }
  if (routing.num_layers != plan.num_layers) {
    detail::throw_invalid("place_for_traffic: routing has ", routing.num_layers,
                          " layers but the plan ", plan.num_layers);
  }
  check_routing(routing, plan.num_experts);
  if (std::find(plan.phy2log.begin(), plan.phy2log.end(), -1) != plan.phy2log.end()) {
    detail::throw_invalid("place_for_traffic: the plan leaves slots empty (excluded GPUs), "
                          "which traffic-aware placement does not take yet");
  }
  const std::unique_ptr<Packer> packer = make_packer(PackingOptions{});
  std::vector<int64_t> phy2log = plan.phy2log;
  const auto num_replicas = static_cast<size_t>(plan.num_replicas);
  std::vector<double> weight(static_cast<size_t>(plan.num_experts));
  for (int64_t layer = 0; layer < plan.num_layers; ++layer) {
    loads.copy_row(layer, weight);
    const auto row = std::span(phy2log).subspan(static_cast<size_t>(layer) * num_replicas,
                                                num_replicas);
    std::vector<int64_t> count(weight.size(), 0);
    for (const int64_t expert : row) ++count[static_cast<size_t>(expert)];
    std::vector<double> gpu_load(static_cast<size_t>(topology.num_gpus()), 0);
    double total = 0;
    for (size_t slot = 0; slot < row.size(); ++slot) {
      const double carried = weight[static_cast<size_t>(row[slot])] /
                             static_cast<double>(count[static_cast<size_t>(row[slot])]);
      gpu_load[static_cast<size_t>(topology.gpu_of_slot(static_cast<int64_t>(slot)))] += carried;
      total += carried;
    }
    const double gpu_cap =
        *std::max_element(gpu_load.begin(), gpu_load.end()) * (1 + options.balance_tolerance);
    const std::vector<double> pairs = pair_tokens(routing, layer, plan.num_experts);
    NodeSwapSearch search(pairs, weight, topology);
    for (const double slack : kNodeSlack) {
      std::vector<int64_t> candidate(row.begin(), row.end());
      search.run(candidate, total / static_cast<double>(topology.num_nodes()) * (1 + slack));
      if (pack_nodes(candidate, weight, topology, *packer) <= gpu_cap) {
        std::copy(candidate.begin(), candidate.end(), row.begin());
        break;
      }
    }
  }
  return plan_from_phy2log(phy2log, plan.num_layers, plan.num_replicas, plan.num_experts);
}

}  // namespace eplb
