"""The public functions of eplb: each converts its arguments (_convert), calls one function of the
compiled core (_eplb) and converts the result back. No planning logic lives here."""

import os
from typing import Any, List, Optional, Tuple, Union

import numpy as np

from . import _convert, _eplb, _torch_files


def rebalance_experts(
    weight: Any,
    num_replicas: int,
    num_groups: int,
    num_nodes: int,
    num_gpus: int,
    *,
    policy: str = "balanced",
    seed: int = 0,
    effort: int = 1,
    threads: int = 1,
    packer: str = "multistart",
    cross_node_replicas: int = 0,
    active_gpus: Any = None,
) -> Tuple[Any, Any, Any]:
    """Plans which GPU slots hold which experts; a drop-in for DeepSeek EPLB's function of the
    same name.

    Arguments:
        weight: load of each logical expert, `[num_layers, num_experts]`: a torch tensor (any
            real dtype, any device, any strides), a NumPy array or nested lists. float64,
            float32, int32 and int64 CPU arrays reach the core without a copy.
        num_replicas: physical expert slots per layer, a multiple of `num_gpus`, at least
            `num_experts`.
        num_groups: expert groups (DeepSeek-V3: 8); the hierarchical policy keeps a group's
            experts on one node when `num_groups % num_nodes == 0`.
        num_nodes: servers; `num_gpus` must be a multiple of it when `num_groups %
            num_nodes == 0` (otherwise, as in DeepSeek's global fallback, groups and nodes are
            ignored).
        num_gpus: GPUs; each holds `num_replicas / num_gpus` consecutive slots.
        policy: "balanced" (default: optimal replica counts, search packer), "deepseek"
            (DeepSeek's EPLB bit for bit) or "global" (ignores groups and nodes).
        seed: seed of the randomized search; the same inputs and seed give the same plan.
        effort: search effort of the packer, in [1, 1000].
        threads: threads planning layers in parallel; the plan does not depend on it.
        packer: packing strategy of "balanced" and "global": "multistart", "greedy" or "snake".
        cross_node_replicas: "balanced" on a hierarchical topology: how many replicas per layer
            may sit outside their group's node (every expert keeps one at home); 0 (default) is
            the strict hierarchy.
        active_gpus: one bool per GPU (list, NumPy or torch), or None for all: plan onto the
            healthy GPUs only. Slots of excluded GPUs hold -1 in `phy2log`; `log2phy` and
            `logcnt` never refer to them. Not with policy "deepseek".

    Returns:
        phy2log: the logical expert held by each slot, `[num_layers, num_replicas]`.
        log2phy: the slots of each logical expert, padded with -1,
            `[num_layers, num_experts, max_replicas]`.
        logcnt: the replica count of each logical expert, `[num_layers, num_experts]`.
        All int64, as torch tensors on `weight`'s device when `weight` is a tensor, else as
        NumPy arrays.

    Raises:
        InvalidArgument (a ValueError): `weight` is not 2-D, holds a NaN, infinite or negative
            value, or does not fit the sizes; a size or option is out of range.
        InvalidSizes (an InvalidArgument and an AssertionError): a size condition that
            DeepSeek's function asserts fails, e.g. `num_replicas` not a multiple of `num_gpus`.
        TypeError: a size is not an int, or `weight` does not hold real numbers.
    """
    function = "rebalance_experts"
    loads = _convert.as_loads(weight, function)
    phy2log, log2phy, logcnt = _eplb.rebalance_experts(
        loads,
        _convert.as_int(num_replicas, function, "num_replicas"),
        _convert.as_int(num_groups, function, "num_groups"),
        _convert.as_int(num_nodes, function, "num_nodes"),
        _convert.as_int(num_gpus, function, "num_gpus"),
        policy=_convert.as_str(policy, function, "policy"),
        packer=_convert.as_str(packer, function, "packer"),
        effort=_convert.as_int(effort, function, "effort"),
        seed=_convert.as_seed(seed, function),
        threads=_convert.as_int(threads, function, "threads"),
        cross_node_replicas=_convert.as_int(cross_node_replicas, function, "cross_node_replicas"),
        active_gpus=_convert.as_bool_list(active_gpus, function, "active_gpus"),
    )
    like = _convert.output_like(weight)
    return like(phy2log), like(log2phy), like(logcnt)


