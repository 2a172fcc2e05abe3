"""REVERSE_V2 (TFLM reverse.cc, reference reverse.h): the input flipped along the given axes.

TFLM supports float32, int32, int16, int8, uint8, int64 and bool, int32 axes of at most the input's rank,
and fails the invoke unless the sorted axes are contiguous (e.g. [1, 2], not [0, 2], nor a repeated
axis). Here the axes must be a constant, checked once at prepare; reversing a contiguous block of axes
is a strided view, copied on each invoke.
"""
from __future__ import annotations

import numpy as np

from .movement import bind_view_copy, constant_ints, expect_max_rank, expect_same_type, expect_shape, normalize_axis
from .registry import BindFn, OpContext, register

REVERSE_TYPES = ("FLOAT32", "INT32", "INT16", "INT8", "UINT8", "INT64", "BOOL")
#: RuntimeShape::kMaxSmallSize, TFLM's rank limit for the op.
MAX_RANK = 6


@register("REVERSE_V2")
def prepare_reverse_v2(ctx: OpContext) -> BindFn:
    """Reverse along constant, contiguous axes; any of TFLM's seven types."""
    ctx.expect_io(2)
    input, axis, output = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.expect_type(input, *REVERSE_TYPES)
    expect_same_type(ctx, input, output)
    expect_max_rank(ctx, input, MAX_RANK)
    ctx.expect_rank(axis, 1)
    rank = len(input.shape)
    axes = sorted(normalize_axis(ctx, a, rank) for a in constant_ints(ctx, axis, "axis"))
    if not 1 <= len(axes) <= rank:
        ctx.fail(f"axis {axis.describe()} must hold 1 to {rank} values, found {len(axes)}")
    if axes != list(range(axes[0], axes[0] + len(axes))):
        ctx.unsupported(f"axes {axes} are not contiguous (TFLM fails the invoke: \"Non-contiguous `axes` not "
                        f"supported\")")
    expect_shape(ctx, output, input.shape, "the input's shape")
    return bind_view_copy(lambda x: np.flip(x, tuple(axes)))
