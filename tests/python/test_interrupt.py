"""Ctrl-C (SIGINT) stops a long rebalance_experts, Planner.replan or replay between layers or
windows: KeyboardInterrupt arrives long before the call would have finished, and the module
still plans afterwards."""

import json
import subprocess
import sys
import textwrap

# Runs in a fresh interpreter, so that SIGINT reaches only it. Each call is
# first timed on a small size; the interrupted call is then sized to take `TARGET_S` seconds
# by that measure (layers and windows cost alike), and SIGINT comes after `DELAY_S`.
CHILD = textwrap.dedent("""
    import json, math, os, signal, threading, time
    import numpy as np
    import eplb

    TARGET_S, DELAY_S = 10.0, 0.3
    # A runner started in the background may have SIGINT ignored; Ctrl-C is Python's handler.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    rng = np.random.default_rng(0)

    def seconds(call):
        start = time.perf_counter()
        call()
        return time.perf_counter() - start

    def interrupted(call):
        timer = threading.Timer(DELAY_S, os.kill, (os.getpid(), signal.SIGINT))
        start = time.perf_counter()
        timer.start()
        try:
            call()
        except KeyboardInterrupt:
            return time.perf_counter() - start
        finally:
            timer.cancel()
        return None

    def rebalance(num_layers):
        weight = rng.gamma(0.5, 1000.0, size=(num_layers, 256))
        return lambda: eplb.rebalance_experts(weight, 288, 8, 4, 32, effort=20)

    def replan(num_layers):
        planner = eplb.Planner(288, 8, 4, 32, repair_rounds=2000)
        planner.observe(rng.gamma(0.5, 1000.0, size=(num_layers, 256)))
        current = planner.plan()[0]
        planner.observe(rng.gamma(0.5, 1000.0, size=(num_layers, 256)) * 100)
        return lambda: planner.replan(current, 0.0)

    def replay(num_windows):
        trace = rng.poisson(30.0, size=(5 * (num_windows + 1), 4, 256)).astype(np.float64)
        return lambda: eplb.replay(trace, 288, 8, 4, 32, interval=5, tolerance=0.0,
                                   repair_rounds=200)

    report = {}
    for name, make, small in (("rebalance_experts", rebalance, 4), ("replan", replan, 2),
                              ("replay", replay, 2)):
        per_unit = seconds(make(small)) / small
        size = max(small, math.ceil(TARGET_S / per_unit))
        call = make(size)
        report[name] = {"expected_s": per_unit * size, "interrupted_s": interrupted(call)}
    # Still planning, and the same plan as before the interrupts.
    weight = np.random.default_rng(1).gamma(0.5, 1000.0, size=(3, 256))
    first = eplb.rebalance_experts(weight, 288, 8, 4, 32)[0]
    report["same_plan_after"] = bool(
        (eplb.rebalance_experts(weight, 288, 8, 4, 32)[0] == first).all())
    print(json.dumps(report))
""")


def test_ctrl_c_interrupts_long_calls_between_layers():
    result = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report.pop("same_plan_after") is True
    for name, times in report.items():
        # None: the call ran to its end and KeyboardInterrupt never came.
        assert times["interrupted_s"] is not None, name
        # It stopped long before the work was done: within a quarter of the expected time
        # (the signal comes after a thirtieth of it).
        assert times["interrupted_s"] < times["expected_s"] / 4, (name, times)
