"""DYNAMIC_UPDATE_SLICE (TFLM dynamic_update_slice.cc): the operand with a block overwritten by `update`.

float32, int8, int16 and int32 operands (int16: the tflite-micro package accepts it), int32 or int64 start
indices (one per operand axis, read on every invoke). Each start is clamped to [0, operand dim - update dim] as TFLM does, so no index fails.
"""
from __future__ import annotations

import numpy as np

from .movement import expect_max_rank, expect_same_type, expect_shape
from .registry import BindFn, OpContext, register

#: TFLM's kMaxDimensions for the op.
MAX_RANK = 6


@register("DYNAMIC_UPDATE_SLICE")
def prepare_dynamic_update_slice(ctx: OpContext) -> BindFn:
    """Write `update` into a copy of the operand at clamped start indices."""
    ctx.expect_io(3)
    operand, update, start, output = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)
    ctx.expect_type(operand, "FLOAT32", "INT8", "INT16", "INT32")
    expect_same_type(ctx, operand, update, output)
    ctx.expect_type(start, "INT32", "INT64")
    ctx.expect_rank(start, 1)
    rank = len(operand.shape)
    expect_max_rank(ctx, operand, MAX_RANK)
    expect_shape(ctx, start, (rank,), "one start index per operand axis")
    ctx.expect_rank(update, rank)
    if any(u > o for u, o in zip(update.shape, operand.shape)):
        ctx.fail(f"{update.describe()} is larger than {operand.describe()} along some axis")
    expect_shape(ctx, output, operand.shape, "the operand's shape")
    highest = np.array(operand.shape, np.int64) - np.array(update.shape, np.int64)
    sizes = tuple(update.shape)

    def bind(inputs, outputs, scratch):
        source, block, starts, out = inputs[0], inputs[1], inputs[2], outputs[0]

        def step() -> None:
            np.copyto(out, source)
            begin = np.minimum(np.maximum(starts.astype(np.int64), 0), highest)
            out[tuple(slice(b, b + n) for b, n in zip(begin.tolist(), sizes))] = block
        return step
    return bind
