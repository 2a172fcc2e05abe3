"""Prepare: check the graph's data flow, then run every op's prepare (validation + precomputation).

Unsupported operators are collected over the whole graph and reported in one error. Custom operators
microinterp has no kernel for (an NPU's op such as Vela's `ethos-u`, or any unknown custom op) are
"opaque": the model can still be inspected and planned (prepare_graph), as TFLM plans it, but not run.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .errors import InconsistentModelError, UnsupportedOperatorError
from .model import Model, Operator
from .ops import CUSTOM_REGISTRY, OpContext, find_prepare
from .ops.registry import BindFn
from .resources import resource_table


@dataclass(frozen=True)
class PreparedOp:
    """An operator with its validated kernel binding, its scratch requests (bytes, like_tflm), the
    (output, input) positions it declared byte copies of each other (OpContext.declare_alias) and the
    extra arguments its bind takes (OpContext.bind_extras)."""
    op: Operator
    bind: BindFn
    scratch: tuple[tuple[int, bool], ...]
    aliases: tuple[tuple[int, int], ...] = ()
    #: Arrays the op keeps across invokes, with their reset values (OpContext.persistent).
    state: tuple[tuple[np.ndarray, int], ...] = ()
    bind_extras: tuple[tuple[str, int], ...] = ()
    #: Whether its step may end the invoke early (OpContext.declare_abort).
    aborts: bool = False
    #: OpContext.image_pad and OpContext.bind_padded: a PAD its reader may read through.
    image_pad: tuple[int, int] | None = None
    bind_padded: Callable | None = None


def is_opaque(op: Operator) -> bool:
    """A custom op microinterp has no kernel for: its tensors are planned, the model cannot run."""
    return op.custom_code is not None and op.custom_code not in CUSTOM_REGISTRY


def check_data_flow(model: Model, subgraph: int = 0) -> None:
    """Every tensor an op reads is a constant, a variable, a graph input or written by an earlier op.

    Exception: an opaque op may read tensors nobody writes (Vela's scratch tensors): it owns their
    contents, and TFLM plans them like any other tensor. Any other op reading them is an error.
    """
    sg = model.subgraphs[subgraph]
    available = set(sg.inputs)
    available.update(t.index for t in sg.tensors if t.is_constant or t.is_variable)
    for op in sg.operators:
        opaque = is_opaque(op)
        for i, t in enumerate(op.inputs):
            if t >= 0 and t not in available and not opaque:
                raise InconsistentModelError(
                    f"{op.describe()}: input {i} ({sg.tensors[t].describe()}) is read before any op "
                    f"writes it and is not a graph input, constant or variable")
        for i, t in enumerate(op.outputs):
            # Constants are read-only views of the model bytes (flash, on a microcontroller).
            if sg.tensors[t].is_constant:
                raise InconsistentModelError(f"{op.describe()}: output {i} ({sg.tensors[t].describe()}) "
                                             f"is a constant, expected a tensor without a data buffer")
        available.update(op.outputs)
    for t in sg.outputs:
        if t not in available:
            raise InconsistentModelError(f"subgraph {subgraph} output {sg.tensors[t].describe()} is never written")


def _no_kernel(op: Operator) -> str:
    if is_opaque(op):
        return (f"{op.describe()}: custom operator '{op.custom_code}' has no kernel in microinterp "
                f"(inspect and plan still work on this model)")
    return f"{op.describe()}: no kernel for this operator"


def reachable_subgraphs(model: Model) -> list[int]:
    """Subgraph 0 and every subgraph its control-flow ops run, directly or not, in index order.

    Raises InconsistentModelError when a subgraph can run itself (a WHILE whose body runs the same
    WHILE, an IF branch calling its caller, ...): TFLM would recurse until its stack overflows.
    """
    state = {0: "running"}
    stack = [(0, iter([(op, g) for op in model.subgraphs[0].operators for g in op.called_subgraphs()]))]
    path = [0]
    while stack:
        g, calls = stack[-1]
        step = next(calls, None)
        if step is None:
            state[g] = "done"
            stack.pop()
            path.pop()
            continue
        op, callee = step
        if state.get(callee) == "running":
            chain = " -> ".join(map(str, path + [callee]))
            raise InconsistentModelError(f"{op.describe()}: calls subgraph {callee}, which is already running "
                                         f"(subgraphs {chain}): the recursion would never end")
        if callee not in state:
            state[callee] = "running"
            path.append(callee)
            stack.append((callee, iter([(o, c) for o in model.subgraphs[callee].operators
                                        for c in o.called_subgraphs()])))
    return sorted(state)


def prepare_graph(model: Model) -> tuple[list[PreparedOp], list[str]]:
    """Prepare every operator microinterp has a kernel for, in subgraph 0 and the subgraphs it runs: the
    prepared ops (enough to plan the arena, where an op without a kernel requests no scratch) and one
    problem per op that cannot run. Subgraphs nothing runs (extra signatures) are planned, not prepared."""
    subgraphs = reachable_subgraphs(model)
    for g in subgraphs:
        check_data_flow(model, g)
    prepared: list[PreparedOp] = []
    problems: list[str] = []
    resources = resource_table(model)
    for op in (op for g in subgraphs for op in model.subgraphs[g].operators):
        prepare = find_prepare(op)
        if prepare is None:
            problems.append(_no_kernel(op))
            continue
        ctx = OpContext(model, op, resource_table=resources)
        try:
            bind = prepare(ctx)
        except UnsupportedOperatorError as e:
            problems.extend(e.problems)
            continue
        except InconsistentModelError as e:
            # Shared helpers (quantization.py) cannot name the op; ctx.fail's messages already do.
            if str(e).startswith(op.describe()):
                raise
            raise InconsistentModelError(f"{op.describe()}: {e}") from e
        for t in op.inputs:
            if (op.subgraph, t) in model.compressed:
                # TFLM's kernels decompress a LUT-compressed input into a scratch buffer of its own; the
                # decoded values are already in the tensor here, so the kernel never reads it.
                ctx.request_scratch(model.subgraphs[op.subgraph].tensors[t].nbytes, like_tflm=True)
        prepared.append(PreparedOp(op, bind, tuple(ctx.scratch), tuple(ctx.aliases), tuple(ctx.state),
                                   tuple(ctx.bind_extras), ctx.aborts, ctx.image_pad, ctx.bind_padded))
    return prepared, problems


def prepare_for_planning(model: Model) -> tuple[list[PreparedOp], list[str]]:
    """prepare_graph for `plan`: opaque custom ops are reported (an NPU's op is planned as TFLM plans it),
    any other op that cannot run raises UnsupportedOperatorError listing every problem."""
    prepared, problems = prepare_graph(model)
    opaque = {_no_kernel(op) for sg in model.subgraphs for op in sg.operators if is_opaque(op)}
    if any(p not in opaque for p in problems):
        raise UnsupportedOperatorError(problems)
    return prepared, problems


def prepare_model(model: Model) -> list[PreparedOp]:
    """Prepare every operator; raise one error listing all that cannot run."""
    prepared, problems = prepare_graph(model)
    if problems:
        raise UnsupportedOperatorError(problems)
    return prepared
