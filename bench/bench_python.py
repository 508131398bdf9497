"""What the Python layer adds to a 58-layer plan: the same call timed inside C++ and through
eplb.rebalance_experts (NumPy float64, NumPy int64 and torch float32 inputs), in one process.

Run after `pip install .`: python3 bench/bench_python.py
"""

import statistics
import time

import numpy as np

import eplb
from eplb import _eplb

SHAPE = (288, 8, 4, 32)  # DeepSeek-V3: R, groups, nodes, GPUs
REPEATS = 51


def medians(weight, array, policy):
    """Median ms of the C++-timed and the Python call, interleaved so that both see the same
    machine load."""
    cpp, py = [], []
    for _ in range(REPEATS):
        cpp.append(_eplb._time_rebalance_ms(array, *SHAPE, policy, 1))
        start = time.perf_counter()
        eplb.rebalance_experts(weight, *SHAPE, policy=policy)
        py.append((time.perf_counter() - start) * 1e3)
    return statistics.median(cpp), statistics.median(py)


def main():
    rng = np.random.default_rng(0)
    loads = np.floor(rng.lognormal(4.0, 1.2, size=(58, 256)))
    inputs = [("numpy float64", loads), ("numpy int64", loads.astype(np.int64))]
    try:
        import torch

        inputs.append(("torch float32", torch.from_numpy(loads.astype(np.float32))))
    except ImportError:
        pass
    print("| policy | input | C++ ms | Python ms | overhead | overhead % |")
    print("|---|---|---:|---:|---:|---:|")
    for policy in ("deepseek", "balanced", "global"):
        for name, weight in inputs:
            array = np.ascontiguousarray(weight.numpy() if hasattr(weight, "numpy") else weight)
            cpp, py = medians(weight, array, policy)
            print(f"| {policy} | {name} | {cpp:.3f} | {py:.3f} | {(py - cpp) * 1e3:.0f} us | "
                  f"{100 * (py - cpp) / cpp:.1f} % |")


if __name__ == "__main__":
    main()
