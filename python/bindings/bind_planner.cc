// The online planner and replay: eplb::Planner as _Planner, replay() as _replay.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include "bindings.h"
#include "eplb/error.h"
#include "eplb/io/replay.h"
#include "eplb/planner.h"
#include "eplb/replay.h"
#include "eplb/schedule.h"

namespace eplb::python {
namespace {

using TraceArray = nb::ndarray<const double, nb::ndim<3>, nb::c_contig, nb::device::cpu>;

// The options every planner shares.
ReplayOptions base_options(int64_t interval, double tolerance, int64_t effort, uint64_t seed,
                           int64_t threads, std::string_view packer, int64_t cross_node_replicas,
                           int64_t repair_rounds, std::vector<bool> active_gpus) {
  ReplayOptions base{.interval = interval, .tolerance = tolerance, .move_budget = -1};
  base.planner.repair_rounds = repair_rounds;
  RebalanceOptions& rebalance = base.planner.rebalance;
  rebalance.effort = effort;
  rebalance.seed = seed;
  rebalance.threads = threads;
  rebalance.packer = parse_packing_strategy(packer);
  rebalance.cross_node_replicas = cross_node_replicas;
  rebalance.active_gpus = std::move(active_gpus);
  return base;
}

// What eplb.Planner is made with: its topology and options, checked before any step is seen.
struct PlannerSetup {
  Topology topology;
  PlannerOptions options;
};

PlannerSetup make_setup(int64_t num_replicas, int64_t num_groups, int64_t num_nodes,
                        int64_t num_gpus, std::string_view policy, std::string_view history,
                        int64_t interval, double swing_weight, int64_t effort, uint64_t seed,
                        int64_t threads, std::string_view packer, int64_t cross_node_replicas,
                        int64_t repair_rounds, std::vector<bool> active_gpus) {
  PlannerSetup setup{.topology = Topology(num_replicas, num_groups, num_nodes, num_gpus),
                     .options = base_options(interval, -1, effort, seed, threads, packer,
                                             cross_node_replicas, repair_rounds,
                                             std::move(active_gpus))
                                    .planner};
  // Not parse_replay_planner: a replay's shared options drop what a policy cannot take
  // (deepseek and active_gpus), where a Planner refuses it.
  PlannerOptions& options = setup.options;
  options.rebalance.policy = parse_policy(policy);
  options.history = history.empty() ? default_history(options.rebalance.policy, interval)
                                    : parse_history(history, interval);
  if (swing_weight >= 0) options.history.swing_weight = swing_weight;
  check_planner_options(setup.topology, options);
  setup.options.rebalance.should_stop = SignalPoll();
  return setup;
}

Planner make_planner(int64_t num_layers, int64_t num_experts, const PlannerSetup& setup) {
  return Planner(setup.topology, num_layers, num_experts, setup.options);
}

void observe(Planner& planner, const InputArray& loads) {
  const LoadMatrix matrix = to_load_matrix(loads, "Planner.observe", "step_loads");
  nb::gil_scoped_release release;
  planner.observe(matrix);
}

NumpyArray<double> loads_to_numpy(Loads&& loads) {
  return to_numpy(std::move(loads.values),
                  {static_cast<size_t>(loads.num_layers), static_cast<size_t>(loads.num_experts)});
}

PlanArrays plan(const Planner& planner) {
  return to_numpy(without_gil(planner.options().rebalance.should_stop,
                              [&] { return planner.plan(); }));
}

// A migration's moves as [num_moves, 5]: layer, slot, old_expert, new_expert, source_slot.
NumpyArray<int64_t> moves_to_numpy(const Migration& migration) {
  std::vector<int64_t> moves;
  moves.reserve(migration.moves.size() * 5);
  for (const SlotMove& move : migration.moves) {
    moves.insert(moves.end(),
                 {move.layer, move.slot, move.old_expert, move.new_expert, move.source_slot});
  }
  return to_numpy(std::move(moves), {migration.moves.size(), 5});
}

// One MigrationChunk: (layers, moves [num_moves, 5], cross-node copies, balancedness after).
using ChunkTuple = std::tuple<NumpyArray<int64_t>, NumpyArray<int64_t>, int64_t, double>;

// (phy2log, log2phy, logcnt, moves [num_moves, 5], cross-node copies, repaired layers, skipped,
// balancedness before and after, chunks).
std::tuple<NumpyArray<int64_t>, NumpyArray<int64_t>, NumpyArray<int64_t>, NumpyArray<int64_t>,
           int64_t, int64_t, bool, double, double, std::vector<ChunkTuple>>
replan(const Planner& planner, const IndexArray& phy2log, double tolerance, double move_budget,
       double min_gain, int64_t layers_per_chunk) {
  check_ndim(phy2log, 2, "Planner.replan", "phy2log");
  Replan result = without_gil(planner.options().rebalance.should_stop, [&] {
    const Plan current = plan_from_phy2log(
        to_vector(phy2log), static_cast<int64_t>(phy2log.shape(0)),
        static_cast<int64_t>(phy2log.shape(1)), planner.history().num_experts);
    return planner.replan(current, ReplanOptions{.tolerance = tolerance,
                                                 .move_budget = move_budget,
                                                 .min_gain = min_gain,
                                                 .layers_per_chunk = layers_per_chunk});
  });
  std::vector<ChunkTuple> chunks;
  for (MigrationChunk& chunk : result.chunks) {
    const size_t num_layers = chunk.layers.size();
    chunks.emplace_back(to_numpy(std::move(chunk.layers), {num_layers}),
                        moves_to_numpy(chunk.migration),
                        chunk.migration.cross_node_copies(planner.topology()),
                        chunk.balancedness_after);
  }
  const int64_t cross_node = result.migration.cross_node_copies(planner.topology());
  auto [new_phy2log, log2phy, logcnt] = to_numpy(std::move(result.plan));
  return {std::move(new_phy2log), std::move(log2phy), std::move(logcnt),
          moves_to_numpy(result.migration), cross_node, result.repaired_layers, result.skipped,
          result.balancedness_before, result.balancedness_after, std::move(chunks)};
}

// Migration::schedule of `moves` [num_moves, 5] (as replan returns them) from `phy2log`:
// (copies [num_copies, 7] as round (-1 for a copy within a GPU), layer, expert, source slot,
// source GPU, target slot, target GPU; sent [num_gpus]; received [num_gpus]; cross-node copies;
// rounds).
std::tuple<NumpyArray<int64_t>, NumpyArray<int64_t>, NumpyArray<int64_t>, int64_t, int64_t>
schedule(const IndexArray& moves_array, const IndexArray& phy2log, int64_t num_replicas,
         int64_t num_groups, int64_t num_nodes, int64_t num_gpus, int64_t num_experts,
         bool by_layer) {
  check_ndim(moves_array, 2, "Migration.schedule", "moves");
  check_ndim(phy2log, 2, "Migration.schedule", "current");
  if (moves_array.shape(1) != 5) {
    throw InvalidArgument("Migration.schedule: moves must have 5 columns, not " +
                          std::to_string(moves_array.shape(1)));
  }
  TransferSchedule result;
  {
    nb::gil_scoped_release release;
    const Topology topology(num_replicas, num_groups, num_nodes, num_gpus);
    const Plan current = plan_from_phy2log(
        to_vector(phy2log), static_cast<int64_t>(phy2log.shape(0)),
        static_cast<int64_t>(phy2log.shape(1)), num_experts);
    Migration migration;
    const std::vector<int64_t> values = to_vector(moves_array);
    for (size_t row = 0; row < moves_array.shape(0); ++row) {
      const int64_t* move = values.data() + row * 5;
      migration.moves.push_back({.layer = move[0], .slot = move[1], .old_expert = move[2],
                                 .new_expert = move[3], .source_slot = move[4]});
    }
    result = migration.schedule(current, topology, {.by_layer = by_layer});
  }
  std::vector<int64_t> copies;
  const auto append = [&](int64_t round, const ExpertCopy& copy) {
    copies.insert(copies.end(), {round, copy.layer, copy.expert, copy.source_slot,
                                 copy.source_gpu, copy.target_slot, copy.target_gpu});
  };
  for (const ExpertCopy& copy : result.local_copies) append(-1, copy);
  for (size_t round = 0; round < result.rounds.size(); ++round) {
    for (const ExpertCopy& copy : result.rounds[round]) append(static_cast<int64_t>(round), copy);
  }
  const size_t num_copies = copies.size() / 7;
  const size_t gpus = result.sent.size();
  return {to_numpy(std::move(copies), {num_copies, 7}), to_numpy(std::move(result.sent), {gpus}),
          to_numpy(std::move(result.received), {gpus}), result.cross_node_copies,
          result.num_rounds()};
}

std::string run_replay(const TraceArray& trace_array, int64_t num_replicas, int64_t num_groups,
                       int64_t num_nodes, int64_t num_gpus, const std::vector<std::string>& specs,
                       int64_t interval, std::string_view history, double tolerance,
                       double move_budget, double min_gain, double swing_weight, int64_t effort,
                       uint64_t seed, int64_t threads, std::string_view packer,
                       int64_t cross_node_replicas,
                       int64_t repair_rounds, int64_t expert_bytes) {
  Trace trace{.num_steps = static_cast<int64_t>(trace_array.shape(0)),
              .num_layers = static_cast<int64_t>(trace_array.shape(1)),
              .num_experts = static_cast<int64_t>(trace_array.shape(2)),
              .values = std::vector<double>(trace_array.data(),
                                            trace_array.data() + trace_array.size())};
  ReplayOptions base = base_options(interval, tolerance, effort, seed, threads, packer,
                                    cross_node_replicas, repair_rounds, {});
  base.move_budget = move_budget;
  base.min_gain = min_gain;
  base.expert_bytes = expert_bytes;
  base.planner.rebalance.should_stop = SignalPoll();
  return without_gil(base.planner.rebalance.should_stop, [&] {
    // Every value is checked before the work, naming its step (replay() would not).
    for (int64_t step = 0; step < trace.num_steps; ++step) {
      try {
        static_cast<void>(trace.step(step));
      } catch (const InvalidArgument& error) {
        throw InvalidArgument(
            rename_loads(error.what(), "replay", "trace[" + std::to_string(step) + "]"));
      }
    }
    const Topology topology =
        replay_topology(trace.num_experts, num_replicas, num_groups, num_nodes, num_gpus);
    // Every planner is parsed and checked before the first replay starts.
    std::vector<ReplayPlanner> planners;
    for (const std::string& spec : specs) {
      planners.push_back(parse_replay_planner(spec, base, history, swing_weight));
      check_planner_options(topology, planners.back().options.planner);
    }
    std::vector<io::ReplayRun> runs;
    for (const ReplayPlanner& planner : planners) {
      runs.push_back({.name = planner.name,
                      .interval = interval,
                      .result = replay(trace, topology, planner.options)});
    }
    return io::replay_json(runs);
  });
}

}  // namespace

void bind_planner(nb::module_& m) {
  m.attr("DEFAULT_REPLAY_PLANNER") = std::string(kDefaultReplayPlanner);
  nb::class_<PlannerSetup>(m, "_PlannerSetup",
                           "The topology and options of an eplb.Planner, checked when made (the "
                           "shape comes with the first step).")
      .def(nb::new_(&make_setup), nb::arg("num_replicas"), nb::arg("num_groups"),
           nb::arg("num_nodes"), nb::arg("num_gpus"), nb::arg("policy"), nb::arg("history"),
           nb::arg("interval"), nb::arg("swing_weight"), nb::arg("effort"), nb::arg("seed"),
           nb::arg("threads"), nb::arg("packer"), nb::arg("cross_node_replicas"),
           nb::arg("repair_rounds"), nb::arg("active_gpus"));
  nb::class_<Planner>(m, "_Planner",
                      "eplb::Planner: observes step loads, plans from its history and re-plans "
                      "moving few slots (wrapped by eplb.Planner). plan() and replan() release "
                      "the GIL; Ctrl-C stops them between layers (KeyboardInterrupt).")
      .def(nb::new_(&make_planner), nb::arg("num_layers"), nb::arg("num_experts"),
           nb::arg("setup"))
      .def("observe", &observe, nb::arg("step_loads").noconvert(),
           "Adds one step's loads `[num_layers, num_experts]`.")
      .def("reset", &Planner::reset, "Forgets every observed step.")
      .def_prop_ro("num_observed_steps", &Planner::num_observed_steps)
      .def("history", [](const Planner& planner) { return loads_to_numpy(planner.history()); },
           "The history: the window sum, or the decayed sum.")
      .def_prop_ro("chosen_history",
                   [](const Planner& planner) { return std::string(planner.chosen_history()); },
                   "The candidate a self-tuning history plans on now; empty for a fixed one.")
      .def_prop_ro("history_candidates",
                   [](const Planner& planner) { return planner.options().history.candidates; },
                   "The self-tuning history's candidates; empty for a fixed history.")
      .def_prop_ro("history_scores", &Planner::history_scores,
                   "Each candidate's decayed sum of forecast errors (lower is better).")
      .def("planning_loads",
           [](const Planner& planner) { return loads_to_numpy(planner.planning_loads()); },
           "The history weighted by each expert's swing: what plans are made on.")
      .def("plan", &plan, "A fresh plan of planning_loads().")
      .def("replan", &replan, nb::arg("phy2log").noconvert(), nb::arg("tolerance"),
           nb::arg("move_budget"), nb::arg("min_gain"), nb::arg("layers_per_chunk"),
           "A plan close to `phy2log`: within `tolerance` of a fresh plan, or (move_budget >= 0) "
           "moving at most that fraction of the slots; kept when it gains under `min_gain`; "
           "with layers_per_chunk > 0, the moves also in layer chunks, the most balance first.");
  m.def("_schedule", &schedule, nb::arg("moves").noconvert(), nb::arg("current").noconvert(),
        nb::arg("num_replicas"), nb::arg("num_groups"), nb::arg("num_nodes"),
        nb::arg("num_gpus"), nb::arg("num_experts"), nb::arg("by_layer"),
        "Migration::schedule of `moves` [num_moves, 5] from the plan `current`: (copies "
        "[num_copies, 7] as round (-1: within a GPU), layer, expert, source slot, source GPU, "
        "target slot, target GPU; sent; received; cross-node copies; rounds).");
  m.def("_replay", &run_replay, nb::arg("trace").noconvert(), nb::arg("num_replicas"),
        nb::arg("num_groups"), nb::arg("num_nodes"), nb::arg("num_gpus"), nb::arg("planners"),
        nb::arg("interval"), nb::arg("history"), nb::arg("tolerance"), nb::arg("move_budget"),
        nb::arg("min_gain"), nb::arg("swing_weight"),
        nb::arg("effort"), nb::arg("seed"), nb::arg("threads"), nb::arg("packer"),
        nb::arg("cross_node_replicas"), nb::arg("repair_rounds"), nb::arg("expert_bytes") = 0,
        "Replays `trace` `[num_steps, num_layers, num_experts]` (C-contiguous float64) with each "
        "planner and returns the JSON report of `eplb replay --json`. Releases the GIL; Ctrl-C "
        "stops it between windows and layers (KeyboardInterrupt).");
}

}  // namespace eplb::python
