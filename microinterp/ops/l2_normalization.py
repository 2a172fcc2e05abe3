"""L2_NORMALIZATION (TFLM l2norm.cc; reference L2Normalization, integer_ops L2Normalization) over the last
axis, rank 1 to 4 as in TFLM.

float32 and int8. TFLM's int8 kernel writes values in 1/128 steps around 0 whatever the output's declared
quantization; LiteRT requires the output to say so (scale 1/128, zero point 0), and so do we rather
than produce values the model would misread. No fused activation (TFLM refuses one).
"""
from __future__ import annotations

import functools

import numpy as np

from .._kernels import l2_normalization as l2_kernels
from .registry import BindFn, OpContext, register

#: The int8 output quantization TFLM's kernel assumes.
INT8_OUTPUT_SCALE, INT8_OUTPUT_ZERO_POINT = 1.0 / 128, 0


@register("L2_NORMALIZATION")
def prepare_l2_normalization(ctx: OpContext) -> BindFn:
    """Validate an L2_NORMALIZATION; int8 keeps only the input zero point."""
    ctx.expect_io(1)
    input, output = ctx.input(0), ctx.output(0)
    ctx.expect_type(input, "INT8", "FLOAT32")
    if output.type_code != input.type_code:
        ctx.unsupported(f"input type {input.type_name} with output type {output.type_name}")
    if not 1 <= len(input.shape) <= 4:
        ctx.unsupported(f"{input.describe()} has rank {len(input.shape)}; TFLM supports ranks 1 to 4")
    if tuple(output.shape) != tuple(input.shape):
        ctx.fail(f"{output.describe()} must have the shape of {input.describe()}")
    activation = ctx.options.get("fused_activation_function", 0)
    if activation != 0:
        ctx.unsupported(f"fused activation {activation} (TFLM supports none)")
    depth = input.shape[-1]
    rows = input.num_elements // depth if depth else 0
    if input.type_name == "FLOAT32":
        kernel = l2_kernels.l2_normalization_float

        def bind_float(inputs, outputs, scratch):
            return functools.partial(kernel, inputs[0].reshape(rows, depth), outputs[0].reshape(rows, depth))
        return bind_float

    _, zp_in = ctx.per_tensor(input)
    s_out, zp_out = ctx.per_tensor(output)
    if zp_out != INT8_OUTPUT_ZERO_POINT or np.float32(s_out) != np.float32(INT8_OUTPUT_SCALE):
        ctx.fail(f"int8 output {output.describe()} must have scale 1/128 and zero point 0 (TFLM's kernel "
                 f"assumes it), found scale {s_out!r} and zero point {zp_out}")
    kernel = l2_kernels.l2_normalization_int8

    def bind(inputs, outputs, scratch):
        return functools.partial(kernel, inputs[0].reshape(rows, depth), outputs[0].reshape(rows, depth), zp_in)
    return bind
