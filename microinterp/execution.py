"""The execution plan: numpy views of every tensor in the arena, and the bound kernel steps in the plan's
op order (subgraph 0), or the model's order (the subgraphs control-flow ops run).

Tensors a plan places over each other get views of the same arena bytes: an alias (a RESHAPE-like
output over its input) needs no copy, so that op's step is left out; an output overlapping its dying
input is written by its kernel in the order the plan checked (planning/access.py). An output that a
model's own offline plan (written for TFLM's kernels) places over an input in an order our kernel
does not follow is computed into an array outside the arena, then copied into place.

A PAD that only surrounds an image with its zero point (ops/pad.py), whose one reader is the next step and
can take the padding itself (an int8 CONV_2D or DEPTHWISE_CONV_2D), is left out too: the reader reads the
unpadded image, whose bytes no other step writes in between, with the PAD's rows and columns as
out-of-image taps, which give the same bits and save the copy (mobilenet_v2's 18 PADs, 2-3% of its time).
Its output tensor keeps its planned bytes, unwritten; with experimental_preserve_all_tensors (the linear
plan) every PAD runs.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ._kernels.steps import Step, StepProgram
from .errors import ResourceLimitError
from .model import Model, Tensor
from .ops.registry import SubgraphRun
from .ops.resource_variables import ResourceBuffers
from .planning import MemoryPlan, plan_memory
from .ops.registry import GraphAborted
from .planning.lifetimes import DEFAULT_MAX_SUBGRAPH_VISITS, align, resource_handles
from .prepare import PreparedOp
from .resources import resource_table


def plan_prepared(model: Model, prepared: Sequence[PreparedOp], strategy: str = "tflm", **options) -> MemoryPlan:
    """The memory plan of a prepared model: its ops' scratch requests and alias declarations go to
    planning.plan_memory (options: its keyword arguments, e.g. time_budget)."""
    tflm_scratch = {(p.op.subgraph, p.op.index): [n for n, like in p.scratch if like]
                    for p in prepared if any(like for _, like in p.scratch)}
    own = max((sum(align(n) for n, like in p.scratch if not like) for p in prepared), default=0)
    aliases = {p.op.index: p.aliases for p in prepared if p.aliases and p.op.subgraph == 0}
    resource_bytes = [v.nbytes for v in resource_table(model).variables]
    return plan_memory(model, tflm_scratch, own, strategy, aliases=aliases, resource_bytes=resource_bytes, **options)


def _arena_view(arena: np.ndarray, offset: int, tensor: Tensor) -> np.ndarray:
    return arena[offset:offset + tensor.nbytes].view(tensor.storage_dtype).reshape(tensor.shape)


def tensor_views(model: Model, plan: MemoryPlan, arena: np.ndarray, subgraph: int = 0) -> dict[int, np.ndarray]:
    """A numpy array for every tensor of one subgraph that has storage (constants are read-only)."""
    views: dict[int, np.ndarray] = {}
    handles = resource_handles(model)
    for t in model.subgraphs[subgraph].tensors:
        if t.storage_dtype is None:
            continue
        if t.data is not None and not t.is_variable:  # TFLM gives a variable arena bytes even if it has data
            views[t.index] = t.data
        elif (alloc := plan.tensor_allocation(subgraph, t.index)) is not None:
            views[t.index] = _arena_view(arena, alloc.offset, t)
        elif (offset := plan.variable_offsets.get((subgraph, t.index))) is not None:
            views[t.index] = _arena_view(arena, offset, t)
        elif t.nbytes == 0 or (subgraph, t.index) in handles:  # handles: kept outside the arena, as in TFLM
            views[t.index] = np.zeros(t.shape, t.storage_dtype)
    return views


class _StagedStep:
    """An op's step writing into arrays of its own, then copying them into the arena views."""

    def __init__(self, step, aside: list[np.ndarray], targets: list[np.ndarray]):
        self.step, self.aside, self.targets = step, aside, targets

    def __call__(self) -> None:
        self.step()
        for a, t in zip(self.aside, self.targets):
            np.copyto(t, a)


