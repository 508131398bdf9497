"""
eplb's compiled core: an expert-parallelism load balancer for Mixture-of-Experts inference. Use the `eplb` package, which accepts torch tensors, NumPy arrays and lists.
"""

from collections.abc import Sequence
import os
from typing import Annotated

import numpy
from numpy.typing import NDArray


__version__: str

class Error(Exception):
    """Base of every exception eplb raises on purpose."""

class InvalidArgument(Error, ValueError):
    """
    Raised for bad shapes, sizes, divisibility, non-finite or negative loads and misuse of an API; also a ValueError.
    """

class InvalidSizes(InvalidArgument, AssertionError):
    """
    Raised for the size conditions DeepSeek's rebalance_experts asserts: num_replicas a multiple of num_gpus and at least num_experts, and on its hierarchical path num_experts a multiple of num_groups and num_gpus a multiple of num_nodes. An InvalidArgument (so a ValueError) and also an AssertionError, as the reference raises.
    """

class ParseError(Error, ValueError):
    """
    Raised when a file's content is malformed; the message names the file and the location. Also a ValueError.
    """

class IoError(Error, OSError):
    """
    Raised when a file cannot be opened, read or written; the message names the file. Also an OSError, with `errno`, `strerror` and `filename` set; a missing file raises FileNotFoundIoError (also a FileNotFoundError), a forbidden one PermissionIoError (also a PermissionError).
    """

class FileNotFoundIoError(IoError, FileNotFoundError):
    """
    The IoError for a file or folder that does not exist; also a FileNotFoundError.
    """

class PermissionIoError(IoError, PermissionError):
    """
    The IoError for a file that may not be read or written; also a PermissionError.
    """

class IsADirectoryIoError(IoError, IsADirectoryError):
    """
    The IoError for a folder given where a file is read or written; also an IsADirectoryError.
    """

class NotADirectoryIoError(IoError, NotADirectoryError):
    """
    The IoError for a path through something that is not a folder; also a NotADirectoryError.
    """

def validate(phy2log: Annotated[NDArray[numpy.int64], dict(order='C', device='cpu', writable=False)], log2phy: Annotated[NDArray[numpy.int64], dict(order='C', device='cpu', writable=False)], logcnt: Annotated[NDArray[numpy.int64], dict(order='C', device='cpu', writable=False)], num_replicas: int, num_groups: int, num_nodes: int, num_gpus: int, *, forbid_duplicates_on_gpu: bool = False) -> None:
    """
    Checks that `phy2log` `[num_layers, num_replicas]`, `log2phy` `[num_layers, num_experts, max_replicas]` and `logcnt` `[num_layers, num_experts]` (C-contiguous int64) form a well-formed placement for the topology: every expert has a replica, each row of `logcnt` sums to `num_replicas`, the two maps describe the same placement and padding is -1.

    Raises InvalidArgument (a ValueError) naming the first violation, e.g. `validate: logcnt[2][5] = 0 must be in [1, max_replicas = 2]`.
    """

def plan_from_phy2log(phy2log: Annotated[NDArray[numpy.int64], dict(order='C', device='cpu', writable=False)], num_experts: int) -> tuple[Annotated[NDArray[numpy.int64], dict(order='C')], Annotated[NDArray[numpy.int64], dict(order='C')], Annotated[NDArray[numpy.int64], dict(order='C')]]:
    """
    Builds `(phy2log, log2phy, logcnt)` from `phy2log` `[num_layers, num_replicas]` (C-contiguous int64) alone: counts are tallied and each expert's `log2phy` entry lists its slots in increasing order.

    Raises InvalidArgument (a ValueError) when an entry is not in `[0, num_experts)`; does not check that every expert has a replica (validate() does).
    """

def keep_gpu_slots(phy2log: Annotated[NDArray[numpy.int64], dict(order='C', device='cpu', writable=False)], current: Annotated[NDArray[numpy.int64], dict(order='C', device='cpu', writable=False)], num_experts: int, num_gpus: int) -> tuple[Annotated[NDArray[numpy.int64], dict(order='C')], Annotated[NDArray[numpy.int64], dict(order='C')], Annotated[NDArray[numpy.int64], dict(order='C')]]:
    """
    Reorders the slots of each of the `num_gpus` GPUs of `phy2log` `[num_layers, num_replicas]` so that every expert the GPU held in `current` (same shape) keeps its old slot; GPU contents do not change. Returns `(phy2log, log2phy, logcnt)`.

    Raises InvalidArgument (a ValueError) when the shapes differ, an entry is not in `[0, num_experts)` or -1, or `num_gpus` does not divide the slots.
    """

