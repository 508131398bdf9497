// Migration::schedule(): sources for a re-plan's copies, then rounds by bipartite edge colouring.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <vector>

#include "core/detail/check.h"
#include "eplb/migration.h"
#include "eplb/schedule.h"

namespace eplb {
namespace {

// A copy still to place: its move, and the GPUs it may come from (holders of the expert in the
// old plan on the target's node when there is one, else all holders; increasing GPU order).
struct PendingCopy {
  int64_t move = 0;
  std::vector<int64_t> candidates;
  int64_t source_gpu = -1;
};

void check_moves(const Migration& migration, const Plan& current, const Topology& topology) {
  if (current.num_replicas != topology.num_replicas() ||
      static_cast<int64_t>(current.phy2log.size()) != current.num_layers * current.num_replicas) {
    detail::throw_invalid("Migration::schedule: current has ", current.num_replicas,
                          " slots per layer but the topology has ", topology.num_replicas(),
                          " (current must be the plan the moves start from)");
  }
  for (size_t idx = 0; idx < migration.moves.size(); ++idx) {
    const SlotMove& move = migration.moves[idx];
    if (move.layer < 0 || move.layer >= current.num_layers || move.slot < 0 ||
        move.slot >= current.num_replicas) {
      detail::throw_invalid("Migration::schedule: moves[", idx, "] (layer ", move.layer,
                            ", slot ", move.slot, ") is outside current [", current.num_layers,
                            " layers, ", current.num_replicas, " slots]");
    }
    const int64_t held = current.phy2log_row(move.layer)[move.slot];
    if (held != move.old_expert) {
      detail::throw_invalid("Migration::schedule: moves[", idx, "] expects expert ",
                            move.old_expert, " in layer ", move.layer, " slot ", move.slot,
                            " but current has ", held);
    }
    if (move.new_expert < -1 || move.new_expert >= current.num_experts) {
      detail::throw_invalid("Migration::schedule: moves[", idx, "] new_expert = ",
                            move.new_expert, " is not an expert of current (",
                            current.num_experts, " experts)");
    }
  }
}

// The lowest slot of `gpu` holding `expert` in `row`, or -1.
int64_t slot_on_gpu(std::span<const int64_t> row, int64_t gpu, int64_t expert,
                    int64_t slots_per_gpu) {
  for (int64_t slot = gpu * slots_per_gpu; slot < (gpu + 1) * slots_per_gpu; ++slot) {
    if (row[slot] == expert) return slot;
  }
  return -1;
}

// The candidate with the fewest sends so far (ties: the lowest GPU).
int64_t least_sending(std::span<const int64_t> candidates, std::span<const int64_t> sent) {
  int64_t best = candidates.front();
  for (int64_t gpu : candidates) {
    if (sent[gpu] < sent[best]) best = gpu;
  }
  return best;
}

// Moves copies off the busiest senders to candidates with at least two fewer sends, while the
// senders, not the receivers, set the bound. Each step lowers the sum of squared sends, so it
// ends.
void level_sends(std::span<PendingCopy> pending, std::vector<int64_t>& sent,
                 std::span<const int64_t> received) {
  const int64_t max_received = *std::max_element(received.begin(), received.end());
  bool changed = true;
  while (changed) {
    changed = false;
    const int64_t max_sent = *std::max_element(sent.begin(), sent.end());
    if (max_sent <= max_received) return;
    for (PendingCopy& copy : pending) {
      if (sent[copy.source_gpu] != max_sent) continue;
      const int64_t other = least_sending(copy.candidates, sent);
      if (sent[other] + 2 > max_sent) continue;
      --sent[copy.source_gpu];
      ++sent[other];
      copy.source_gpu = other;
      changed = true;
    }
  }
}

// Colours the edges (sender, receiver) of a bipartite multigraph with `colours` colours, the
// largest degree, so that no two edges at a vertex share one: each edge takes the lowest colour
// free at its sender, after flipping an alternating path at its receiver when that colour is
// taken there (Konig's theorem: the path never reaches the sender). O(edges x vertices).
std::vector<int64_t> colour_edges(std::span<const int64_t> senders,
                                  std::span<const int64_t> receivers, int64_t num_vertices,
                                  int64_t colours) {
  const auto index = [colours](int64_t vertex, int64_t colour) {
    return static_cast<size_t>(vertex * colours + colour);
  };
  // Edge at each (vertex, colour), senders then receivers (receiver v is vertex num_vertices + v).
  // int32 edges: a plan has at most kMaxPlanEntries (2^28) slots, so fewer copies than 2^31.
  std::vector<int32_t> edge_at(static_cast<size_t>(2 * num_vertices * colours), -1);
  std::vector<int64_t> colour_of(senders.size(), -1);
  const auto endpoints = [&](int64_t edge) {
    return std::pair{senders[edge], num_vertices + receivers[edge]};
  };
  const auto lowest_free = [&](int64_t vertex) {
    int64_t colour = 0;
    while (edge_at[index(vertex, colour)] >= 0) ++colour;
    return colour;
  };
  std::vector<int64_t> path;
  for (int64_t edge = 0; edge < static_cast<int64_t>(senders.size()); ++edge) {
    const auto [sender, receiver] = endpoints(edge);
    const int64_t free_at_sender = lowest_free(sender);
    if (edge_at[index(receiver, free_at_sender)] >= 0) {
      // Swap the colours of the path from the receiver alternating free_at_sender and a colour
      // free at the receiver; free_at_sender becomes free there.
      const int64_t free_at_receiver = lowest_free(receiver);
      path.clear();
      int64_t vertex = receiver;
      int64_t colour = free_at_sender;
      while (edge_at[index(vertex, colour)] >= 0) {
        const int64_t next = edge_at[index(vertex, colour)];
        path.push_back(next);
        const auto [from, to] = endpoints(next);
        vertex = vertex == from ? to : from;
        colour = colour == free_at_sender ? free_at_receiver : free_at_sender;
      }
      for (int64_t step : path) {
        const auto [from, to] = endpoints(step);
        edge_at[index(from, colour_of[step])] = -1;
        edge_at[index(to, colour_of[step])] = -1;
      }
      for (int64_t step : path) {
        const auto [from, to] = endpoints(step);
        colour_of[step] =
            colour_of[step] == free_at_sender ? free_at_receiver : free_at_sender;
        edge_at[index(from, colour_of[step])] = static_cast<int32_t>(step);
        edge_at[index(to, colour_of[step])] = static_cast<int32_t>(step);
      }
      EPLB_DCHECK(edge_at[index(sender, free_at_sender)] < 0);
    }
    colour_of[edge] = free_at_sender;
    edge_at[index(sender, free_at_sender)] = static_cast<int32_t>(edge);
    edge_at[index(receiver, free_at_sender)] = static_cast<int32_t>(edge);
  }
  return colour_of;
}

}  // namespace

int64_t TransferSchedule::network_copies() const {
  int64_t copies = 0;
  for (const auto& round : rounds) copies += static_cast<int64_t>(round.size());
  return copies;
}

int64_t TransferSchedule::max_copies_per_gpu() const {
  int64_t busiest = 0;
  for (size_t gpu = 0; gpu < sent.size(); ++gpu) {
    busiest = std::max({busiest, sent[gpu], received[gpu]});
  }
  return busiest;
}

namespace {

std::vector<int64_t> times_bytes(std::span<const int64_t> copies, int64_t expert_bytes,
                                 const char* function) {
  if (expert_bytes < 0) {
    detail::throw_invalid(function, ": expert_bytes = ", expert_bytes, " must be non-negative");
  }
  std::vector<int64_t> bytes(copies.size());
  for (size_t gpu = 0; gpu < copies.size(); ++gpu) {
    if (expert_bytes > 0 && copies[gpu] > std::numeric_limits<int64_t>::max() / expert_bytes) {
      detail::throw_invalid(function, ": expert_bytes = ", expert_bytes, " times ", copies[gpu],
                            " copies overflows 64-bit bytes");
    }
    bytes[gpu] = copies[gpu] * expert_bytes;
  }
  return bytes;
}

}  // namespace

std::vector<int64_t> TransferSchedule::sent_bytes(int64_t expert_bytes) const {
  return times_bytes(sent, expert_bytes, "TransferSchedule::sent_bytes");
}

std::vector<int64_t> TransferSchedule::received_bytes(int64_t expert_bytes) const {
  return times_bytes(received, expert_bytes, "TransferSchedule::received_bytes");
}

namespace {

// Chooses the sources of `group` (one layer, or all) and colours its copies into as many rounds
// as its busiest GPU's copies; appends those rounds to `result` and adds the group's counts.
void schedule_group(std::span<PendingCopy> group, const Migration& migration, const Plan& current,
                    const Topology& topology, TransferSchedule& result) {
  const int64_t num_gpus = topology.num_gpus();
  const int64_t slots_per_gpu = topology.slots_per_gpu();
  const int64_t gpus_per_node = topology.gpus_per_node();
  std::vector<int64_t> sent(static_cast<size_t>(num_gpus), 0);
  std::vector<int64_t> received(static_cast<size_t>(num_gpus), 0);
  std::vector<int64_t> receivers;
  for (const PendingCopy& copy : group) {
    receivers.push_back(topology.gpu_of_slot(migration.moves[copy.move].slot));
    ++received[receivers.back()];
  }
  // Sources: the copies with the fewest candidates choose first.
  std::vector<int64_t> by_choice(group.size());
  std::iota(by_choice.begin(), by_choice.end(), 0);
  std::stable_sort(by_choice.begin(), by_choice.end(), [&](int64_t first, int64_t second) {
    return group[first].candidates.size() < group[second].candidates.size();
  });
  for (int64_t idx : by_choice) {
    PendingCopy& copy = group[idx];
    copy.source_gpu = least_sending(copy.candidates, sent);
    ++sent[copy.source_gpu];
  }
  level_sends(group, sent, received);

  std::vector<int64_t> senders;
  for (const PendingCopy& copy : group) senders.push_back(copy.source_gpu);
  int64_t num_rounds = 0;
  for (int64_t gpu = 0; gpu < num_gpus; ++gpu) {
    num_rounds = std::max({num_rounds, sent[gpu], received[gpu]});
    result.sent[gpu] += sent[gpu];
    result.received[gpu] += received[gpu];
  }
  const std::vector<int64_t> round_of = colour_edges(senders, receivers, num_gpus, num_rounds);
  const size_t first_round = result.rounds.size();
  result.rounds.resize(first_round + static_cast<size_t>(num_rounds));
  result.min_rounds += num_rounds;
  for (size_t idx = 0; idx < group.size(); ++idx) {
    const SlotMove& move = migration.moves[group[idx].move];
    const auto row = current.phy2log_row(move.layer);
    const ExpertCopy copy{
        .layer = move.layer, .expert = move.new_expert,
        .source_slot = slot_on_gpu(row, senders[idx], move.new_expert, slots_per_gpu),
        .source_gpu = senders[idx], .target_slot = move.slot, .target_gpu = receivers[idx]};
    if (copy.source_gpu / gpus_per_node != copy.target_gpu / gpus_per_node) {
      ++result.cross_node_copies;
    }
    // Copies are in (layer, target slot) order, so each round is too.
    result.rounds[first_round + static_cast<size_t>(round_of[idx])].push_back(copy);
  }
}

}  // namespace

TransferSchedule Migration::schedule(const Plan& current, const Topology& topology,
                                     const ScheduleOptions& options) const {
  check_moves(*this, current, topology);
  const int64_t num_gpus = topology.num_gpus();
  const int64_t gpus_per_node = topology.gpus_per_node();
  TransferSchedule result;
  result.sent.assign(static_cast<size_t>(num_gpus), 0);
  result.received.assign(static_cast<size_t>(num_gpus), 0);

  // Moves in (layer, slot) order, whatever order they came in.
  std::vector<int64_t> order(moves.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int64_t first, int64_t second) {
    return std::pair{moves[first].layer, moves[first].slot} <
           std::pair{moves[second].layer, moves[second].slot};
  });
  for (size_t pos = 1; pos < order.size(); ++pos) {
    const SlotMove& first = moves[order[pos - 1]];
    const SlotMove& second = moves[order[pos]];
    if (first.layer == second.layer && first.slot == second.slot) {
      detail::throw_invalid("Migration::schedule: moves[", order[pos - 1], "] and moves[",
                            order[pos], "] both change layer ", first.layer, " slot ",
                            first.slot);
    }
  }
  // slots_of[expert]: the slots of the indexed layer of `current` holding it, in increasing
  // order (so in increasing GPU order).
  std::vector<std::vector<int64_t>> slots_of(static_cast<size_t>(current.num_experts));
  int64_t indexed_layer = -1;
  std::vector<PendingCopy> pending;
  for (int64_t idx : order) {
    const SlotMove& move = moves[idx];
    if (move.new_expert < 0) continue;
    const auto row = current.phy2log_row(move.layer);
    if (move.layer != indexed_layer) {
      for (auto& slots : slots_of) slots.clear();
      for (int64_t slot = 0; slot < current.num_replicas; ++slot) {
        if (row[slot] >= 0 && row[slot] < current.num_experts) slots_of[row[slot]].push_back(slot);
      }
      indexed_layer = move.layer;
    }
    const int64_t target_gpu = topology.gpu_of_slot(move.slot);
    PendingCopy copy{.move = idx, .candidates = {}};
    std::vector<int64_t> elsewhere;
    int64_t local = -1;
    for (int64_t slot : slots_of[move.new_expert]) {
      const int64_t gpu = topology.gpu_of_slot(slot);
      if (gpu == target_gpu && local < 0) local = slot;
      auto& list = gpu / gpus_per_node == target_gpu / gpus_per_node ? copy.candidates : elsewhere;
      if (list.empty() || list.back() != gpu) list.push_back(gpu);
    }
    if (local >= 0) {
      result.local_copies.push_back({.layer = move.layer, .expert = move.new_expert,
                                     .source_slot = local, .source_gpu = target_gpu,
                                     .target_slot = move.slot, .target_gpu = target_gpu});
      continue;
    }
    if (copy.candidates.empty()) copy.candidates = std::move(elsewhere);
    if (copy.candidates.empty()) {
      detail::throw_invalid("Migration::schedule: moves[", idx, "] needs expert ",
                            move.new_expert, " of layer ", move.layer,
                            " but no slot of current holds it");
    }
    pending.push_back(std::move(copy));
  }
  auto begin = pending.begin();
  while (begin != pending.end()) {
    auto end = pending.end();
    if (options.by_layer) {
      const int64_t layer = moves[begin->move].layer;
      end = std::find_if(begin, pending.end(), [&](const PendingCopy& copy) {
        return moves[copy.move].layer != layer;
      });
    }
    schedule_group(std::span(begin, end), *this, current, topology, result);
    begin = end;
  }
  EPLB_DCHECK(result.num_rounds() == result.min_rounds);
  EPLB_DCHECK(options.by_layer || result.min_rounds == result.max_copies_per_gpu());
  return result;
}

}  // namespace eplb
