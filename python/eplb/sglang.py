"""eplb behind SGLang's EPLB: `rebalance_experts` with SGLang's signature and `install()`.

SGLang (checked against 0.5.10.post1) plans through
`sglang.srt.eplb.eplb_algorithms.rebalance_experts(tokens_per_expert, num_physical_experts,
num_local_physical_experts, num_groups, num_nodes, algorithm)`, `tokens_per_expert` being
`[steps, layers, experts]`, and uses the `(physical_to_logical_map, logical_to_physical_map,
logical_count)` it returns. Its `deepseek` algorithm sums the steps and runs DeepSeek's EPLB
over all GPUs as one node; `deepseek_hierarchical` keeps each expert group on one node.

`install()` makes a running SGLang plan with eplb; `python -m eplb.sglang -- ARGS` starts
`sglang.launch_server ARGS` with it installed in every process (docs/servers/sglang.md).
"""

import os
import sys
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np

from . import _api, _convert, _eplb

__all__ = ["ALGORITHMS", "install", "main", "rebalance_experts", "uninstall"]

#: SGLang's DeepSeek algorithms (reproduced exactly) and eplb's policies.
ALGORITHMS = ("deepseek", "deepseek_hierarchical", "auto", "balanced", "global")
_SGLANG_MODULE = "sglang.srt.eplb.eplb_algorithms"
_ORIGINAL: List[Callable[..., Any]] = []


def _algorithm_name(algorithm: Any) -> str:
    name = getattr(algorithm, "name", algorithm)  # SGLang passes an EplbAlgorithm member
    if not isinstance(name, str) or name not in ALGORITHMS:
        raise _eplb.InvalidArgument(
            f"eplb.sglang.rebalance_experts: algorithm = {algorithm!r} must be one of "
            f"{', '.join(ALGORITHMS)}")
    return name


def _summed_steps(tokens_per_expert: Any) -> Any:
    """The steps summed as SGLang sums them, in float32 on the CPU as its DeepSeek algorithm
    plans (`tokens_per_expert.sum(dim=0).float().cpu()`)."""
    shape = _convert.shape_of(tokens_per_expert, "eplb.sglang.rebalance_experts",
                              "tokens_per_expert")
    if len(shape) != 3:
        raise _eplb.InvalidArgument(
            f"eplb.sglang.rebalance_experts: tokens_per_expert.shape = {shape} must be 3-D "
            "[steps, layers, experts]")
    if hasattr(tokens_per_expert, "detach"):
        return tokens_per_expert.detach().sum(dim=0).float().cpu()
    return np.asarray(tokens_per_expert).sum(axis=0).astype(np.float32)


def rebalance_experts(tokens_per_expert: Any, num_physical_experts: int,
                      num_local_physical_experts: int, num_groups: Optional[int],
                      num_nodes: int, algorithm: Any) -> Tuple[Any, Any, Any]:
    """Plans as SGLang's `rebalance_experts` of the same signature.

    Arguments:
        tokens_per_expert: `[steps, layers, experts]` counts (torch, NumPy or lists; any
            device).
        num_physical_experts: slots per layer (experts + `--ep-num-redundant-experts`).
        num_local_physical_experts: slots per GPU; the GPUs are
            `num_physical_experts // num_local_physical_experts`.
        num_groups: the model's expert groups, or None.
        num_nodes: servers.
        algorithm: an SGLang `EplbAlgorithm` member or its name: "deepseek" (DeepSeek's EPLB
            over all GPUs) and "deepseek_hierarchical" (groups kept on nodes) give SGLang's plan
            exactly; "auto" picks one of them as SGLang does; "balanced" and "global" are eplb's
            policies.

    Returns:
        `(physical_to_logical_map, logical_to_physical_map, logical_count)`, int64 on the CPU
        (torch tensors when `tokens_per_expert` is one), as SGLang's.

    Raises:
        InvalidArgument (a ValueError): a shape, size or algorithm SGLang's planner cannot take.
    """
    function = "eplb.sglang.rebalance_experts"
    name = _algorithm_name(algorithm)
    num_physical = _convert.as_int(num_physical_experts, function, "num_physical_experts")
    num_local = _convert.as_int(num_local_physical_experts, function,
                                "num_local_physical_experts")
    nodes = _convert.as_int(num_nodes, function, "num_nodes")
    groups = None if num_groups is None else _convert.as_int(num_groups, function, "num_groups")
    if num_local < 1 or num_physical % num_local != 0:
        raise _eplb.InvalidArgument(
            f"{function}: num_local_physical_experts = {num_local} must be positive and divide "
            f"num_physical_experts = {num_physical}")
    weight = _summed_steps(tokens_per_expert)
    num_gpus = num_physical // num_local
    if name == "auto":
        hierarchical = groups is not None and nodes > 0 and groups % nodes == 0
        name = "deepseek_hierarchical" if hierarchical else "deepseek"
    if name == "deepseek":
        return _api.rebalance_experts(weight, num_physical, 1, 1, num_gpus, policy="deepseek")
    if groups is None:
        if name == "deepseek_hierarchical":
            raise _eplb.InvalidArgument(
                f"{function}: algorithm deepseek_hierarchical needs num_groups (got None)")
        groups = 1
    policy = "deepseek" if name == "deepseek_hierarchical" else name
    return _api.rebalance_experts(weight, num_physical, groups, nodes, num_gpus, policy=policy)


