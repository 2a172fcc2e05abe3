"""BROADCAST_TO (TFLM broadcast_to.cc, reference broadcast_to.h): numpy-style broadcast up to 5-D.

TFLM copies bytes, so every type with a fixed size is supported. The shape input (int32 or int64) must be
a constant equal to the output shape, and every input axis must be 1 or the matching output dim.
"""
from __future__ import annotations

import numpy as np

from .movement import bind_view_copy, constant_ints, expect_max_rank, expect_same_type, expect_shape
from .registry import BindFn, OpContext, register

BROADCAST_TO_MAX_RANK = 5


@register("BROADCAST_TO")
def prepare_broadcast_to(ctx: OpContext) -> BindFn:
    """Validate the target shape against input and output; bind a copy of the broadcast view."""
    ctx.expect_io(2)
    src, shape_tensor, dst = ctx.input(0), ctx.input(1), ctx.output(0)
    expect_same_type(ctx, src, dst)
    if src.dtype is None:
        ctx.unsupported(f"type {src.type_name}")
    expect_max_rank(ctx, dst, BROADCAST_TO_MAX_RANK)
    ctx.expect_rank(shape_tensor, 1)
    shape = constant_ints(ctx, shape_tensor, "shape", ("INT32", "INT64"))
    expect_shape(ctx, dst, shape, f"the shape input {shape_tensor.describe()}")
    lead = len(shape) - len(src.shape)
    if lead < 0 or any(n not in (1, shape[lead + i]) for i, n in enumerate(src.shape)):
        ctx.fail(f"{src.describe()} cannot be broadcast to {shape}")
    target = tuple(shape)
    return bind_view_copy(lambda x: np.broadcast_to(x, target))
