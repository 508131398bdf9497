"""eplb as vLLM's EPLB policy: `EplbPolicy` and the `vllm.general_plugins` entry point.

vLLM (0.34.0 and the releases since early 2026) calls its policy as
`rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_ranks,
old_global_expert_indices)` on CPU tensors and takes back `phy2log` alone; older vLLM called it
with five arguments and took `(phy2log, log2phy, logcnt)`. `EplbPolicy` subclasses vLLM's
`AbstractEplbPolicy` when vLLM is importable and follows whichever contract that base class
declares. With `pip install eplb`, setting `EPLB_VLLM_POLICY` makes vLLM's plugin loader install
it as the `"default"` policy (docs/servers/vllm.md).

Settings (a class attribute left at None reads its environment variable at each call):

- `policy` / `EPLB_VLLM_POLICY`: "balanced" (default), "global" or "deepseek".
- `effort` / `EPLB_VLLM_EFFORT`: search effort in [1, 1000] (default 1).
- `tolerance` / `EPLB_VLLM_TOLERANCE`: with the current map given, the plan moves the fewest
  slots found while its heaviest GPUs stay within `1 + tolerance` of a fresh plan's (default
  0.005, as Planner.replan); "fresh" plans from scratch and only keeps staying experts in their
  slots, as vLLM's own default does.
- `repair_rounds` / `EPLB_VLLM_REPAIR_ROUNDS`: Planner's repair rounds per layer (default 40).

Each re-plan logs how many slots change expert (logger "vllm.eplb", so it shows in vLLM's log).
"""

import inspect
import logging
import math
import os
from dataclasses import dataclass
from typing import Any, Optional, Tuple, Type

import numpy as np

from . import _api, _convert, _eplb, _online

__all__ = ["EplbPolicy", "PolicyArgumentError", "Settings", "make_policy_class", "register",
           "register_plugin"]

POLICIES = ("balanced", "global", "deepseek")
DEFAULT_TOLERANCE = 0.005
# A child of vLLM's "vllm" logger, which vLLM configures: the move counts appear in its log.
logger = logging.getLogger("vllm.eplb")


@dataclass(frozen=True)
class Settings:
    """The settings one call plans with (see the module docstring)."""

    policy: str = "balanced"
    effort: int = 1
    tolerance: Optional[float] = DEFAULT_TOLERANCE  # None: plan fresh, keep slots
    repair_rounds: int = 40


def _setting(value: Any, attribute: str, variable: str, default: Any, parse: Any) -> Any:
    """`value` (the class attribute `attribute`) checked, else the environment variable
    `variable` parsed, else `default`."""
    if value is not None:
        return parse(value, f"EplbPolicy.{attribute}")
    text = os.environ.get(variable)
    if text is None or text.strip() == "":
        return default
    return parse(text.strip(), variable)


def _parse_policy(value: Any, name: str) -> str:
    if not isinstance(value, str) or value not in POLICIES:
        raise _eplb.InvalidArgument(
            f"{name} = {value!r} must be one of {', '.join(POLICIES)}")
    return value


def _parse_int(low: int, high: int) -> Any:
    def parse(value: Any, name: str) -> int:
        try:
            number = int(value) if not isinstance(value, float) else None
        except ValueError:
            number = None
        if number is None or isinstance(value, bool) or not low <= number <= high:
            raise _eplb.InvalidArgument(
                f"{name} = {value!r} must be a whole number in [{low}, {high}]")
        return number
    return parse


def _parse_tolerance(value: Any, name: str) -> Optional[float]:
    if isinstance(value, str) and value.lower() == "fresh":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not (math.isfinite(number) and number >= 0):
        raise _eplb.InvalidArgument(
            f"{name} = {value!r} must be a finite non-negative fraction (e.g. 0.005) or 'fresh'")
    return number


def _vllm_base() -> Optional[type]:
    try:
        from vllm.distributed.eplb.policy import AbstractEplbPolicy
    except ImportError:
        return None
    return AbstractEplbPolicy


def _takes_current_map(base: Optional[type]) -> bool:
    """True when `base.rebalance_experts` declares vLLM's current contract (the current map as
    sixth argument, phy2log back); False for the older five-argument one."""
    method = getattr(base, "rebalance_experts", None)
    if method is None:
        return True
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return True
    return "old_global_expert_indices" in parameters or len(parameters) >= 6


class PolicyArgumentError(_eplb.InvalidArgument, AssertionError):
    """Bad arguments to EplbPolicy.rebalance_experts: an InvalidArgument (a ValueError), and an
    AssertionError too, since vLLM's default policy asserts these conditions and callers
    (vLLM's own tests among them) catch AssertionError."""


