"""How a model's arena is planned, under each memory strategy: the Python API behind `microinterp plan`.

For one strategy: the op order with the bytes in use during each op (the peak marked), every planned
buffer's offset, size and lifetime, the head, the minimal arena_size TFLM needs with this plan on a
64-bit host and a 32-bit Cortex-M (planning/arena_size.py), the constant (flash) bytes, and whether
the 32-bit arena fits a given limit. `compare_strategies` plans the
model under every strategy against the fixed-order lower bound.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import ClassVar

from ..execution import plan_prepared
from ..model import Model, load_model
from ..planning import MemoryPlan
from ..planning.plan import DEFAULT_TIME_BUDGET
from ..planning import plan_memory
from ..planning.arena_size import KERNEL_SETS, ArenaSize, cmsis_nn_scratch, tflm_arena
from ..prepare import prepare_model

#: The strategies --compare plans (linear, TFLM's preserve-all-tensors layout, is no contender).
COMPARED = ("tflm", "optimal", "reorder", "inplace")
#: Techniques in the order they are added, each with the plan that has it and all before it: strategy and,
#: for inplace, the kinds of sharing used (planning/sharing.py; None: the strategy's default, all).
TECHNIQUES = (("optimal packing", "optimal", None), ("reordering", "reorder", None),
              ("aliases", "inplace", ("alias",)), ("elementwise in place", "inplace", ("alias", "elementwise")),
              ("overlapped windows", "inplace", None))
_SIZE = re.compile(r"^\s*(\d+)\s*([kKmM]?)i?[bB]?\s*$")


@dataclass
class TflmArenaFigures:
    """The minimal TFLM arena_size for one plan and kernel set, on both targets, with the 32-bit split."""
    kernels: str
    tflm_arena_size: int  # 64-bit host (the tflite-micro Python package)
    tflm_arena_size_32bit: int  # 32-bit Cortex-M, alignas(16) arena
    head: int
    #: Head-section bytes reached while AllocateTensors plans (32-bit), above head when planning decides.
    allocation_peak_32bit: int
    tail_32bit: int
    tail_64bit: int
    tail_by_category_32bit: dict[str, int]
    limited_by_32bit: str

    @classmethod
    def of(cls, host: ArenaSize, cortex_m: ArenaSize) -> TflmArenaFigures:
        return cls(cortex_m.kernels, host.arena_size, cortex_m.arena_size, cortex_m.head,
                   cortex_m.allocation_peak, cortex_m.tail, host.tail, cortex_m.tail_by_category,
                   cortex_m.limited_by)

    def line(self) -> str:
        """The line users copy into their firmware."""
        return (f"TFLM arena_size: {self.tflm_arena_size:,} bytes (64-bit host) / "
                f"{self.tflm_arena_size_32bit:,} bytes (32-bit Cortex-M)")


def tflm_figures(model: Model, prepared, plan: MemoryPlan, kernels: str = "reference") -> TflmArenaFigures:
    """The minimal TFLM arena_size of `model` with `plan`'s head (planning/arena_size.py)."""
    if kernels not in KERNEL_SETS:
        raise ValueError(f"unknown kernel set {kernels!r}; choose one of {', '.join(KERNEL_SETS)}")
    scratch = {(p.op.subgraph, p.op.index): [n for n, like in p.scratch if like] for p in prepared}
    if kernels == "cmsis-nn":
        # CMSIS-NN's kernels request other scratch buffers: plan the head again around them.
        scratch.update(cmsis_nn_scratch(model))
        aliases = {p.op.index: p.aliases for p in prepared if p.aliases}
        plan = plan_memory(model, scratch, 0, plan.strategy, aliases=aliases)
    arena = tflm_arena(model, scratch, plan.head, len(plan.allocations), kernels)
    return TflmArenaFigures.of(arena.host, arena.cortex_m)


def header_text(figures: TflmArenaFigures, model: str, strategy: str) -> str:
    """A C header declaring the tensor arena for the 32-bit figure."""
    tail = ", ".join(f"{k} {v}" for k, v in figures.tail_by_category_32bit.items())
    return (f"// Tensor arena for {model}, written by microinterp plan.\n"
            f"// strategy {strategy}, kernels {figures.kernels}: head {figures.head} bytes, "
            f"tail {figures.tail_32bit} bytes ({tail}),\n"
            f"// allocation-time peak {figures.allocation_peak_32bit} bytes; the smallest arena_size with which\n"
            f"// TFLM's MicroInterpreter allocates and invokes this model on a 32-bit Cortex-M.\n"
            f"#pragma once\n#include <cstdint>\n\n"
            f"constexpr int kTensorArenaSize = {figures.tflm_arena_size_32bit};\n"
            f"alignas(16) static uint8_t tensor_arena[kTensorArenaSize];\n")


