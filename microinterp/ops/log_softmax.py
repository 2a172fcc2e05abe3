"""LOG_SOFTMAX (TFLM log_softmax.cc, reference log_softmax.h) over the last axis, any rank.

float32: x - max - logf(sum of expf(x - max)). int8: TFLM's fixed point (kernels/softmax.pyx): the
differences to the row maximum in Q5.26 (beta 1), their exponentials summed in Q12.19, the log of the sum
in Q5.26, the result in Q4 around zero point 127; TFLM requires the output scale 16/256 and zero point 127.
"""
from __future__ import annotations

import functools

import numpy as np

from .._kernels import softmax as softmax_kernels
from ..quantization import calculate_input_radius, quantize_multiplier_smaller_than_one_exp
from .registry import BindFn, OpContext, register
from .softmax import SCALED_DIFF_INTEGER_BITS, preprocess_softmax_scaling

#: The int8 output quantization TFLM requires (scale compared exactly in float32).
OUTPUT_ZERO_POINT, OUTPUT_SCALE = 127, 16.0 / 256


@register("LOG_SOFTMAX")
def prepare_log_softmax(ctx: OpContext) -> BindFn:
    """LOG_SOFTMAX of float32 or int8 rows."""
    ctx.expect_io(1)
    input, output = ctx.input(0), ctx.output(0)
    ctx.expect_type(input, "INT8", "FLOAT32")
    if output.type_code != input.type_code:
        ctx.unsupported(f"input type {input.type_name} with output type {output.type_name}")
    if not input.shape:
        ctx.fail(f"{input.describe()} must have rank >= 1")
    if tuple(output.shape) != tuple(input.shape):
        ctx.fail(f"{output.describe()} must have the shape of {input.describe()}")
    depth = input.shape[-1]
    rows = input.num_elements // depth if depth else 0
    if input.type_name == "FLOAT32":
        def bind_float(inputs, outputs, scratch):
            return functools.partial(softmax_kernels.log_softmax_float, inputs[0].reshape(rows, depth),
                                     outputs[0].reshape(rows, depth))
        return bind_float

    s_in, _ = ctx.per_tensor(input)
    s_out, zp_out = ctx.per_tensor(output)
    if zp_out != OUTPUT_ZERO_POINT or np.float32(s_out) != np.float32(OUTPUT_SCALE):
        ctx.fail(f"int8 output {output.describe()} must have zero point {OUTPUT_ZERO_POINT} and scale exactly 16/256 "
                 f"(TFLM requires it), found zero point {zp_out} and scale {s_out!r}")
    try:
        multiplier, left_shift = preprocess_softmax_scaling(1.0, float(s_in), SCALED_DIFF_INTEGER_BITS)
        # PreprocessLogSoftmaxScalingExp: the inverse of the input scaling, for the cut-off below.
        divisor, divisor_shift = quantize_multiplier_smaller_than_one_exp((1 << (31 - left_shift)) / float(multiplier))
    except ValueError as e:
        ctx.fail(f"input scale {s_in!r} is unusable for TFLM's fixed-point log-softmax: {e}")
    diff_min = -calculate_input_radius(SCALED_DIFF_INTEGER_BITS, left_shift)

    def bind(inputs, outputs, scratch):
        return functools.partial(softmax_kernels.log_softmax_int8, inputs[0].reshape(rows, depth),
                                 outputs[0].reshape(rows, depth), multiplier, left_shift, divisor, divisor_shift,
                                 diff_min)
    return bind