class _EplbPolicyMixin:
    """The planning behind both contracts; make_policy_class adds the `rebalance_experts` that
    vLLM calls."""

    #: eplb policy; None reads EPLB_VLLM_POLICY (default "balanced").
    policy: Optional[str] = None
    #: Search effort in [1, 1000]; None reads EPLB_VLLM_EFFORT (default 1).
    effort: Optional[int] = None
    #: Move tolerance (a fraction) or "fresh"; None reads EPLB_VLLM_TOLERANCE (default 0.005).
    tolerance: Any = None
    #: Repair rounds per layer; None reads EPLB_VLLM_REPAIR_ROUNDS (default 40).
    repair_rounds: Optional[int] = None
    #: The last call's counts: {"layers", "slots", "moved_slots", "mode"} (None before any).
    last_report: Optional[dict] = None

    @classmethod
    def settings(cls) -> Settings:
        """The settings a call plans with now. Raises InvalidArgument (a ValueError) naming the
        class attribute or environment variable that holds a bad value."""
        return Settings(
            policy=_setting(cls.policy, "policy", "EPLB_VLLM_POLICY", "balanced",
                            _parse_policy),
            effort=_setting(cls.effort, "effort", "EPLB_VLLM_EFFORT", 1, _parse_int(1, 1000)),
            tolerance=_setting(cls.tolerance, "tolerance", "EPLB_VLLM_TOLERANCE",
                               DEFAULT_TOLERANCE, _parse_tolerance),
            repair_rounds=_setting(cls.repair_rounds, "repair_rounds", "EPLB_VLLM_REPAIR_ROUNDS",
                                   40, _parse_int(0, 1_000_000)),
        )

    @classmethod
    def plan(cls, weight: Any, num_replicas: int, num_groups: int, num_nodes: int,
             num_ranks: int, old_phy2log: Any = None) -> Tuple[np.ndarray, np.ndarray,
                                                               np.ndarray]:
        """`(phy2log, log2phy, logcnt)` as int64 NumPy arrays for `weight` `[layers, experts]`,
        moving few slots from `old_phy2log` `[layers, num_replicas]` when it is given."""
        settings = cls.settings()
        loads = _convert.as_loads(weight, "EplbPolicy.rebalance_experts")
        if num_nodes > 0 and num_groups % num_nodes != 0:
            # vLLM's default plans globally then; so does eplb.
            num_groups, num_nodes = 1, 1
        topology = (num_replicas, num_groups, num_nodes, num_ranks)
        options = dict(policy=settings.policy, effort=settings.effort)
        fresh = _api.rebalance_experts(loads, *topology, **options)
        old = None if old_phy2log is None else _convert.as_index_array(
            old_phy2log, "EplbPolicy.rebalance_experts", "old_global_expert_indices")
        if old is None or old.shape != fresh[0].shape:
            if old is not None:
                logger.warning("eplb: the current map is %s, not %s: planning from scratch",
                               tuple(old.shape), tuple(fresh[0].shape))
            cls._report(fresh[0], None, "fresh")
            return fresh
        planned, mode = None, "fresh, slots kept"
        # "deepseek" keeps DeepSeek's plan (GPU contents), as vLLM's own default does.
        if settings.tolerance is not None and settings.policy != "deepseek":
            try:
                planner = _online.Planner(*topology, history="last", interval=1, swing_weight=0,
                                          repair_rounds=settings.repair_rounds, **options)
                planner.observe(loads)
                planned = planner.replan(old, settings.tolerance)[:3]
                mode = f"re-planned from the current map, tolerance {settings.tolerance}"
            except _eplb.InvalidArgument as error:
                # A map eplb's policy rules do not allow (e.g. vLLM's default put two replicas
                # of an expert on one GPU): the fresh plan, staying experts kept in place.
                logger.info("eplb: cannot repair the current map (%s); planning fresh", error)
        # Experts that stay on a GPU keep their slot (a no-op on Planner.replan's plans).
        result = _eplb.keep_gpu_slots(fresh[0] if planned is None else planned[0], old,
                                      loads.shape[1], num_ranks)
        cls._report(result[0], old, mode)
        return result

    @classmethod
    def preserve_intragpu_slots(cls, phy2log: Any, num_ranks: int, old_phy2log: Any) -> Any:
        """vLLM's helper of this name: `phy2log` with each GPU's slots reordered so that the
        experts a GPU already held in `old_phy2log` keep their old slots (eplb's
        keep_gpu_slots). Returns `phy2log` unchanged when `num_ranks` does not divide its slots
        or the shapes differ, as vLLM does."""
        new = _convert.as_index_array(phy2log, "preserve_intragpu_slots", "phy2log")
        old = _convert.as_index_array(old_phy2log, "preserve_intragpu_slots", "old_phy2log")
        if num_ranks <= 0 or new.shape[1] % num_ranks or new.shape != old.shape or new.size == 0:
            return phy2log
        num_experts = int(max(new.max(), old.max())) + 1
        return _to_torch(_eplb.keep_gpu_slots(new, old, num_experts, num_ranks)[0], phy2log)

    @classmethod
    def _report(cls, phy2log: np.ndarray, old: Optional[np.ndarray], mode: str) -> None:
        moved = None if old is None else int(np.count_nonzero(phy2log != old))
        cls.last_report = {"layers": int(phy2log.shape[0]), "slots": int(phy2log.size),
                           "moved_slots": moved, "mode": mode}
        if moved is None:
            logger.info("eplb: planned %d layers x %d slots (%s)", phy2log.shape[0],
                        phy2log.shape[1], mode)
        else:
            logger.info("eplb: %d of %d slots change expert (%d layers; %s)", moved,
                        phy2log.size, phy2log.shape[0], mode)


