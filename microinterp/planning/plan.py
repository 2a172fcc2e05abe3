"""The memory plan: where every activation, scratch buffer and variable lives in the one arena.

Arena layout: [head: the planned buffers][microinterp's own kernel scratch][variable tensors][resource
variables] (the last two are persistent: TFLM's tail).
Strategies for the head (every plan then goes through the checker, check.py):
* tflm: TFLM's greedy planner, offset for offset (the head equals TFLM's).
* linear: every buffer its own bytes, in planner order (TFLM's LinearMemoryPlanner).
* optimal: the smallest head for the model's op order (packing.py), never above tflm's.
* reorder: first the op order with the lowest peak of live bytes (order.py), then optimal.
* inplace: reorder, with tensors sharing bytes (sharing.py): RESHAPE-like outputs alias their input,
  elementwise ops write over a dying input, window ops write their output over a dying input,
  trailing it by a safe lag. Safe for the kernels that will run the plan (the schedule,
  schedules.py): microinterp's own, or TFLM's reference kernels for a plan written into the model.
"""
from __future__ import annotations

import functools
import itertools
import time
from dataclasses import dataclass, field
from typing import Collection, Mapping, Sequence

from ..model import Model
from .check import Sharing, alias_roots, check_plan
from .greedy import BufferRequest, head_size, plan_greedy
from .lifetimes import DEFAULT_MAX_SUBGRAPH_VISITS, PlannerEntry, align, offline_offsets, planner_entries
from .order import Graph, OpNode, best_order
from .coverage import covered_bytes_per_step
from .packing import OverlapPair, lower_bound, pack
from .schedules import MICROINTERP, kernel_schedule, overlap_problem
from .sharing import SHARING_KINDS, Candidate, candidates, declare

STRATEGIES = ("tflm", "linear", "optimal", "reorder", "inplace")
#: Seconds of search per plan before the packer settles for its best plan and reports the gap.
DEFAULT_TIME_BUDGET = 10.0


@dataclass(frozen=True)
class Allocation:
    """A planner entry placed at an offset from the head start."""
    entry: PlannerEntry
    offset: int

    @property
    def end(self) -> int:
        return self.offset + self.entry.aligned_size


@dataclass(frozen=True)
class SharedBytes:
    """Two tensors of subgraph 0 that the plan places over each other, at op `op`."""
    kind: str  # "alias", "elementwise" or "window" (sharing.py)
    op: int
    input: int
    output: int
    shift: int  # output offset minus input offset


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
    #: Execution order of the ops of subgraph 0 (op indices).
    op_order: tuple[int, ...] = ()
    shared: tuple[SharedBytes, ...] = ()
    #: No plan for this op order (and, for inplace, these sharing declarations) needs less head.
    lower_bound: int = 0
    #: The head is the smallest possible (it reached the bound, or the search finished).
    proven_optimal: bool = False
    #: The kernels whose read/write order made the shared bytes safe (schedules.SCHEDULES).
    schedule: str = MICROINTERP
    #: Ops of subgraph 0 whose output the model's own offline plan places over one of their inputs in an
    #: order microinterp's kernel does not follow (a plan written for TFLM's kernels): invoke computes
    #: their output aside and then copies it into place.
    staged_ops: frozenset[int] = frozenset()
    #: What the strategy could not do for this model, and why (e.g. reorder a model with control flow).
    notes: tuple[str, ...] = ()
    #: Per op of op_order: the first and last lifetime step it spans (more than one when it runs subgraphs).
    op_spans: tuple[tuple[int, int], ...] = ()
    #: Per resource variable id: the offset of its buffer (None: it has none).
    resource_offsets: tuple[int | None, ...] = ()

    def tensor_allocation(self, subgraph: int, tensor: int) -> Allocation | None:
        return self._by_tensor.get((subgraph, tensor))

    @functools.cached_property
    def _by_tensor(self) -> dict[tuple[int, int], Allocation]:
        return {(a.entry.subgraph, a.entry.index): a for a in self.allocations if a.entry.kind == "tensor"}

    def scratch_allocations(self, subgraph: int, op: int) -> list[Allocation]:
        """TFLM-style scratch buffers of one op, in request order."""
        return list(self._scratch_by_op.get((subgraph, op), ()))

    @functools.cached_property
    def _scratch_by_op(self) -> dict[tuple[int, int], list[Allocation]]:
        by_op: dict[tuple[int, int], list[Allocation]] = {}
        for a in self.allocations:
            if a.entry.kind == "scratch":
                by_op.setdefault((a.entry.subgraph, a.entry.index), []).append(a)
        return by_op

    def live_bytes(self) -> list[int]:
        """Head bytes in use while each op of subgraph 0 runs, in execution order (op_order): the union
        of the planned buffers live at its step, bytes shared by two buffers counted once; for a
        control-flow op, the most at any step of the subgraphs it runs."""
        spans = [(a.entry.first, a.entry.last, a.offset, a.end) for a in self.allocations if a.end > a.offset]
        steps = max([last for _, last in self.op_spans] + [last for _, last, _, _ in spans], default=-1) + 1
        per_step = covered_bytes_per_step(spans, steps)
        return [max(per_step[first:last + 1], default=0) for first, last in self.op_spans]

    @property
    def skipped_ops(self) -> frozenset[int]:
        """Ops of subgraph 0 whose output aliases their input: the copy they would make is not needed."""
        return frozenset(s.op for s in self.shared if s.kind == "alias")


