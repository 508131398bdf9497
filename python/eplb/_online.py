"""The online planner and replay: eplb.Planner, eplb.Migration and eplb.replay. Each converts its
arguments, calls the compiled core and converts the result back; no planning logic lives here."""

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import _convert, _eplb


def _swing_weight(value: Optional[float], function: str) -> float:
    """Returns `value` for the core, -1.0 (keep the history's own) for None; raises
    InvalidArgument unless it is finite and non-negative."""
    return -1.0 if value is None else _convert.as_non_negative(value, function, "swing_weight")


def _search_options(function: str, *, effort: Any, seed: Any, threads: Any, packer: Any,
                    cross_node_replicas: Any, repair_rounds: Any) -> Dict[str, Any]:
    """The options Planner and replay share, converted for the core (keywords of its
    bindings); a value of the wrong type raises TypeError naming the option."""
    return dict(
        effort=_convert.as_int(effort, function, "effort"),
        seed=_convert.as_seed(seed, function),
        threads=_convert.as_int(threads, function, "threads"),
        packer=_convert.as_str(packer, function, "packer"),
        cross_node_replicas=_convert.as_int(cross_node_replicas, function,
                                            "cross_node_replicas"),
        repair_rounds=_convert.as_int(repair_rounds, function, "repair_rounds"),
    )


def _expert_bytes(value: Any, function: str) -> int:
    """Returns an expert size in bytes as an int; raises InvalidArgument unless it is a finite,
    whole, non-negative number (TypeError when it is not a number)."""
    if isinstance(value, (float, np.floating)):
        if not (np.isfinite(value) and value >= 0 and float(value).is_integer()):
            raise _eplb.InvalidArgument(
                f"{function}: expert_bytes = {value} must be a whole non-negative number")
        value = int(value)
    result = _convert.as_int(value, function, "expert_bytes")
    if result < 0:
        raise _eplb.InvalidArgument(f"{function}: expert_bytes = {result} must be non-negative")
    return result


@dataclass(frozen=True)
class TransferSchedule:
    """A re-plan's weight copies in rounds (Migration.schedule): in a round no GPU sends twice
    or receives twice. Sources refer to the old plan: receivers stage what they receive and
    overwrite their slots after the last round (docs/online.md, "Transfer schedule").

    Attributes:
        rounds: one int64 array `[copies, 6]` per round, one row per copy: layer, expert, source
            slot, source GPU, target slot, target GPU (by layer, then target slot).
        local_copies: the copies within one GPU (the expert is already there), same columns;
            they need no transfer and no round.
        sent, received: int64 `[num_gpus]`, the copies each GPU sends and receives.
        sent_bytes, received_bytes: the same in bytes when `expert_bytes` was given, else None.
        cross_node_copies: copies whose source is on another node than their target.
    """

    rounds: List[np.ndarray]
    local_copies: np.ndarray
    sent: np.ndarray
    received: np.ndarray
    sent_bytes: Optional[np.ndarray]
    received_bytes: Optional[np.ndarray]
    cross_node_copies: int

    @property
    def num_rounds(self) -> int:
        return len(self.rounds)

    @property
    def network_copies(self) -> int:
        """Copies between GPUs (all rounds)."""
        return int(sum(len(round_copies) for round_copies in self.rounds))

    @property
    def max_copies_per_gpu(self) -> int:
        """The busiest GPU's copies, max over GPUs of max(sent, received): the rounds, unless
        the schedule was made by layer."""
        if self.sent.size == 0:
            return 0
        return int(max(self.sent.max(), self.received.max()))


