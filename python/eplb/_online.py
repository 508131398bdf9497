"""The online planner and replay: eplb.Planner, eplb.Migration and eplb.replay. Each converts its
arguments, calls the compiled core and converts the result back; no planning logic lives here."""

import json
import os
from dataclasses import dataclass
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from . import _convert, _eplb


def _swing_weight(value: Optional[float], function: str) -> float:
    """Returns `value` for the core, -1.0 (keep the history's own) for None; raises
    InvalidArgument unless it is finite and non-negative."""
    if value is None:
        return -1.0
    weight = float(value)
    if not (np.isfinite(weight) and weight >= 0):
        raise _eplb.InvalidArgument(
            f"{function}: swing_weight = {value} must be finite and non-negative")
    return weight


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


@dataclass(frozen=True)
class Migration:
    """The slots a re-plan changes.

    Attributes:
        moves: int64 array `[num_moves, 5]`, one row per changed slot: layer, slot, old expert,
            new expert, and source slot (a slot of the old plan holding the new expert, on the
            same GPU if possible, else the same node; copy every move's weights before
            overwriting any slot).
        cross_node_copies: moves whose weights come from another node.
    """

    moves: np.ndarray
    cross_node_copies: int

    @property
    def moved_slots(self) -> int:
        """Slots whose expert changes."""
        return int(self.moves.shape[0])

    def bytes(self, expert_bytes: int) -> int:
        """Bytes copied when each expert's weights take `expert_bytes` bytes."""
        return int(np.count_nonzero(self.moves[:, 3] >= 0)) * int(expert_bytes)


