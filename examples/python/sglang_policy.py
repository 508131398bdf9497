"""A planner with SGLang's EPLB signature, backed by eplb.

SGLang calls `rebalance_experts(tokens_per_expert, num_physical_experts,
num_local_physical_experts, num_groups, num_nodes, algorithm)` with `tokens_per_expert`
`[steps, layers, experts]`; its DeepSeek algorithms sum over the steps first, then plan with
`num_physical_experts // num_local_physical_experts` GPUs. This function does the same with
eplb: a `*_hierarchical` algorithm keeps each expert group on one node (policy "balanced"), any
other plans over all GPUs (policy "global"). To use it, point SGLang's EPLB algorithm dispatch
at this function. This file runs without SGLang installed.

    python sglang_policy.py
"""

import sys

import eplb


def rebalance_experts(tokens_per_expert, num_physical_experts, num_local_physical_experts,
                      num_groups, num_nodes, algorithm):
    """Returns (physical_to_logical_map, logical_to_physical_map, logical_count), int64, on the
    device of `tokens_per_expert` `[steps, layers, experts]`."""
    name = getattr(algorithm, "name", algorithm)  # SGLang passes an enum member
    hierarchical = str(name).endswith("hierarchical")
    weight = tokens_per_expert.sum(0)
    num_gpus = num_physical_experts // num_local_physical_experts
    return eplb.rebalance_experts(
        weight,
        num_physical_experts,
        num_groups if num_groups is not None else 1,
        num_nodes,
        num_gpus,
        policy="balanced" if hierarchical else "global",
    )


def main(argv=None):
    import numpy as np

    del argv
    # 20 recorded steps of DeepSeek-V3: 58 layers x 256 experts, 288 slots, 9 per GPU, 4 nodes.
    rng = np.random.default_rng(0)
    tokens = rng.poisson(rng.gamma(0.5, 40.0, size=(1, 58, 256)), size=(20, 58, 256))
    try:
        import torch

        tokens = torch.from_numpy(tokens)
    except ImportError:
        pass
    results = {}
    for algorithm in ("deepseek_hierarchical", "deepseek"):
        plan = rebalance_experts(tokens, 288, 9, 8, 4, algorithm)
        metrics = eplb.evaluate(plan[0], tokens.sum(0), 32)
        results[algorithm] = plan
        print(f"{algorithm:>21}: physical_to_logical_map {tuple(plan[0].shape)}, "
              f"gpu balancedness {metrics.gpu_balancedness:.4f}")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