@dataclass(frozen=True)
class Migration:
    """The slots a re-plan changes.

    Attributes:
        moves: int64 array `[num_moves, 5]`, one row per changed slot: layer, slot, old expert,
            new expert, and source slot (a slot of the old plan holding the new expert, on the
            same GPU if possible, else the same node; copy every move's weights before
            overwriting any slot).
        cross_node_copies: moves whose weights come from another node.
        topology: (num_replicas, num_groups, num_nodes, num_gpus) of the plans, for schedule();
            Planner.replan fills it in.
        skipped: True when `min_gain` kept the current plan (no moves).
        balancedness_before, balancedness_after: GPU balancedness of the current and of the new
            plan on the planning loads (what the moves bought); None where not known.
        chunks: with Planner.replan(layers_per_chunk=N), the moves in chunks of at most N
            layers, the one that buys the most balance on the planning loads first (for
            servers that update a few layers per step); empty otherwise.
    """

    moves: np.ndarray
    cross_node_copies: int
    topology: Optional[Tuple[int, int, int, int]] = None
    skipped: bool = False
    balancedness_before: Optional[float] = None
    balancedness_after: Optional[float] = None
    chunks: Tuple["MigrationChunk", ...] = ()

    @property
    def moved_slots(self) -> int:
        """Slots whose expert changes."""
        return int(self.moves.shape[0])

    def bytes(self, expert_bytes: int) -> int:
        """Bytes copied when each expert's weights take `expert_bytes` bytes.

        Raises InvalidArgument (a ValueError) when `expert_bytes` is negative and TypeError
        when it is not an int.
        """
        size = _convert.as_int(expert_bytes, "Migration.bytes", "expert_bytes")
        if size < 0:
            raise _eplb.InvalidArgument(
                f"Migration.bytes: expert_bytes = {size} must be non-negative")
        return int(np.count_nonzero(self.moves[:, 3] >= 0)) * size

    def schedule(self, current: Any, *, expert_bytes: Any = None,
                 by_layer: bool = False) -> TransferSchedule:
        """Orders the copies that turn `current` (the plan the moves start from, phy2log
        `[num_layers, num_replicas]`) into the new plan into the fewest rounds in which each
        GPU sends at most one expert and receives at most one; see TransferSchedule.

        Each copy's source is a GPU holding the expert in `current`: the target's own GPU (a
        local copy), else one on the target's node, else any, the one sending least so far.
        The rounds equal the busiest GPU's copies; with `by_layer` no round mixes layers
        (for movers that move layer by layer) and each layer takes as many rounds as its
        busiest GPU's copies in it. `expert_bytes` (one expert's weights) adds the bytes each
        GPU sends and receives. Raises InvalidArgument naming `current` when it is not the
        plan the moves start from (another topology's slots, another expert in a moved slot)
        and naming `expert_bytes` when it is negative, NaN or fractional.
        """
        function = "Migration.schedule"
        if self.topology is None:
            raise _eplb.InvalidArgument(
                f"{function}: this Migration has no topology (build it with topology=...)")
        size = None if expert_bytes is None else _expert_bytes(expert_bytes, function)
        plan = _convert.as_index_array(current, function, "current")
        if plan.ndim != 2:
            raise _eplb.InvalidArgument(
                f"{function}: current.shape = {plan.shape} must be 2-D "
                "[num_layers, num_replicas]")
        moves = np.ascontiguousarray(self.moves, dtype=np.int64).reshape(-1, 5)
        # Expert ids only need to be told apart here: any count above the largest id serves.
        largest = max(int(plan.max(initial=0)), int(moves[:, 3].max(initial=0)))
        copies, sent, received, cross_node, num_rounds = _eplb._schedule(
            moves, plan, *self.topology, largest + 1, bool(by_layer))
        busiest = int(max(sent.max(initial=0), received.max(initial=0)))
        if size is not None and size > 0 and busiest > (2**63 - 1) // size:
            raise _eplb.InvalidArgument(
                f"{function}: expert_bytes = {size} times {busiest} copies overflows int64")
        local = copies[copies[:, 0] < 0, 1:]
        in_rounds = copies[copies[:, 0] >= 0]
        rounds = [in_rounds[in_rounds[:, 0] == idx, 1:] for idx in range(num_rounds)]
        return TransferSchedule(
            rounds=rounds, local_copies=local, sent=sent, received=received,
            sent_bytes=None if size is None else sent * size,
            received_bytes=None if size is None else received * size,
            cross_node_copies=int(cross_node))


