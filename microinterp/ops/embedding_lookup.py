"""EMBEDDING_LOOKUP (TFLM embedding_lookup.cc): rows of a value table picked by int32 indices.

Values float32 -> float32, int8 -> int8 (a raw copy), or int8 -> float32 (hybrid: each value times the
table's scale in float32, zero point 0 required). The output is [number of indices, value dims 1...].
An index outside [0, rows) fails TFLM's invoke: IndexOutOfRangeError here.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import IndexOutOfRangeError
from .movement import expect_shape
from .registry import BindFn, OpContext, register


@register("EMBEDDING_LOOKUP")
def prepare_embedding_lookup(ctx: OpContext) -> BindFn:
    """Look up rows of a float32 or int8 table (int8 rows may be dequantized to float32)."""
    ctx.expect_io(2)
    lookup, value, output = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.expect_type(lookup, "INT32")
    ctx.expect_rank(lookup, 1)
    ctx.expect_type(value, "FLOAT32", "INT8")
    if len(value.shape) < 2:
        ctx.fail(f"{value.describe()} must have rank 2 or more")
    ctx.expect_type(output, *(("FLOAT32",) if value.type_name == "FLOAT32" else ("FLOAT32", "INT8")))
    expect_shape(ctx, output, (lookup.shape[0], *value.shape[1:]), "index count, then the value rows' shape")
    rows, row_size = value.shape[0], math.prod(value.shape[1:])
    scale = None
    if value.type_name == "INT8" and output.type_name == "FLOAT32":
        scale, zero_point = ctx.per_tensor(value)
        if zero_point != 0:
            ctx.fail(f"{value.describe()} must have zero point 0 for a float32 output, found {zero_point}")
        scale = np.float32(scale)
    where = ctx.op.describe()

    def bind(inputs, outputs, scratch):
        indices, table = inputs[0], inputs[1].reshape(rows, row_size)
        out = outputs[0].reshape(lookup.shape[0], row_size)

        def step() -> None:
            bad = (indices < 0) | (indices >= rows)
            if bad.any():
                i = int(np.argmax(bad))
                raise IndexOutOfRangeError(f"{where}: index {int(indices[i])} at position {i} is outside "
                                           f"[0, {rows - 1}] (TFLM fails the invoke)")
            if scale is None:
                np.take(table, indices, axis=0, out=out)
            else:
                np.multiply(table[indices].astype(np.float32), scale, out=out)
        return step
    return bind