def install(policy: Optional[str] = None) -> Callable[..., Any]:
    """Makes this process's SGLang plan with eplb: `sglang.srt.eplb.eplb_algorithms.
    rebalance_experts` is replaced by one that plans SGLang's `deepseek*` and `auto` requests
    with eplb's `policy` ("balanced", "global" or "deepseek"; None reads EPLB_SGLANG_POLICY,
    default "balanced"); other algorithms (`elasticity_aware*`, `deepseek_vec*`) stay SGLang's.
    Returns the function installed. Raises ImportError without SGLang and InvalidArgument for
    an unknown policy."""
    import importlib

    chosen = policy if policy is not None else os.environ.get("EPLB_SGLANG_POLICY") or "balanced"
    source = "policy" if policy is not None else "EPLB_SGLANG_POLICY"
    if chosen not in ("balanced", "global", "deepseek"):
        raise _eplb.InvalidArgument(
            f"eplb.sglang.install: {source} = {chosen!r} must be balanced, global or deepseek")
    module = importlib.import_module(_SGLANG_MODULE)
    original = _ORIGINAL[0] if _ORIGINAL else module.rebalance_experts
    if not _ORIGINAL:
        _ORIGINAL.append(original)

    def planned_by_eplb(tokens_per_expert: Any, num_physical_experts: int,
                        num_local_physical_experts: int, num_groups: Optional[int],
                        num_nodes: int, algorithm: Any) -> Any:
        name = getattr(algorithm, "name", algorithm)
        if name not in ("deepseek", "deepseek_hierarchical", "auto"):
            return original(tokens_per_expert, num_physical_experts, num_local_physical_experts,
                            num_groups, num_nodes, algorithm)
        if chosen == "deepseek":
            eplb_algorithm = name
        else:
            eplb_algorithm = chosen
        return rebalance_experts(tokens_per_expert, num_physical_experts,
                                 num_local_physical_experts, num_groups, num_nodes,
                                 eplb_algorithm)

    planned_by_eplb.eplb_policy = chosen  # type: ignore[attr-defined]
    module.rebalance_experts = planned_by_eplb
    return planned_by_eplb


def uninstall() -> None:
    """Puts SGLang's own rebalance_experts back (after install())."""
    if _ORIGINAL:
        sys.modules[_SGLANG_MODULE].rebalance_experts = _ORIGINAL.pop()


def main(argv: Optional[Sequence[str]] = None) -> None:
    """`python -m eplb.sglang [--policy POLICY] [--] SGLANG_ARGS...`: sglang.launch_server with
    eplb installed in this process and in the processes SGLang spawns."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--policy"] and len(args) >= 2:
        os.environ["EPLB_SGLANG_POLICY"] = args[1]
        args = args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    os.environ.setdefault("EPLB_SGLANG_POLICY", "balanced")
    install()
    from sglang.launch_server import run_server
    from sglang.srt.server_args import prepare_server_args
    from sglang.srt.utils import kill_process_tree

    server_args = prepare_server_args(args)
    try:
        run_server(server_args)
    finally:
        kill_process_tree(os.getpid(), include_parent=False)


# SGLang starts its scheduler processes with "spawn", which re-imports the main module (this
# one, under `python -m eplb.sglang`) as __mp_main__: install there as well.
if __name__ == "__mp_main__" and os.environ.get("EPLB_SGLANG_POLICY"):
    install()

if __name__ == "__main__":
    main()