def validate(
    phy2log: Any,
    log2phy: Any,
    logcnt: Any,
    num_replicas: int,
    num_groups: int,
    num_nodes: int,
    num_gpus: int,
    *,
    forbid_duplicates_on_gpu: bool = False,
) -> None:
    """Checks that a plan is a well-formed placement for the topology.

    Arguments:
        phy2log: `[num_layers, num_replicas]` integers (torch, NumPy or lists).
        log2phy: `[num_layers, num_experts, max_replicas]` integers, padded with -1.
        logcnt: `[num_layers, num_experts]` integers.
        num_replicas, num_groups, num_nodes, num_gpus: the topology, as for rebalance_experts.
        forbid_duplicates_on_gpu: also reject two replicas of one expert on one GPU.

    Raises:
        InvalidArgument (a ValueError): naming the first violation, e.g.
            `validate: logcnt[2][5] = 0 must be in [1, max_replicas = 2]`.
        TypeError: an array does not hold integers or a size is not an int.
    """
    function = "validate"
    _eplb.validate(
        _convert.as_index_array(phy2log, function, "phy2log"),
        _convert.as_index_array(log2phy, function, "log2phy"),
        _convert.as_index_array(logcnt, function, "logcnt"),
        _convert.as_int(num_replicas, function, "num_replicas"),
        _convert.as_int(num_groups, function, "num_groups"),
        _convert.as_int(num_nodes, function, "num_nodes"),
        _convert.as_int(num_gpus, function, "num_gpus"),
        forbid_duplicates_on_gpu=bool(forbid_duplicates_on_gpu),
    )


def plan_from_phy2log(phy2log: Any, num_experts: int) -> Tuple[Any, Any, Any]:
    """Builds the full plan from `phy2log` alone (for placements made elsewhere).

    Arguments:
        phy2log: the logical expert of each slot, `[num_layers, num_replicas]` integers.
        num_experts: the number of logical experts.

    Returns:
        `(phy2log, log2phy, logcnt)` as rebalance_experts returns them; each expert's slots are
        listed in increasing order. Does not check that every expert has a replica (validate
        does).

    Raises:
        InvalidArgument (a ValueError): an entry is not in `[0, num_experts)`.
    """
    function = "plan_from_phy2log"
    arrays = _eplb.plan_from_phy2log(
        _convert.as_index_array(phy2log, function, "phy2log"),
        _convert.as_int(num_experts, function, "num_experts"),
    )
    like = _convert.output_like(phy2log)
    return tuple(like(array) for array in arrays)  # type: ignore[return-value]


def evaluate(phy2log: Any, weight: Any, num_gpus: int) -> _eplb.PlanMetrics:
    """Scores a placement on a load matrix (which may differ from the one it was planned on,
    e.g. the next window of a trace).

    Arguments:
        phy2log: the logical expert of each slot, `[num_layers, num_replicas]` integers.
        weight: loads `[num_layers, num_experts]`, as for rebalance_experts.
        num_gpus: GPUs; each holds `num_replicas / num_gpus` consecutive slots.

    Returns:
        A PlanMetrics: `gpu_balancedness` (sum over layers of the mean GPU load / sum of the
        heaviest GPU; 1 is perfect), `slot_balancedness`, `gap` (heaviest GPUs over the lower
        bounds, minus 1), `mean_layer_gap`, and per layer `max_gpu_load` and `lower_bound`
        (float64 NumPy arrays `[num_layers]`).

    Raises:
        InvalidArgument (a ValueError): shapes disagree or the placement is not valid.
    """
    function = "evaluate"
    return _eplb.evaluate(
        _convert.as_index_array(phy2log, function, "phy2log"),
        _convert.as_loads(weight, function),
        _convert.as_int(num_gpus, function, "num_gpus"),
    )


