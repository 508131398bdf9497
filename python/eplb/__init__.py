"""eplb: an expert-parallelism load balancer for Mixture-of-Experts inference.

A `[num_layers, num_experts]` load matrix goes in, a replica placement comes out, as DeepSeek's
EPLB returns it::

    import eplb
    phy2log, log2phy, logcnt = eplb.rebalance_experts(weight, 288, 8, 4, 32)

`rebalance_experts` accepts torch tensors, NumPy arrays and nested lists and is a drop-in for
DeepSeek's function of the same name; `policy="deepseek"` reproduces it bit for bit.
`read_loads` reads the servers' load recordings and `save_plan` writes a plan in the format a
server loads (docs/python.md).
"""

from ._api import (
    evaluate,
    find_dense_layers,
    lower_bounds,
    plan_from_phy2log,
    read_loads,
    read_trace,
    rebalance_experts,
    validate,
)
from ._online import Migration, MigrationChunk, Planner, TransferSchedule, replay
from ._eplb import (
    Error,
    FileNotFoundIoError,
    InvalidArgument,
    InvalidSizes,
    IoError,
    IsADirectoryIoError,
    NotADirectoryIoError,
    ParseError,
    PermissionIoError,
    PlanMetrics,
    __version__,
)
from ._plan_files import PlanFile, insert_dense_layers, load_plan, save_plan

__all__ = [
    "Error",
    "FileNotFoundIoError",
    "InvalidArgument",
    "InvalidSizes",
    "IoError",
    "IsADirectoryIoError",
    "Migration",
    "MigrationChunk",
    "NotADirectoryIoError",
    "ParseError",
    "PermissionIoError",
    "PlanFile",
    "PlanMetrics",
    "Planner",
    "TransferSchedule",
    "__version__",
    "evaluate",
    "find_dense_layers",
    "insert_dense_layers",
    "load_plan",
    "lower_bounds",
    "plan_from_phy2log",
    "read_loads",
    "read_trace",
    "rebalance_experts",
    "replay",
    "save_plan",
    "validate",
]
