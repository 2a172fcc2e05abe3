"""IF, WHILE and CALL_ONCE: ops that run other subgraphs (TFLM if.cc, while.cc, call_once.cc).

Values cross between the op and a subgraph as byte copies (TFLM's memcpy), so each pair of tensors
that exchanges values must have the same type and byte size: checked here for every pair, once,
where TFLM checks some in Prepare and the rest on every invoke. The copies follow TFLM's order
exactly, including IF's round trip of its inputs through an intermediate buffer (restored after the
branch ran, in case the branch's tensors overlap them).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..model import Subgraph, Tensor
from .registry import BindFn, OpContext, SubgraphRun, register


def flat_bytes(a: np.ndarray) -> np.ndarray:
    """The bytes of an array, as the flat uint8 view TFLM's memcpy sees (same memory)."""
    return a.reshape(-1).view(np.uint8)


def _copy_all(sources: Sequence[np.ndarray], targets: Sequence[np.ndarray]) -> None:
    for src, dst in zip(sources, targets):
        np.copyto(dst, src)


def _byte_views(arrays: Sequence[np.ndarray | None]) -> list[np.ndarray]:
    return [flat_bytes(a) for a in arrays]


def _check_pairs(ctx: OpContext, ours: Sequence[Tensor], sg: Subgraph, theirs: Sequence[int], what: str,
                 written: bool) -> None:
    """Op tensors `ours` exchange values with subgraph tensors `theirs` (its inputs or outputs, `what`):
    same count, and pairwise the same type and byte size. `written`: the subgraph tensors receive the
    values, so they must not be constants."""
    if len(ours) != len(theirs):
        ctx.fail(f"subgraph {sg.index} has {len(theirs)} {what}, expected {len(ours)}")
    for k, (mine, index) in enumerate(zip(ours, theirs)):
        other = sg.tensors[index]
        if other.storage_dtype is None or mine.storage_dtype is None:
            ctx.unsupported(f"subgraph {sg.index} {what[:-1]} {k}: type {other.type_name}")
        if other.type_code != mine.type_code or other.nbytes != mine.nbytes:
            ctx.fail(f"subgraph {sg.index} {what[:-1]} {k} ({other.describe()}) has type {other.type_name} and "
                     f"{other.nbytes} bytes, expected {mine.type_name} and {mine.nbytes} bytes like {mine.describe()}")
        if written and other.is_constant:
            ctx.fail(f"subgraph {sg.index} {what[:-1]} {k} ({other.describe()}) is a constant")


def _condition(ctx: OpContext, t: Tensor, what: str) -> None:
    if t.type_name != "BOOL" or t.num_elements < 1:
        ctx.fail(f"{what} {t.describe()} must be a BOOL tensor with at least one element")


@register("IF")
def prepare_if(ctx: OpContext) -> BindFn:
    """Input 0 (a single BOOL) picks then_subgraph_index or else_subgraph_index; inputs 1.. feed its inputs."""
    if ctx.num_inputs < 1:
        ctx.fail("expected at least 1 input (the condition), found 0")
    cond = ctx.input(0)
    _condition(ctx, cond, "condition")
    if cond.num_elements != 1:
        ctx.fail(f"condition {cond.describe()} must have exactly 1 element")
    args = [ctx.input(i) for i in range(1, ctx.num_inputs)]
    results = [ctx.output(i) for i in range(len(ctx.op.outputs))]
    for key in ("then_subgraph_index", "else_subgraph_index"):
        branch = ctx.call(int(ctx.options.get(key, 0)))
        _check_pairs(ctx, args, branch, branch.inputs, "inputs", written=True)
        _check_pairs(ctx, results, branch, branch.outputs, "outputs", written=False)

    def bind(inputs, outputs, scratch, then_run: SubgraphRun, else_run: SubgraphRun):
        flag = inputs[0].reshape(-1)
        args, results = _byte_views(inputs[1:]), _byte_views(outputs)
        restorable = [a for a in args if a.flags.writeable]
        branches = {True: (_byte_views(then_run.inputs), _byte_views(then_run.outputs), then_run.run),
                    False: (_byte_views(else_run.inputs), _byte_views(else_run.outputs), else_run.run)}

        def step():
            sub_inputs, sub_outputs, run = branches[bool(flag[0])]
            saved = [a.copy() for a in args]
            _copy_all(saved, sub_inputs)
            run()
            _copy_all([r.copy() for r in sub_outputs], results)
            _copy_all([s for s, a in zip(saved, args) if a.flags.writeable], restorable)
        return step
    return bind


@register("WHILE")
def prepare_while(ctx: OpContext) -> BindFn:
    """Loop state in the op's outputs: run body while cond's output 0 is true (cond and body take the state)."""
    state_in = [ctx.input(i) for i in range(ctx.num_inputs)]
    state_out = [ctx.output(i) for i in range(len(ctx.op.outputs))]
    if len(state_in) != len(state_out):
        ctx.fail(f"has {len(state_in)} inputs and {len(state_out)} outputs, expected as many of each")
    for k, (a, b) in enumerate(zip(state_in, state_out)):
        if a.type_code != b.type_code or a.nbytes != b.nbytes:
            ctx.fail(f"input {k} ({a.describe()}) and output {k} ({b.describe()}) differ in type or byte size")
    cond = ctx.call(int(ctx.options.get("cond_subgraph_index", 0)))
    body = ctx.call(int(ctx.options.get("body_subgraph_index", 0)))
    _check_pairs(ctx, state_in, cond, cond.inputs, "inputs", written=True)
    _check_pairs(ctx, state_in, body, body.inputs, "inputs", written=True)
    _check_pairs(ctx, state_out, body, body.outputs, "outputs", written=False)
    if not cond.outputs:
        ctx.fail(f"condition subgraph {cond.index} has no outputs")
    _condition(ctx, cond.tensors[cond.outputs[0]], f"condition subgraph {cond.index} output 0")

    def bind(inputs, outputs, scratch, cond_run: SubgraphRun, body_run: SubgraphRun):
        state_in, state = _byte_views(inputs), _byte_views(outputs)
        cond_inputs, body_inputs = _byte_views(cond_run.inputs), _byte_views(body_run.inputs)
        body_outputs = _byte_views(body_run.outputs)
        flag = cond_run.outputs[0].reshape(-1)

        def step():
            _copy_all(state_in, cond_inputs)
            _copy_all(state_in, state)
            cond_run.run()
            while flag[0]:
                _copy_all(state, body_inputs)
                body_run.run()
                _copy_all(body_outputs, state)
                _copy_all(state, cond_inputs)
                cond_run.run()
        return step
    return bind


@register("CALL_ONCE")
def prepare_call_once(ctx: OpContext) -> BindFn:
    """Run init_subgraph_index on the first invoke only (TFLM keeps no way to run it again)."""
    ctx.expect_io(0, 0)
    ctx.call(int(ctx.options.get("init_subgraph_index", 0)))

    def bind(inputs, outputs, scratch, init_run: SubgraphRun):
        done = []

        def step():
            if not done:
                init_run.run()
                done.append(True)
        return step
    return bind
