"""How a model's arena is planned, under each memory strategy: the Python API behind `microinterp plan`.

For one strategy: the op order with the bytes in use during each op (the peak marked), every planned
buffer's offset, size and lifetime, the head, the minimal arena_size TFLM needs with this plan on a
64-bit host and a 32-bit Cortex-M (planning/arena_size.py), the constant (flash) bytes, and whether
the 32-bit arena fits a given limit. `compare_strategies` plans the
model under every strategy against the fixed-order lower bound.
"""
from __future__ import annotations

import bisect
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar

from ..errors import MicrointerpError, UnsupportedOperatorError
from ..execution import plan_prepared
from ..model import Model, load_model
from ..planning import MemoryPlan
from ..planning.plan import DEFAULT_TIME_BUDGET
from ..planning.schedules import MICROINTERP
from ..prepare import prepare_for_planning
from .boards import BoardFit
from .tflm_arena import TflmArenaFigures, WithTflmFigures, tflm_figures
from .command import one_line

#: The strategies --compare plans (linear, TFLM's preserve-all-tensors layout, is no contender).
COMPARED = ("tflm", "optimal", "reorder", "inplace")
#: Techniques in the order they are added, each with the plan that has it and all before it: strategy and,
#: for inplace, the kinds of sharing used (planning/sharing.py; None: the strategy's default, all).
TECHNIQUES = (("optimal packing", "optimal", None), ("reordering", "reorder", None),
              ("aliases", "inplace", ("alias",)), ("elementwise in place", "inplace", ("alias", "elementwise")),
              ("overlapped windows", "inplace", None))
_SIZE = re.compile(r"^\s*(\d+)\s*([kKmM]?)i?[bB]?\s*$")


@dataclass
class OpLive:
    """One op in execution order (`step`: its position in that order, from 0; `op`: its index in the
    model): head bytes in use while it runs; `peak` marks the busiest op."""
    step: int
    op: int
    name: str
    live_bytes: int
    peak: bool


@dataclass
class BufferPlacement:
    """One planned buffer: a tensor or a scratch request, where it lives and during which ops.

    `first` and `last` are positions in the execution order (OpLive.step): the first and the last op
    during which the buffer is live; a graph input starts at 0, an op of a called subgraph counts as
    the op calling it. (TFLM's lifetimes count a step 0 before the first op; these do not.)
    `shares` says which tensor it is placed over, if any."""
    kind: str
    subgraph: int
    index: int
    name: str
    offset: int
    size: int
    first: int
    last: int
    shares: str = ""


@dataclass
class ArenaPlan(WithTflmFigures):
    """The arena of one model under one strategy (see the module docstring)."""
    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("tflm_arena_size", "tflm_arena_size_32bit", "fits")
    model: str
    strategy: str
    op_order: list[int]
    ops: list[OpLive]
    buffers: list[BufferPlacement]
    head: int
    #: No plan with this plan's op order and sharing needs less head.
    lower_bound: int
    #: The peak of live bytes in the model's own op order without sharing: the bound for tflm and optimal.
    fixed_order_bound: int
    proven_optimal: bool
    #: None when the model has ops whose TFLM allocations are not modelled (planning/arena_size.py).
    tflm: TflmArenaFigures | None
    constant_bytes: int
    arena_limit: int | None = None
    #: With --write-offline-plan: the head TFLM plans for the written model (its greedy planner fits any
    #: scratch buffers around the offline offsets, so it can exceed `head` when there are several).
    offline_plan_head: int | None = None
    #: With --write-offline-plan: the written model's minimal TFLM arena_size, what its firmware needs.
    offline_plan_tflm: TflmArenaFigures | None = None
    #: Whose kernels the shared bytes are safe for (planning/schedules.py).
    schedule: str = MICROINTERP
    #: With --board: how the model fits each board (cli/boards.py).
    boards: list[BoardFit] = field(default_factory=list)
    #: Ops microinterp has no kernel for (e.g. an NPU's custom op): planned without any scratch they ask for.
    unsupported: list[str] = field(default_factory=list)
    #: What the strategy could not do for this model, and why (MemoryPlan.notes).
    notes: list[str] = field(default_factory=list)

    @property
    def deployed(self) -> TflmArenaFigures | None:
        """The TFLM figures of what a firmware runs: the written model's with an offline plan."""
        return self.offline_plan_tflm or self.tflm

    @property
    def fits(self) -> bool | None:
        """Whether the deployed 32-bit arena fits arena_limit (None without a limit)."""
        if self.arena_limit is None or self.deployed is None:
            return None
        return self.deployed.tflm_arena_size_32bit <= self.arena_limit


@dataclass
class StrategyRow:
    """One strategy in a comparison; overhead_percent is relative to the fixed-order lower bound
    (negative: below it, which reordering and sharing bytes can reach)."""
    strategy: str
    head: int
    lower_bound: int
    proven_optimal: bool
    overhead_percent: float
    reordered: bool
    shared_pairs: int


@dataclass
class StrategyComparison:
    """Every strategy's head for one model, next to the fixed-order lower bound, and the bytes each
    technique saves when added in turn (TECHNIQUES); or, for a model that cannot be planned, no rows
    and the reason in `error`."""
    model: str
    fixed_order_bound: int
    rows: list[StrategyRow] = field(default_factory=list)
    savings: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    def head(self, strategy: str) -> int:
        """The head one strategy planned."""
        return next(r.head for r in self.rows if r.strategy == strategy)


def parse_size(text: str) -> int:
    """Bytes from `262144`, `256K`, `256KiB` or `1M` (K = 1024)."""
    m = _SIZE.match(text)
    if m is None:
        raise ValueError(f"arena size {text!r}: expected a byte count such as 262144, 256K or 1M")
    return int(m.group(1)) * {"": 1, "k": 1 << 10, "m": 1 << 20}[m.group(2).lower()]


