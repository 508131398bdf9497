"""eplb behind SGLang's EPLB (SGLang 0.5.10: `rebalance_experts(tokens_per_expert,
num_physical_experts, num_local_physical_experts, num_groups, num_nodes, algorithm)`).

In a server: `python -m eplb.sglang --policy balanced -- --model-path ... --enable-eplb`, or
`eplb.sglang.install()` before SGLang starts (docs/servers/sglang.md). This file plans recorded
steps with SGLang's signature: "deepseek" and "deepseek_hierarchical" give SGLang's own plans,
"balanced" and "global" eplb's. Runs without SGLang installed.

    python sglang_policy.py
"""

import numpy as np
import torch

import eplb
import eplb.sglang


def main(argv=None):
    del argv
    # 20 recorded steps of DeepSeek-V3: 58 layers x 256 experts, 288 slots, 9 per GPU, 4 nodes.
    rng = np.random.default_rng(0)
    tokens = torch.from_numpy(
        rng.poisson(rng.gamma(0.5, 40.0, size=(1, 58, 256)), size=(20, 58, 256)))
    results = {}
    for algorithm in ("deepseek", "deepseek_hierarchical", "balanced", "global"):
        plan = eplb.sglang.rebalance_experts(tokens, 288, 9, 8, 4, algorithm)
        metrics = eplb.evaluate(plan[0], tokens.sum(0), 32)
        results[algorithm] = plan
        print(f"{algorithm:>21}: physical_to_logical_map {tuple(plan[0].shape)}, "
              f"gpu balancedness {metrics.gpu_balancedness:.4f}")
    return results


if __name__ == "__main__":
    main()
