"""VAR_HANDLE, READ_VARIABLE and ASSIGN_VARIABLE (TFLM var_handle.cc, read_variable.cc,
assign_variable.cc) over the buffers of resources.py.

A resource tensor holds a variable's int32 id (TFLM points VAR_HANDLE's output at the id it keeps;
here VAR_HANDLE writes the id into its output's bytes on every invoke, which stay untouched while the
tensor is live). Reads and assignments are byte copies of the whole buffer. When the id is known at
prepare, the variable's existence and byte size are checked there; an id that arrives through a
subgraph input is checked when the op runs, where TFLM fails the invoke.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import IndexOutOfRangeError
from ..resources import ResourceTable
from .control_flow import flat_bytes
from .registry import BindFn, OpContext, register


class ResourceBuffers:
    """The arena bytes of every resource variable, by id (None: never allocated)."""

    def __init__(self, table: ResourceTable, buffers: Sequence[np.ndarray | None]):
        self.table = table
        self.buffers = tuple(buffers)

    def buffer(self, rid: int, nbytes: int, what: str) -> np.ndarray:
        """The buffer of variable `rid`, which the op at `what` uses with `nbytes` bytes."""
        if not 0 <= rid < len(self.buffers):
            raise IndexOutOfRangeError(f"{what}: resource id {rid} names no variable (the model has "
                                       f"{len(self.buffers)})")
        buf = self.buffers[rid]
        if buf is None or buf.size != nbytes:
            held = "no buffer" if buf is None else f"{buf.size} bytes"
            raise IndexOutOfRangeError(f"{what}: {self.table.describe(rid)} has {held}, the op uses {nbytes} bytes")
        return buf


def _resource_input(ctx: OpContext, kinds: tuple[str, ...]) -> int | None:
    """Check input 0 is one resource id; its id when known at prepare."""
    handle = ctx.input(0)
    if handle.type_name not in kinds or handle.num_elements != 1:
        ctx.fail(f"input 0 {handle.describe()} must be one {' or '.join(kinds)} element (a resource id)")
    return ctx.resources.known_ids.get((ctx.op.subgraph, ctx.op.inputs[0]))


def _check_known(ctx: OpContext, rid: int | None, nbytes: int) -> None:
    if rid is None:
        return
    v = ctx.resources.variables[rid]
    if v.nbytes is None:
        ctx.fail(f"{ctx.resources.describe(rid)} has no buffer: no ASSIGN_VARIABLE of it is known at prepare")
    if v.nbytes != nbytes:
        ctx.fail(f"{ctx.resources.describe(rid)} holds {v.nbytes} bytes, the op uses {nbytes}")


@register("VAR_HANDLE")
def prepare_var_handle(ctx: OpContext) -> BindFn:
    """Output 0 gets the id of the variable named by container and shared_name."""
    ctx.expect_io(0)
    if ctx.output(0).type_name not in ("RESOURCE", "INT32") or ctx.output(0).num_elements != 1:
        ctx.fail(f"output {ctx.output(0).describe()} must be one RESOURCE element")
    rid = ctx.resources.known_ids[(ctx.op.subgraph, ctx.op.outputs[0])]

    def bind(inputs, outputs, scratch):
        target = outputs[0].reshape(-1)

        def step():
            target[0] = rid
        return step
    return bind


@register("READ_VARIABLE")
def prepare_read_variable(ctx: OpContext) -> BindFn:
    """Copy the variable's bytes into output 0."""
    ctx.expect_io(1)
    out = ctx.output(0)
    if out.storage_dtype is None:
        ctx.unsupported(f"output {out.describe()} of type {out.type_name}")
    _check_known(ctx, _resource_input(ctx, ("RESOURCE",)), out.nbytes)
    what = ctx.op.describe()
    ctx.use_resources()

    def bind(inputs, outputs, scratch, buffers: ResourceBuffers):
        handle, target = inputs[0].reshape(-1), flat_bytes(outputs[0])
        return lambda: np.copyto(target, buffers.buffer(int(handle[0]), target.size, what))
    return bind


@register("ASSIGN_VARIABLE")
def prepare_assign_variable(ctx: OpContext) -> BindFn:
    """Copy input 1's bytes into the variable."""
    ctx.expect_io(2, 0)
    value = ctx.input(1)
    if value.storage_dtype is None:
        ctx.unsupported(f"input 1 {value.describe()} of type {value.type_name}")
    _check_known(ctx, _resource_input(ctx, ("RESOURCE", "INT32")), value.nbytes)
    what = ctx.op.describe()
    ctx.use_resources()

    def bind(inputs, outputs, scratch, buffers: ResourceBuffers):
        handle, source = inputs[0].reshape(-1), flat_bytes(inputs[1])
        return lambda: np.copyto(buffers.buffer(int(handle[0]), source.size, what), source)
    return bind
