"""save_plan() and load_plan(): plan files for the serving frameworks, the PlanFile load_plan()
returns, and insert_dense_layers(). Each converts its arguments (_convert), calls the compiled
core (_eplb; `format="torch"` goes through _torch_files) and converts the result back."""

import os
import warnings
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from . import _convert, _eplb, _torch_files

#: The formats save_plan() writes; load_plan() also takes "auto".
PLAN_FORMATS = ("eplb", "sglang", "trtllm", "vllm-ascend", "torch")

PathArg = Union[str, "os.PathLike[str]"]


class PlanFile(Tuple[np.ndarray, np.ndarray, np.ndarray]):
    """What load_plan() returns: the tuple `(phy2log, log2phy, logcnt)` of int64 NumPy arrays
    (so `phy2log, log2phy, logcnt = eplb.load_plan(...)` works), with the file's topology,
    policy and dense layers as attributes, like `os.stat_result`.

    Attributes:
        phy2log, log2phy, logcnt: the arrays, also `plan[0]`, `plan[1]`, `plan[2]`.
        num_replicas, num_groups, num_nodes, num_gpus: the topology (recorded by the file or
            given to load_plan; groups and nodes are 1 when neither says).
        dense_layers: the rows that are dense layers of the model, ascending (a tuple of ints).
        policy: the policy recorded by an eplb file ("" otherwise).
        moe_layers_only: True when the rows are MoE layers only and where the model's dense
            layers go is not known (a "vllm-ascend" file read without `dense_layers`);
            save_plan() then refuses "sglang" and "trtllm", which number the model's layers.
    """

    num_replicas: int
    num_groups: int
    num_nodes: int
    num_gpus: int
    dense_layers: Tuple[int, ...]
    policy: str
    moe_layers_only: bool

    def __new__(
        cls,
        arrays: Sequence[np.ndarray],
        num_replicas: int,
        num_groups: int,
        num_nodes: int,
        num_gpus: int,
        dense_layers: Sequence[int] = (),
        policy: str = "",
        moe_layers_only: bool = False,
    ) -> "PlanFile":
        plan = super().__new__(cls, tuple(arrays))
        plan.num_replicas = num_replicas
        plan.num_groups = num_groups
        plan.num_nodes = num_nodes
        plan.num_gpus = num_gpus
        plan.dense_layers = tuple(dense_layers)
        plan.policy = policy
        plan.moe_layers_only = moe_layers_only
        return plan

    def __getnewargs__(self) -> Tuple[Any, ...]:  # for pickle and copy
        return (tuple(self), self.num_replicas, self.num_groups, self.num_nodes, self.num_gpus,
                self.dense_layers, self.policy, self.moe_layers_only)

    @property
    def phy2log(self) -> np.ndarray:
        return self[0]

    @property
    def log2phy(self) -> np.ndarray:
        return self[1]

    @property
    def logcnt(self) -> np.ndarray:
        return self[2]

    def __repr__(self) -> str:
        layers, experts = self[2].shape
        return (f"PlanFile(num_layers={layers}, num_experts={experts}, "
                f"num_replicas={self.num_replicas}, num_groups={self.num_groups}, "
                f"num_nodes={self.num_nodes}, num_gpus={self.num_gpus}, "
                f"dense_layers={list(self.dense_layers)}, policy={self.policy!r}"
                + (", moe_layers_only=True)" if self.moe_layers_only else ")"))


def _is_plan_tuple(plan: Any, function: str) -> bool:
    """Tells `(phy2log, log2phy, logcnt)` (a tuple or list of three arrays, the first 2-D) from
    `phy2log` alone (whose first element is a row)."""
    return (isinstance(plan, (tuple, list)) and len(plan) == 3 and
            len(_convert.shape_of(plan[0], function, "plan[0]")) == 2)