class _EntryNames:
    """The planner entries' descriptions for the checker's messages, made only for the buffers named."""

    def __init__(self, entries: Sequence[PlannerEntry]):
        self._entries = entries

    def __getitem__(self, i: int) -> str:
        return self._entries[i].describe()


def _staged_ops(model: Model, entries: Sequence[PlannerEntry]) -> frozenset[int]:
    """The ops whose output, at its offline offset, shares bytes with one of their inputs where the
    microinterp schedule does not prove the overlap safe (see MemoryPlan.staged_ops)."""
    kernels = kernel_schedule(MICROINTERP)
    placed = {e.index: (e.offline_offset, e.nbytes) for e in entries
              if e.kind == "tensor" and e.subgraph == 0 and e.offline_offset is not None}
    staged = set()
    for op in model.main.operators:
        for t_out in (t for t in op.outputs if t in placed):
            out_at, out_bytes = placed[t_out]
            for p, t_in in enumerate(op.inputs):
                if t_in in placed and t_in != t_out:
                    shift = out_at - placed[t_in][0]
                    if -out_bytes < shift < placed[t_in][1] and overlap_problem(model, op, p, shift, kernels):
                        staged.add(op.index)
    return frozenset(staged)


def unsafe_shared_bytes(model: Model, plan: MemoryPlan, schedule: str) -> list[str]:
    """Each pair of tensors the plan places over each other that `schedule`'s kernels would break,
    described with its op: an op whose order the schedule does not model, or an output byte written
    before the input byte under it is last read. Empty when the plan is safe for those kernels."""
    kernels = kernel_schedule(schedule)
    problems = []
    for s in plan.shared:
        op = model.main.operators[s.op]
        problem = overlap_problem(model, op, op.inputs.index(s.input), s.shift, kernels)
        if problem:
            problems.append(f"op {s.op} ({op.name}), tensor {s.output} over tensor {s.input} at shift {s.shift:+d}: "
                            f"{problem}")
    return problems


def fixed_order_reason(model: Model) -> str | None:
    """Why subgraph 0 must run in the model's own op order (None: any topological order may run it)."""
    sg = model.main
    if len(model.subgraphs) > 1 or any(op.called_subgraphs() for op in sg.operators):
        return ("op order kept: the model has several subgraphs (control flow), whose lifetimes TFLM "
                "nests into the caller's steps; sharing bytes is limited to ops of subgraph 0")
    if offline_offsets(model) is not None:
        return "op order kept: the model's offline plan assumes it"
    if not all(op.outputs for op in sg.operators) or any(t.is_variable or t.type_name == "RESOURCE"
                                                        for t in sg.tensors):
        return "op order kept: the model has state (variables, resources) or ops without outputs"
    return None


def _schedule_graph(model: Model, tflm_scratch: Mapping[tuple[int, int], list[int]],
                    found: Sequence[Candidate]) -> Graph:
    """Subgraph 0 for order.py: one value per alias group of tensors, sized as TFLM would plan it."""
    sg = model.main
    value = alias_roots(len(sg.tensors), [(c.input, c.output) for c in found if c.kind == "alias"])
    sizes = [0] * len(sg.tensors)
    for t in sg.tensors:
        if t.data is None and not t.is_variable and t.nbytes > 0:
            sizes[value[t.index]] = max(sizes[value[t.index]], align(t.nbytes))
    savings: dict[int, list[tuple[int, int]]] = {}
    for c in found:
        if c.kind != "alias":
            s_in, s_out = sizes[value[c.input]], sizes[value[c.output]]
            union = OverlapPair(0, 0, c.max_shift).union(s_in, s_out)
            savings.setdefault(c.op, []).append((value[c.input], s_in + s_out - union))
    ops = tuple(OpNode(tuple(value[t] for t in op.inputs if t >= 0 and sg.tensors[t].data is None),
                       tuple(value[t] for t in op.outputs),
                       sum(align(n) for n in tflm_scratch.get((0, op.index), ())),
                       tuple(savings.get(op.index, ())))
                for op in sg.operators)
    return Graph(tuple(sizes), ops, frozenset(value[t] for t in sg.outputs))


def _pack(requests: list[BufferRequest], declared: Sequence[tuple[Candidate, Sharing]],
          time_budget: float) -> tuple[list[int], int, bool]:
    """Offsets, bound and optimality from packing.py, each alias group packed as one buffer."""
    rep = alias_roots(len(requests), [(s.input, s.output) for c, s in declared if c.kind == "alias"])
    groups = sorted(set(rep))
    slot = {r: k for k, r in enumerate(groups)}
    members_of: dict[int, list[BufferRequest]] = {r: [] for r in groups}
    for i, r in enumerate(rep):
        members_of[r].append(requests[i])
    merged = []
    for r in groups:
        members = members_of[r]
        merged.append(BufferRequest(max(m.size for m in members), min(m.first for m in members),
                                    max(m.last for m in members), requests[r].offline_offset))
    overlaps = [OverlapPair(slot[rep[s.input]], slot[rep[s.output]], c.max_shift)
                for c, s in declared if c.kind != "alias"]
    result = pack(merged, overlaps, time_budget=time_budget)
    return [result.offsets[slot[rep[i]]] for i in range(len(requests))], result.lower_bound, result.proven_optimal


