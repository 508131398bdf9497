"""Plans on one window of a recorded load trace and scores the plan on the next window.

This is how a server uses a planner: it sums the expert loads of the last window of steps,
plans, and serves the following steps with that plan. The score that matters is the GPU
balancedness on the *next* window (mean GPU load / heaviest GPU, summed over layers; 1 is
perfect).

    eplb gen --output trace.json                  # or a trace recorded by vLLM
    python plan_from_trace.py trace.json --window 100
"""

import argparse
import sys

import eplb


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trace", help="load file: vLLM trace JSON, JSON matrix, CSV or .npy")
    parser.add_argument("--window", type=int, default=100, help="steps summed per window")
    parser.add_argument("--replicas", type=int, default=288, help="slots per layer")
    parser.add_argument("--groups", type=int, default=8, help="expert groups")
    parser.add_argument("--nodes", type=int, default=4, help="nodes")
    parser.add_argument("--gpus", type=int, default=32, help="GPUs")
    parser.add_argument("--policies", default="deepseek,balanced", help="comma-separated")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    num_steps = eplb.read_trace(args.trace).shape[0]
    # Plan on steps [0, window), score on [window, 2 * window); a short trace is scored on the
    # steps it was planned on.
    plan_steps = (0, min(args.window, num_steps))
    score_steps = (plan_steps[1], min(2 * args.window, num_steps))
    if score_steps[0] == score_steps[1]:
        score_steps = plan_steps
    plan_loads = eplb.read_loads(args.trace, steps=plan_steps)
    score_loads = eplb.read_loads(args.trace, steps=score_steps)
    print(f"{args.trace}: {num_steps} steps, {plan_loads.shape[0]} layers x "
          f"{plan_loads.shape[1]} experts; plan on steps {plan_steps[0]}:{plan_steps[1]}, "
          f"score on {score_steps[0]}:{score_steps[1]}")
    results = {}
    for policy in args.policies.split(","):
        phy2log, _, _ = eplb.rebalance_experts(plan_loads, args.replicas, args.groups,
                                               args.nodes, args.gpus, policy=policy)
        metrics = eplb.evaluate(phy2log, score_loads, args.gpus)
        results[policy] = metrics
        print(f"  {policy:>9}: gpu balancedness {metrics.gpu_balancedness:.4f}, "
              f"gap to the lower bound {metrics.gap:.2%}")
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