def rebalance_experts(weight: Annotated[NDArray, dict(order='C', device='cpu', writable=False)], num_replicas: int, num_groups: int, num_nodes: int, num_gpus: int, *, policy: str = 'balanced', packer: str = 'multistart', effort: int = 1, seed: int = 0, threads: int = 1, cross_node_replicas: int = 0, active_gpus: Sequence[bool] = []) -> tuple[Annotated[NDArray[numpy.int64], dict(order='C')], Annotated[NDArray[numpy.int64], dict(order='C')], Annotated[NDArray[numpy.int64], dict(order='C')]]:
    """
    Plans a placement of `weight` `[num_layers, num_experts]` (C-contiguous float64, float32, int32 or int64 on the CPU) on `num_gpus` GPUs in `num_nodes` nodes with `num_replicas` slots per layer.

    Returns `(phy2log [num_layers, num_replicas], log2phy [num_layers, num_experts, max_replicas], logcnt [num_layers, num_experts])` as int64 NumPy arrays. `policy` is "deepseek" (DeepSeek's EPLB bit for bit), "balanced" or "global"; `packer` is "greedy", "snake" or "multistart". `cross_node_replicas` lets "balanced" put that many replicas per layer outside their group's node; `active_gpus` (one bool per GPU, empty for all) plans onto the healthy GPUs only, -1 in the others' slots. Raises InvalidArgument (a ValueError) when the loads do not fit the topology or an option is out of range. Deterministic: the same inputs and `seed` give the same plan whatever `threads` is. Releases the GIL; Ctrl-C stops it between layers (KeyboardInterrupt).
    """

class PlanMetrics:
    """
    Scores of one plan on one load matrix. A replica carries `load / count` of its expert.
    """

    @property
    def gpu_balancedness(self) -> float:
        """
        Sum over layers of the mean GPU load / sum over layers of the heaviest GPU (1 = perfect; all-zero layers drop out).
        """

    @property
    def slot_balancedness(self) -> float:
        """The same with slots in place of GPUs."""

    @property
    def gap(self) -> float:
        """
        Sum of heaviest GPUs / sum of lower bounds - 1 (0 when provably optimal).
        """

    @property
    def mean_layer_gap(self) -> float:
        """Mean over non-zero layers of heaviest GPU / lower bound - 1."""

    @property
    def max_gpu_load(self) -> Annotated[NDArray[numpy.float64], dict(order='C')]:
        """Heaviest GPU per layer, float64 `[num_layers]`."""

    @property
    def lower_bound(self) -> Annotated[NDArray[numpy.float64], dict(order='C')]:
        """
        Global lower bound on the heaviest GPU per layer, float64 `[num_layers]`.
        """

    @property
    def duplicate_slots(self) -> int:
        """
        Slots, over all layers, holding a second (third, ...) replica of an expert on a GPU that already holds one. balanced and global use one only where it lowers the heaviest GPU; deepseek wherever DeepSeek's reference does.
        """

    def __repr__(self) -> str: ...

def evaluate(phy2log: Annotated[NDArray[numpy.int64], dict(order='C', device='cpu', writable=False)], weight: Annotated[NDArray, dict(order='C', device='cpu', writable=False)], num_gpus: int) -> PlanMetrics:
    """
    Scores the placement `phy2log` `[num_layers, num_replicas]` (C-contiguous int64) on `weight` `[num_layers, num_experts]` (which may differ from the loads it was planned on, e.g. the next window), with `num_replicas / num_gpus` consecutive slots per GPU.

    Returns a PlanMetrics. Raises InvalidArgument (a ValueError) when the shapes disagree or the placement is not valid. Releases the GIL.
    """

def lower_bounds(weight: Annotated[NDArray, dict(order='C', device='cpu', writable=False)], num_replicas: int, num_gpus: int) -> Annotated[NDArray[numpy.float64], dict(order='C')]:
    """
    Returns, per layer, a lower bound on the heaviest GPU of any placement of `weight` `[num_layers, num_experts]` in `num_replicas` slots on `num_gpus` GPUs: max(total / num_gpus, the smallest possible largest load per replica), float64 `[num_layers]`.

    Raises InvalidArgument (a ValueError) for bad sizes. Releases the GIL.
    """

def read_loads(path: str | os.PathLike, steps: str | None = None, format: str = 'auto', num_layers: int = 0, num_experts: int = 0, deployed_plan: str | os.PathLike | None = None) -> Annotated[NDArray[numpy.float64], dict(order='C')]:
    """
    Reads a load file (or TensorRT-LLM statistics folder) and sums the steps of `steps` ("A:B", "A:" or ":B", half-open and 0-based; None for all) into float64 loads `[num_layers, num_experts]`.

    `format` is "auto" (from the content), "vllm", "json", "csv", "npy", "sglang", "counts", "layer-jsonl", "topk-jsonl" or "trtllm". `num_layers` (required there) and `num_experts` (0: the largest id + 1) apply to "topk-jsonl" only. `deployed_plan` (a plan file, None for none): the loads count that plan's slots (TensorRT-LLM statistics with its load balancer active) and are mapped to experts through it. Raises IoError (an OSError) when the file cannot be read, ParseError (a ValueError) naming the file and location when its content is malformed, and InvalidArgument for a bad format, option or range.
    """

