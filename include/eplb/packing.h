#pragma once
// Packing items into packs of equal cardinality: the strategies and the refinement moves.

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace eplb {

/// How a Packer builds its packing.
enum class PackingStrategy {
  /// DeepSeek's greedy: items by descending weight, each into the lightest pack not yet full.
  greedy,
  /// Items by descending weight dealt in zig-zag rounds: packs 0..m-1, then m-1..0, and so on.
  snake,
  /// Many starts (greedy, layered LPT, snake, random orders, greedy on noisy weights), the best
  /// `num_refined` refined with the enabled moves; returns the best packing found.
  multistart,
};

/// Returns the lower-case name of `strategy`.
std::string_view to_string(PackingStrategy strategy);
/// Returns the strategy named `name`; throws InvalidArgument for an unknown name.
PackingStrategy parse_packing_strategy(std::string_view name);

/// Refinement moves (bit flags); each lowers the heaviest pack or the spread of pack loads and
/// never breaks the items-per-pack rule.
enum Move : uint32_t {
  /// Best 1-for-1 swap between the heaviest and the lightest pack.
  kMoveHeaviestLightest = 1u << 0,
  /// Best 1-for-1 swap between the heaviest pack and any other pack.
  kMoveHeaviestAny = 1u << 1,
  /// The 1-for-1 swap, over all pairs of packs, that most lowers the sum of squared pack loads.
  kMoveAllPairs = 1u << 2,
  /// Best 2-for-2 swap between the heaviest and the lightest pack.
  kMoveTwoForTwo = 1u << 3,
};
inline constexpr uint32_t kAllMoves =
    kMoveHeaviestLightest | kMoveHeaviestAny | kMoveAllPairs | kMoveTwoForTwo;

/// Options of a Packer.
struct PackingOptions {
  PackingStrategy strategy = PackingStrategy::multistart;
  /// Starting packings tried by `multistart` (at least the deterministic ones are always tried).
  int64_t num_starts = 8;
  /// Best starts that `multistart` refines.
  int64_t num_refined = 2;
  /// Moves used in refinement (`multistart` only).
  uint32_t moves = kAllMoves;
  /// Cap on refinement moves applied per refined start.
  int64_t max_moves = 256;
  /// Largest pack size for which 2-for-2 swaps are tried (their cost grows as k^4).
  int64_t two_for_two_max_items = 16;
  /// Search stops once the heaviest pack is within this relative distance of the lower bound
  /// (0: only when it reaches the bound, i.e. is provably optimal).
  double tolerance = 1e-4;
  /// Seed of the random starts.
  uint64_t seed = 0;
};

/// A packing of `num_packs * items_per_pack` items, pack `p` holding entries
/// `[p * items_per_pack, (p + 1) * items_per_pack)` of `item`, `weight` and `item_class`, kept
/// sorted by descending weight (lower item first among equals) inside each pack. When classes are
/// given (the expert of each replica), the moves never put two items of one class into one pack.
/// Change it only through the member functions and the moves, which keep `by_load` up to date.
struct PackState {
  int64_t num_packs = 0;
  int64_t items_per_pack = 0;
  std::vector<int32_t> item;
  std::vector<double> weight;
  /// Class of each entry, or empty for no class constraint.
  std::vector<int32_t> item_class;
  std::vector<double> load;
  /// Packs by ascending load, lower index first among equals, and each pack's position in it:
  /// the moves find the heaviest pack and their partners here instead of sorting loads.
  std::vector<int32_t> by_load, position;
  /// Per class, whether it has more than one item: only those can clash in a pack.
  std::vector<uint8_t> shared_class;
  /// Scratch space of move_two_for_two().
  std::vector<std::pair<double, int64_t>> pair_scratch;

  /// Builds the state of `weights` packed as `pack_of_item` says (each pack exactly n/m items);
  /// `item_class` is empty or holds one class per item.
  static PackState from_assignment(std::span<const double> weights, int64_t num_packs,
                                   std::span<const int32_t> pack_of_item,
                                   std::span<const int32_t> item_class = {});
  /// from_assignment() into this state, reusing its memory. `descending`, when given, lists the
  /// items by descending weight (lower item first among equals): packs then fill in order and
  /// need no sorting.
  void assign(std::span<const double> weights, int64_t num_packs,
              std::span<const int32_t> pack_of_item, std::span<const int32_t> item_class = {},
              std::span<const int32_t> descending = {});
  /// Returns the index of the heaviest pack (lowest index on ties).
  int64_t heaviest() const;
  /// Returns the index of the lightest pack (lowest index on ties).
  int64_t lightest() const { return by_load.front(); }
  double max_load() const { return load[by_load.back()]; }
  /// Swaps entries `a` and `b` (in different packs), updates both loads and re-sorts both packs.
  void swap_entries(int64_t a, int64_t b);
  /// Moves `delta` of load from pack `from` to pack `to` (their entries already changed).
  void shift_load(int64_t from, int64_t to, double delta);
  /// Restores the descending order inside `pack`.
  void sort_pack(int64_t pack);
  /// Returns true when `pack` holds an entry of class `item_class` other than entry `except`.
  bool pack_has_class(int64_t pack, int32_t item_class, int64_t except) const;
  /// Returns true when swapping entries `a` and `b` keeps every class at most once per pack
  /// (always true without classes).
  bool swap_allowed(int64_t a, int64_t b) const {
    if (item_class.empty() || item_class[a] == item_class[b]) return true;
    return !(shared_class[item_class[a]] && pack_has_class(b / items_per_pack, item_class[a], b)) &&
           !(shared_class[item_class[b]] && pack_has_class(a / items_per_pack, item_class[b], a));
  }
  /// Returns true when some pack holds two entries of one class.
  bool has_duplicates() const;
  /// Writes each item's pack and its position in the pack.
  void write_assignment(std::span<int32_t> pack_of_item, std::span<int32_t> rank_in_pack) const;

 private:
  // Moves `pack` to its place in `by_load` after its load changed.
  void reposition(int64_t pack);
};

/// Applies the best 1-for-1 swap between the heaviest and the lightest pack if it lowers the
/// larger of the two; returns whether it did.
bool move_heaviest_lightest(PackState& state);
/// Applies the best 1-for-1 swap between the heaviest pack and any other pack (the one leaving
/// the smaller maximum of the two), if it lowers the heaviest; returns whether it did.
bool move_heaviest_any(PackState& state);
/// Applies the 1-for-1 swap over all pairs of packs that most lowers the sum of squared loads
/// without raising the heaviest pack; returns whether it did.
bool move_all_pairs(PackState& state);
/// Applies the best 2-for-2 swap between the heaviest and the lightest pack if it lowers the
/// larger of the two; does nothing when packs hold more than `max_items_per_pack` items.
bool move_two_for_two(PackState& state, int64_t max_items_per_pack);
/// Moves items until no pack holds two items of one class, each time with the swap that leaves
/// the lighter maximum of the two packs involved; returns false when a duplicate cannot be
/// removed (a class with more items than packs). Does nothing without classes.
bool separate_duplicates(PackState& state);
/// Applies the enabled `moves` until none helps, `max_moves` were applied or the heaviest pack
/// reaches `lower_bound`. Never raises the heaviest pack.
void refine(PackState& state, uint32_t moves, int64_t max_moves, int64_t two_for_two_max_items,
            double lower_bound);

/// Packs items into packs of equal cardinality, minimizing the heaviest pack. Holds scratch
/// memory, so one Packer per thread. Deterministic for given options and inputs.
class Packer {
 public:
  virtual ~Packer() = default;
  /// Packs `weights` [n] into `num_packs` packs of exactly n / num_packs items; writes each item's
  /// pack and rank in the pack. Requires n to be a positive multiple of `num_packs` (checked by
  /// the caller). `item_class` is empty or gives each item a class (the expert of a replica):
  /// every strategy then ends with separate_duplicates(), and multistart's moves keep classes
  /// apart. `stream` varies the random starts between calls with the same seed.
  virtual void pack(std::span<const double> weights, std::span<const int32_t> item_class,
                    int64_t num_packs, uint64_t stream, std::span<int32_t> pack_of_item,
                    std::span<int32_t> rank_in_pack) = 0;
  /// Packs without class constraints.
  void pack(std::span<const double> weights, int64_t num_packs, uint64_t stream,
            std::span<int32_t> pack_of_item, std::span<int32_t> rank_in_pack) {
    pack(weights, {}, num_packs, stream, pack_of_item, rank_in_pack);
  }
};

/// Returns a Packer for `options.strategy`. Throws InvalidArgument for non-positive counts.
std::unique_ptr<Packer> make_packer(const PackingOptions& options);

}  // namespace eplb
