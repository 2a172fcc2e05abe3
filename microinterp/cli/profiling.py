"""Where an invoke spends its time and arena: the Python API behind `microinterp profile`.

Per op: wall time in microinterp (median over repeated invokes) and its share of the total, MACs,
MAC/s and their share of one core's int8 peak on the kernels' path (cpu.int8_peak: 64 MACs per cycle
with AVX-512 VNNI, at the measured clock), and the arena head bytes live while the op runs (the TFLM
plan's buffers whose lifetime covers the op). Times are microinterp's on this host, not an MCU's; they
show where the work is.
"""
from __future__ import annotations

import argparse
import os
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from ..planning import MemoryPlan
from ..workload import op_macs
from .command import EXIT_OK, Command
from .cpu import int8_peak
from .render import Column, Output, count_text, nbytes_text, seconds_text
from .runner import ready_interpreter


@dataclass(frozen=True)
class OpProfile:
    """One op: median wall time (seconds), share of the summed op times, MACs, live arena head bytes, and
    the int8 peak MAC/s of this core (0 if unknown)."""
    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("macs_per_second", "peak_share")
    index: int
    op: str
    seconds: float
    share: float
    macs: int
    live_bytes: int
    peak: float = 0.0

    @property
    def macs_per_second(self) -> float:
        """MACs over median time (0 for ops without MACs)."""
        return self.macs / self.seconds if self.seconds > 0 else 0.0

    @property
    def peak_share(self) -> float:
        """MAC/s over the int8 peak (0 where either is unknown)."""
        return self.macs_per_second / self.peak if self.peak > 0 else 0.0


@dataclass(frozen=True)
class ProfileReport:
    """Per-op profile of one model, with the arena head and the largest live total."""
    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("total_seconds", "macs", "peak_live_bytes", "peak_share")
    model: str
    repeats: int
    arena_head: int
    ops: list[OpProfile]
    peak: float = 0.0
    peak_path: str = ""

    @property
    def total_seconds(self) -> float:
        """Sum of the ops' median times."""
        return sum(op.seconds for op in self.ops)

    @property
    def macs(self) -> int:
        """MACs of one invoke."""
        return sum(op.macs for op in self.ops)

    @property
    def peak_share(self) -> float:
        """The whole invoke's MAC/s over the int8 peak (0 where unknown)."""
        return self.macs / self.total_seconds / self.peak if self.peak > 0 and self.total_seconds > 0 else 0.0

    @property
    def peak_live_bytes(self) -> int:
        """The most head bytes live during any one op."""
        return max((op.live_bytes for op in self.ops), default=0)


def live_bytes_per_op(plan: MemoryPlan) -> dict[int, int]:
    """Head bytes live while each op of the main subgraph runs (bytes two buffers share counted once),
    by op index: the plan's live bytes per step of its op order."""
    return dict(zip(plan.op_order, plan.live_bytes()))


def profile_model(model_path: str | os.PathLike, repeats: int = 10, seed: int = 0) -> ProfileReport:
    """Profile a model on seeded random inputs: one untimed warm-up invoke, then `repeats` timed ones.
    Ops are listed in execution order; an op that aliases its input (no step runs) takes 0 s."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    interp, _ = ready_interpreter(model_path, seed=seed)
    interp.invoke()
    runs: list[list[float]] = []
    for _ in range(repeats):
        runs.append([])
        interp.invoke(op_times=runs[-1])
    main = interp.model.main
    seconds = dict(zip(interp.executed_ops, (statistics.median(times) for times in zip(*runs))))
    total = sum(seconds.values())
    plan = interp.memory_plan
    live = live_bytes_per_op(plan)
    peak = int8_peak()
    peak_rate = peak.macs_per_second if peak else 0.0
    ops = []
    for k in plan.op_order:
        s = seconds.get(k, 0.0)
        ops.append(OpProfile(k, main.operators[k].name, s, s / total if total > 0 else 0.0,
                             op_macs(main, main.operators[k]), live[k], peak_rate))
    return ProfileReport(str(model_path), repeats, plan.head, ops, peak_rate, peak.path if peak else "")


# -- command line -----------------------------------------------------------------------------------

def print_report(report: ProfileReport, out: Output) -> None:
    """The text report of `microinterp profile`."""
    rows = [[str(op.index), op.op, seconds_text(op.seconds), f"{op.share:.1%}",
             count_text(op.macs) if op.macs else "", count_text(op.macs_per_second) if op.macs else "",
             f"{op.peak_share:.1%}" if op.macs and op.peak else "", nbytes_text(op.live_bytes)]
            for op in report.ops]
    out.table([Column("#", True), Column("op"), Column("time", True), Column("share", True), Column("MACs", True),
               Column("MAC/s", True), Column("peak", True), Column("live arena", True)], rows,
              title=f"{Path(report.model).name}: median of {report.repeats} invokes")
    rate = report.macs / report.total_seconds if report.total_seconds else 0.0
    peak = (f", {report.peak_share:.1%} of the {count_text(report.peak)} MAC/s int8 peak ({report.peak_path})"
            if report.peak else "")
    out.fields([("total", f"{seconds_text(report.total_seconds)}, {count_text(report.macs)} MACs "
                          f"({count_text(rate)} MAC/s{peak})"),
                ("arena head", f"{nbytes_text(report.arena_head)} bytes, at most "
                               f"{nbytes_text(report.peak_live_bytes)} live at once")], indent=0)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help=".tflite file")
    parser.add_argument("--repeats", type=int, default=10, help="timed invokes (default 10, after 1 warm-up)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")


def _run(args: argparse.Namespace, out: Output) -> int:
    report = profile_model(args.model, args.repeats, args.seed)
    if args.json:
        out.json(report)
    else:
        print_report(report, out)
    return EXIT_OK


COMMAND = Command("profile", "per-op time and share, MACs and MAC/s, and arena bytes live at each op",
                  _add_arguments, _run)