def _to_torch(array: np.ndarray, like: Any) -> Any:
    if hasattr(like, "detach"):
        import torch

        return torch.from_numpy(np.ascontiguousarray(array))
    return array


def _plan_or_raise(cls: Any, *arguments: Any) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        return cls.plan(*arguments)
    except PolicyArgumentError:
        raise
    except _eplb.InvalidArgument as error:
        raise PolicyArgumentError(str(error)) from None


def make_policy_class(base: Optional[type]) -> type:
    """Builds EplbPolicy on `base` (vLLM's AbstractEplbPolicy, or None for a plain class),
    with the contract that `base.rebalance_experts` declares."""
    bases: Tuple[type, ...] = (_EplbPolicyMixin,) + (() if base is None else (base,))
    if _takes_current_map(base):
        def rebalance_experts(cls: Any, weight: Any, num_replicas: int, num_groups: int,
                              num_nodes: int, num_ranks: int,
                              old_global_expert_indices: Any = None) -> Any:
            """vLLM's current contract: `phy2log` int64 `[layers, num_replicas]` on the CPU
            (a torch tensor when `weight` is one)."""
            phy2log = _plan_or_raise(cls, weight, num_replicas, num_groups, num_nodes,
                                     num_ranks, old_global_expert_indices)[0]
            return _to_torch(phy2log, weight)
        contract = "phy2log"
    else:
        def rebalance_experts(cls: Any, weight: Any, num_replicas: int, num_groups: int,
                              num_nodes: int, num_ranks: int) -> Any:
            """vLLM's older contract: `(phy2log, log2phy, logcnt)`, int64 on the CPU."""
            arrays = _plan_or_raise(cls, weight, num_replicas, num_groups, num_nodes,
                                    num_ranks)
            return tuple(_to_torch(array, weight) for array in arrays)
        contract = "phy2log, log2phy, logcnt"
    namespace = {
        "__doc__": "vLLM EPLB policy planned by eplb (settings: see eplb.vllm).",
        "__module__": __name__,
        "rebalance_experts": classmethod(rebalance_experts),
        "contract": contract,
    }
    return type("EplbPolicy", bases, namespace)


_POLICY_CLASS: list = []


def _policy_class() -> Any:
    """EplbPolicy, built on first use: importing eplb.vllm (as vLLM's plugin loader does in
    every process) imports nothing of vLLM until the policy is asked for."""
    if not _POLICY_CLASS:
        _POLICY_CLASS.append(make_policy_class(_vllm_base()))
    return _POLICY_CLASS[0]


def __getattr__(name: str) -> Any:
    if name == "EplbPolicy":
        return _policy_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def register(name: str = "default", policy_class: Optional[Type[Any]] = None) -> bool:
    """Puts `policy_class` (EplbPolicy) into vLLM's `EPLB_POLICIES` under `name`; vLLM reads
    the table when its EPLB state starts. Returns False when vLLM is not importable."""
    try:
        from vllm.distributed.eplb import policy as vllm_policy
    except ImportError:
        return False
    vllm_policy.EPLB_POLICIES[name] = _policy_class() if policy_class is None else policy_class
    return True


def register_plugin() -> None:
    """The `vllm.general_plugins` entry point: with EPLB_VLLM_POLICY set, checks the settings
    (a bad value raises InvalidArgument naming the variable) and installs EplbPolicy as vLLM's
    "default" policy; without it, does nothing."""
    if not os.environ.get("EPLB_VLLM_POLICY", "").strip():
        return
    settings = _policy_class().settings()
    if register("default"):
        logger.info("eplb: EPLB policy 'default' is eplb %s (%s)", _eplb.__version__, settings)