@dataclass
class OpLive:
    """One op in execution order: head bytes in use while it runs; `peak` marks the busiest op."""
    step: int
    op: int
    name: str
    live_bytes: int
    peak: bool


@dataclass
class BufferPlacement:
    """One planned buffer: a tensor or a scratch request, where it lives and from which step to which.

    Steps count as TFLM's lifetimes do: 0 is before the first op, op at position k runs at step k + 1.
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
class ArenaPlan:
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
    tflm: TflmArenaFigures
    constant_bytes: int
    arena_limit: int | None = None
    #: With --write-offline-plan: the head TFLM plans for the written model (its greedy planner fits any
    #: scratch buffers around the offline offsets, so it can exceed `head` when there are several).
    offline_plan_head: int | None = None

    @property
    def tflm_arena_size(self) -> int:
        """The minimal arena_size for the tflite-micro package on a 64-bit host."""
        return self.tflm.tflm_arena_size

    @property
    def tflm_arena_size_32bit(self) -> int:
        """The minimal arena_size for a 32-bit Cortex-M: kTensorArenaSize."""
        return self.tflm.tflm_arena_size_32bit

    @property
    def fits(self) -> bool | None:
        """Whether the 32-bit arena fits arena_limit (None without a limit)."""
        return None if self.arena_limit is None else self.tflm_arena_size_32bit <= self.arena_limit


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
    technique saves when added in turn (TECHNIQUES)."""
    model: str
    fixed_order_bound: int
    rows: list[StrategyRow] = field(default_factory=list)
    savings: dict[str, int] = field(default_factory=dict)

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


def describe_plan(model: Model, plan: MemoryPlan, fixed_order_bound: int, figures: TflmArenaFigures,
                  name: str = "<model>", arena_limit: int | None = None) -> ArenaPlan:
    """The report of an existing plan of `model`, with its TFLM arena figures."""
    live = plan.live_bytes()
    peak = max(range(len(live)), key=live.__getitem__, default=-1)
    main = model.main
    ops = [OpLive(step, k, main.operators[k].name, live[step], step == peak) for step, k in enumerate(plan.op_order)]
    shares = _shares(plan)
    buffers = []
    for a in plan.allocations:
        e = a.entry
        label = (model.subgraphs[e.subgraph].tensors[e.index].name if e.kind == "tensor"
                 else f"op {e.index} scratch {e.scratch_number}")
        buffers.append(BufferPlacement(e.kind, e.subgraph, e.index, label, a.offset, e.aligned_size, e.first, e.last,
                                       shares.get(e.index, "") if e.kind == "tensor" and e.subgraph == 0 else ""))
    return ArenaPlan(name, plan.strategy, list(plan.op_order), ops, buffers, plan.head, plan.lower_bound,
                     fixed_order_bound, plan.proven_optimal, figures, model.constant_bytes, arena_limit)


def plan_arena(model: Model | str | os.PathLike, strategy: str = "tflm", *, arena_limit: int | None = None,
               time_budget: float = DEFAULT_TIME_BUDGET, name: str | None = None,
               kernels: str = "reference") -> tuple[ArenaPlan, MemoryPlan]:
    """Plan a model (a path or a loaded Model, shown as `name`) with one strategy: the report (TFLM
    arena figures for `kernels`, "reference" or "cmsis-nn") and the plan itself."""
    model, name = _load(model, name)
    prepared = prepare_model(model)
    plan = plan_prepared(model, prepared, strategy, time_budget=time_budget)
    fixed_order = strategy in ("tflm", "linear", "optimal")
    bound = plan.lower_bound if fixed_order else plan_prepared(model, prepared).lower_bound
    figures = tflm_figures(model, prepared, plan, kernels)
    return describe_plan(model, plan, bound, figures, name, arena_limit), plan


def compare_strategies(model: Model | str | os.PathLike, *, time_budget: float = DEFAULT_TIME_BUDGET,
                       name: str | None = None) -> StrategyComparison:
    """Plan the model under each of COMPARED; heads next to the fixed-order lower bound, and the savings
    of each technique."""
    model, name = _load(model, name)
    prepared = prepare_model(model)
    plans: dict[tuple[str, tuple[str, ...] | None], MemoryPlan] = {}

    def planned(strategy: str, kinds: tuple[str, ...] | None = None) -> MemoryPlan:
        if (strategy, kinds) not in plans:
            plans[(strategy, kinds)] = plan_prepared(model, prepared, strategy, sharing=kinds, time_budget=time_budget)
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
