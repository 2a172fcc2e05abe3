"""CONCATENATION and PACK: join inputs along an existing or a new axis (TFLM concatenation.cc,
reference concatenation.h; pack.cc).

Pure copies, no requantization. CONCATENATION: float32, int8, int16, int32, int64 and bool, up to 6-D,
at most 10 inputs, no fused activation; TFLM requires every int8 input to have exactly the output's scale
and zero point, and int16 inputs and output to have zero point 0. PACK: float32, int8, int16, int32 and
int64, values_count equal to the input count. Each invoke is one np.concatenate / np.stack into the
output buffer.
"""
from __future__ import annotations

import functools

import numpy as np

from .movement import expect_max_rank, expect_same_type, expect_shape, normalize_axis, tensor_params
from .registry import BindFn, OpContext, register

CONCATENATION_TYPES = ("FLOAT32", "INT8", "INT16", "INT32", "INT64", "BOOL")
CONCATENATION_MAX_RANK = 6
CONCATENATION_MAX_INPUTS = 10
PACK_TYPES = ("FLOAT32", "INT8", "INT16", "INT32", "INT64")


@register("CONCATENATION")
def prepare_concatenation(ctx: OpContext) -> BindFn:
    """Validate a CONCATENATION (shapes, axis, TFLM's quantization rules) and bind one np.concatenate."""
    if not 1 <= ctx.num_inputs <= CONCATENATION_MAX_INPUTS:
        ctx.unsupported(f"{ctx.num_inputs} inputs; TFLM supports 1 to {CONCATENATION_MAX_INPUTS}")
    ctx.expect_io((1, CONCATENATION_MAX_INPUTS))
    inputs = [ctx.input(i) for i in range(ctx.num_inputs)]
    output = ctx.output(0)
    ctx.expect_type(output, *CONCATENATION_TYPES)
    expect_same_type(ctx, output, *inputs)
    if ctx.options.get("fused_activation_function", 0) != 0:
        ctx.unsupported("a fused activation (TFLM's CONCATENATION has none)")
    for t in (*inputs, output):
        expect_max_rank(ctx, t, CONCATENATION_MAX_RANK)
    if output.type_name == "INT8":
        for t in inputs:
            if tensor_params(t) != tensor_params(output):
                ctx.fail(f"{t.describe()} must have the output's scale and zero point {tensor_params(output)} "
                         f"(TFLM's int8 kernel does not requantize), found {tensor_params(t)}")
    elif output.type_name == "INT16":
        for t in (*inputs, output):
            if tensor_params(t)[1] != 0:
                ctx.fail(f"{t.describe()} must have zero point 0 (int16), found {tensor_params(t)[1]}")
    rank = len(output.shape)
    axis = normalize_axis(ctx, ctx.options.get("axis", 0), rank)
    for t in inputs:
        if len(t.shape) != rank or any(a != b for i, (a, b) in enumerate(zip(t.shape, output.shape)) if i != axis):
            ctx.fail(f"{t.describe()} must match {output.describe()} on every axis but {axis}")
    expect_shape(ctx, output, output.shape[:axis] + (sum(t.shape[axis] for t in inputs),) + output.shape[axis + 1:],
                 f"the inputs joined along axis {axis}")

    def bind(ins, outs, scratch):
        return functools.partial(np.concatenate, list(ins), axis=axis, out=outs[0])
    return bind


@register("PACK")
def prepare_pack(ctx: OpContext) -> BindFn:
    """Validate a PACK (equal input shapes, values_count, axis) and bind one np.stack."""
    count = ctx.options.get("values_count", 0)
    if count < 1:
        ctx.fail(f"values_count must be positive, found {count}")
    ctx.expect_io(count)  # TFLM loops over values_count inputs
    inputs = [ctx.input(i) for i in range(count)]
    output = ctx.output(0)
    ctx.expect_type(output, *PACK_TYPES)
    expect_same_type(ctx, output, *inputs)
    for t in inputs[1:]:
        expect_shape(ctx, t, inputs[0].shape, f"the shape of {inputs[0].describe()}")
    axis = normalize_axis(ctx, ctx.options.get("axis", 0), len(output.shape))
    expect_shape(ctx, output, inputs[0].shape[:axis] + (count,) + inputs[0].shape[axis:],
                 f"{count} inputs stacked at axis {axis}")

    def bind(ins, outs, scratch):
        return functools.partial(np.stack, list(ins), axis=axis, out=outs[0])
    return bind
