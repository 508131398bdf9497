// Multistart search packer: several cheap starting packings, the best few refined by local
// search. See docs/algorithms.md#multistart.

#include <algorithm>
#include <numeric>
#include <vector>

#include "core/detail/bounds.h"
#include "core/detail/differencing.h"
#include "core/detail/greedy_pack.h"
#include "core/detail/radix_sort.h"
#include "core/detail/random.h"
#include "eplb/packing.h"

namespace eplb::detail {
namespace {

// Starts built before any refinement: differencing, greedy, layered LPT and snake.
constexpr int64_t kNumDeterministicStarts = 4;

class MultistartPacker final : public Packer {
 public:
  explicit MultistartPacker(const PackingOptions& options) : options_(options) {}

  using Packer::pack;
  void pack(std::span<const double> weights, std::span<const int32_t> item_class,
            int64_t num_packs, uint64_t stream, std::span<int32_t> pack_of_item,
            std::span<int32_t> rank_in_pack) override;

 private:
  struct Start {
    double max_load;
    int64_t index;
  };

  // LPT over `order`: each item into the lightest pack that is not full (lowest index on ties).
  // Returns the heaviest pack's load.
  double assign_lpt(std::span<const int32_t> order, std::span<const double> weights,
                    int64_t num_packs, std::span<int32_t> pack_of_item);
  // Layered LPT: the sorted items in rounds of m, round r's i-th heaviest item to the i-th
  // lightest pack. Returns the heaviest pack's load.
  double assign_layered(std::span<const double> weights, int64_t num_packs,
                        std::span<int32_t> pack_of_item);
  double assign_snake(std::span<const double> weights, int64_t num_packs,
                      std::span<int32_t> pack_of_item);
  // Whether an assignment puts two items of one class into one pack: items are bucketed by pack,
  // then each pack's classes are marked with the pack's index.
  bool has_duplicates(std::span<const int32_t> pack_of_item, std::span<const int32_t> item_class,
                      int64_t num_packs);
  // Fills start `index` into starts_[index] and returns its heaviest pack.
  double build_start(int64_t index, std::span<const double> weights, int64_t num_packs,
                     Random& random);