class Planner:
    """Plans from a history of per-step expert loads and re-plans moving few slots.

    Arguments:
        num_replicas, num_groups, num_nodes, num_gpus: the topology, as for rebalance_experts.
        policy: "balanced" (default), "global" or "deepseek".
        history: "robust" (every step observed, weighted by 0.5 ** (age / 8): the most
            drift-robust history measured), "last" (the last `interval` steps), "window:N",
            "decay:HALF_LIFE", "mix:HALF_LIFE/LONG|all[/W]", or those with "share-" or "sqrt-"
            (per-step distributions, docs/online.md); None: "last" for "deepseek", "robust"
            otherwise.
        interval: steps between re-plans (the robust and last windows).
        swing_weight: overrides the history's swing weight (0 turns it off).
        effort, seed, threads, packer, cross_node_replicas, active_gpus: as for
            rebalance_experts (threads also re-plan layers in parallel; plans do not depend on
            it).
        repair_rounds: ruin-and-recreate rounds replan() spends on each layer: more rounds
            move fewer slots and take longer (docs/online.md).

    The shape is fixed by the first observe(). Not thread-safe.
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
        self._options = dict(
            num_replicas=_convert.as_int(num_replicas, function, "num_replicas"),
            num_groups=_convert.as_int(num_groups, function, "num_groups"),
            num_nodes=_convert.as_int(num_nodes, function, "num_nodes"),
            num_gpus=_convert.as_int(num_gpus, function, "num_gpus"),
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

    def observe(self, step_loads: Any) -> None:
        """Adds one step's loads `[num_layers, num_experts]` (torch, NumPy or lists), or several
        steps at once `[num_steps, num_layers, num_experts]`."""
        shape = _convert.shape_of(step_loads)
        if len(shape) == 3:
            for step in step_loads:
                self.observe(step)
            return
        loads = _convert.as_loads(step_loads, "Planner.observe", "step_loads")
        if self._planner is None:
            self._planner = _eplb._Planner(loads.shape[0], loads.shape[1], **self._options)
        self._planner.observe(loads)

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

    def history(self) -> np.ndarray:
        """The history (window or decayed sum), float64 `[num_layers, num_experts]`."""
        return self._require("history").history()

    def planning_loads(self) -> np.ndarray:
        """What plans are made on: the history weighted by each expert's swing."""
        return self._require("planning_loads").planning_loads()

    def plan(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """A fresh plan of planning_loads(): `(phy2log, log2phy, logcnt)`, int64 NumPy."""
        return self._require("plan").plan()

    def replan(self, phy2log: Any, tolerance: float = 0.005
               ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, Migration]:
        """A plan close to the current one `phy2log` `[num_layers, num_replicas]`: the fewest
        moved slots found such that its GPU balancedness on planning_loads() is at least a
        fresh plan's / (1 + tolerance).

        Returns `(phy2log, log2phy, logcnt, migration)`. Raises InvalidArgument (a ValueError)
        when `phy2log` is not a valid plan of this shape or `tolerance` is negative.
        """
        planner = self._require("replan")
        current = _convert.as_index_array(phy2log, "Planner.replan", "phy2log")
        new_phy2log, log2phy, logcnt, moves, cross_node, _ = planner.replan(
            current, float(tolerance))
        return new_phy2log, log2phy, logcnt, Migration(moves, int(cross_node))


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
    swing_weight: Optional[float] = None,
    effort: int = 1,
    seed: int = 0,
    threads: int = 1,
    packer: str = "multistart",
    cross_node_replicas: int = 0,
    repair_rounds: int = 40,
) -> Dict[str, Any]:
    """Replays a trace as `eplb replay` does: re-plans every `interval` steps, scores each plan
    on its window and on the next, and counts the slots each re-plan moves.

    Arguments:
        trace: a load file path (any format read_trace reads) or an array
            `[num_steps, num_layers, num_experts]`.
        num_replicas, num_groups, num_nodes, num_gpus: the topology; 0 takes the reference
            setting (32 GPUs on 4 nodes, experts + 32 slots, 8 groups when 8 divides the experts).
        policy: a planner "POLICY" or "POLICY@HISTORY", or a list of them to compare; None: the
            most drift-robust planner (DEFAULT_REPLAY_PLANNER).
        history: the history of planners named without "@" (None: "last" for "deepseek",
            "robust" for the others).
        tolerance: None re-plans from scratch every window; a fraction (e.g. 0.005) re-plans
            with Planner.replan.
        swing_weight, effort, seed, threads, packer, cross_node_replicas, repair_rounds: as
            for Planner.

    Returns:
        The JSON report of `eplb replay --json` as a dict: the first planner's "policy",
        "interval", "windows" (each {"window", "in_sample", "next_window", "moved_slots"}) and
        "summary" ({"in_sample", "next_window", "replans", "moved_fraction", "plan_ms"};
        "moved_fraction" is None when there was no re-plan, "replans" 0), and every planner in
        that form under "runs".
    """
    function = "replay"
    if isinstance(trace, (str, os.PathLike)):
        steps = _eplb.read_trace(trace)
    else:
        shape = _convert.shape_of(trace)
        if len(shape) != 3:
            raise _eplb.InvalidArgument(
                f"{function}: trace.shape = {shape} must be 3-D "
                "[num_steps, num_layers, num_experts]")
        steps = np.ascontiguousarray(
            np.stack([_convert.as_loads(step, function, "trace") for step in trace]),
            dtype=np.float64)
    if policy is None:
        planners = [_eplb.DEFAULT_REPLAY_PLANNER]
    elif isinstance(policy, str):
        planners = [policy]
    else:
        planners = [_convert.as_str(name, function, "policy") for name in policy]
    report = _eplb._replay(
        steps,
        _convert.as_int(num_replicas, function, "num_replicas"),
        _convert.as_int(num_groups, function, "num_groups"),
        _convert.as_int(num_nodes, function, "num_nodes"),
        _convert.as_int(num_gpus, function, "num_gpus"),
        planners,
        _convert.as_int(interval, function, "interval"),
        "" if history is None else _convert.as_str(history, function, "history"),
        -1.0 if tolerance is None else float(tolerance),
        _swing_weight(swing_weight, function),
        **_search_options(function, effort=effort, seed=seed, threads=threads, packer=packer,
                          cross_node_replicas=cross_node_replicas, repair_rounds=repair_rounds),
    )
    return json.loads(report)
