"""Throughput of independent Interpreters in parallel threads (the compiled kernels release the GIL):
invokes per second with 1 thread, then with T threads each running its own Interpreter of the same
model; the speed-up is their ratio (ideal: min(T, cores)).

    PYTHONPATH=. python benchmarks/threads.py [MODEL ...] [--threads 2] [--seconds 5]
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from microinterp.cli.runner import ready_interpreter  # noqa: E402

SHARED = Path(os.environ.get("MICROINTERP_SHARED_MODELS", ROOT.parent / "shared" / "models"))
DEFAULT_MODELS = [SHARED / "mlperf_tiny" / "vww_96_int8.tflite", SHARED / "mlperf_tiny" / "vww_96_float.tflite"]


def invokes_per_second(path: Path, threads: int, seconds: float) -> float:
    """Total invokes per second of `threads` threads, each invoking its own Interpreter for `seconds`."""
    interpreters = [ready_interpreter(path)[0] for _ in range(threads)]
    counts = [0] * threads
    start_line = threading.Barrier(threads + 1)

    def loop(k: int) -> None:
        start_line.wait()
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            interpreters[k].invoke()
            counts[k] += 1
    workers = [threading.Thread(target=loop, args=(k,)) for k in range(threads)]
    for w in workers:
        w.start()
    start_line.wait()
    begin = time.perf_counter()
    for w in workers:
        w.join()
    return sum(counts) / (time.perf_counter() - begin)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, default=DEFAULT_MODELS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    print(f"cores available: {len(os.sched_getaffinity(0))}")
    print(f"| model | 1 thread (invokes/s) | {args.threads} threads (invokes/s) | speed-up |")
    print("|---|---:|---:|---:|")
    for path in args.models:
        one = invokes_per_second(path, 1, args.seconds)
        many = invokes_per_second(path, args.threads, args.seconds)
        print(f"| {path.stem} | {one:.1f} | {many:.1f} | {many / one:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
