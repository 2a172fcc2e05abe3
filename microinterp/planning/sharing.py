"""Which tensors may share arena bytes, read off the model's ops, for the kernels that will run them.

Three kinds, each a pair (input tensor, output tensor) of one op of subgraph 0:
* alias: the op declared in prepare that its output is a byte copy of an input (RESHAPE, SQUEEZE,
  EXPAND_DIMS). Placed at the same offset, the copy becomes unnecessary and the op is skipped.
* elementwise: unary and binary ops writing output element i right after reading the input element
  that lands on it (same shape; for TFLM's kernels also a broadcast input).
* window: convolutions, pools (and, for TFLM's kernels, fully connected layers), whose kernels produce
  output pixels in row-major order.
Which ops have which kind, with which read/write schedule, depends on the kernel set (schedules.py);
an op it does not model shares nothing. An elementwise or window pair is usable only when the input
dies at that op (declare() checks that for a given op order): the output may then start at or below
the input, trailing it by the safe lag.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Mapping, Sequence

from ..model import Model, Tensor
from .access import Access
from .check import Sharing, alias_roots
from .lifetimes import ALIGNMENT, PlannerEntry
from .schedules import MICROINTERP, kernel_schedule, op_access

SHARING_KINDS = ("alias", "elementwise", "window")


@dataclass(frozen=True)
class Candidate:
    """Op `op` (index in subgraph 0) may place tensor `output` over tensor `input`."""
    kind: str
    op: int
    input: int
    output: int
    access: Access | None = None  # None for an alias

    @property
    def max_shift(self) -> int:
        """How far (bytes, <= 0, a multiple of 16) the output may start after the input: 0 for an alias."""
        shift = 0 if self.access is None else self.access.max_shift()
        return 0 if shift is None or shift >= 0 else shift // ALIGNMENT * ALIGNMENT


def _arena_tensor(t: Tensor) -> bool:
    return t.data is None and not t.is_variable and t.dtype is not None and t.nbytes > 0


def candidates(model: Model, declared_aliases: Mapping[int, Sequence[tuple[int, int]]],
               kinds: Collection[str] = SHARING_KINDS, schedule: str = MICROINTERP) -> list[Candidate]:
    """Every sharing the ops of subgraph 0 allow, whatever the op order, when `schedule`'s kernels
    (schedules.SCHEDULES) run them.

    declared_aliases: op index -> (output position, input position) pairs the op declared in prepare.
    """
    kernels = kernel_schedule(schedule)
    sg = model.main
    outputs = set(sg.outputs)
    found = []
    for op in sg.operators:
        if "alias" in kinds and op.name in kernels.alias_ops:
            for out_pos, in_pos in declared_aliases.get(op.index, ()):
                x, y = sg.tensors[op.inputs[in_pos]], sg.tensors[op.outputs[out_pos]]
                if _arena_tensor(x) and _arena_tensor(y) and x.nbytes == y.nbytes:
                    found.append(Candidate("alias", op.index, x.index, y.index))
        if len(op.outputs) != 1 or op.custom_code is not None:
            continue
        y = sg.tensors[op.outputs[0]]
        for p in range(min(2, len(op.inputs))):
            if op.inputs[p] < 0:
                continue
            x = sg.tensors[op.inputs[p]]
            # The input must be read at this position only, and never be needed after the graph ran.
            if not (_arena_tensor(x) and _arena_tensor(y)) or op.inputs.count(x.index) != 1 or x.index in outputs:
                continue
            walk = op_access(model, op, p, kernels)
            if walk is not None and walk[0] in kinds:
                found.append(Candidate(walk[0], op.index, x.index, y.index, walk[1]))
    return found


def declare(model: Model, entries: Sequence[PlannerEntry],
            found: Sequence[Candidate]) -> list[tuple[Candidate, Sharing]]:
    """The candidates usable with these lifetimes (one op order), each with its declaration over planner
    entry indices: every alias between planned online tensors, and at most one overlap per op, where
    the input (with everything aliasing it) dies at that op, is no graph output, and is not also read
    by that op through an alias (whose reads the access pattern does not model)."""
    index = {e.index: i for i, e in enumerate(entries)
             if e.kind == "tensor" and e.subgraph == 0 and e.offline_offset is None}
    pairs = [(c, Sharing(index[c.input], index[c.output])) for c in found
             if c.kind == "alias" and c.input in index and c.output in index]
    root = alias_roots(len(entries), [(s.input, s.output) for _, s in pairs])
    outputs = set(model.main.outputs)
    last: dict[int, int] = {}  # per alias group: its last step (a graph output never dies)
    for t, i in index.items():
        last[root[i]] = max(last.get(root[i], -1), entries[i].last if t not in outputs else 1 << 60)
    used_ops, used_outputs = set(), set()
    for c in found:
        if c.kind == "alias" or c.op in used_ops or c.input not in index or c.output not in index:
            continue
        i, o = index[c.input], index[c.output]
        if root[o] in used_outputs or root[i] == root[o] or last[root[i]] != entries[o].first:
            continue
        if any(t != c.input and t in index and root[index[t]] == root[i] for t in model.main.operators[c.op].inputs):
            continue
        used_ops.add(c.op)
        used_outputs.add(root[o])
        pairs.append((c, Sharing(i, o, c.access)))
    return pairs
