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
from ..oracles import InvokeTimes, OracleCrash, OracleError, OracleWorker
from .command import (BACKEND_LABELS, Command, add_oracle_arguments, failures_exit, one_line,
                      oracle_backend)
from .render import Column, Output, seconds_text
from .runner import ready_interpreter, time_invokes

MICROINTERP = "microinterp"


@dataclass(frozen=True)
class Timing(InvokeTimes):
    """Invoke wall times in seconds of one model in one interpreter."""
    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("median", "best", "label")
    backend: str = ""

    @property
    def label(self) -> str:
        """The interpreter as reports name it ("tflm", "litert-xnnpack", ...)."""
        return BACKEND_LABELS.get(self.backend, self.backend)


@dataclass(frozen=True)
class BenchRow:
    """One model's timings, microinterp first, then each official interpreter asked for; or, when the
    model could not be run by one of them, no timings and the reason in `error`."""
    model: str
    timings: list[Timing]
    error: str | None = None


@dataclass(frozen=True)
class BenchReport:
    """Latencies of every model in every interpreter."""
    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("failed",)
    repeats: int
    backends: list[str]
    rows: list[BenchRow]

    @property
    def failed(self) -> list[str]:
        """The models that could not be timed."""
        return [row.model for row in self.rows if row.error is not None]


#: One unit of work: (model position, backend), so a progress bar can advance per timed interpreter.
Task = tuple[int, str]


def bench_models(model_paths: Sequence[str | os.PathLike], backends: Sequence[str] = (), repeats: int = 10,
                 seed: int = 0, progress: Callable[[Sequence[Task]], Iterable[Task]] = iter) -> BenchReport:
    """Time every model in microinterp and in each oracle backend ("tflm", "litert_ref", ...).

    A model that microinterp cannot load or prepare (unsupported, broken, missing), or that an official
    interpreter fails on, gets a row with the reason in `error` (one line) and the others are timed.
    progress wraps the iteration over the tasks (e.g. to draw a progress bar).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    ready: dict[int, tuple] = {}
    errors: dict[int, str] = {}
    for k, path in enumerate(model_paths):
        try:
            ready[k] = ready_interpreter(path, seed=seed)
        except (MicrointerpError, OSError, ValueError) as e:
            errors[k] = one_line(e)
    tasks = [(k, backend) for k in ready for backend in (MICROINTERP, *backends)]
    times: dict[Task, list[float]] = {}
    with OracleWorker() as worker:  # starts its process on the first oracle request only
        for k, backend in progress(tasks):
            if k in errors:
                continue
            interp, inputs = ready[k]
            try:
                times[k, backend] = (time_invokes(interp, repeats, warmup=1) if backend == MICROINTERP
                                     else worker.time_invoke(model_paths[k], inputs, backend, repeats).times)
            except (OracleError, OracleCrash) as e:
                errors[k] = f"{BACKEND_LABELS.get(backend, backend)}: {one_line(e)}"
    rows = [BenchRow(str(p), [], errors[k]) if k in errors else
            BenchRow(str(p), [Timing(times[k, b], b) for b in (MICROINTERP, *backends)])
            for k, p in enumerate(model_paths)]
    return BenchReport(repeats, list(backends), rows)


# -- command line -----------------------------------------------------------------------------------

def print_report(report: BenchReport, out: Output) -> None:
    """The text report of `microinterp bench`: median latency per interpreter, and microinterp's speedup
    over each official one (their median / microinterp's)."""
    columns = [Column("model"), Column(MICROINTERP, True)]
    for b in map(BACKEND_LABELS.get, report.backends):
        columns += [Column(b, True), Column(f"speedup vs {b}", True)]
    rows = []
    for row in report.rows:
        if row.error is not None:
            rows.append([Path(row.model).name, "failed", *[""] * (len(columns) - 2)])
            continue
        ours = row.timings[0].median
        cells = [Path(row.model).name, seconds_text(ours)]
        for t in row.timings[1:]:
            cells += [seconds_text(t.median), f"{t.median / ours:.2f}x" if ours > 0 else ""]
        rows.append(cells)
    out.table(columns, rows, title=f"median invoke latency ({report.repeats} runs after 1 warm-up)")


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("models", nargs="+", type=Path, metavar="MODEL", help=".tflite files")
    # XNNPACK: the speed a user of LiteRT gets, the one worth comparing against.
    add_oracle_arguments(parser, multiple=True, litert_default="xnnpack")
    parser.add_argument("--repeats", type=int, default=10, help="timed invokes per model and interpreter")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")


def _run(args: argparse.Namespace, out: Output) -> int:
    backends = list(dict.fromkeys(oracle_backend(kind, args.litert) for kind in args.against))
    report = bench_models(args.models, backends, args.repeats, args.seed,
                          progress=lambda tasks: out.progress(
                              tasks, lambda t: f"{args.models[t[0]].name} {BACKEND_LABELS.get(t[1], t[1])}"))
    if args.json:
        out.json(report)
    else:
        print_report(report, out)
    return failures_exit("bench", [(row.model, row.error) for row in report.rows if row.error is not None])


COMMAND = Command("bench", "latency of one or more models in microinterp (and with --against, official "
                           "interpreters)", _add_arguments, _run)
