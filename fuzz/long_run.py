"""Mutation fuzzing of microinterp for a given duration, in crash-isolating worker processes.

    python -m fuzz.long_run --minutes 60 [--workers 2] [--timeout 10] [--seed 0] [--out fuzz-findings]

Mutates the shared and reference models (fuzz/mutations.py), runs each input through load +
allocate_tensors + invoke in a worker process (fuzz/worker.py) and prints the inputs tried, the
rejections by error class, and every bug (a non-microinterp exception), crash and hang. Reproducers
of failures are saved under --out with a note of the mutation and the traceback. Exit status 1 when
anything failed.
"""
from __future__ import annotations

import argparse
import collections
import random
import sys
import threading
import time
from pathlib import Path

from fuzz.mutations import corpus_paths, mutate
from fuzz.worker import Outcome, Worker, save_reproducer

#: Models that run end to end are mutated more often: their mutants reach the kernels.
RUNNABLE_WEIGHT = 4
#: Reproducers kept per distinct failure (error class + innermost frame).
KEEP_PER_SIGNATURE = 3


def signature(outcome: Outcome) -> str:
    """A failure's identity: status, error class and, for a bug, the innermost source line."""
    where = ""
    if outcome.status == "bug":
        frames = [line.strip() for line in outcome.message.splitlines() if line.strip().startswith("File ")]
        where = frames[-1] if frames else ""
    return f"{outcome.status} {outcome.error} {where}".strip()


class Stats:
    """Counts shared by the worker threads."""

    def __init__(self, out: Path):
        self.lock = threading.Lock()
        self.out = out
        self.tried = 0
        self.status: collections.Counter[str] = collections.Counter()
        self.rejections: collections.Counter[str] = collections.Counter()
        self.failures: collections.Counter[str] = collections.Counter()
        self.examples: dict[str, Path] = {}

    def record(self, content: bytes, label: str, outcome: Outcome) -> None:
        with self.lock:
            self.tried += 1
            self.status[outcome.status] += 1
            if outcome.status == "rejected":
                self.rejections[outcome.error] += 1
            elif outcome.failed:
                sig = signature(outcome)
                self.failures[sig] += 1
                if self.failures[sig] <= KEEP_PER_SIGNATURE:
                    path = save_reproducer(content, outcome, self.out, label)
                    self.examples.setdefault(sig, path)

    def report(self, elapsed: float) -> str:
        with self.lock:
            lines = [f"{self.tried} inputs in {elapsed:.0f} s ({self.tried / max(elapsed, 1e-9):.1f}/s): "
                     + ", ".join(f"{k} {v}" for k, v in sorted(self.status.items())),
                     f"crashes: {self.status['crash']}, hangs: {self.status['hang']}, "
                     f"bugs (non-microinterp exceptions): {self.status['bug']}",
                     "rejections by error class:"]
            lines += [f"  {name}: {n}" for name, n in self.rejections.most_common()]
            if self.failures:
                lines.append("failures (reproducer of each):")
                lines += [f"  {n} x {sig}\n      {self.examples.get(sig)}" for sig, n in self.failures.most_common()]
            return "\n".join(lines)


def weighted_corpus(paths: list[Path], timeout: float) -> tuple[list[bytes], list[int]]:
    """The corpus bytes and a weight per model (originals are run once to find the runnable ones)."""
    corpus = [p.read_bytes() for p in paths]
    weights = []
    with Worker(timeout=timeout) as worker:
        for content in corpus:
            weights.append(RUNNABLE_WEIGHT if worker.run(content).status == "ok" else 1)
    return corpus, weights


def fuzz_loop(worker_id: int, seed: int, deadline: float, corpus: list[bytes], weights: list[int],
              stats: Stats, timeout: float) -> None:
    """One worker thread: mutate, run in its own child process, record, until the deadline."""
    rng = random.Random(f"{seed}-{worker_id}")
    picks = [i for i, w in enumerate(weights) for _ in range(w)]
    with Worker(timeout=timeout) as worker:
        n = 0
        while time.monotonic() < deadline:
            base = corpus[rng.choice(picks)]
            content, how = mutate(rng, [base] + corpus)
            label = f"seed {seed} worker {worker_id} input {n}: {how}"
            stats.record(content, label, worker.run(content, seed=n))
            n += 1


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, fuzz until the time is up, print the counts."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=60.0, help="how long to fuzz (default 60)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes in parallel (default 2)")
    parser.add_argument("--timeout", type=float, default=10.0,
                        help="seconds one input may take before it counts as a hang (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=Path, default=Path("fuzz-findings"),
                        help="where reproducers are saved (default ./fuzz-findings)")
    parser.add_argument("--corpus", type=Path, action="append", default=[],
                        help="extra .tflite files or folders to mutate (repeatable)")
    args = parser.parse_args(argv)

    paths = corpus_paths(args.corpus)
    if not paths:
        print("no .tflite models found (shared models, reference_models/, --corpus)", file=sys.stderr)
        return 2
    corpus, weights = weighted_corpus(paths, args.timeout)
    print(f"corpus: {len(paths)} models, {sum(w > 1 for w in weights)} run end to end", flush=True)
    stats = Stats(args.out)
    start = time.monotonic()
    deadline = start + 60 * args.minutes
    threads = [threading.Thread(target=fuzz_loop, daemon=True,
                                args=(i, args.seed, deadline, corpus, weights, stats, args.timeout))
               for i in range(args.workers)]
    for t in threads:
        t.start()
    next_report = start + 60.0
    while any(t.is_alive() for t in threads):
        for t in threads:
            t.join(timeout=max(0.0, next_report - time.monotonic()))
        if time.monotonic() >= next_report:
            print(stats.report(time.monotonic() - start).splitlines()[0], flush=True)
            next_report += 60.0
    print(stats.report(time.monotonic() - start))
    return 1 if stats.failures else 0


if __name__ == "__main__":
    sys.exit(main())