def lower_bounds(weight: Any, num_replicas: int, num_gpus: int) -> Any:
    """Returns, per layer, a lower bound on the heaviest GPU of any placement: max(total /
    num_gpus, the smallest possible largest load per replica).

    Arguments:
        weight: loads `[num_layers, num_experts]`, as for rebalance_experts.
        num_replicas: physical expert slots per layer.
        num_gpus: GPUs.

    Returns:
        float64 `[num_layers]`, a torch tensor on `weight`'s device when `weight` is a tensor,
        else a NumPy array.
    """
    function = "lower_bounds"
    bounds = _eplb.lower_bounds(
        _convert.as_loads(weight, function),
        _convert.as_int(num_replicas, function, "num_replicas"),
        _convert.as_int(num_gpus, function, "num_gpus"),
    )
    return _convert.output_like(weight)(bounds)


StepsArg = Union[None, str, slice, Tuple[Optional[int], Optional[int]]]


def _steps_text(steps: StepsArg) -> Optional[str]:
    """Returns `steps` in the core's "A:B" form (None for every step)."""
    if steps is None or isinstance(steps, str):
        return steps
    if isinstance(steps, slice):
        if steps.step not in (None, 1):
            raise _eplb.InvalidArgument(f"read_loads: steps = {steps} must not have a step")
        begin, end = steps.start, steps.stop
    elif isinstance(steps, tuple) and len(steps) == 2:
        begin, end = steps
    else:
        raise TypeError(f"read_loads: steps = {steps!r} must be None, \"A:B\", a slice or a pair")
    begin_text = "" if begin is None else str(_convert.as_int(begin, "read_loads", "steps.start"))
    end_text = "" if end is None else str(_convert.as_int(end, "read_loads", "steps.stop"))
    return f"{begin_text}:{end_text}"


#: The load formats of read_loads and read_trace: the core's, and "torch" (read here).
LOAD_FORMATS = ("auto", "vllm", "json", "csv", "npy", "sglang", "counts", "layer-jsonl",
                "topk-jsonl", "trtllm", "torch")


def _is_torch_dump(path: str, format: str) -> bool:
    """Returns true when `path` is read as a PyTorch file: format "torch", or a `.pt`/`.pth`
    file whose format is "auto" or "sglang" (SGLang's recorder dumps are such files)."""
    return format == "torch" or (format in ("auto", "sglang") and _torch_files.is_torch_file(path))


def _deployed_plan_text(deployed_plan: Any, path: str, format: str,
                        function: str) -> Optional[str]:
    """Returns `deployed_plan` as a path string (None stays None). SGLang's dumps count logical
    experts already, so a deployed plan given with one is a mistake."""
    if deployed_plan is None:
        return None
    if not isinstance(deployed_plan, (str, os.PathLike)):
        raise _eplb.InvalidArgument(
            f"{function}: deployed_plan = {deployed_plan!r} must be a path or None")
    if _is_torch_dump(path, format):
        raise _eplb.InvalidArgument(
            f"{function}: deployed_plan is for loads that count slots (TensorRT-LLM "
            f"statistics); {path} is an SGLang dump, which counts experts")
    return os.fspath(deployed_plan)