  PackingOptions options_;
  std::vector<SortKey<double>> sort_keys_;
  std::vector<SortKey<double>> sort_scratch_;
  std::vector<int32_t> sorted_;            // items by descending weight
  std::vector<double> sorted_weights_;
  std::vector<std::vector<int32_t>> starts_;  // pack_of_item of each start
  std::vector<int32_t> order_;
  std::vector<double> noisy_;
  std::vector<double> load_;
  std::vector<int32_t> size_;
  std::vector<int32_t> packs_by_load_;
  std::vector<Start> ranking_;
  DifferencingScratch differencing_;
  std::vector<int32_t> rank_scratch_;
  std::vector<int32_t> bucket_start_, by_pack_, pack_of_class_;
  PackState work_, best_;  // the start being refined and the best packing so far
};

bool MultistartPacker::has_duplicates(std::span<const int32_t> pack_of_item,
                                      std::span<const int32_t> item_class, int64_t num_packs) {
  const int32_t num_classes = *std::max_element(item_class.begin(), item_class.end()) + 1;
  bucket_start_.assign(num_packs + 1, 0);
  for (const int32_t pack : pack_of_item) ++bucket_start_[pack + 1];
  for (int64_t p = 0; p < num_packs; ++p) bucket_start_[p + 1] += bucket_start_[p];
  by_pack_.resize(pack_of_item.size());
  for (size_t i = 0; i < pack_of_item.size(); ++i) {
    by_pack_[bucket_start_[pack_of_item[i]]++] = static_cast<int32_t>(i);
  }
  // bucket_start_[p] now ends pack p's bucket, that is, starts pack p + 1's.
  pack_of_class_.assign(num_classes, -1);
  for (int64_t p = 0, j = 0; p < num_packs; ++p) {
    for (; j < bucket_start_[p]; ++j) {
      int32_t& seen = pack_of_class_[item_class[by_pack_[j]]];
      if (seen == p) return true;
      seen = static_cast<int32_t>(p);
    }
  }
  return false;
}

double MultistartPacker::assign_lpt(std::span<const int32_t> order, std::span<const double> weights,
                                    int64_t num_packs, std::span<int32_t> pack_of_item) {
  const int64_t per_pack = static_cast<int64_t>(weights.size()) / num_packs;
  load_.assign(num_packs, 0.0);
  size_.assign(num_packs, 0);
  for (const int32_t item : order) {
    int64_t best = -1;
    for (int64_t p = 0; p < num_packs; ++p) {
      if (size_[p] < per_pack && (best < 0 || load_[p] < load_[best])) best = p;
    }
    pack_of_item[item] = static_cast<int32_t>(best);
    ++size_[best];
    load_[best] += weights[item];
  }
  return *std::max_element(load_.begin(), load_.end());
}

double MultistartPacker::assign_layered(std::span<const double> weights, int64_t num_packs,
                                        std::span<int32_t> pack_of_item) {
  load_.assign(num_packs, 0.0);
  packs_by_load_.resize(num_packs);
  std::iota(packs_by_load_.begin(), packs_by_load_.end(), 0);
  for (size_t round_start = 0; round_start < sorted_.size(); round_start += num_packs) {
    std::sort(packs_by_load_.begin(), packs_by_load_.end(), [&](int32_t a, int32_t b) {
      return load_[a] < load_[b] || (load_[a] == load_[b] && a < b);
    });
    for (int64_t i = 0; i < num_packs; ++i) {
      const int32_t item = sorted_[round_start + i];
      pack_of_item[item] = packs_by_load_[i];
      load_[packs_by_load_[i]] += weights[item];
    }
  }
  return *std::max_element(load_.begin(), load_.end());
}

double MultistartPacker::assign_snake(std::span<const double> weights, int64_t num_packs,
                                      std::span<int32_t> pack_of_item) {
  load_.assign(num_packs, 0.0);
  for (size_t i = 0; i < sorted_.size(); ++i) {
    const int64_t round = static_cast<int64_t>(i) / num_packs;
    const int64_t position = static_cast<int64_t>(i) % num_packs;
    const int64_t pack = round % 2 == 0 ? position : num_packs - 1 - position;
    pack_of_item[sorted_[i]] = static_cast<int32_t>(pack);
    load_[pack] += weights[sorted_[i]];
  }
  return *std::max_element(load_.begin(), load_.end());
}

double MultistartPacker::build_start(int64_t index, std::span<const double> weights,
                                     int64_t num_packs, Random& random) {
  std::vector<int32_t>& assignment = starts_[index];
  assignment.resize(weights.size());
  switch (index) {
    case 0: return assign_differencing(weights, sorted_, num_packs, assignment, differencing_);
    case 1: {
      // DeepSeek's greedy itself, so that the search never ends worse than the baseline packer.
      // Over the items already sorted: equal weights may come in another order than in
      // greedy_pack(), which leaves the same pack loads.
      rank_scratch_.resize(weights.size());
      greedy_pack_sorted<double>(sort_keys_, num_packs, assignment, rank_scratch_);
      load_.assign(num_packs, 0.0);
      for (size_t i = 0; i < weights.size(); ++i) load_[assignment[i]] += weights[i];
      return *std::max_element(load_.begin(), load_.end());
    }
    case 2: return assign_layered(weights, num_packs, assignment);
    case 3: return assign_snake(weights, num_packs, assignment);
    default: break;
  }
  order_ = sorted_;
  if (index % 2 == 1) {
    // A random order, then LPT: explores packings far from the sorted ones.
    for (size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[random.below(i)]);
  } else {
    // LPT on weights perturbed by U[0.8, 1.2]: close to LPT, but breaks its ties and near-ties.
    noisy_.resize(weights.size());
    for (size_t i = 0; i < weights.size(); ++i) noisy_[i] = weights[i] * (0.8 + 0.4 * random.uniform());
    std::sort(order_.begin(), order_.end(), [&](int32_t a, int32_t b) {
      return noisy_[a] > noisy_[b] || (noisy_[a] == noisy_[b] && a < b);
    });
  }
  return assign_lpt(order_, weights, num_packs, assignment);
}

void MultistartPacker::pack(std::span<const double> weights, std::span<const int32_t> item_class,
                            int64_t num_packs, uint64_t stream, std::span<int32_t> pack_of_item,
                            std::span<int32_t> rank_in_pack) {
  const auto num_items = static_cast<int64_t>(weights.size());
  const int64_t per_pack = num_items / num_packs;
  if (per_pack == 1 || num_packs == 1) {
    // Every packing is optimal: one item per pack, or one pack for all.
    for (int64_t i = 0; i < num_items; ++i) {
      pack_of_item[i] = static_cast<int32_t>(per_pack == 1 ? i : 0);
      rank_in_pack[i] = static_cast<int32_t>(per_pack == 1 ? 0 : i);
    }
    return;
  }
  rank_scratch_.resize(num_items);
  // Sorting (weight, item) pairs reads no weight indirectly: the order is the same as sorting
  // items by descending weight, lower item first.
  sort_keys_.resize(num_items);
  for (int64_t i = 0; i < num_items; ++i) sort_keys_[i] = {weights[i], static_cast<int32_t>(i)};
  sort_by_descending_value(sort_keys_, sort_scratch_);
  sorted_.resize(num_items);
  sorted_weights_.resize(num_items);
  for (int64_t i = 0; i < num_items; ++i) {
    sorted_[i] = sort_keys_[i].item;
    sorted_weights_[i] = sort_keys_[i].value;
  }
  const double bound = packing_lower_bound_sorted(sorted_weights_, num_packs);
  const double target = bound * (1 + options_.tolerance);

  // Refine the differencing start first: it usually reaches the target alone. Only then pay for
  // the other starts (DeepSeek's greedy first), refining the best of those not yet refined,
  // within num_refined; an unrefined start that beats the result is kept as it is.
  Random random(mix_seed(options_.seed, stream));
  const int64_t num_starts = std::max<int64_t>(options_.num_starts, kNumDeterministicStarts);
  starts_.resize(num_starts);
  ranking_.clear();
  bool have_best = false;
  const auto reached = [&] { return have_best && best_.max_load() <= target; };
  int64_t num_refined = 0;
  int64_t work_start = -1;  // the start that work_ holds, if any
  const auto refine_best_starts = [&] {
    std::sort(ranking_.begin(), ranking_.end(), [](const Start& a, const Start& b) {
      return a.max_load < b.max_load || (a.max_load == b.max_load && a.index < b.index);
    });
    for (Start& start : ranking_) {
      if (num_refined >= std::max<int64_t>(options_.num_refined, 1) || reached()) return;
      if (start.index < 0) continue;
      if (start.index != work_start) work_.assign(weights, num_packs, starts_[start.index], item_class, sorted_);
      work_start = -1;
      if (options_.num_refined > 0) {
        refine(work_, options_.moves, options_.max_moves, options_.two_for_two_max_items, target);
      }
      ++num_refined;
      start.index = -1;  // refined
      if (!have_best || work_.max_load() < best_.max_load()) {
        std::swap(best_, work_);
        have_best = true;
      }
    }
  };
  for (int64_t s = 0; s < num_starts; ++s) {
    double max_load = build_start(s, weights, num_packs, random);
    if (!item_class.empty() && has_duplicates(starts_[s], item_class, num_packs)) {
      // Starts ignore classes; separate them first, so that refinement (which keeps classes
      // apart) starts from a packing without duplicates.
      work_.assign(weights, num_packs, starts_[s], item_class, sorted_);
      separate_duplicates(work_);
      work_.write_assignment(starts_[s], rank_scratch_);
      work_start = s;
      max_load = work_.max_load();
    }
    ranking_.push_back({max_load, s});
    if (s == 0 || s + 1 == kNumDeterministicStarts || s + 1 == num_starts) refine_best_starts();
    if (reached()) break;
    // With the refinement budget spent, only the greedy start (the baseline) is still worth
    // building: to keep a raw start that beats the refined one.
    if (s >= 1 && num_refined >= std::max<int64_t>(options_.num_refined, 1)) break;
  }
  for (const Start& start : ranking_) {
    if (start.index >= 0 && start.max_load < best_.max_load()) {
      best_.assign(weights, num_packs, starts_[start.index], item_class, sorted_);
    }
  }
  best_.write_assignment(pack_of_item, rank_in_pack);
}

}  // namespace

std::unique_ptr<Packer> make_multistart_packer(const PackingOptions& options) {
  return std::make_unique<MultistartPacker>(options);
}

}  // namespace eplb::detail
