"""SHAPE (TFLM shape.cc): the input's dimensions as an int32 vector.

TFLM writes int32 only (its kernel fails for any other output type, whatever out_type says). Shapes are
static, so the values are computed at prepare time and copied on every invoke.
"""
from __future__ import annotations

import functools

import numpy as np

from .movement import expect_shape
from .registry import BindFn, OpContext, register


@register("SHAPE")
def prepare_shape(ctx: OpContext) -> BindFn:
    """Any input type; the output must be an int32 vector with one entry per input axis."""
    ctx.expect_io(1)
    src, dst = ctx.input(0), ctx.output(0)
    ctx.expect_type(dst, "INT32")
    expect_shape(ctx, dst, [len(src.shape)], f"one entry per axis of {src.describe()}")
    dims = np.array(src.shape, np.int32)

    def bind(inputs, outputs, scratch):
        return functools.partial(np.copyto, outputs[0], dims)
    return bind