def _plan_arrays(plan: Any, function: str) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Returns `plan` (`(phy2log, log2phy, logcnt)`, or `phy2log` alone) as three C-contiguous
    int64 NumPy arrays; `phy2log` alone is completed with plan_from_phy2log."""
    if _is_plan_tuple(plan, function):
        names = ("phy2log", "log2phy", "logcnt")
        arrays = [_convert.as_index_array(array, function, name) for array, name in
                  zip(plan, names)]
        return arrays[0], arrays[1], arrays[2]
    phy2log = _convert.as_index_array(plan, function, "phy2log")
    if phy2log.ndim != 2:
        raise _eplb.InvalidArgument(f"{function}: phy2log.ndim = {phy2log.ndim} must be 2")
    # As the readers of formats that record phy2log only: experts = largest index + 1.
    num_experts = int(phy2log.max()) + 1 if phy2log.size else 1
    return _eplb.plan_from_phy2log(phy2log, num_experts)


def _check_dense_layers(dense_layers: Sequence[int], num_layers: int, function: str) -> None:
    """Raises InvalidArgument unless `dense_layers` are ascending rows of the plan (the core
    checks them for the formats it writes; this is the same check for format="torch")."""
    for i, layer in enumerate(dense_layers):
        if not 0 <= layer < num_layers or (i > 0 and layer <= dense_layers[i - 1]):
            raise _eplb.InvalidArgument(
                f"{function}: dense_layers[{i}] = {layer} must be ascending and in "
                f"[0, {num_layers})")


def _warn_about_trivial_rows(phy2log: np.ndarray, num_experts: int, format: str) -> None:
    """Says that the rows holding the trivial placement (slot `s` holds expert
    `s % num_experts`, what plans give dense layers) went into a `format` file that lists MoE
    layers only as MoE layers, as `eplb convert` notes it."""
    trivial = np.arange(phy2log.shape[1]) % max(num_experts, 1)
    rows = [int(row) for row in np.flatnonzero((phy2log == trivial).all(axis=1))]
    if not rows:
        return
    listed = ", ".join(str(row) for row in rows)
    warnings.warn(
        f"save_plan: wrote every row of the plan as a MoE layer, but rows {listed} hold the "
        f"trivial placement of dense layers; if they are dense layers, pass "
        f"dense_layers=[{listed}] so that the {format} file lists MoE layers only",
        UserWarning, stacklevel=3)


def save_plan(
    plan: Any,
    path: PathArg,
    format: str = "eplb",
    *,
    num_replicas: Optional[int] = None,
    num_groups: int = 1,
    num_nodes: int = 1,
    num_gpus: int,
    dense_layers: Optional[Sequence[int]] = None,
    policy: str = "",
    metrics: Optional[_eplb.PlanMetrics] = None,
) -> None:
    """Validates a plan and writes it in a serving framework's format (docs/formats.md).

    Arguments:
        plan: `(phy2log, log2phy, logcnt)` as rebalance_experts returns it (a tuple or list of
            torch tensors, NumPy arrays or nested lists), or `phy2log`
            `[num_layers, num_replicas]` alone (the others are
            rebuilt, with experts = largest index + 1).
        path: the file to write, or "-" for standard output. A regular file (or a symlink's
            target) is written to a unique temporary name in its folder and renamed over it,
            so it is never left partial; a FIFO or a device is written straight through.
        format: "eplb" (eplb's JSON: topology, policy, all three arrays, dense layers, metrics),
            "sglang" (`--init-expert-location`), "trtllm" (`moe_config.load_balancer` YAML),
            "vllm-ascend" (`expert_map_path`) or "torch" (a `.pt` holding
            `{"phy2log", "log2phy", "logcnt"}` as int64 tensors; needs torch).
        num_replicas: slots per layer; default `phy2log.shape[1]`.
        num_groups, num_nodes, num_gpus: the topology, as for rebalance_experts.
        dense_layers: rows that are dense layers of the model (ascending), e.g. `range(3)` for
            DeepSeek-V3. "eplb" records them; "trtllm" and "vllm-ascend" leave them out (they
            list MoE layers only); "sglang" and "torch" keep every row and do not record them.
            A PlanFile whose `moe_layers_only` is set (from a "vllm-ascend" file) is refused by
            "sglang" and "trtllm" unless `dense_layers=()` says the model has none; put dense
            layers back with insert_dense_layers() or load_plan(..., dense_layers=...).
            Without them, "trtllm" and "vllm-ascend" write every row as a MoE layer and warn
            (UserWarning) when some rows hold the trivial placement dense layers get.
        policy: a policy name recorded by "eplb".
        metrics: a PlanMetrics (from evaluate) recorded by "eplb"; ignored by the others.

    Raises:
        InvalidArgument (a ValueError): an unknown format, a bad topology, bad dense layers or a
            plan that fails validate().
        IoError (an OSError): the file cannot be written.
        ImportError: format "torch" without torch installed.
    """
    function = "save_plan"
    format = _convert.as_choice(format, PLAN_FORMATS, function, "format")
    path_text = os.fspath(path)
    phy2log, log2phy, logcnt = _plan_arrays(plan, function)
    replicas = (phy2log.shape[1] if num_replicas is None else
                _convert.as_int(num_replicas, function, "num_replicas"))
    topology = (replicas, _convert.as_int(num_groups, function, "num_groups"),
                _convert.as_int(num_nodes, function, "num_nodes"),
                _convert.as_int(num_gpus, function, "num_gpus"))
    dense = _convert.as_layer_list(dense_layers, function, "dense_layers")
    policy = _convert.as_str(policy, function, "policy")
    moe_layers_only = bool(getattr(plan, "moe_layers_only", False))
    if moe_layers_only and dense:
        raise _eplb.InvalidArgument(
            f"{function}: dense_layers = {dense} names rows of a plan whose rows are MoE layers "
            "only: insert the dense layers with eplb.insert_dense_layers(plan, dense_layers) or "
            "load_plan(..., dense_layers=...)")
    if dense_layers is not None:  # told: () says the rows are the model's layers
        moe_layers_only = False
    _eplb.validate(phy2log, log2phy, logcnt, *topology)
    if format == "torch":
        _check_dense_layers(dense, phy2log.shape[0], function)
        _torch_files.save_plan(path_text, (phy2log, log2phy, logcnt), function)
        return
    _eplb.write_plan(path_text, phy2log, log2phy, logcnt, *topology, format, policy=policy,
                     dense_layers=dense, metrics=metrics, moe_layers_only=moe_layers_only)
    if format in ("trtllm", "vllm-ascend") and not dense and not moe_layers_only:
        _warn_about_trivial_rows(phy2log, logcnt.shape[1], format)


def load_plan(
    path: PathArg,
    format: str = "auto",
    num_gpus: Optional[int] = None,
    *,
    num_groups: Optional[int] = None,
    num_nodes: Optional[int] = None,
    dense_layers: Optional[Sequence[int]] = None,
) -> PlanFile:
    """Reads and validates a plan file of any format save_plan writes.

    Arguments:
        path: the file, or "-" for standard input (the format is then detected from the content).
        format: "auto" (`.pt`/`.pth` files are "torch", others are told by their content) or a
            format of save_plan.
        num_gpus: GPUs; required for "sglang", "torch" and "trtllm" files without `ep_size`,
            which do not record it. Files that record it must agree.
        num_groups, num_nodes: 1 when neither the file (only "eplb" records them) nor the call
            gives them; given values must match recorded ones.
        dense_layers: dense layers of the model. "vllm-ascend" (MoE layers only): trivial rows
            are inserted there; without them the result has `moe_layers_only` set, and `()`
            says the model has none. "sglang", "torch" and "eplb" files without the field:
            those rows are marked, and must hold the trivial placement (a MoE layer named dense
            is an error). Files that record them ("eplb", "trtllm") must agree.

    Returns:
        A PlanFile: the tuple `(phy2log, log2phy, logcnt)` of int64 NumPy arrays with
        `num_replicas`, `num_groups`, `num_nodes`, `num_gpus`, `dense_layers` and `policy`
        attributes. Formats that record `phy2log` only ("sglang", "trtllm", "vllm-ascend") get
        experts = largest index + 1 and each expert's slots in increasing order in `log2phy`.

    Raises:
        IoError (an OSError): the file cannot be read.
        ParseError (a ValueError): malformed content, naming the file and the location.
        InvalidArgument (a ValueError): an unknown format; options missing or disagreeing with
            the file; a plan that fails validate().
        ImportError: a "torch" file without torch installed.
    """
    function = "load_plan"
    format = _convert.as_choice(format, ("auto",) + PLAN_FORMATS, function, "format")
    path_text = os.fspath(path)
    gpus = 0 if num_gpus is None else _convert.as_int(num_gpus, function, "num_gpus")
    groups = 0 if num_groups is None else _convert.as_int(num_groups, function, "num_groups")
    nodes = 0 if num_nodes is None else _convert.as_int(num_nodes, function, "num_nodes")
    dense = _convert.as_layer_list(dense_layers, function, "dense_layers")
    if format == "torch" or (format == "auto" and _torch_files.is_torch_file(path_text)):
        arrays = _torch_files.load_plan(path_text, function)
        if num_gpus is None:
            raise _eplb.InvalidArgument(
                f"{function}: num_gpus = None must be given: a torch plan does not record the "
                "number of GPUs")
        shape = arrays[0].shape
        # Groups and nodes not given are 1; given ones (even 0) go to Topology, which checks them.
        topology = (shape[1] if len(shape) == 2 else 0, 1 if num_groups is None else groups,
                    1 if num_nodes is None else nodes, gpus)
        _eplb.validate(*arrays, *topology)
        _check_dense_layers(dense, shape[0], function)
        return PlanFile(arrays, *topology, dense_layers=dense)
    no_dense = dense_layers is not None and not dense
    arrays, topology, policy, dense, moe_only = _eplb.read_plan(path_text, format, gpus, groups,
                                                                nodes, dense, no_dense)
    return PlanFile(arrays, *topology, dense_layers=dense, policy=policy,
                    moe_layers_only=moe_only)


def insert_dense_layers(plan: Any, dense_layers: Sequence[int]) -> Tuple[Any, Any, Any]:
    """Puts dense layers back into a plan of the MoE layers, as `eplb plan` does: rows
    `dense_layers` of the result hold the trivial placement (slot `s` holds expert
    `s % num_experts`, SGLang's `trivial`), the other rows are `plan`'s in order.

    Arguments:
        plan: `(phy2log, log2phy, logcnt)` of the MoE layers, or `phy2log` alone.
        dense_layers: rows of the result, ascending, e.g. `range(3)` for DeepSeek-V3.

    Returns:
        `(phy2log, log2phy, logcnt)` with `num_layers + len(dense_layers)` rows, as torch tensors
        on the device of `plan`'s tensors, else as NumPy arrays.

    Raises:
        InvalidArgument (a ValueError): `dense_layers` not ascending or out of range.
    """
    function = "insert_dense_layers"
    arrays = _eplb.insert_dense_layers(
        *_plan_arrays(plan, function),
        _convert.as_layer_list(dense_layers, function, "dense_layers"))
    like = _convert.output_like(plan[0] if _is_plan_tuple(plan, function) else plan)
    return like(arrays[0]), like(arrays[1]), like(arrays[2])
