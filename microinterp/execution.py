"""The execution plan: numpy views of every tensor in the arena, and the bound kernel steps in op order."""
from __future__ import annotations

import numpy as np

from .model import Model, Tensor
from .planning import MemoryPlan
from .prepare import PreparedOp


def _arena_view(arena: np.ndarray, offset: int, tensor: Tensor) -> np.ndarray:
    return arena[offset:offset + tensor.nbytes].view(tensor.dtype).reshape(tensor.shape)


def tensor_views(model: Model, plan: MemoryPlan, arena: np.ndarray) -> dict[int, np.ndarray]:
    """A numpy array for every tensor of the main subgraph that has storage (constants are read-only)."""
    views: dict[int, np.ndarray] = {}
    for t in model.main.tensors:
        if t.dtype is None:
            continue
        if t.data is not None:
            views[t.index] = t.data
        elif (alloc := plan.tensor_allocation(0, t.index)) is not None:
            views[t.index] = _arena_view(arena, alloc.offset, t)
        elif (offset := plan.variable_offsets.get((0, t.index))) is not None:
            views[t.index] = _arena_view(arena, offset, t)
        elif t.nbytes == 0:
            views[t.index] = np.zeros(t.shape, t.dtype)
    return views


class ExecutionPlan:
    """Kernel steps bound to arena views once; run() is the whole invoke."""

    def __init__(self, model: Model, prepared: list[PreparedOp], plan: MemoryPlan, arena: np.ndarray):
        self.views = tensor_views(model, plan, arena)
        steps = []
        for p in prepared:
            inputs = [self.views[t] if t >= 0 else None for t in p.op.inputs]
            outputs = [self.views[t] for t in p.op.outputs]
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
        for step in self.steps:
            step()
