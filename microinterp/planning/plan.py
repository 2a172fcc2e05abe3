"""The memory plan: where every activation, scratch buffer and variable lives in the one arena.

Arena layout: [head: TFLM-compatible plan][microinterp's own kernel scratch][variable tensors].
The head equals TFLM's head for the `tflm` strategy; the rest is what microinterp needs on top.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

from ..model import Model
from .greedy import BufferRequest, head_size, plan_greedy
from .lifetimes import PlannerEntry, align, planner_entries

#: tflm: TFLM's greedy planner, offset for offset. linear: every buffer its own bytes, in planner
#: order (TFLM's LinearMemoryPlanner, used when all tensors are preserved).
STRATEGIES = ("tflm", "linear")


@dataclass(frozen=True)
class Allocation:
    """A planner entry placed at an offset from the head start."""
    entry: PlannerEntry
    offset: int

    @property
    def end(self) -> int:
        return self.offset + self.entry.aligned_size


@dataclass(frozen=True)
class MemoryPlan:
    """The arena plan of a model, for one strategy."""
    strategy: str
    allocations: tuple[Allocation, ...]
    head: int
    scratch_offset: int
    scratch_size: int
    variable_offsets: dict[tuple[int, int], int] = field(default_factory=dict)
    arena_size: int = 0

    def tensor_allocation(self, subgraph: int, tensor: int) -> Allocation | None:
        return self._by_tensor.get((subgraph, tensor))

    @functools.cached_property
    def _by_tensor(self) -> dict[tuple[int, int], Allocation]:
        return {(a.entry.subgraph, a.entry.index): a for a in self.allocations if a.entry.kind == "tensor"}

    def scratch_allocations(self, subgraph: int, op: int) -> list[Allocation]:
        """TFLM-style scratch buffers of one op, in request order."""
        return [a for a in self.allocations
                if a.entry.kind == "scratch" and (a.entry.subgraph, a.entry.index) == (subgraph, op)]

    @property
    def lower_bound(self) -> int:
        """Peak of aligned bytes live at one scope: no plan for this op order can use less head."""
        return live_bytes_peak([a.entry for a in self.allocations])


def live_bytes_peak(entries: list[PlannerEntry]) -> int:
    """Max over scopes of the aligned bytes of online entries live then (spec §7, offline ones by range)."""
    online = [e for e in entries if e.offline_offset is None]
    offline = [e for e in entries if e.offline_offset is not None]
    scopes = sorted({e.first for e in online} | {e.last for e in online} | {e.first for e in offline})
    best = max((e.offline_offset + e.aligned_size for e in offline), default=0)
    for s in scopes:
        live = sum(e.aligned_size for e in online if e.first <= s <= e.last)
        ranges = sorted((e.offline_offset, e.offline_offset + e.aligned_size)
                        for e in offline if e.first <= s <= e.last)
        covered, reach = 0, None
        for lo, hi in ranges:  # union of offline ranges live at s
            if reach is None or lo > reach:
                covered += hi - lo
                reach = hi
            elif hi > reach:
                covered += hi - reach
                reach = hi
        best = max(best, live + covered)
    return best


def plan_memory(model: Model, tflm_scratch: dict[tuple[int, int], list[int]], own_scratch: int,
                strategy: str = "tflm") -> MemoryPlan:
    """Plan the arena: TFLM-compatible head, then microinterp's own scratch, then variable tensors.

    tflm_scratch: scratch bytes TFLM's kernels request, keyed by (subgraph, op); own_scratch: the
    largest scratch any of microinterp's own kernels needs at once (ops run one at a time).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown memory strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    entries = planner_entries(model, tflm_scratch)
    requests = [BufferRequest(e.aligned_size, e.first, e.last, e.offline_offset) for e in entries]
    if strategy == "linear":
        offsets = [sum(r.size for r in requests[:i]) for i in range(len(requests))]
    else:
        offsets = plan_greedy(requests)
    head = head_size(requests, offsets)
    allocations = tuple(Allocation(e, o) for e, o in zip(entries, offsets))
    scratch_offset = align(head)
    cursor = align(scratch_offset + own_scratch)
    variables: dict[tuple[int, int], int] = {}
    planned = {(e.subgraph, e.index) for e in entries if e.kind == "tensor"}
    for sg in model.subgraphs:
        for t in sg.tensors:
            if t.is_variable and (sg.index, t.index) not in planned:
                variables[(sg.index, t.index)] = cursor
                cursor = align(cursor + t.nbytes)
    return MemoryPlan(strategy, allocations, head, scratch_offset, own_scratch, variables, cursor)