def read_trace(path: str | os.PathLike, format: str = 'auto', num_layers: int = 0, num_experts: int = 0, deployed_plan: str | os.PathLike | None = None) -> Annotated[NDArray[numpy.float64], dict(order='C')]:
    """
    Reads every step of a load file into float64 loads `[num_steps, num_layers, num_experts]`; a file holding one matrix is a trace of one step.

    Raises like read_loads().
    """

def sum_steps(trace: Annotated[NDArray[numpy.float64], dict(shape=(None, None, None), order='C', device='cpu', writable=False)], steps: str | None = None) -> Annotated[NDArray[numpy.float64], dict(order='C')]:
    """
    Sums the steps of `steps` (as for read_loads()) of `trace` `[num_steps, num_layers, num_experts]` (C-contiguous float64) into `[num_layers, num_experts]`.

    Raises InvalidArgument when the range is malformed, empty or out of bounds.
    """

def write_plan(path: str | os.PathLike, phy2log: Annotated[NDArray[numpy.int64], dict(order='C', device='cpu', writable=False)], log2phy: Annotated[NDArray[numpy.int64], dict(order='C', device='cpu', writable=False)], logcnt: Annotated[NDArray[numpy.int64], dict(order='C', device='cpu', writable=False)], num_replicas: int, num_groups: int, num_nodes: int, num_gpus: int, format: str, policy: str = '', dense_layers: Sequence[int] = [], metrics: PlanMetrics | None = None, moe_layers_only: bool = False) -> None:
    """
    Writes the plan `(phy2log, log2phy, logcnt)` (C-contiguous int64, as validate() takes them) for the topology in `format` ("eplb", "sglang", "trtllm" or "vllm-ascend"). `dense_layers` (ascending rows) are written as given (eplb, sglang) or left out (trtllm, vllm-ascend); `metrics` are written by the eplb format only. `moe_layers_only`: the rows are MoE layers only, dense layers unknown (refused by sglang and trtllm, recorded by eplb). The file is written to a temporary name and renamed.

    Raises InvalidArgument for a bad format, topology or inconsistent sizes (the plan is not validated here), for a file its server would misroute (empty GPUs; two replicas of an expert on a vllm-ascend device), and IoError (an OSError) when the file cannot be written.
    """

def read_plan(path: str | os.PathLike, format: str = 'auto', num_gpus: int = 0, num_groups: int = 0, num_nodes: int = 0, dense_layers: Sequence[int] = [], no_dense_layers: bool = False) -> tuple[tuple[Annotated[NDArray[numpy.int64], dict(order='C')], Annotated[NDArray[numpy.int64], dict(order='C')], Annotated[NDArray[numpy.int64], dict(order='C')]], tuple[int, int, int, int], str, list[int], bool]:
    """
    Reads a plan file of any format ("auto": from the content) and validates it.

    Returns `((phy2log, log2phy, logcnt), (num_replicas, num_groups, num_nodes, num_gpus), policy, dense_layers, moe_layers_only)`. `no_dense_layers`: the model has no dense layers (the rows of a vllm-ascend file are its layers). 0 means not given: `num_gpus` is required for sglang and for trtllm files without `ep_size`; groups and nodes default to 1 when not recorded, and given values must match recorded ones. Raises IoError, ParseError naming the file and location, and InvalidArgument.
    """

def find_dense_layers(weight: Annotated[NDArray, dict(order='C', device='cpu', writable=False)]) -> list[int]:
    """
    Returns the all-zero rows of `weight` `[num_layers, num_experts]`, ascending: the layers a recording marks as dense. Returns nothing when every row is zero.
    """

def insert_dense_layers(phy2log: Annotated[NDArray[numpy.int64], dict(order='C', device='cpu', writable=False)], log2phy: Annotated[NDArray[numpy.int64], dict(order='C', device='cpu', writable=False)], logcnt: Annotated[NDArray[numpy.int64], dict(order='C', device='cpu', writable=False)], dense_layers: Sequence[int]) -> tuple[Annotated[NDArray[numpy.int64], dict(order='C')], Annotated[NDArray[numpy.int64], dict(order='C')], Annotated[NDArray[numpy.int64], dict(order='C')]]:
    """
    Returns the plan of the MoE layers with the trivial placement (slot `s` holds expert `s % num_experts`) inserted so that rows `dense_layers` of the result hold it.

    Raises InvalidArgument unless `dense_layers` is ascending, unique and less than `num_layers + len(dense_layers)`.
    """

DEFAULT_REPLAY_PLANNER: str = 'global'