def plan_memory(model: Model, tflm_scratch: Mapping[tuple[int, int], list[int]], own_scratch: int,
                strategy: str = "tflm", *, aliases: Mapping[int, Sequence[tuple[int, int]]] | None = None,
                sharing: Collection[str] | None = None, time_budget: float = DEFAULT_TIME_BUDGET,
                max_subgraph_visits: int = DEFAULT_MAX_SUBGRAPH_VISITS,
                resource_bytes: Sequence[int | None] = (), schedule: str = MICROINTERP) -> MemoryPlan:
    """Plan the arena: the head by `strategy`, then microinterp's own scratch, then variable tensors.

    tflm_scratch: scratch bytes TFLM's kernels request, keyed by (subgraph, op); own_scratch: the
    largest scratch any of microinterp's own kernels needs at once (ops run one at a time).
    aliases: op index -> (output position, input position) pairs that op declared as byte copies.
    sharing: for "inplace", the kinds of sharing to use (default all of sharing.SHARING_KINDS).
    time_budget: seconds the optimal/reorder/inplace searches may take together (the op order search
    first, the packing with what is left); each phase stops at the budget and keeps its best so far.
    max_subgraph_visits: bound on the subgraph entries of the lifetime walk (lifetimes.planner_entries).
    resource_bytes: the buffer size of each resource variable by id (None: no buffer; resources.py).
    schedule: whose kernels will run the plan (schedules.SCHEDULES): overlaps are safe for their
    read/write order.
    """
    start = time.monotonic()
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown memory strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    kernel_schedule(schedule)  # an unknown name fails here, whatever the strategy
    if sharing is not None and strategy != "inplace":
        raise ValueError(f"sharing kinds apply to the inplace strategy only, not {strategy!r}")
    kinds = frozenset(SHARING_KINDS if sharing is None else sharing) if strategy == "inplace" else frozenset()
    if not kinds <= set(SHARING_KINDS):
        raise ValueError(f"unknown sharing kind(s) {sorted(kinds - set(SHARING_KINDS))}; "
                         f"choose among {', '.join(SHARING_KINDS)}")
    found = candidates(model, aliases or {}, kinds, schedule) if kinds else []
    order = list(range(len(model.main.operators)))
    kept = fixed_order_reason(model) if strategy in ("reorder", "inplace") else None
    if strategy in ("reorder", "inplace") and kept is None:
        order = best_order(_schedule_graph(model, tflm_scratch, found), deadline=start + time_budget)[0]
    entries, op_spans = planner_entries(model, tflm_scratch, order, max_subgraph_visits)
    declared = declare(model, entries, found) if found else []
    requests = [BufferRequest(e.aligned_size, e.first, e.last, e.offline_offset) for e in entries]
    if strategy in ("tflm", "linear"):
        offsets = (plan_greedy(requests) if strategy == "tflm"
                   else [0, *itertools.accumulate(r.size for r in requests)][:len(requests)])
        bound = lower_bound(requests)
        proven = head_size(requests, offsets) <= bound
    else:
        offsets, bound, proven = _pack(requests, declared, max(0.0, start + time_budget - time.monotonic()))
    head = head_size(requests, offsets)
    check_plan(requests, offsets, head, [s for _, s in declared], _EntryNames(entries))
    allocations = tuple(Allocation(e, o) for e, o in zip(entries, offsets))
    shared = tuple(SharedBytes(c.kind, c.op, c.input, c.output, offsets[s.output] - offsets[s.input])
                   for c, s in declared if offsets[s.output] < offsets[s.input] + requests[s.input].size
                   and offsets[s.input] < offsets[s.output] + requests[s.output].size)
    scratch_offset = align(head)
    cursor = align(scratch_offset + own_scratch)
    variables: dict[tuple[int, int], int] = {}
    planned = {(e.subgraph, e.index) for e in entries if e.kind == "tensor"}
    for sg in model.subgraphs:
        for t in sg.tensors:
            if t.is_variable and (sg.index, t.index) not in planned:
                variables[(sg.index, t.index)] = cursor
                cursor = align(cursor + t.nbytes)
    resource_offsets = []
    for nbytes in resource_bytes:
        resource_offsets.append(None if nbytes is None else cursor)
        cursor = cursor if nbytes is None else align(cursor + nbytes)
    return MemoryPlan(strategy, allocations, head, scratch_offset, own_scratch, variables, cursor,
                      tuple(order), shared, bound, proven, schedule, _staged_ops(model, entries),
                      (kept,) if kept else (), tuple(op_spans), tuple(resource_offsets))
