"""Which tensors may share arena bytes, read off the model's ops.

Three kinds, each a pair (input tensor, output tensor) of one op of subgraph 0:
* alias: the op declared in prepare that its output is a byte copy of an input (RESHAPE, SQUEEZE,
  EXPAND_DIMS). Placed at the same offset, the copy becomes unnecessary and the op is skipped.
* elementwise: unary and broadcasting binary ops, whose kernels (kernels/activations.pyx,
  elementwise.pyx) write output element i right after reading input element i; the input must have
  the output's shape.
* window: CONV_2D, DEPTHWISE_CONV_2D, AVERAGE_POOL_2D and MAX_POOL_2D, whose kernels produce output
  pixels in row-major order (access.py gives the schedule from the op's options and shapes).
An elementwise or window pair is usable only when the input dies at that op (declare() checks that
for a given op order): the output may then start at or below the input, trailing it by the safe lag.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Collection, Mapping, Sequence

from ..model import TENSOR_TYPES, Model, Operator, Tensor
from ..quantization import compute_padding
from .access import Access, ElementwiseAccess, WindowAccess
from .check import Sharing, alias_roots
from .lifetimes import ALIGNMENT, PlannerEntry

SHARING_KINDS = ("alias", "elementwise", "window")

#: Ops run by the flat unary loop or the broadcasting binary walk, output element by output element.
ELEMENTWISE_OPS = frozenset({
    "ADD", "SUB", "MUL", "DIV", "SQUARED_DIFFERENCE", "MAXIMUM", "MINIMUM", "PRELU",
    "RELU", "RELU6", "RELU_N1_TO_1", "LEAKY_RELU", "LOGISTIC", "TANH", "HARD_SWISH", "ELU",
    "ABS", "NEG", "RSQRT", "SQRT", "EXP", "LOG",
})
WINDOW_OPS = {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "depthwise", "AVERAGE_POOL_2D": "pool", "MAX_POOL_2D": "pool"}


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


def _itemsize(t: Tensor) -> int:
    return TENSOR_TYPES[t.type_code][2]


def _window_access(model: Model, op: Operator, kind: str) -> WindowAccess:
    sg = model.main
    x, y = sg.tensors[op.inputs[0]], sg.tensors[op.outputs[0]]
    opts = op.options
    groups = 1
    if kind == "pool":
        filter_hw, dilation = (opts.get("filter_height", 1), opts.get("filter_width", 1)), (1, 1)
    else:
        w = sg.tensors[op.inputs[1]].shape
        filter_hw = (w[1], w[2])
        dilation = (opts.get("dilation_h_factor", 1), opts.get("dilation_w_factor", 1))
        if kind == "conv":
            groups = x.shape[3] // w[3]
    stride = (opts.get("stride_h", 1), opts.get("stride_w", 1))
    pad = tuple(compute_padding(x.shape[1 + a], filter_hw[a], stride[a], dilation[a], opts.get("padding", 0))
                for a in (0, 1))
    return WindowAccess(kind, x.shape, y.shape, filter_hw, stride, dilation, pad, _itemsize(x), _itemsize(y), groups)


def _arena_tensor(t: Tensor) -> bool:
    return t.data is None and not t.is_variable and t.dtype is not None and t.nbytes > 0


def candidates(model: Model, declared_aliases: Mapping[int, Sequence[tuple[int, int]]],
               kinds: Collection[str] = SHARING_KINDS) -> list[Candidate]:
    """Every sharing the ops of subgraph 0 allow, whatever the op order.

    declared_aliases: op index -> (output position, input position) pairs the op declared in prepare.
    """
    sg = model.main
    outputs = set(sg.outputs)
    found = []
    for op in sg.operators:
        if "alias" in kinds:
            for out_pos, in_pos in declared_aliases.get(op.index, ()):
                x, y = sg.tensors[op.inputs[in_pos]], sg.tensors[op.outputs[out_pos]]
                if _arena_tensor(x) and _arena_tensor(y) and x.nbytes == y.nbytes:
                    found.append(Candidate("alias", op.index, x.index, y.index))
        if len(op.outputs) != 1 or op.custom_code is not None:
            continue
        y = sg.tensors[op.outputs[0]]
        positions: tuple[int, ...] = ()
        if "elementwise" in kinds and op.name in ELEMENTWISE_OPS:
            positions = tuple(p for p in range(min(2, len(op.inputs))) if op.inputs[p] >= 0
                              and sg.tensors[op.inputs[p]].shape == y.shape)
        elif "window" in kinds and op.name in WINDOW_OPS:
            positions = (0,)
        for p in positions:
            x = sg.tensors[op.inputs[p]]
            # The input must be read at this position only, and never be needed after the graph ran.
            if not (_arena_tensor(x) and _arena_tensor(y)) or op.inputs.count(x.index) != 1 or x.index in outputs:
                continue
            if op.name in WINDOW_OPS:
                access = _window_access(model, op, WINDOW_OPS[op.name])
                found.append(Candidate("window", op.index, x.index, y.index, access))
            else:
                found.append(Candidate("elementwise", op.index, x.index, y.index,
                                       ElementwiseAccess(y.num_elements, _itemsize(x), _itemsize(y))))
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
