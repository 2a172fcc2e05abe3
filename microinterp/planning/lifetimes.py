"""Which tensors TFLM plans in the arena head, with what sizes and lifetimes (spec/arena-planning.md §1, §3).

The result is a list of planner entries in TFLM's planner-index order: every planned tensor of every
subgraph (subgraph 0 first, tensors in index order), then every TFLM-style scratch request.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Sequence

from ..errors import InconsistentModelError, ResourceLimitError
from ..model import Model

ALIGNMENT = 16
OFFLINE_METADATA = "OfflineMemoryAllocation"
#: How many times subgraphs may be entered: by TFLM's lifetime walk when planning (each control-flow op
#: enters its callees once, so nested calls multiply), and by the ops of one invoke (WHILE iterations).
DEFAULT_MAX_SUBGRAPH_VISITS = 100_000


def align(n: int, alignment: int = ALIGNMENT) -> int:
    return (n + alignment - 1) // alignment * alignment


@dataclass(frozen=True)
class PlannerEntry:
    """A buffer TFLM plans: a tensor (subgraph, index) or a scratch request (op, number), with its lifetime."""
    kind: str  # "tensor" or "scratch"
    subgraph: int
    index: int  # tensor index, or op index for scratch
    scratch_number: int
    nbytes: int
    first: int
    last: int
    offline_offset: int | None

    @property
    def aligned_size(self) -> int:
        return align(self.nbytes)

    def describe(self) -> str:
        if self.kind == "tensor":
            return f"subgraph {self.subgraph} tensor {self.index}"
        return f"subgraph {self.subgraph} op {self.index} scratch {self.scratch_number}"


def offline_offsets(model: Model) -> list[int] | None:
    """Per-tensor offsets (concatenated over subgraphs) from OfflineMemoryAllocation metadata, if present."""
    raw = model.metadata.get(OFFLINE_METADATA)
    if raw is None:
        return None
    total = sum(len(sg.tensors) for sg in model.subgraphs)
    if len(raw) < 12 or len(raw) % 4:
        raise InconsistentModelError(f"metadata '{OFFLINE_METADATA}': {len(raw)} bytes is not a "
                                     f"[version, subgraphs, n, offsets...] int32 array")
    words = struct.unpack(f"<{len(raw) // 4}i", raw)
    n = words[2]
    if n != total or len(words) != 3 + n:
        raise InconsistentModelError(f"metadata '{OFFLINE_METADATA}': expected {total} offsets (one per "
                                     f"tensor), found n={n} and {len(words) - 3} words")
    if any(o < -1 for o in words[3:]):
        raise InconsistentModelError(f"metadata '{OFFLINE_METADATA}': negative offset other than -1")
    return list(words[3:])


def resource_handles(model: Model) -> set[tuple[int, int]]:
    """(subgraph, tensor) of every VAR_HANDLE output. TFLM does not plan them: VAR_HANDLE's Prepare points
    them at the resource id it keeps in its persistent op data, and only tensors without data are planned."""
    return {(sg.index, op.outputs[0]) for sg in model.subgraphs for op in sg.operators
            if op.name == "VAR_HANDLE" and op.outputs}


def planner_entries(model: Model, scratch_by_op: dict[tuple[int, int], list[int]],
                    order: Sequence[int] | None = None,
                    max_subgraph_visits: int = DEFAULT_MAX_SUBGRAPH_VISITS
                    ) -> tuple[list[PlannerEntry], list[tuple[int, int]]]:
    """TFLM's planner input for the model, with scratch requests (bytes) keyed by (subgraph, op), and
    the steps each op of subgraph 0 spans, in execution order: (its step, the last step of the
    subgraphs it runs), one step for an op without control flow.

    order: the op indices of subgraph 0 in execution order (default: the model's order), as TFLM
    would see them in a model whose operators were stored in that order.
    max_subgraph_visits: ResourceLimitError when the walk would enter subgraphs more often (a few
    control-flow ops each calling the next level twice make the walk exponential).
    """
    main_order = list(range(len(model.main.operators))) if order is None else list(order)
    first: dict[tuple[int, int], int] = {}  # setdefault: TFLM's mark_first keeps the first scope
    last: dict[tuple[int, int], int] = {}  # plain stores: mark_last keeps the latest
    scratch_life: dict[tuple[int, int], tuple[int, int]] = {}
    main_spans: list[tuple[int, int]] = []
    scope = 0

    def enter(g: int) -> None:
        for t in model.subgraphs[g].inputs:
            first.setdefault((g, t), scope)
            last[(g, t)] = scope

    # An explicit stack instead of recursion, bounded: a hostile model can make subgraphs call
    # each other in a cycle. Frame: [subgraph, op position, start scope of that op or None, next callee].
    stack: list[list] = [[0, 0, None, 0]]
    enter(0)
    depth_limit = 64
    visits = 0
    while stack:
        frame = stack[-1]
        g, k, start, callee = frame
        sg = model.subgraphs[g]
        if start is None:
            if k == len(sg.operators):
                for t in sg.outputs:
                    first.setdefault((g, t), scope)
                    last[(g, t)] = scope
                stack.pop()
                continue
            op = sg.operators[main_order[k] if g == 0 else k]
            scope += 1
            for t in op.outputs:
                first.setdefault((g, t), scope)
            frame[2] = scope
            frame[3] = 0
            continue
        op = sg.operators[main_order[k] if g == 0 else k]
        callees = op.called_subgraphs()
        if callee < len(callees):
            frame[3] += 1
            if len(stack) >= depth_limit:
                raise InconsistentModelError(f"{op.describe()}: control flow nested deeper than {depth_limit}")
            visits += 1
            if visits > max_subgraph_visits:
                raise ResourceLimitError(f"{op.describe()}: planning enters subgraphs more than "
                                         f"{max_subgraph_visits} times (max_subgraph_visits)")
            scope += 1
            enter(callees[callee])
            stack.append([callees[callee], 0, None, 0])
            continue
        for t in op.inputs:
            if t >= 0:
                last[(g, t)] = scope
        for t in op.outputs:
            last[(g, t)] = scope
        # A subgraph entered twice keeps its first start and its last end, as tensors do.
        scratch_life[(g, op.index)] = (scratch_life.get((g, op.index), (start, 0))[0], scope)
        if g == 0:
            main_spans.append((start, scope))
        frame[1] += 1
        frame[2] = None

    offsets = offline_offsets(model)
    entries: list[PlannerEntry] = []
    flat = 0
    handles = resource_handles(model)
    for sg in model.subgraphs:
        for t in sg.tensors:
            offline = offsets[flat + t.index] if offsets is not None else -1
            planned = (t.data is None and t.nbytes > 0 and (not t.is_variable or offline != -1)
                       and (sg.index, t.index) not in handles)
            if planned:
                key = (sg.index, t.index)
                entries.append(PlannerEntry("tensor", sg.index, t.index, 0, t.nbytes, first.get(key, -1),
                                            last.get(key, -1), None if offline == -1 else offline))
        flat += len(sg.tensors)
    for (g, k), sizes in sorted(scratch_by_op.items()):
        life = scratch_life.get((g, k), (-1, -1))
        for n, nbytes in enumerate(sizes):
            entries.append(PlannerEntry("scratch", g, k, n, nbytes, life[0], life[1], None))
    return entries, main_spans
