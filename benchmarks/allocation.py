"""How loading and allocate_tensors() scale with the size of the graph (issue 16): chains of float ADDs
(every result a graph output, so all of them live to the end; or only the last one) and random DAGs,
from 1,000 to 64,000 ops, with the default limits and the tflm strategy. Prints the seconds of each
phase (best of --repeats runs) and, per doubling of the graph, how much each phase grew (2.0 = linear,
4.0 = quadratic).

The goal it checks: the 16,000-op chain loads and allocates in under 2 s with the default limits.

    PYTHONPATH=. python benchmarks/allocation.py [--sizes 1000 4000 16000 64000] [--kinds chain ...]
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from large_graphs import add_chain, random_dag  # noqa: E402
from microinterp import Interpreter  # noqa: E402
from microinterp.execution import ExecutionPlan, plan_prepared  # noqa: E402
from microinterp.model import DEFAULT_MAX_TENSORS  # noqa: E402
from microinterp.prepare import prepare_model  # noqa: E402

KINDS = {"chain": lambda n: add_chain(n), "chain_one_output": lambda n: add_chain(n, all_outputs=False),
         "random_dag": lambda n: random_dag(n, 0)}
PHASES = ("load", "prepare", "plan", "bind", "allocate_tensors", "load+allocate")
GOAL_OPS, GOAL_SECONDS = 16_000, 2.0


def time_phases(content: bytes, limits: dict[str, int]) -> dict[str, float]:
    """Seconds of each phase: load (Interpreter()), then allocate_tensors() and, separately, its parts."""
    start = time.perf_counter()
    interp = Interpreter(model_content=content, **limits)
    loaded = time.perf_counter()
    interp.allocate_tensors()
    allocated = time.perf_counter()
    prepared = prepare_model(interp.model)
    t_prepare = time.perf_counter()
    plan = plan_prepared(interp.model, prepared)
    t_plan = time.perf_counter()
    ExecutionPlan(interp.model, prepared, plan, interp.arena)
    t_bind = time.perf_counter()
    return {"load": loaded - start, "prepare": t_prepare - allocated, "plan": t_plan - t_prepare,
            "bind": t_bind - t_plan, "allocate_tensors": allocated - loaded, "load+allocate": allocated - start}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000, 16000, 64000])
    parser.add_argument("--kinds", nargs="+", choices=sorted(KINDS), default=list(KINDS))
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs per phase (a busy "
                        "machine only ever slows a run down)")
    args = parser.parse_args()
    goal = None
    print("| graph | ops | " + " | ".join(PHASES) + " |")
    print("|---|---:|" + "---:|" * len(PHASES))
    for kind in args.kinds:
        previous = None
        for n in args.sizes:
            content = KINDS[kind](n)
            # graphs above the default limits (64,000 ops) are measured with max_ops and max_tensors raised
            limits = {} if n < DEFAULT_MAX_TENSORS else {"max_ops": 1 << 20, "max_tensors": 1 << 20}
            runs = [time_phases(content, limits) for _ in range(args.repeats)]
            seconds = {p: min(run[p] for run in runs) for p in PHASES}
            cells = [f"{seconds[p]:.3f}" for p in PHASES]
            if previous is not None:
                doublings = math.log2(n / previous[0])
                cells = [f"{c} (x{(seconds[p] / max(previous[1][p], 1e-6)) ** (1 / doublings):.1f})"
                         for c, p in zip(cells, PHASES)]
            print(f"| {kind} | {n} | " + " | ".join(cells) + " |", flush=True)
            previous = (n, seconds)
            if kind == "chain" and n == GOAL_OPS:
                goal = seconds["load+allocate"]
    if goal is not None:
        verdict = "met" if goal < GOAL_SECONDS else "NOT met"
        print(f"\ngoal: the {GOAL_OPS}-op chain loads and allocates in {goal:.2f} s "
              f"(target < {GOAL_SECONDS} s): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