def _load(model: Model | str | os.PathLike, name: str | None) -> tuple[Model, str]:
    if isinstance(model, Model):
        return model, name or "<model>"
    return load_model(model), name or str(model)


def _shares(plan: MemoryPlan) -> dict[int, str]:
    return {s.output: (f"alias of tensor {s.input}" if s.kind == "alias"
                       else f"over tensor {s.input} ({s.kind}, shift {s.shift:+d})") for s in plan.shared}


def describe_plan(model: Model, plan: MemoryPlan, fixed_order_bound: int, figures: TflmArenaFigures | None,
                  name: str = "<model>", arena_limit: int | None = None) -> ArenaPlan:
    """The report of an existing plan of `model`, with its TFLM arena figures."""
    live = plan.live_bytes()
    peak = max(range(len(live)), key=live.__getitem__, default=-1)
    main = model.main
    ops = [OpLive(step, k, main.operators[k].name, live[step], step == peak) for step, k in enumerate(plan.op_order)]
    shares = _shares(plan)
    starts = [first for first, _ in plan.op_spans]  # TFLM's scope at which each op starts

    def position(scope: int) -> int:
        return max(bisect.bisect_right(starts, scope) - 1, 0)

    buffers = []
    for a in plan.allocations:
        e = a.entry
        label = (model.subgraphs[e.subgraph].tensors[e.index].name if e.kind == "tensor"
                 else f"op {e.index} scratch {e.scratch_number}")
        buffers.append(BufferPlacement(e.kind, e.subgraph, e.index, label, a.offset, e.aligned_size,
                                       position(e.first), position(e.last),
                                       shares.get(e.index, "") if e.kind == "tensor" and e.subgraph == 0 else ""))
    return ArenaPlan(name, plan.strategy, list(plan.op_order), ops, buffers, plan.head, plan.lower_bound,
                     fixed_order_bound, plan.proven_optimal, figures, model.constant_bytes, arena_limit,
                     schedule=plan.schedule, notes=list(plan.notes))


def plan_arena(model: Model | str | os.PathLike, strategy: str = "tflm", *, arena_limit: int | None = None,
               time_budget: float = DEFAULT_TIME_BUDGET, name: str | None = None,
               schedule: str = MICROINTERP, kernels: str = "reference") -> tuple[ArenaPlan, MemoryPlan]:
    """Plan a model (a path or a loaded Model, shown as `name`) with one strategy, its shared bytes safe
    for `schedule`'s kernels (planning/schedules.py): the report (TFLM arena figures for `kernels`,
    "reference" or "cmsis-nn") and the plan itself."""
    model, name = _load(model, name)
    prepared, problems = prepare_for_planning(model)
    plan = plan_prepared(model, prepared, strategy, time_budget=time_budget, schedule=schedule)
    fixed_order = strategy in ("tflm", "linear", "optimal")
    bound = plan.lower_bound if fixed_order else plan_prepared(model, prepared).lower_bound
    # TFLM's allocations are modelled per op (planning/arena_size.py); an op without that model (an NPU's
    # custom op, or one whose persistent allocations are not written down yet) leaves the figure unknown.
    figures, unknown = None, []
    if not problems:
        try:
            figures = tflm_figures(model, prepared, plan, kernels)
        except UnsupportedOperatorError as e:
            unknown = [f"TFLM arena_size unknown: {p}" for p in e.problems]
    report = describe_plan(model, plan, bound, figures, name, arena_limit)
    report.unsupported = problems
    report.notes.extend(unknown)
    return report, plan


def compare_models(models: Sequence[str | os.PathLike], *, time_budget: float = DEFAULT_TIME_BUDGET,
                   schedule: str = MICROINTERP) -> list[StrategyComparison]:
    """compare_strategies for each model file; a model that cannot be loaded or planned gets a
    comparison with the reason (naming the file) in `error`, and the others are still planned."""
    comparisons = []
    for path in models:
        try:
            comparisons.append(compare_strategies(path, time_budget=time_budget, schedule=schedule))
        except (MicrointerpError, OSError, ValueError) as e:
            comparisons.append(StrategyComparison(str(path), 0, error=one_line(e)))
    return comparisons


def compare_strategies(model: Model | str | os.PathLike, *, time_budget: float = DEFAULT_TIME_BUDGET,
                       name: str | None = None, schedule: str = MICROINTERP) -> StrategyComparison:
    """Plan the model under each of COMPARED (shared bytes safe for `schedule`'s kernels); heads next to
    the fixed-order lower bound, and the savings of each technique."""
    model, name = _load(model, name)
    prepared, _ = prepare_for_planning(model)
    plans: dict[tuple[str, tuple[str, ...] | None], MemoryPlan] = {}

    def planned(strategy: str, kinds: tuple[str, ...] | None = None) -> MemoryPlan:
        if (strategy, kinds) not in plans:
            plans[(strategy, kinds)] = plan_prepared(model, prepared, strategy, sharing=kinds, time_budget=time_budget,
                                                     schedule=schedule)
        return plans[(strategy, kinds)]

    bound = planned("tflm").lower_bound
    comparison = StrategyComparison(name, bound)
    for strategy in COMPARED:
        plan = planned(strategy)
        comparison.rows.append(StrategyRow(
            strategy, plan.head, plan.lower_bound, plan.proven_optimal,
            100.0 * (plan.head - bound) / bound if bound else 0.0,
            list(plan.op_order) != sorted(plan.op_order), len(plan.shared)))
    previous = planned("tflm").head
    for technique, strategy, kinds in TECHNIQUES:
        head = planned(strategy, kinds).head
        comparison.savings[technique] = previous - head
        previous = head
    return comparison
