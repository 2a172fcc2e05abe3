"""`microinterp plan`: print, check, draw and write a model's arena plan, or compare the strategies.

The plan can be drawn (SVG, or PNG with matplotlib) and written into a copy of the model as TFLM's
offline plan; tensors placed over each other are then made safe for TFLM's reference kernels (the
tflm-reference schedule, planning/schedules.py), and a plan that is not is refused, naming the op.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..model import load_model
from ..planning import SCHEDULES, STRATEGIES
from ..planning.arena_size import KERNEL_SETS
from ..planning.plan import DEFAULT_TIME_BUDGET
from ..planning.schedules import MICROINTERP, TFLM_REFERENCE
from ..writer import with_offline_plan
from .arena_report import (
    COMPARED,
    TECHNIQUES,
    ArenaPlan,
    BufferPlacement,
    StrategyComparison,
    compare_models,
    parse_size,
    plan_arena,
)
from .boards import add_board_argument, board_fits, print_board_fits
from .command import EXIT_CHECK_FAILED, EXIT_OK, Command, failures_exit
from .render import Column, Output, name_text, nbytes_text
from .tflm_arena import TflmArenaFigures, header_text


def tflm_arena_fields(figures: TflmArenaFigures) -> list[tuple[str, str]]:
    """The TFLM arena lines `inspect` and `plan` print: the arena_size users copy, then its split."""
    tail = ", ".join(f"{k} {nbytes_text(v)}" for k, v in figures.tail_by_category_32bit.items())
    return [("TFLM arena_size", f"{nbytes_text(figures.tflm_arena_size)} bytes (64-bit host) / "
                                f"{nbytes_text(figures.tflm_arena_size_32bit)} bytes (32-bit Cortex-M), "
                                f"{figures.kernels} kernels"),
            ("  head", f"{nbytes_text(figures.head)} bytes"),
            ("  allocation-time peak", f"{nbytes_text(figures.allocation_peak_32bit)} bytes (32-bit; planner "
                                       f"working memory taken from the head side)"),
            ("  tail", f"{nbytes_text(figures.tail_32bit)} bytes (32-bit) / {nbytes_text(figures.tail_64bit)} "
                       f"bytes (64-bit)"),
            ("  tail by category", f"{tail} (32-bit)")]


def _tensor_label(b: BufferPlacement, multi: bool) -> str:
    return f"{b.subgraph}:{b.index}" if multi else str(b.index)


def print_plan(report: ArenaPlan, out: Output) -> None:
    """The text report of `microinterp plan` (tensors of a model with several subgraphs: subgraph:index)."""
    multi = any(b.subgraph for b in report.buffers)
    out.fields([("model", report.model), ("strategy", report.strategy),
                ("schedule", f"{report.schedule} (the kernels its shared bytes are safe for)")], indent=0)
    out.table([Column("position", True), Column("op", True), Column("operator"), Column("live bytes", True),
               Column("peak")],
              [[str(o.step), str(o.op), o.name, nbytes_text(o.live_bytes), "<- peak" if o.peak else ""]
               for o in report.ops], title="ops in execution order")
    out.table([Column("tensor", True), Column("name"), Column("offset", True), Column("size", True),
               Column("life (op positions)"), Column("shares")],
              [[_tensor_label(b, multi) if b.kind == "tensor" else "-", name_text(b.name), nbytes_text(b.offset),
                nbytes_text(b.size), f"{b.first}..{b.last}", b.shares]
               for b in sorted(report.buffers, key=lambda b: (b.offset, b.first))], title="planned buffers")
    gap = report.head - report.lower_bound
    bound = "reached" if gap == 0 else ("unreachable, head proven minimal" if report.proven_optimal
                                         else f"{nbytes_text(gap)} bytes below the head, not proven")
    out.fields([("head", f"{nbytes_text(report.head)} bytes"),
                ("lower bound", f"{nbytes_text(report.lower_bound)} bytes ({bound})"),
                ("fixed-order bound", f"{nbytes_text(report.fixed_order_bound)} bytes (model's op order, no sharing)"),
                *(tflm_arena_fields(report.tflm) if report.tflm is not None else
                  [("TFLM arena_size", "unknown: the model has ops whose TFLM allocations are not modelled")]),
                ("constants", f"{nbytes_text(report.constant_bytes)} bytes (flash)")], indent=0)
    for note in report.notes:
        out.line(note)
    if report.unsupported:
        out.line(f"planned without the scratch buffers of {len(report.unsupported)} op(s) microinterp has no "
                 f"kernel for:")
        for problem in report.unsupported:
            out.line(f"  - {problem}")
    if report.offline_plan_head is not None:
        written = report.deployed
        out.fields([("offline plan", f"written; TFLM's head with it: {nbytes_text(report.offline_plan_head)} bytes, "
                                     f"arena_size {nbytes_text(written.tflm_arena_size)} bytes (64-bit host) / "
                                     f"{nbytes_text(written.tflm_arena_size_32bit)} bytes (32-bit Cortex-M)")],
                   indent=0)
    if report.arena_limit is not None and report.deployed is not None:
        over = report.deployed.tflm_arena_size_32bit - report.arena_limit
        out.verdict(over <= 0, f"32-bit arena fits the limit of {nbytes_text(report.arena_limit)} bytes "
                               f"({nbytes_text(-over)} to spare)" if over <= 0 else
                    f"32-bit arena does not fit the limit of {nbytes_text(report.arena_limit)} bytes: "
                    f"{nbytes_text(over)} bytes over")
    print_board_fits(report.boards, out)


def print_comparisons(comparisons: list[StrategyComparison], out: Output) -> None:
    """The text report of `microinterp plan --compare`: one row per model, one column per strategy (head,
    and its difference from the fixed-order lower bound), a sum row for several models, then the bytes
    each technique saves."""
    def cell(head: int, bound: int) -> str:
        return f"{nbytes_text(head)} ({100.0 * (head - bound) / bound:+.1f}%)" if bound else nbytes_text(head)

    failed = [c for c in comparisons if c.error is not None]
    comparisons = [c for c in comparisons if c.error is None]
    rows = [[name_text(c.model.rsplit("/", 1)[-1]), nbytes_text(c.fixed_order_bound),
             *(cell(c.head(s), c.fixed_order_bound) for s in COMPARED)] for c in comparisons]
    rows += [[name_text(c.model.rsplit("/", 1)[-1]), "failed", *[""] * len(COMPARED)] for c in failed]
    if len(comparisons) > 1:
        total = sum(c.fixed_order_bound for c in comparisons)
        rows.append(["sum", nbytes_text(total),
                     *(cell(sum(c.head(s) for c in comparisons), total) for s in COMPARED)])
    out.table([Column("model"), Column("lower bound", True), *(Column(s, True) for s in COMPARED)], rows,
              title="arena head in bytes (difference from the lower bound: peak live bytes in the model's op order)")
    techniques = [t for t, _, _ in TECHNIQUES]
    saved = [[name_text(c.model.rsplit("/", 1)[-1]), *(nbytes_text(c.savings[t]) for t in techniques)]
             for c in comparisons]
    if len(comparisons) > 1:
        saved.append(["sum", *(nbytes_text(sum(c.savings[t] for c in comparisons)) for t in techniques)])
    out.table([Column("model"), *(Column(t, True) for t in techniques)], saved,
              title="bytes saved by each technique, added in turn from the tflm plan")
    unproven = [f"{c.model} {r.strategy} (bound {nbytes_text(r.lower_bound)})"
                for c in comparisons for r in c.rows if not r.proven_optimal and r.strategy != "tflm"]
    if unproven:
        out.line("not proven minimal: " + "; ".join(unproven))


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("models", type=Path, nargs="+", metavar="MODEL",
                        help=".tflite file (several with --compare)")
    parser.add_argument("--strategy", choices=STRATEGIES,
                        help="memory strategy (default tflm, TFLM's own plan; not with --compare)")
    parser.add_argument("--arena-limit", type=parse_size, metavar="SIZE",
                        help="check that the 32-bit Cortex-M arena_size fits, e.g. 256K (exit 1 if not)")
    parser.add_argument("--kernels", choices=KERNEL_SETS, default="reference",
                        help="TFLM kernel set the arena figures are for (default reference)")
    parser.add_argument("--header", type=Path, metavar="FILE",
                        help="write a C header declaring alignas(16) tensor_arena[kTensorArenaSize] (32-bit)")
    parser.add_argument("--compare", action="store_true",
                        help="plan each model with every strategy, side by side, and the bytes each technique saves")
    parser.add_argument("--svg", type=Path, metavar="FILE", help="draw the plan as SVG")
    parser.add_argument("--png", type=Path, metavar="FILE", help="draw the plan as PNG (needs matplotlib)")
    parser.add_argument("--write-offline-plan", type=Path, metavar="OUT",
                        help="write a copy of the model carrying the plan as TFLM offline plan metadata")
    parser.add_argument("--schedule", choices=SCHEDULES, metavar="|".join(SCHEDULES),
                        help=f"whose kernels the inplace plan's overlaps must be safe for: {MICROINTERP} (this "
                             f"interpreter) or {TFLM_REFERENCE} (TFLM's reference kernels); default "
                             f"{TFLM_REFERENCE} with --write-offline-plan, else {MICROINTERP}")
    add_board_argument(parser)
    parser.add_argument("--time-budget", type=float, default=DEFAULT_TIME_BUDGET, metavar="SECONDS",
                        help=f"search time per plan (default {DEFAULT_TIME_BUDGET:g})")


def _run(args: argparse.Namespace, out: Output) -> int:
    if args.compare:
        if args.strategy is not None:
            raise ValueError(f"--compare plans every strategy ({', '.join(COMPARED)}); "
                             f"--strategy {args.strategy} plans one: give one or the other")
        comparisons = compare_models(args.models, time_budget=args.time_budget, schedule=args.schedule or MICROINTERP)
        if args.json:
            out.json(comparisons)
        else:
            print_comparisons(comparisons, out)
        return failures_exit("plan", [(c.model, c.error) for c in comparisons if c.error is not None])
    if args.png:
        from .drawing import require_matplotlib
        require_matplotlib()  # before any planning, which can take a while
    if len(args.models) > 1:
        raise ValueError(f"{len(args.models)} models given: plan one at a time, or compare several with --compare")
    path = args.models[0]
    model = load_model(path)
    schedule = args.schedule or (TFLM_REFERENCE if args.write_offline_plan else MICROINTERP)
    report, plan = plan_arena(model, args.strategy or "tflm", arena_limit=args.arena_limit,
                              time_budget=args.time_budget, name=str(path), schedule=schedule,
                              kernels=args.kernels)
    if args.write_offline_plan:
        written = with_offline_plan(model, plan)
        args.write_offline_plan.write_bytes(written)
        # The written model is what the firmware runs: its head and arena_size are the ones to report.
        model = load_model(written)
        written_report, plan = plan_arena(model, name=str(args.write_offline_plan), kernels=args.kernels)
        report.offline_plan_head = written_report.head
        report.offline_plan_tflm = written_report.tflm
    report.boards = board_fits(args.board, model, plan, args.kernels)
    if args.header:
        if report.deployed is None:
            raise ValueError(f"--header: no TFLM arena_size for {path}: it has ops whose TFLM allocations are "
                             f"not modelled ({'; '.join(report.unsupported)})")
        firmware_model = args.write_offline_plan or path
        args.header.write_text(header_text(report.deployed, firmware_model.name, args.strategy))
    if args.svg or args.png:
        from .drawing import write_png, write_svg
        if args.svg:
            write_svg(report, args.svg)
        if args.png:
            write_png(report, args.png)
    if args.json:
        out.json(report)
    else:
        print_plan(report, out)
    return EXIT_CHECK_FAILED if report.fits is False else EXIT_OK


COMMAND = Command("plan", "plan the tensor arena: op order, offsets, head, tail, fit; compare strategies",
                  _add_arguments, _run)
