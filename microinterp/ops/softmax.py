"""SOFTMAX (TFLM softmax.cc, softmax_common.cc; reference Softmax) over the last axis, any rank.

int8 -> int8 in gemmlowp fixed point, and float32. TFLM fixes the int8 output quantization to zero
point -128 and scale exactly 1/256 and derives the input multiplier from beta * input scale.
"""
from __future__ import annotations

import functools

import numpy as np

from .._kernels import softmax as softmax_kernels
from ..errors import SoftmaxOverflowError
from ..quantization import calculate_input_radius, quantize_multiplier_greater_than_one
from .registry import BindFn, OpContext, register

# The scaled input difference is Q5.26 (TFLM's kScaledDiffIntegerBits).
SCALED_DIFF_INTEGER_BITS = 5


def preprocess_softmax_scaling(beta: float, input_scale: float, input_integer_bits: int) -> tuple[int, int]:
    """PreprocessSoftmaxScaling (double-rounding build): multiplier and left shift of beta * s_in in Q5.26."""
    real = min(beta * input_scale * (1 << (31 - input_integer_bits)), (1 << 31) - 1.0)
    return quantize_multiplier_greater_than_one(real)


@register("SOFTMAX")
def prepare_softmax(ctx: OpContext) -> BindFn:
    """Validate a SOFTMAX and precompute the input multiplier, shift and cut-off difference."""
    ctx.expect_io(1)
    input, output = ctx.input(0), ctx.output(0)
    ctx.expect_type(input, "INT8", "FLOAT32")
    if output.type_code != input.type_code:
        ctx.unsupported(f"input type {input.type_name} with output type {output.type_name}")
    if len(input.shape) < 1:
        ctx.fail(f"{input.describe()} must have rank >= 1")
    if tuple(output.shape) != tuple(input.shape):
        ctx.fail(f"{output.describe()} must have the shape of {input.describe()}")
    beta = float(ctx.options.get("beta", 0.0))
    depth = input.shape[-1]
    rows = input.num_elements // depth if depth else 0

    if input.type_name == "FLOAT32":
        kernel = softmax_kernels.softmax_float

        def bind_float(inputs, outputs, scratch):
            return functools.partial(kernel, inputs[0].reshape(rows, depth), outputs[0].reshape(rows, depth),
                                     np.float32(beta))
        return bind_float

    s_in, _ = ctx.per_tensor(input)
    s_out, zp_out = ctx.per_tensor(output)
    if zp_out != -128 or np.float32(s_out) != np.float32(1.0 / 256):
        ctx.fail(f"int8 output {output.describe()} must have zero point -128 and scale exactly 1/256 "
                 f"(TFLM assumes it), found zero point {zp_out} and scale {s_out!r}")
    try:
        multiplier, left_shift = preprocess_softmax_scaling(beta, float(s_in), SCALED_DIFF_INTEGER_BITS)
    except ValueError as e:
        ctx.fail(f"beta {beta!r} x input scale {s_in!r} is too small for TFLM's fixed-point softmax: {e}")
    diff_min = -calculate_input_radius(SCALED_DIFF_INTEGER_BITS, left_shift)
    kernel = softmax_kernels.softmax_quantized["int8_t"]
    where = ctx.op.describe()

    def bind(inputs, outputs, scratch):
        run = functools.partial(kernel, inputs[0].reshape(rows, depth), outputs[0].reshape(rows, depth),
                                multiplier, left_shift, diff_min)

        def step() -> None:
            row = run()
            if row >= 0:
                raise SoftmaxOverflowError(
                    f"{where}: row {row} sums to 2^28 or more in Q12.19 (e.g. 512+ values equal to the row "
                    f"maximum); TFLM's fixed-point reciprocal cannot represent it and TFLM aborts")
        return step
    return bind
