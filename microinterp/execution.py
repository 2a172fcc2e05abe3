"""The execution plan: numpy views of every tensor in the arena, and the bound kernel steps in the plan's
op order.

Tensors a plan places over each other get views of the same arena bytes: an alias (a RESHAPE-like
output over its input) needs no copy, so that op's step is left out; an output overlapping its dying
input is written by its kernel in the order the plan checked (planning/access.py). An output that a
model's own offline plan (written for TFLM's kernels) places over an input in an order our kernel
does not follow is computed into an array outside the arena, then copied into place.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ._kernels.steps import run_steps
from .model import Model, Tensor
from .planning import MemoryPlan, plan_memory
from .planning.lifetimes import align
from .prepare import PreparedOp


def plan_prepared(model: Model, prepared: Sequence[PreparedOp], strategy: str = "tflm", **options) -> MemoryPlan:
    """The memory plan of a prepared model: its ops' scratch requests and alias declarations go to
    planning.plan_memory (options: its keyword arguments, e.g. time_budget)."""
    tflm_scratch = {(p.op.subgraph, p.op.index): [n for n, like in p.scratch if like]
                    for p in prepared if any(like for _, like in p.scratch)}
    own = max((sum(align(n) for n, like in p.scratch if not like) for p in prepared), default=0)
    aliases = {p.op.index: p.aliases for p in prepared if p.aliases}
    return plan_memory(model, tflm_scratch, own, strategy, aliases=aliases, **options)


def _arena_view(arena: np.ndarray, offset: int, tensor: Tensor) -> np.ndarray:
    return arena[offset:offset + tensor.nbytes].view(tensor.dtype).reshape(tensor.shape)


def tensor_views(model: Model, plan: MemoryPlan, arena: np.ndarray) -> dict[int, np.ndarray]:
    """A numpy array for every tensor of the main subgraph that has storage (constants are read-only)."""
    views: dict[int, np.ndarray] = {}
    for t in model.main.tensors:
        if t.dtype is None:
            continue
        if t.data is not None and not t.is_variable:  # TFLM gives a variable arena bytes even if it has data
            views[t.index] = t.data
        elif (alloc := plan.tensor_allocation(0, t.index)) is not None:
            views[t.index] = _arena_view(arena, alloc.offset, t)
        elif (offset := plan.variable_offsets.get((0, t.index))) is not None:
            views[t.index] = _arena_view(arena, offset, t)
        elif t.nbytes == 0:
            views[t.index] = np.zeros(t.shape, t.dtype)
    return views


class _StagedStep:
    """An op's step writing into arrays of its own, then copying them into the arena views."""

    def __init__(self, step, aside: list[np.ndarray], targets: list[np.ndarray]):
        self.step, self.aside, self.targets = (step,), aside, targets

    def __call__(self) -> None:
        run_steps(self.step)
        for a, t in zip(self.aside, self.targets):
            np.copyto(t, a)


class ExecutionPlan:
    """Kernel steps bound to arena views once; run() is the whole invoke. A step is a compiled
    _kernels.steps.Step (run without Python work) or any other callable (a kernel partial)."""

    def __init__(self, model: Model, prepared: list[PreparedOp], plan: MemoryPlan, arena: np.ndarray):
        self.views = tensor_views(model, plan, arena)
        by_index = {p.op.index: p for p in prepared}
        steps = []
        #: The op index of each step, in execution order (aliasing ops have no step).
        self.step_ops = tuple(k for k in plan.op_order if k not in plan.skipped_ops)
        for k in self.step_ops:
            p = by_index[k]
            inputs = [self.views[t] if t >= 0 else None for t in p.op.inputs]
            outputs = [self.views[t] for t in p.op.outputs]
            if k in plan.staged_ops:
                aside = [np.empty_like(v) for v in outputs]
                steps.append(_StagedStep(p.bind(inputs, aside, self._scratch_views(p, plan, arena)), aside, outputs))
            else:
                steps.append(p.bind(inputs, outputs, self._scratch_views(p, plan, arena)))
        self.steps = tuple(steps)

    @staticmethod
    def _scratch_views(p: PreparedOp, plan: MemoryPlan, arena: np.ndarray) -> list[np.ndarray]:
        tflm_allocs = iter(plan.scratch_allocations(p.op.subgraph, p.op.index))
        own_cursor = plan.scratch_offset
        views = []
        for nbytes, like_tflm in p.scratch:
            if like_tflm:
                offset = next(tflm_allocs).offset
            else:
                offset = own_cursor
                own_cursor += (nbytes + 15) // 16 * 16
            views.append(arena[offset:offset + nbytes])
        return views

    def run(self) -> None:
        run_steps(self.steps)
