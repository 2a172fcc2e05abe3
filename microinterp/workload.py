"""The static work a model asks for: multiply-accumulates per op and per subgraph call, read off the
shapes before any op is prepared, and the limit allocate_tensors() checks them against."""
from __future__ import annotations

from .errors import ResourceLimitError
from .model import Model, Operator, Subgraph, Tensor

#: Most multiply-accumulates one call of a subgraph may declare: 50x the largest real model here
#: (mobilenet_v2 at 224x224, about 0.3 G), far below what a hostile file can declare with
#: max_tensor_bytes-sized tensors (filters reused by thousands of ops: 10^13 and more).
DEFAULT_MAX_MACS_PER_INVOKE = 20_000_000_000


def op_input(subgraph: Subgraph, op: Operator, i: int) -> Tensor | None:
    """Input i of an op, None when absent or omitted (index -1)."""
    return subgraph.tensors[op.inputs[i]] if i < len(op.inputs) and op.inputs[i] >= 0 else None


def _recurrent_macs(subgraph: Subgraph, op: Operator) -> int:
    """MACs of the recurrent ops, as TFLM's kernels compute them per invoke.

    UNIDIRECTIONAL_SEQUENCE_LSTM, per time step and batch row: four gate FCs over the input
    (state x in) and the hidden state (state x state), then the cell update f*c + i*g and the
    output o*tanh(c) (3 x state products). SVDF, per batch row: the feature FC (filters x in) and
    each filter's dot product of its memory with the time weights (filters x memory)."""
    source, weights = op_input(subgraph, op, 0), op_input(subgraph, op, 1 if op.name == "SVDF" else 2)
    if source is None or weights is None or len(weights.shape) != 2 or not source.shape or not source.shape[-1]:
        return 0
    rows = source.num_elements // source.shape[-1]  # time steps x batch for LSTM, batch for SVDF
    if op.name == "SVDF":
        time_weights = op_input(subgraph, op, 2)
        memory = time_weights.shape[-1] if time_weights is not None and time_weights.shape else 0
        return rows * weights.shape[0] * (weights.shape[1] + memory)
    state, depth = weights.shape
    return rows * (4 * state * (depth + state) + 3 * state)


def op_macs(subgraph: Subgraph, op: Operator) -> int:
    """Multiply-accumulates of one op per invoke: CONV_2D out_elems*KH*KW*IC_per_group, DEPTHWISE_CONV_2D
    out_elems*KH*KW, FULLY_CONNECTED and BATCH_MATMUL out_elems*accum_depth, TRANSPOSE_CONV
    input_elems*KH*KW*OC, LSTM and SVDF as _recurrent_macs says; 0 for every other op (their arithmetic
    is not multiply-accumulate dominated) and for malformed ones."""
    if op.name in ("UNIDIRECTIONAL_SEQUENCE_LSTM", "SVDF"):
        return _recurrent_macs(subgraph, op)
    if op.name == "BATCH_MATMUL":
        lhs = op_input(subgraph, op, 0)
        if lhs is None or len(lhs.shape) < 2 or not op.outputs:
            return 0
        depth = lhs.shape[-2] if op.options.get("adj_x", False) else lhs.shape[-1]
        return subgraph.tensors[op.outputs[0]].num_elements * depth
    # Filter layouts: conv [OC, KH, KW, IC/groups], depthwise [1, KH, KW, OC], fully connected
    # [units, depth], transpose conv [OC, KH, KW, IC] with inputs (output_shape, filter, input).
    weights = op_input(subgraph, op, 1)
    if weights is None or not op.outputs or not weights.shape:
        return 0
    kernel = weights.shape[1:3] if len(weights.shape) == 4 else None
    out_elems = subgraph.tensors[op.outputs[0]].num_elements
    if op.name == "FULLY_CONNECTED":
        return out_elems * weights.shape[-1]
    if kernel is None:
        return 0
    if op.name == "CONV_2D":
        return out_elems * kernel[0] * kernel[1] * weights.shape[3]
    if op.name == "DEPTHWISE_CONV_2D":
        return out_elems * kernel[0] * kernel[1]
    if op.name == "TRANSPOSE_CONV" and (source := op_input(subgraph, op, 2)) is not None:
        return source.num_elements * kernel[0] * kernel[1] * weights.shape[0]
    return 0


def subgraph_macs(subgraph: Subgraph) -> int:
    """Multiply-accumulates of a subgraph's own ops in one call (the subgraphs they call not included)."""
    return sum(op_macs(subgraph, op) for op in subgraph.operators)


def call_macs(model: Model) -> list[int]:
    """Multiply-accumulates of one call of each subgraph, the subgraphs its control-flow ops run
    included: IF its larger branch, WHILE one condition and one body (the iterations are bounded at run
    time by max_subgraph_visits), CALL_ONCE its init subgraph. Memoised, so nested calls cost one pass
    per subgraph; a call cycle (refused later by allocate_tensors) adds nothing for the repeated call."""
    n = len(model.subgraphs)
    totals: list[int | None] = [None] * n
    for root in range(n):
        # An explicit stack, not recursion: max_subgraphs allows chains deeper than Python's stack.
        stack, entered = [root], set()
        while stack:
            g = stack[-1]
            if totals[g] is not None:
                stack.pop()
                continue
            sg = model.subgraphs[g]
            calls = [(op, [c for c in op.called_subgraphs() if 0 <= c < n]) for op in sg.operators]
            pending = [c for _, callees in calls for c in callees if totals[c] is None and c not in entered]
            if g not in entered and pending:
                entered.add(g)
                stack.extend(pending)
                continue
            macs = subgraph_macs(sg)
            for op, callees in calls:
                counted = [totals[c] or 0 for c in callees]  # None: a call cycle, refused at prepare
                if counted:
                    macs += max(counted) if op.name == "IF" else sum(counted)
            totals[g] = macs
            stack.pop()
    return [int(t) for t in totals]


def check_macs(model: Model, max_macs_per_invoke: int) -> None:
    """Raise ResourceLimitError naming the first subgraph whose one call declares more MACs than allowed."""
    for sg, macs in zip(model.subgraphs, call_macs(model)):
        if macs > max_macs_per_invoke:
            heaviest = max(sg.operators, key=lambda op: op_macs(sg, op))
            raise ResourceLimitError(
                f"subgraph {sg.index}: one call declares {macs} multiply-accumulates, the subgraphs it calls "
                f"included (the most in one op: {heaviest.describe()}, {op_macs(sg, heaviest)}), above the "
                f"limit of {max_macs_per_invoke} (max_macs_per_invoke)")
