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
from ..planning.plan import DEFAULT_TIME_BUDGET
from ..planning.schedules import MICROINTERP, TFLM_REFERENCE
from ..writer import with_offline_plan
from .arena_report import (
    COMPARED,
    TECHNIQUES,
    ArenaPlan,
    StrategyComparison,
    compare_models,
    parse_size,
    plan_arena,
)
from .boards import add_board_argument, board_fits, print_board_fits
from .command import EXIT_CHECK_FAILED, EXIT_OK, Command, failures_exit
from .render import Column, Output, name_text, nbytes_text


def print_plan(report: ArenaPlan, out: Output) -> None:
    """The text report of `microinterp plan`."""
    out.fields([("model", report.model), ("strategy", report.strategy),
                ("schedule", f"{report.schedule} (the kernels its shared bytes are safe for)")], indent=0)
    out.table([Column("position", True), Column("op", True), Column("operator"), Column("live bytes", True),
               Column("peak")],
              [[str(o.step), str(o.op), o.name, nbytes_text(o.live_bytes), "<- peak" if o.peak else ""]
               for o in report.ops], title="ops in execution order")
    out.table([Column("tensor", True), Column("name"), Column("offset", True), Column("size", True),
               Column("life (op positions)"), Column("shares")],
              [[str(b.index) if b.kind == "tensor" else "-", name_text(b.name), nbytes_text(b.offset),
                nbytes_text(b.size), f"{b.first}..{b.last}", b.shares]
               for b in sorted(report.buffers, key=lambda b: (b.offset, b.first))], title="planned buffers")
    gap = report.head - report.lower_bound
    bound = "reached" if gap == 0 else ("unreachable, head proven minimal" if report.proven_optimal
                                         else f"{nbytes_text(gap)} bytes below the head, not proven")
    out.fields([("head", f"{nbytes_text(report.head)} bytes"),
                ("lower bound", f"{nbytes_text(report.lower_bound)} bytes ({bound})"),
                ("fixed-order bound", f"{nbytes_text(report.fixed_order_bound)} bytes (model's op order, no sharing)"),
                ("tail", f"{nbytes_text(report.tail_estimate)} bytes (estimate for a 32-bit target)"),
                ("arena", f"{nbytes_text(report.total)} bytes (head + tail)"),
                ("constants", f"{nbytes_text(report.constant_bytes)} bytes (flash)")], indent=0)
    if report.offline_plan_head is not None:
        out.fields([("offline plan", f"written; TFLM's head with it: {nbytes_text(report.offline_plan_head)} bytes")],
                   indent=0)
    if report.arena_limit is not None:
        over = report.total - report.arena_limit
        out.verdict(over <= 0, f"fits the limit of {nbytes_text(report.arena_limit)} bytes "
                               f"({nbytes_text(-over)} to spare)" if over <= 0 else
                    f"does not fit the limit of {nbytes_text(report.arena_limit)} bytes: "
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
                        help="check that head + 32-bit tail estimate fit, e.g. 256K (exit 1 if not)")
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
                              time_budget=args.time_budget, name=str(path), schedule=schedule)
    report.boards = board_fits(args.board, model, plan)
    if args.write_offline_plan:
        written = with_offline_plan(model, plan)
        args.write_offline_plan.write_bytes(written)
        # The written model is what the firmware runs: its TFLM figures (the head here; TFLM's minimal
        # arena_size once planning/arena_size.py exists) are the ones to report.
        report.offline_plan_head = plan_arena(written)[1].head
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