def aligned_bytes(nbytes: int) -> np.ndarray:
    """nbytes zero bytes on a 64-byte boundary (numpy's own is 16): where the heap happened to put the
    arena decided how many 512-bit accesses split cache lines (str_ww 10.2-11.1 us, kws 39.8-41.5 us over
    the four placements; 64-byte aligned is the fastest of them)."""
    raw = np.zeros(nbytes + 64, np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start:start + nbytes]


class ExecutionPlan:
    """Kernel steps bound to arena views once; run() is the whole invoke. A step is a compiled
    _kernels.steps.Step (run without Python work) or any other callable (a kernel partial).

    inputs_read_in_place: graph inputs whose steps read them from an array of their own (set_tensor
    writes there) instead of their arena bytes, so that a run copies nothing in: those read only by
    steps that neither alias them (a left-out RESHAPE-like) nor pass them on to a subgraph, and that are
    not graph outputs, in a graph no op of which may end an invoke early (whose later outputs would show
    the arena bytes the input copy left, as in TFLM). The arena keeps their planned bytes, unused.

    max_subgraph_visits: how many subgraph runs (by IF, WHILE, CALL_ONCE) one invoke may make before
    ResourceLimitError, so that a WHILE whose condition never turns false cannot hang the caller.
    """

    def __init__(self, model: Model, prepared: list[PreparedOp], plan: MemoryPlan, arena: np.ndarray,
                 max_subgraph_visits: int = DEFAULT_MAX_SUBGRAPH_VISITS):
        self.max_subgraph_visits = max_subgraph_visits
        self._visits = 0
        # Every subgraph an op runs, even one without ops (an IF branch passing its inputs through).
        subgraphs = sorted({0} | {p.op.subgraph for p in prepared}
                           | {k for p in prepared for kind, k in p.bind_extras if kind == "subgraph"})
        self.subgraph_views = {g: tensor_views(model, plan, arena, g) for g in subgraphs}
        self.views = self.subgraph_views[0]
        by_op = {(p.op.subgraph, p.op.index): p for p in prepared}
        self.inputs_read_in_place = {i: aligned_bytes(t.nbytes).view(t.storage_dtype).reshape(t.shape)
                                     for i in self._inputs_readable_in_place(model, by_op, plan)
                                     for t in [model.main.tensors[i]]}
        runs = {g: self._subgraph_run(model, g) for g in subgraphs if g}
        table = resource_table(model)
        resources = ResourceBuffers(table, [None if o is None else arena[o:o + v.nbytes]
                                            for o, v in zip(plan.resource_offsets, table.variables)])
        order = tuple(k for k in plan.op_order if k not in plan.skipped_ops)
        readers = self._pad_readers(model, by_op, plan, order)
        left_out = set()
        self._programs: dict[int, StepProgram] = {}
        for g in subgraphs:
            views = {**self.views, **self.inputs_read_in_place} if g == 0 else self.subgraph_views[g]
            steps = []
            read_through: dict[int, object] = {}  # a left-out PAD's reader: its step, bound already
            for k in (order if g == 0 else range(len(model.subgraphs[g].operators))):
                if k in read_through:
                    steps.append(read_through.pop(k))
                    continue
                p = by_op[(g, k)]
                inputs = [views[t] if t >= 0 else None for t in p.op.inputs]
                outputs = [views[t] for t in p.op.outputs]
                extras = [runs[c] if kind == "subgraph" else resources for kind, c in p.bind_extras]
                scratch = self._scratch_views(p, plan, arena)
                if g == 0 and k in readers:
                    reader = by_op[(0, readers[k])]
                    reader_inputs = [inputs[0]] + [views[t] if t >= 0 else None for t in reader.op.inputs[1:]]
                    step = reader.bind_padded(reader_inputs, [views[t] for t in reader.op.outputs],
                                              self._scratch_views(reader, plan, arena), *p.image_pad)
                    if step is not None:
                        read_through[readers[k]] = step
                        left_out.add(k)
                        continue
                if g == 0 and k in plan.staged_ops:
                    aside = [np.empty_like(v) for v in outputs]
                    steps.append(_StagedStep(p.bind(inputs, aside, scratch, *extras), aside, outputs))
                else:
                    steps.append(p.bind(inputs, outputs, scratch, *extras))
            self._programs[g] = StepProgram(tuple(steps))
        self.steps = self._programs[0].steps
        #: The op index of each step of subgraph 0, in execution order (aliasing ops and the PADs read
        #: through have no step).
        self.step_ops = tuple(k for k in order if k not in left_out)
        #: What invoke() calls: run(), or, where nothing can visit a subgraph or abort the graph (one
        #: subgraph, compiled steps only), the program itself: a Python call less per invoke.
        self.run_main = (self._programs[0] if len(self._programs) == 1 and all(isinstance(s, Step) for s in self.steps)
                         else self.run)

    @staticmethod
    def _pad_readers(model: Model, by_op: dict, plan: MemoryPlan, order: Sequence[int]) -> dict[int, int]:
        """The PADs of subgraph 0 that may be left out (see the module), each with its reader's op index:
        the PAD's output is read only by the next step, as its input 0, and is no graph output."""
        if plan.strategy == "linear":
            return {}
        reads: dict[int, list[tuple[int, int]]] = {}
        for p in by_op.values():
            if p.op.subgraph == 0:
                for position, t in enumerate(p.op.inputs):
                    reads.setdefault(t, []).append((p.op.index, position))
        pads = {}
        for k, j in zip(order, order[1:]):
            pad, reader = by_op[(0, k)], by_op[(0, j)]
            if (pad.image_pad is not None and reader.bind_padded is not None
                    and reads.get(pad.op.outputs[0]) == [(j, 0)] and pad.op.outputs[0] not in model.main.outputs
                    and not {k, j} & plan.staged_ops):
                pads[k] = j
        return pads

    def _inputs_readable_in_place(self, model: Model, by_op: dict, plan: MemoryPlan) -> list[int]:
        """The graph inputs that inputs_read_in_place may hold (see the class)."""
        main = model.main
        if any(p.aborts for p in by_op.values()):
            return []
        readers: dict[int, list] = {}
        for p in by_op.values():
            if p.op.subgraph == 0:
                for t in p.op.inputs:
                    readers.setdefault(t, []).append(p)
        return [i for i in dict.fromkeys(main.inputs)
                if i in self.views and main.tensors[i].data is None and not main.tensors[i].is_variable
                and main.tensors[i].storage_dtype == main.tensors[i].dtype
                and i not in main.outputs and main.tensors[i].nbytes > 0
                and all(p.op.index not in plan.skipped_ops and not p.bind_extras for p in readers.get(i, []))]

    def _subgraph_run(self, model: Model, g: int) -> SubgraphRun:
        sg, views = model.subgraphs[g], self.subgraph_views[g]

        def run() -> None:
            self._visits += 1
            if self._visits > self.max_subgraph_visits:
                raise ResourceLimitError(f"invoke(): subgraphs ran more than {self.max_subgraph_visits} times "
                                         f"(max_subgraph_visits); subgraph {g} was about to run again "
                                         f"(a WHILE loop that never ends?)")
            self._programs[g]()
        return SubgraphRun([views.get(t) for t in sg.inputs], [views.get(t) for t in sg.outputs], run)

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

    def copy_first(self, pairs) -> None:
        """Byte copies (target, source) that every run() makes before the first step, in compiled code."""
        self._programs[0].copy_first(pairs)

    def run(self) -> None:
        self._visits = 0
        try:
            self._programs[0]()
        except GraphAborted:
            pass