def read_loads(
    path: Union[str, "os.PathLike[str]"],
    steps: StepsArg = None,
    format: str = "auto",
    num_layers: int = 0,
    num_experts: int = 0,
    deployed_plan: Optional[Union[str, "os.PathLike[str]"]] = None,
) -> np.ndarray:
    """Reads a load file (or TensorRT-LLM statistics folder) and sums its steps into one load
    matrix.

    Arguments:
        path: the file or folder, or "-" for standard input; docs/formats.md describes each
            format.
        steps: the steps to sum: None for all, "A:B" / "A:" / ":B" (half-open, 0-based), a
            slice or a pair `(begin, end)` (None for an open end).
        format: "auto" (from the content; `.pt`/`.pth` files are "torch"), "vllm" (vLLM load
            history), "json" (a matrix), "csv", "npy", "sglang" (`{"logical_count": ...}`),
            "counts" (`{"counts": ...}`), "layer-jsonl", "topk-jsonl" (per-token routing),
            "trtllm" (a statistics folder) or "torch" (an SGLang expert distribution dump:
            stat mode's `logical_count` `[steps, layers, experts]` or `[layers, experts]`, or
            the `records` of a `per_pass` / `per_token` dump, one step per forward pass;
            needs torch).
        num_layers: layers per forward pass of a "topk-jsonl" file (required there, which does
            not record it); ignored by the other formats.
        num_experts: experts of a "topk-jsonl" file; 0 means the largest id + 1.
        deployed_plan: the plan file the server ran while recording, when the loads count its
            slots rather than experts (TensorRT-LLM statistics with its load balancer active:
            their `num_experts` is `num_slots`); each slot's count goes to the plan's expert
            there. None: the loads count experts. Not for "torch" files.

    Returns:
        float64 NumPy array `[num_layers, num_experts]`. Rows are the model's layers where the
        file numbers them so (SGLang, TensorRT-LLM): dense layers are all-zero rows.

    Raises:
        IoError (an OSError): the file cannot be read.
        ParseError (a ValueError): malformed content, naming the file and the location.
        InvalidArgument (a ValueError): an unknown format, a bad option or a step range out of
            bounds.
        ImportError: a "torch" file without torch installed.
    """
    function = "read_loads"
    path_text = os.fspath(path)
    format = _convert.as_choice(format, LOAD_FORMATS, function, "format")
    steps_text = _steps_text(steps)
    plan_text = _deployed_plan_text(deployed_plan, path_text, format, function)
    if _is_torch_dump(path_text, format):
        return _eplb.sum_steps(_torch_files.read_sglang_dump(path_text, function), steps_text)
    return _eplb.read_loads(path_text, steps_text, format,
                            _convert.as_int(num_layers, function, "num_layers"),
                            _convert.as_int(num_experts, function, "num_experts"), plan_text)


def read_trace(
    path: Union[str, "os.PathLike[str]"],
    format: str = "auto",
    num_layers: int = 0,
    num_experts: int = 0,
    deployed_plan: Optional[Union[str, "os.PathLike[str]"]] = None,
) -> np.ndarray:
    """Reads every step of a load file; the arguments are those of read_loads.

    Returns:
        float64 NumPy array `[num_steps, num_layers, num_experts]`; a file holding one matrix is
        a trace of one step.

    Raises like read_loads.
    """
    function = "read_trace"
    path_text = os.fspath(path)
    format = _convert.as_choice(format, LOAD_FORMATS, function, "format")
    plan_text = _deployed_plan_text(deployed_plan, path_text, format, function)
    if _is_torch_dump(path_text, format):
        return _torch_files.read_sglang_dump(path_text, function)
    return _eplb.read_trace(path_text, format,
                            _convert.as_int(num_layers, function, "num_layers"),
                            _convert.as_int(num_experts, function, "num_experts"), plan_text)


def find_dense_layers(weight: Any) -> List[int]:
    """Returns the all-zero rows of `weight` `[num_layers, num_experts]`, ascending: the dense
    layers a recording marks (rows 0 to 2 of SGLang's DeepSeek-V3 files). Returns `[]` when
    every row is zero (such a file recorded no tokens).

    Raises InvalidArgument (a ValueError) for loads rebalance_experts refuses.
    """
    return _eplb.find_dense_layers(_convert.as_loads(weight, "find_dense_layers"))
