"""The minimal TFLM arena_size of a plan (planning/arena_size.py) as the CLI reports it: both targets for
one kernel set, the 32-bit split, and the C header declaring the arena."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..model import Model
from ..planning import MemoryPlan, plan_memory
from ..planning.arena_size import KERNEL_SETS, ArenaSize, cmsis_nn_scratch, tflm_arena
from ..prepare import PreparedOp


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


class WithTflmFigures:
    """The two arena_size figures of a report holding `tflm: TflmArenaFigures | None` (None: unknown)."""
    tflm: TflmArenaFigures | None

    @property
    def tflm_arena_size(self) -> int | None:
        """The minimal arena_size for the tflite-micro package on a 64-bit host."""
        return None if self.tflm is None else self.tflm.tflm_arena_size

    @property
    def tflm_arena_size_32bit(self) -> int | None:
        """The minimal arena_size for a 32-bit Cortex-M: kTensorArenaSize."""
        return None if self.tflm is None else self.tflm.tflm_arena_size_32bit


def tflm_figures(model: Model, prepared: Sequence[PreparedOp], plan: MemoryPlan,
                 kernels: str = "reference") -> TflmArenaFigures:
    """The minimal TFLM arena_size of `model` with `plan`'s head (planning/arena_size.py)."""
    if kernels not in KERNEL_SETS:
        raise ValueError(f"unknown kernel set {kernels!r}; choose one of {', '.join(KERNEL_SETS)}")
    scratch = {(p.op.subgraph, p.op.index): [n for n, like in p.scratch if like] for p in prepared}
    if kernels == "cmsis-nn":
        # CMSIS-NN's kernels request other scratch buffers: plan the head again around them.
        scratch.update(cmsis_nn_scratch(model))
        aliases = {p.op.index: p.aliases for p in prepared if p.aliases}
        plan = plan_memory(model, scratch, 0, plan.strategy, aliases=aliases, schedule=plan.schedule)
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