class Planner:
    """Plans from a history of per-step expert loads and re-plans moving few slots.

    Arguments:
        num_replicas, num_groups, num_nodes, num_gpus: the topology, as for rebalance_experts.
        policy: "balanced" (default), "global" or "deepseek".
        history: "auto" (self-tuning: keeps several candidate histories, scores what each
            forecast on the traffic that came `interval` steps later, and plans on the best;
            `chosen_history` says which), "robust" (every step observed, weighted by
            0.5 ** (age / 8)), "last" (the last `interval` steps), "window:N",
            "decay:HALF_LIFE", "mix:HALF_LIFE/LONG|all[/W]", or those with "share-", "sqrt-"
            or "clip-" (per-step distributions, capped outlier steps; docs/online.md); None:
            "last" for "deepseek", "auto" otherwise.
        interval: steps between re-plans (the forecast horizon of "auto", the robust and last
            windows).
        swing_weight: overrides the history's swing weight (0 turns it off).
        effort, seed, threads, packer, cross_node_replicas, active_gpus: as for
            rebalance_experts (threads also re-plan layers in parallel; plans do not depend on
            it).
        repair_rounds: ruin-and-recreate rounds replan() spends on each layer: more rounds
            move fewer slots and take longer (docs/online.md).

    Every argument is checked here (InvalidArgument, a ValueError, or TypeError naming it); the
    shape is fixed by the first observe(). plan() and replan() return torch tensors on the
    device of the last observed step when it was a tensor, else NumPy arrays. Ctrl-C interrupts
    a long plan() or replan() (KeyboardInterrupt). Not thread-safe.
    """

    def __init__(
        self,
        num_replicas: int,
        num_groups: int,
        num_nodes: int,
        num_gpus: int,
        *,
        policy: str = "balanced",
        history: Optional[str] = None,
        interval: int = 100,
        swing_weight: Optional[float] = None,
        effort: int = 1,
        seed: int = 0,
        threads: int = 1,
        packer: str = "multistart",
        cross_node_replicas: int = 0,
        active_gpus: Any = None,
        repair_rounds: int = 40,
    ) -> None:
        function = "Planner"
        # The topology, for the Migrations replan() returns (Migration.schedule).
        self._topology = (_convert.as_int(num_replicas, function, "num_replicas"),
                          _convert.as_int(num_groups, function, "num_groups"),
                          _convert.as_int(num_nodes, function, "num_nodes"),
                          _convert.as_int(num_gpus, function, "num_gpus"))
        self._setup = _eplb._PlannerSetup(
            num_replicas=self._topology[0],
            num_groups=self._topology[1],
            num_nodes=self._topology[2],
            num_gpus=self._topology[3],
            policy=_convert.as_str(policy, function, "policy"),
            history="" if history is None else _convert.as_str(history, function, "history"),
            interval=_convert.as_int(interval, function, "interval"),
            swing_weight=_swing_weight(swing_weight, function),
            active_gpus=_convert.as_bool_list(active_gpus, function, "active_gpus"),
            **_search_options(function, effort=effort, seed=seed, threads=threads,
                              packer=packer, cross_node_replicas=cross_node_replicas,
                              repair_rounds=repair_rounds),
        )
        self._planner: Optional[Any] = None
        self._like = _convert.output_like(None)

    def observe(self, step_loads: Any) -> None:
        """Adds one step's loads `[num_layers, num_experts]` (torch, NumPy or lists), or several
        steps at once `[num_steps, num_layers, num_experts]`."""
        shape = _convert.shape_of(step_loads, "Planner.observe", "step_loads")
        if len(shape) == 3:
            for step in step_loads:
                self.observe(step)
            return
        loads = _convert.as_loads(step_loads, "Planner.observe", "step_loads")
        if self._planner is None:
            self._planner = _eplb._Planner(loads.shape[0], loads.shape[1], self._setup)
        self._planner.observe(loads)
        self._like = _convert.output_like(step_loads)

    def reset(self) -> None:
        """Forgets every observed step."""
        if self._planner is not None:
            self._planner.reset()

    @property
    def num_observed_steps(self) -> int:
        return 0 if self._planner is None else self._planner.num_observed_steps

    def _require(self, function: str) -> Any:
        if self._planner is None:
            raise _eplb.InvalidArgument(
                f"Planner.{function}: no step observed yet (call observe first)")
        return self._planner

    @property
    def chosen_history(self) -> Optional[str]:
        """The candidate a self-tuning history ("auto") plans on now, e.g. "decay:16"; None for
        a fixed history or before the first observe()."""
        if self._planner is None or not self._planner.chosen_history:
            return None
        return str(self._planner.chosen_history)

    @property
    def history_scores(self) -> Optional[Dict[str, float]]:
        """Each candidate of a self-tuning history with its score, the decayed sum of its
        forecast errors (lower is better; all 0 until a forecast was scored); None for a fixed
        history or before the first observe()."""
        if self._planner is None or not self._planner.history_candidates:
            return None
        return {str(name): float(score) for name, score in
                zip(self._planner.history_candidates, self._planner.history_scores)}

    def history(self) -> np.ndarray:
        """The history plans are made on (window or decayed sum; for "auto", the chosen
        candidate's), float64 `[num_layers, num_experts]`."""
        return self._require("history").history()

    def planning_loads(self) -> np.ndarray:
        """What plans are made on: the history weighted by each expert's swing."""
        return self._require("planning_loads").planning_loads()

    def plan(self) -> Tuple[Any, Any, Any]:
        """A fresh plan of planning_loads(): `(phy2log, log2phy, logcnt)`, int64, as torch
        tensors on the device of the last observed step when it was a tensor, else NumPy."""
        return tuple(self._like(array)  # type: ignore[return-value]
                     for array in self._require("plan").plan())

    def replan(self, phy2log: Any, tolerance: float = 0.005, *,
               move_budget: Optional[float] = None,
               min_gain: float = 0.0,
               layers_per_chunk: Optional[int] = None) -> Tuple[Any, Any, Any, Migration]:
        """A plan close to the current one `phy2log` `[num_layers, num_replicas]`: the fewest
        moved slots found such that its GPU balancedness on planning_loads() is at least a
        fresh plan's / (1 + tolerance). With `move_budget` (a fraction of all slots in [0, 1];
        for a budget in bytes, bytes / (expert bytes x layers x replicas)) instead: at most that
        many slots change, where they lower the heaviest GPUs most, and `tolerance` is unused.
        `min_gain`: keep `phy2log` (no moves) when the re-plan would raise GPU balancedness on
        the planning loads by less; `migration.skipped` then says so. `layers_per_chunk` (a
        positive int): `migration.chunks` also holds the moves in chunks of that many layers,
        the most balance first (see MigrationChunk).

        Returns `(phy2log, log2phy, logcnt, migration)`, the arrays as plan() returns them
        (`migration.moves` is NumPy). Raises InvalidArgument (a ValueError) when `phy2log` is
        not a valid plan of this shape, `tolerance` or `min_gain` is negative, NaN or infinite,
        or `move_budget` is outside [0, 1], or `layers_per_chunk` is not positive.
        """
        function = "Planner.replan"
        planner = self._require("replan")
        tolerance = _convert.as_non_negative(tolerance, function, "tolerance")
        budget = _move_budget(move_budget, function)
        gain = _convert.as_non_negative(min_gain, function, "min_gain")
        chunk_layers = 0
        if layers_per_chunk is not None:
            chunk_layers = _convert.as_int(layers_per_chunk, function, "layers_per_chunk")
            if chunk_layers < 1:
                raise _eplb.InvalidArgument(
                    f"{function}: layers_per_chunk = {chunk_layers} must be positive")
        current = _convert.as_index_array(phy2log, function, "phy2log")
        new_phy2log, log2phy, logcnt, moves, cross_node, _, skipped, before, after, chunks = (
            planner.replan(current, tolerance, budget, gain, chunk_layers))
        like = self._like
        return (like(new_phy2log), like(log2phy), like(logcnt),
                Migration(moves, int(cross_node), self._topology, bool(skipped), float(before),
                          float(after),
                          tuple(MigrationChunk(layers, Migration(chunk_moves, int(chunk_cross),
                                                                 self._topology),
                                               float(chunk_after))
                                for layers, chunk_moves, chunk_cross, chunk_after in chunks)))


