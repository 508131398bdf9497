"""eplb as vLLM's EPLB policy (vLLM 0.34: `rebalance_experts(weight, num_replicas, num_groups,
num_nodes, num_ranks, old_global_expert_indices)` -> phy2log).

In a server nothing of this is needed: `pip install eplb` and `EPLB_VLLM_POLICY=balanced vllm
serve ... --enable-eplb` (docs/servers/vllm.md). This file shows the same policy class in
process: a plan, then a re-plan of a drifted window from the current map, counting the slots
whose expert changes (what vLLM copies). Runs without vLLM installed.

    python vllm_policy.py [--policy balanced|global|deepseek]
"""

import argparse
import logging

import numpy as np
import torch

import eplb
import eplb.vllm


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", default="balanced", choices=eplb.vllm.POLICIES)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    print("installed as vLLM's default policy" if eplb.vllm.register()
          else "vLLM not installed: running the policy standalone")
    policy = type("Policy", (eplb.vllm.EplbPolicy,), {"policy": args.policy})

    # DeepSeek-V3: 58 MoE layers x 256 experts, 288 slots on 32 GPUs in 4 nodes, 8 groups.
    sizes = (288, 8, 4, 32)
    rng = np.random.default_rng(0)
    first = np.round(rng.gamma(0.5, 1000.0, size=(58, 256)))
    second = np.round(first * rng.lognormal(0.0, 0.3, size=first.shape))
    first, second = torch.from_numpy(first), torch.from_numpy(second)

    current = policy.rebalance_experts(first, *sizes)
    replanned = policy.rebalance_experts(second, *sizes, current)
    moved = int((replanned != current).sum())
    metrics = eplb.evaluate(replanned, second, 32)
    print(f"{args.policy}: phy2log {tuple(replanned.shape)}, {moved} of {replanned.numel()} "
          f"slots change expert, gpu balancedness {metrics.gpu_balancedness:.4f}")
    return current, replanned


if __name__ == "__main__":
    main()
