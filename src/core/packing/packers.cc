// The packing strategies: greedy (DeepSeek's), snake and multistart search.
// See docs/algorithms.md#packing.

#include <algorithm>
#include <numeric>
#include <vector>

#include "core/detail/bounds.h"
#include "core/detail/check.h"
#include "core/detail/greedy_pack.h"
#include "core/detail/random.h"
#include "eplb/packing.h"

namespace eplb {

std::string_view to_string(PackingStrategy strategy) {
  switch (strategy) {
    case PackingStrategy::greedy: return "greedy";
    case PackingStrategy::snake: return "snake";
    case PackingStrategy::multistart: return "multistart";
  }
  return "unknown";
}

PackingStrategy parse_packing_strategy(std::string_view name) {
  for (auto strategy : {PackingStrategy::greedy, PackingStrategy::snake, PackingStrategy::multistart}) {
    if (to_string(strategy) == name) return strategy;
  }
  detail::throw_invalid("parse_packing_strategy: packer = \"", name,
                        "\" is not one of: greedy, snake, multistart");
}

namespace {

// Sorts item indices by descending weight, lower index first among equals.
void sort_descending(std::span<const double> weights, std::vector<int32_t>& order) {
  order.resize(weights.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    return weights[a] > weights[b] || (weights[a] == weights[b] && a < b);
  });
}

// Deals `order` in rounds of m: in even rounds to packs 0..m-1, in odd rounds m-1..0.
void assign_snake(std::span<const int32_t> order, int64_t num_packs, std::span<int32_t> pack_of_item) {
  for (int64_t i = 0; i < static_cast<int64_t>(order.size()); ++i) {
    const int64_t round = i / num_packs, position = i % num_packs;
    pack_of_item[order[i]] = static_cast<int32_t>(round % 2 == 0 ? position : num_packs - 1 - position);
  }
}

// Separates items of one class that a class-blind strategy put into one pack.
void separate(std::span<const double> weights, std::span<const int32_t> item_class, int64_t num_packs,
              std::span<int32_t> pack_of_item, std::span<int32_t> rank_in_pack) {
  if (item_class.empty()) return;
  PackState state = PackState::from_assignment(weights, num_packs, pack_of_item, item_class);
  if (!state.has_duplicates()) return;
  separate_duplicates(state);
  state.write_assignment(pack_of_item, rank_in_pack);
}

class GreedyPacker final : public Packer {
 public:
  using Packer::pack;
  void pack(std::span<const double> weights, std::span<const int32_t> item_class,
            int64_t num_packs, uint64_t, std::span<int32_t> pack_of_item,
            std::span<int32_t> rank_in_pack) override {
    detail::greedy_pack<double>(weights, num_packs, pack_of_item, rank_in_pack, order_);
    separate(weights, item_class, num_packs, pack_of_item, rank_in_pack);
  }

 private:
  std::vector<detail::SortKey<double>> order_;
};

class SnakePacker final : public Packer {
 public:
  using Packer::pack;
  void pack(std::span<const double> weights, std::span<const int32_t> item_class,
            int64_t num_packs, uint64_t, std::span<int32_t> pack_of_item,
            std::span<int32_t> rank_in_pack) override {
    sort_descending(weights, order_);
    assign_snake(order_, num_packs, pack_of_item);
    for (size_t i = 0; i < order_.size(); ++i) {
      rank_in_pack[order_[i]] = static_cast<int32_t>(static_cast<int64_t>(i) / num_packs);
    }
    separate(weights, item_class, num_packs, pack_of_item, rank_in_pack);
  }

 private:
  std::vector<int32_t> order_;
};

}  // namespace

namespace detail {
std::unique_ptr<Packer> make_multistart_packer(const PackingOptions& options);
}  // namespace detail

std::unique_ptr<Packer> make_packer(const PackingOptions& options) {
  if (options.num_starts < 1) {
    detail::throw_invalid("make_packer: num_starts = ", options.num_starts, " must be at least 1");
  }
  if (options.num_refined < 0) {
    detail::throw_invalid("make_packer: num_refined = ", options.num_refined, " must be >= 0");
  }
  if (options.max_moves < 0) {
    detail::throw_invalid("make_packer: max_moves = ", options.max_moves, " must be >= 0");
  }
  switch (options.strategy) {
    case PackingStrategy::greedy: return std::make_unique<GreedyPacker>();
    case PackingStrategy::snake: return std::make_unique<SnakePacker>();
    case PackingStrategy::multistart: return detail::make_multistart_packer(options);
  }
  detail::throw_invalid("make_packer: strategy = ", static_cast<int>(options.strategy),
                        " is not a known strategy");
}

}  // namespace eplb
