"""Invoke latency of models in microinterp and, optionally, the official interpreters: the Python API
behind `microinterp bench`.

Every interpreter is timed the same way: one untimed warm-up invoke, then `repeats` timed invokes on
one set of seeded random inputs (the official ones inside the oracle worker process, so the pickling
of requests is not counted).
"""
from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..errors import MicrointerpError
from ..oracles import InvokeTimes, OracleWorker
from .command import EXIT_OK, Command, add_oracle_arguments, oracle_backend
from .render import Column, Output, seconds_text
from .runner import ready_interpreter, time_invokes

MICROINTERP = "microinterp"


@dataclass(frozen=True)
class Timing(InvokeTimes):
    """Invoke wall times in seconds of one model in one interpreter."""
    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("median", "best")
    backend: str = ""


@dataclass(frozen=True)
class BenchRow:
    """One model's timings, microinterp first, then each official interpreter asked for."""
    model: str
    timings: list[Timing]


@dataclass(frozen=True)
class BenchReport:
    """Latencies of every model in every interpreter."""
    repeats: int
    backends: list[str]
    rows: list[BenchRow]


#: One unit of work: (model position, backend), so a progress bar can advance per timed interpreter.
Task = tuple[int, str]


def bench_models(model_paths: Sequence[str | os.PathLike], backends: Sequence[str] = (), repeats: int = 10,
                 seed: int = 0, progress: Callable[[Sequence[Task]], Iterable[Task]] = iter) -> BenchReport:
    """Time every model in microinterp and in each oracle backend ("tflm", "litert_ref", ...).

    Every model is loaded and prepared first, so an unsupported or broken model fails before any timing,
    with a ValueError naming it (the original error is its __cause__).
    progress wraps the iteration over the tasks (e.g. to draw a progress bar).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    ready = []
    for path in model_paths:
        try:
            ready.append(ready_interpreter(path, seed=seed))
        except (MicrointerpError, OSError) as e:  # among several models, say which one
            raise ValueError(f"{os.fspath(path)}: {e}") from e
    tasks = [(k, backend) for k in range(len(model_paths)) for backend in (MICROINTERP, *backends)]
    times: dict[Task, list[float]] = {}
    with OracleWorker() as worker:  # starts its process on the first oracle request only
        for k, backend in progress(tasks):
            interp, inputs = ready[k]
            times[k, backend] = (time_invokes(interp, repeats, warmup=1) if backend == MICROINTERP
                                 else worker.time_invoke(model_paths[k], inputs, backend, repeats).times)
    rows = [BenchRow(str(p), [Timing(times[k, b], b) for b in (MICROINTERP, *backends)])
            for k, p in enumerate(model_paths)]
    return BenchReport(repeats, list(backends), rows)


# -- command line -----------------------------------------------------------------------------------

def print_report(report: BenchReport, out: Output) -> None:
    """The text report of `microinterp bench`: median latency per interpreter, and microinterp's speedup
    over each official one (their median / microinterp's)."""
    columns = [Column("model"), Column(MICROINTERP, True)]
    for b in report.backends:
        columns += [Column(b, True), Column(f"speedup vs {b}", True)]
    rows = []
    for row in report.rows:
        ours = row.timings[0].median
        cells = [Path(row.model).name, seconds_text(ours)]
        for t in row.timings[1:]:
            cells += [seconds_text(t.median), f"{t.median / ours:.2f}x" if ours > 0 else ""]
        rows.append(cells)
    out.table(columns, rows, title=f"median invoke latency ({report.repeats} runs after 1 warm-up)")


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("models", nargs="+", type=Path, metavar="MODEL", help=".tflite files")
    add_oracle_arguments(parser, multiple=True)
    parser.add_argument("--repeats", type=int, default=10, help="timed invokes per model and interpreter")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")


def _run(args: argparse.Namespace, out: Output) -> int:
    backends = list(dict.fromkeys(oracle_backend(kind, args.litert) for kind in args.against))
    report = bench_models(args.models, backends, args.repeats, args.seed,
                          progress=lambda tasks: out.progress(tasks, lambda t: f"{args.models[t[0]].name} {t[1]}"))
    if args.json:
        out.json(report)
    else:
        print_report(report, out)
    return EXIT_OK


COMMAND = Command("bench", "latency of one or more models in microinterp (and with --against, official "
                           "interpreters)", _add_arguments, _run)
