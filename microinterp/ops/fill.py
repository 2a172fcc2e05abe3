"""FILL and ZEROS_LIKE (TFLM fill.cc, reference fill.h; zeros_like.cc): write one value everywhere.

FILL: float32, int8 and int32; the value is a scalar input of the output's type, read on every invoke
(it may be a runtime tensor). The dims input must be a constant (int8 to int64) equal to the output
shape, as TFLM requires. ZEROS_LIKE: float32, int8, int32 and int64.
"""
from __future__ import annotations

import functools

import numpy as np

from .movement import constant_ints, expect_same_type, expect_shape
from .registry import BindFn, OpContext, register

FILL_TYPES = ("FLOAT32", "INT8", "INT32")
ZEROS_LIKE_TYPES = ("FLOAT32", "INT8", "INT32", "INT64")


@register("FILL")
def prepare_fill(ctx: OpContext) -> BindFn:
    """Inputs (dims, value): validate, then bind a broadcast copy of the scalar value."""
    ctx.expect_io(2)
    dims, value, dst = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.expect_type(dst, *FILL_TYPES)
    expect_same_type(ctx, dst, value)
    ctx.expect_rank(value, 0)
    ctx.expect_rank(dims, 1)
    shape = constant_ints(ctx, dims, "dims", ("INT8", "INT16", "INT32", "INT64"))
    expect_shape(ctx, dst, shape, f"the dims input {dims.describe()}")

    def bind(inputs, outputs, scratch):
        return functools.partial(np.copyto, outputs[0], inputs[1])
    return bind


@register("ZEROS_LIKE")
def prepare_zeros_like(ctx: OpContext) -> BindFn:
    """An output of the input's type and shape, set to zero on every invoke."""
    ctx.expect_io(1)
    src, dst = ctx.input(0), ctx.output(0)
    ctx.expect_type(src, *ZEROS_LIKE_TYPES)
    expect_same_type(ctx, src, dst)
    expect_shape(ctx, dst, src.shape, f"the shape of {src.describe()}")

    def bind(inputs, outputs, scratch):
        return functools.partial(outputs[0].fill, 0)
    return bind
