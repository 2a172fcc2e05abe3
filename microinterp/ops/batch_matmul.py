"""BATCH_MATMUL (TFLM batch_matmul.cc, batch_matmul_common.cc; reference batch_matmul.h).

out[..., i, j] = sum_k x[..., i, k] y[..., k, j], x and y transposed first when adj_x / adj_y are set,
the batch dims (ranks 2 to 5) broadcast numpy-style. float32 adds the products in k order in float32
(as TFLM's loop); int8 (int32 accumulator) and int16 (int64 accumulator, zero points 0) sum the offset
products exactly and requantize by double(s_x) * double(s_y) / double(s_out) with no activation (int16
through TFLM's int64-input MultiplyByQuantizedMultiplier). TFLM sizes the output itself and only checks
its element count, so that is all that is checked here. TFLM's transposed copies of the operands live in
its persistent tail, not in the planned head, so no scratch is requested.
"""
from __future__ import annotations

import math

import numpy as np

from .._kernels import quantize as quantize_kernels
from .arithmetic import checked_multiplier
from .elementwise import broadcast_shape
from .registry import BindFn, OpContext, register


@register("BATCH_MATMUL")
def prepare_batch_matmul(ctx: OpContext) -> BindFn:
    """Batched matrix product of float32, int8 or int16 operands."""
    ctx.expect_io(2)
    lhs, rhs, output = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.expect_type(lhs, "FLOAT32", "INT8", "INT16")
    for t in (rhs, output):
        if t.type_code != lhs.type_code:
            ctx.unsupported(f"{t.describe()} with {lhs.describe()}: TFLM wants one type for all three")
    for t in (lhs, rhs):
        if not 2 <= len(t.shape) <= 5:
            ctx.unsupported(f"{t.describe()} has rank {len(t.shape)}; TFLM supports ranks 2 to 5")
    adj_x, adj_y = bool(ctx.options.get("adj_x", False)), bool(ctx.options.get("adj_y", False))
    rows, depth = (lhs.shape[-1], lhs.shape[-2]) if adj_x else (lhs.shape[-2], lhs.shape[-1])
    rhs_depth, cols = (rhs.shape[-1], rhs.shape[-2]) if adj_y else (rhs.shape[-2], rhs.shape[-1])
    if depth != rhs_depth:
        ctx.fail(f"the inner dimensions differ: {depth} in {lhs.describe()}, {rhs_depth} in {rhs.describe()}")
    batch = broadcast_shape(lhs.shape[:-2], rhs.shape[:-2])
    if batch is None:
        ctx.fail(f"batch dimensions of {lhs.describe()} and {rhs.describe()} cannot be broadcast")
    out_shape = (*batch, rows, cols)
    if output.num_elements != math.prod(out_shape):
        ctx.fail(f"{output.describe()} has {output.num_elements} elements, the product is {list(out_shape)}")

    def operands(inputs) -> tuple[np.ndarray, np.ndarray]:
        """Views of x and y with their last two axes swapped where adj_x / adj_y say."""
        return (np.swapaxes(inputs[0], -1, -2) if adj_x else inputs[0],
                np.swapaxes(inputs[1], -1, -2) if adj_y else inputs[1])

    if lhs.type_name == "FLOAT32":
        def bind_float(inputs, outputs, scratch):
            x, y = operands(inputs)
            out = outputs[0].reshape(out_shape)

            @np.errstate(over="ignore", invalid="ignore")  # IEEE results, as in C
            def step() -> None:
                total = np.zeros(out_shape, np.float32)
                for k in range(depth):
                    total += x[..., :, k:k + 1] * y[..., k:k + 1, :]
                np.copyto(out, total)
            return step
        return bind_float

    (s_x, zp_x), (s_y, zp_y), (s_out, zp_out) = (ctx.per_tensor(t) for t in (lhs, rhs, output))
    if lhs.type_name == "INT16" and (zp_x, zp_y, zp_out) != (0, 0, 0):
        ctx.fail(f"int16 operands and output must have zero point 0 (TFLM requires it), found {zp_x}, {zp_y}, "
                 f"{zp_out}")
    multiplier, shift = checked_multiplier(ctx, "output", float(s_x) * float(s_y) / float(s_out))
    wide = lhs.type_name == "INT16"
    if wide and shift > 14:
        ctx.unsupported(f"output rescale shift {shift} is beyond TFLM's int64 MultiplyByQuantizedMultiplier")

    def bind(inputs, outputs, scratch):
        x, y = operands(inputs)
        out = outputs[0].reshape(-1)

        def step() -> None:
            total = np.matmul(x.astype(np.int64) - zp_x, y.astype(np.int64) - zp_y).reshape(-1)
            if wide:
                quantize_kernels.requantize_int64(total, out, multiplier, shift, zp_out)
            else:  # TFLM's int32 accumulator, wrapping
                quantize_kernels.requantize["int32_t", "int8_t"](total.astype(np.int32), out, multiplier, shift, 0,
                                                                zp_out)
        return step
    return bind