@dataclass(frozen=True)
class MigrationChunk:
    """The moves of a few layers of a re-plan, applied together.

    Attributes:
        layers: int64 array of the chunk's layers, the one whose moves lower its heaviest GPU
            most first.
        migration: their moves (a Migration, whose schedule() orders this chunk's copies).
        balancedness_after: GPU balancedness on the planning loads once this chunk and every
            chunk before it are applied, the other layers keeping the current plan.
    """

    layers: np.ndarray
    migration: Migration
    balancedness_after: float


def _move_budget(value: Any, function: str) -> float:
    """Returns `move_budget` for the core: -1 for None, else a fraction in [0, 1]."""
    if value is None:
        return -1.0
    budget = _convert.as_non_negative(value, function, "move_budget")
    if budget > 1:
        raise _eplb.InvalidArgument(
            f"{function}: move_budget = {value} must be in [0, 1] (a fraction of all slots)")
    return budget


def replay(
    trace: Union[str, "os.PathLike[str]", Any],
    num_replicas: int = 0,
    num_groups: int = 0,
    num_nodes: int = 0,
    num_gpus: int = 0,
    *,
    interval: int = 100,
    policy: Union[str, Sequence[str], None] = None,
    history: Optional[str] = None,
    tolerance: Optional[float] = None,
    move_budget: Optional[float] = None,
    min_gain: float = 0.0,
    swing_weight: Optional[float] = None,
    effort: int = 1,
    seed: int = 0,
    threads: int = 1,
    packer: str = "multistart",
    cross_node_replicas: int = 0,
    repair_rounds: int = 40,
    expert_bytes: Any = None,
) -> Dict[str, Any]:
    """Replays a trace as `eplb replay` does: re-plans every `interval` steps, scores each plan
    on its window and on the next, and counts the slots each re-plan moves.

    Arguments:
        trace: a load file path (any format read_trace reads) or an array
            `[num_steps, num_layers, num_experts]`.
        num_replicas, num_groups, num_nodes, num_gpus: the topology; 0 takes the reference
            setting (32 GPUs on 4 nodes, experts + 32 slots, 8 groups when 8 divides the experts).
        policy: a planner "POLICY" or "POLICY@HISTORY", or a list of them to compare; None: the
            planner that holds up best on the next window (DEFAULT_REPLAY_PLANNER).
        history: the history of planners named without "@" (None: "last" for "deepseek",
            the self-tuning "auto" for the others).
        tolerance: None re-plans from scratch every window; a fraction (e.g. 0.005, finite and
            non-negative) re-plans with Planner.replan.
        move_budget: instead of `tolerance`, re-plan moving at most this fraction of all slots
            (in [0, 1]); min_gain: with either, keep the plan when a re-plan would gain less
            GPU balancedness on the planning loads (counted as "skipped").
        swing_weight, effort, seed, threads, packer, cross_node_replicas, repair_rounds: as
            for Planner.
        expert_bytes: one expert's weights in bytes, to report each re-plan's transfer in bytes
            (None or 0: copies only).

    Returns:
        The JSON report of `eplb replay --json` as a dict: the first planner's "policy",
        "interval", "windows" (each {"window", "in_sample", "next_window", "moved_slots",
        "moved_fraction", "skipped", "history", "schedule"}: "history" the candidate a
        self-tuning history planned on, None for a fixed one; "schedule" a re-plan's transfer
        schedule, Migration.schedule from the previous plan, None for the first plan) and
        "summary" ({"in_sample", "next_window", "replans", "skipped", "moved_fraction",
        "mean_rounds", "max_rounds", "cross_node_share", "plan_ms", "observe_ms"};
        "moved_fraction", "mean_rounds", "max_rounds" and "cross_node_share" are None when there was no re-plan, "replans" 0), and every planner
        in that form under "runs".

    Every argument and planner is checked before the first window (InvalidArgument, a
    ValueError, naming it); Ctrl-C interrupts the replay between windows and layers
    (KeyboardInterrupt).
    """
    function = "replay"
    if policy is None:
        planners = [_eplb.DEFAULT_REPLAY_PLANNER]
    elif isinstance(policy, str):
        planners = [policy]
    else:
        planners = [_convert.as_str(name, function, "policy") for name in policy]
    # Every option is converted before the trace is read or converted.
    arguments = dict(
        num_replicas=_convert.as_int(num_replicas, function, "num_replicas"),
        num_groups=_convert.as_int(num_groups, function, "num_groups"),
        num_nodes=_convert.as_int(num_nodes, function, "num_nodes"),
        num_gpus=_convert.as_int(num_gpus, function, "num_gpus"),
        planners=planners,
        interval=_convert.as_int(interval, function, "interval"),
        history="" if history is None else _convert.as_str(history, function, "history"),
        tolerance=(-1.0 if tolerance is None else
                   _convert.as_non_negative(tolerance, function, "tolerance")),
        move_budget=_move_budget(move_budget, function),
        min_gain=_convert.as_non_negative(min_gain, function, "min_gain"),
        swing_weight=_swing_weight(swing_weight, function),
        **_search_options(function, effort=effort, seed=seed, threads=threads, packer=packer,
                          cross_node_replicas=cross_node_replicas, repair_rounds=repair_rounds),
        expert_bytes=0 if expert_bytes is None else _expert_bytes(expert_bytes, function),
    )
    if isinstance(trace, (str, os.PathLike)):
        steps = _eplb.read_trace(trace)
    else:
        shape = _convert.shape_of(trace, function, "trace")
        if len(shape) != 3:
            raise _eplb.InvalidArgument(
                f"{function}: trace.shape = {shape} must be 3-D "
                "[num_steps, num_layers, num_experts]")
        steps = np.ascontiguousarray(
            np.stack([_convert.as_loads(step, function, f"trace[{i}]")
                      for i, step in enumerate(trace)]),
            dtype=np.float64)
    report = _eplb._replay(steps, **arguments)
    return json.loads(report)
