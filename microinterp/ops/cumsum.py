"""CUMSUM (TFLM cumsum.cc, reference cumsum.h): running sums along one axis, optionally exclusive/reversed.

float32: a float32 sum from 0 in axis order (from the end when reversed). int8: the ADD_N arithmetic
(inputs rescaled with a 2^20 lift, sums from the rescaled raw value 0, each running sum rescaled to the
output). The axis must be a constant int32 scalar or one-element tensor (TFLM reads it on every invoke).
"""
from __future__ import annotations

import math

import numpy as np

from .._kernels import elementwise as elementwise_kernels
from .add_n import int8_sum_params
from .movement import constant_ints, expect_same_type, expect_shape, normalize_axis
from .registry import BindFn, OpContext, register


@register("CUMSUM")
def prepare_cumsum(ctx: OpContext) -> BindFn:
    """Cumulative sum, float32 or int8, along a constant axis."""
    ctx.expect_io(2)
    input, axis_tensor, output = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.expect_type(input, "FLOAT32", "INT8")
    expect_same_type(ctx, input, output)
    expect_shape(ctx, output, input.shape, "the input's shape")
    if not input.shape:
        ctx.fail(f"{input.describe()} must have rank 1 or more")
    axis = normalize_axis(ctx, constant_ints(ctx, axis_tensor, "axis", count=1)[0], len(input.shape))
    exclusive, reverse = bool(ctx.options.get("exclusive", False)), bool(ctx.options.get("reverse", False))
    shape3 = (math.prod(input.shape[:axis]), input.shape[axis], math.prod(input.shape[axis + 1:]))

    if input.type_name == "FLOAT32":
        def bind_float(inputs, outputs, scratch):
            x, out = inputs[0].reshape(shape3), outputs[0].reshape(shape3)
            zeros = np.zeros((shape3[0], 1, shape3[2]), np.float32)

            @np.errstate(over="ignore", invalid="ignore")  # IEEE results, as in C
            def step() -> None:
                ordered = x[:, ::-1] if reverse else x
                sums = np.cumsum(np.concatenate([zeros, ordered], axis=1), axis=1, dtype=np.float32)
                sums = sums[:, :-1] if exclusive else sums[:, 1:]
                out[...] = sums[:, ::-1] if reverse else sums
            return step
        return bind_float

    params = int8_sum_params(ctx, input, output)

    def bind(inputs, outputs, scratch):
        x, out = inputs[0].reshape(shape3), outputs[0].reshape(shape3)
        return lambda: elementwise_kernels.cumsum_int8(x, out, params, exclusive, reverse)
    return bind
