"""An EPLB policy for vLLM that plans with eplb instead of vLLM's default (DeepSeek's) policy.

vLLM calls a policy class through the classmethod
`rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_ranks)` and expects
`(physical_to_logical_map, logical_to_physical_map, expert_count)` back, as int64 tensors on the
device of `weight`; eplb.rebalance_experts has that contract. `register()` swaps the policy into
vLLM's table of policies; call it in every process that runs EPLB (for example from a plugin)
before the engine starts. This file runs without vLLM installed: it then plans a DeepSeek-V3
sized example.

    python vllm_policy.py
"""

import sys

import eplb

try:  # vLLM is optional here: without it the policy is a plain class.
    from vllm.distributed.eplb.policy import AbstractEplbPolicy as _PolicyBase
except ImportError:
    _PolicyBase = object


class EplbPolicy(_PolicyBase):
    """vLLM EPLB policy backed by eplb's C++ planner ("balanced" policy)."""

    #: eplb policy name: "balanced" (default), "global" or "deepseek" (vLLM's default, exactly).
    policy = "balanced"
    #: Search effort in [1, 1000]; more is slower and rarely worse.
    effort = 1

    @classmethod
    def rebalance_experts(cls, weight, num_replicas, num_groups, num_nodes, num_ranks):
        """Returns (phy2log, log2phy, logcnt) for `weight` `[layers, num_logical_experts]`."""
        return eplb.rebalance_experts(weight, num_replicas, num_groups, num_nodes, num_ranks,
                                      policy=cls.policy, effort=cls.effort)


def register(name="default"):
    """Makes vLLM use EplbPolicy for the EPLB policy `name` ("default" replaces vLLM's own).

    Returns False when vLLM is not installed.
    """
    try:
        from vllm.distributed.eplb import policy as vllm_policy
    except ImportError:
        return False
    vllm_policy.EPLB_POLICIES[name] = EplbPolicy
    return True


def main(argv=None):
    import numpy as np

    del argv
    print("registered with vLLM" if register() else "vLLM not installed: running standalone")
    # DeepSeek-V3: 58 MoE layers x 256 experts, 288 slots on 32 GPUs in 4 nodes, 8 groups.
    rng = np.random.default_rng(0)
    weight = rng.gamma(0.5, 1000.0, size=(58, 256)).astype(np.float32)
    try:
        import torch

        weight = torch.from_numpy(weight)
    except ImportError:
        pass
    phy2log, log2phy, logcnt = EplbPolicy.rebalance_experts(weight, 288, 8, 4, 32)
    print(f"phy2log {tuple(phy2log.shape)}, log2phy {tuple(log2phy.shape)}, "
          f"logcnt {tuple(logcnt.shape)} ({type(phy2log).__module__})")
    for policy in ("deepseek", "balanced"):
        candidate, _, _ = eplb.rebalance_experts(weight, 288, 8, 4, 32, policy=policy)
        metrics = eplb.evaluate(candidate, weight, 32)
        print(f"  {policy:>9}: gpu balancedness {metrics.gpu_balancedness:.4f}")
    return phy2log, log2phy, logcnt


if __name__ == "__main__":
    main(sys.argv[1:])
