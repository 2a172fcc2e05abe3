"""GATHER and GATHER_ND (TFLM gather.cc, gather_nd.cc): copy slices picked by int32 indices.

Both support float32 and int8 params with int32 indices, as TFLM's kernels do. Indices are usually
runtime tensors, so each invoke checks them the way TFLM's kernel does before copying:
* GATHER (axis, batch_dims): every position must lie in [0, dim(axis)), checked only when TFLM's loops
  reach it (no check when the batch or outer extent is 0);
* GATHER_ND (index depth <= 5): only the flat offset sum(index[j] * stride[j]) is checked, in int32
  arithmetic that wraps as TFLM's does, so a component past its own axis that still lands inside params
  is accepted and read exactly where TFLM reads.
A failing check raises IndexOutOfRangeError where TFLM fails the invoke.
"""
from __future__ import annotations

import numpy as np

from ..errors import IndexOutOfRangeError
from ..model import Tensor
from .movement import expect_same_type, expect_shape, normalize_axis
from .registry import BindFn, OpContext, register

GATHER_TYPES = ("FLOAT32", "INT8")
GATHER_ND_MAX_DEPTH = 5


def _count(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape, dtype=np.int64))


def _operands(ctx: OpContext) -> tuple[Tensor, Tensor, Tensor]:
    """GATHER's and GATHER_ND's (params, indices, output), their types checked."""
    ctx.expect_io(2)
    params, indices, output = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.expect_type(indices, "INT32")
    ctx.expect_type(params, *GATHER_TYPES)
    expect_same_type(ctx, params, output)
    return params, indices, output


@register("GATHER")
def prepare_gather(ctx: OpContext) -> BindFn:
    """Validate axis/batch_dims and the output shape; bind a bounds-checked fancy-index copy."""
    params, indices, output = _operands(ctx)
    rank, index_rank = len(params.shape), len(indices.shape)
    axis = normalize_axis(ctx, ctx.options.get("axis", 0), rank)
    batch_dims = ctx.options.get("batch_dims", 0)
    if batch_dims < 0:
        batch_dims += index_rank
    if not 0 <= batch_dims <= min(axis, index_rank) or batch_dims >= rank:
        ctx.fail(f"batch_dims {ctx.options.get('batch_dims', 0)} must lie in [0, min(axis {axis}, indices rank "
                 f"{index_rank})] and below the params rank {rank}")
    if params.shape[:batch_dims] != indices.shape[:batch_dims]:
        ctx.fail(f"{params.describe()} and {indices.describe()} must share their first {batch_dims} dims")
    expect_shape(ctx, output, params.shape[:axis] + indices.shape[batch_dims:] + params.shape[axis + 1:],
                 f"{params.describe()} gathered along axis {axis} by {indices.describe()}")
    batch, outer, axis_size, inner, positions_per_batch = (
        _count(params.shape[:batch_dims]), _count(params.shape[batch_dims:axis]), params.shape[axis],
        _count(params.shape[axis + 1:]), _count(indices.shape[batch_dims:]))
    checked = batch * outer > 0  # TFLM checks a position only inside its batch/outer loops
    # Index arrays picking [batch, outer, position] out of params viewed as [batch, outer, axis, inner].
    batch_index = np.arange(batch).reshape(batch, 1, 1)
    outer_index = np.arange(outer).reshape(1, outer, 1)
    where = ctx.op.describe()

    def bind(inputs, outputs, scratch):
        source = inputs[0].reshape(batch, outer, axis_size, inner)
        positions = inputs[1].reshape(batch, 1, positions_per_batch)
        target = outputs[0].reshape(batch, outer, positions_per_batch, inner)

        def step() -> None:
            if checked and positions.size and (positions.min() < 0 or positions.max() >= axis_size):
                raise IndexOutOfRangeError(f"{where}: a position is outside [0, {axis_size}) (TFLM fails the invoke)")
            if target.size:
                np.copyto(target, source[batch_index, outer_index, positions])
        return step
    return bind


@register("GATHER_ND")
def prepare_gather_nd(ctx: OpContext) -> BindFn:
    """Validate ranks and the output shape; bind a copy of whole slices at TFLM's flat offsets."""
    params, indices, output = _operands(ctx)
    rank, index_rank = len(params.shape), len(indices.shape)
    if rank < 1 or index_rank < 1:
        ctx.fail(f"{params.describe()} and {indices.describe()} must both be at least vectors")
    depth = indices.shape[-1]
    if depth > rank:
        ctx.fail(f"index depth {depth} exceeds the rank {rank} of {params.describe()}")
    if depth > GATHER_ND_MAX_DEPTH:
        ctx.unsupported(f"index depth {depth}; TFLM supports up to {GATHER_ND_MAX_DEPTH}")
    if 0 in params.shape:
        ctx.unsupported(f"{params.describe()} is empty (TFLM divides by its dims)")
    expect_shape(ctx, output, indices.shape[:-1] + params.shape[depth:],
                 f"{params.describe()} gathered by {indices.describe()}")
    flat_size, slice_size, slices = params.num_elements, _count(params.shape[depth:]), _count(indices.shape[:-1])
    strides = np.array([_count(params.shape[j + 1:]) for j in range(depth)], np.int32)
    within_slice = np.arange(slice_size)
    where = ctx.op.describe()

    def bind(inputs, outputs, scratch):
        source = inputs[0].reshape(-1)
        index_rows = inputs[1].reshape(slices, depth)
        target = outputs[0].reshape(slices, slice_size)

        def step() -> None:
            # int32 products and sum wrap exactly like TFLM's `from_pos += index * dims_to_count[j]`.
            offsets = (index_rows * strides).sum(axis=1, dtype=np.int32).astype(np.int64)
            if offsets.size and (offsets.min() < 0 or offsets.max() + slice_size > flat_size):
                raise IndexOutOfRangeError(f"{where}: gather_nd index out of bounds (TFLM fails the invoke)")
            np.copyto(target, source[offsets[:, None] + within_slice])
        return step
    return bind
