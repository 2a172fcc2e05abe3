"""ADD (TFLM add.cc, add_common.cc; reference integer_ops/add.h and add.h), int8 and float32.

int8: both inputs are lifted by 2^20, rescaled to twice the larger input scale, summed, and rescaled to
the output, each step with a multiplier from QuantizeMultiplierSmallerThanOneExp computed in double.
Broadcasting (up to 6-D) is shared with the other binary ops in elementwise.py.
"""
from __future__ import annotations

from ..quantization import (activation_range_float, activation_range_quantized,
                            quantize_multiplier_smaller_than_one_exp)
from .elementwise import BinaryOp, prepare_binary
from .registry import BindFn, OpContext, register

# TFLM's left_shift for int8 ADD/SUB: headroom that keeps the rescaled inputs precise.
INT8_LEFT_SHIFT = 20


@register("ADD")
def prepare_add(ctx: OpContext) -> BindFn:
    """Validate an ADD and precompute its rescaling multipliers and activation range."""
    ctx.expect_io(2)
    input1, input2, output = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.expect_type(output, "INT8", "FLOAT32")
    for t in (input1, input2):
        if t.type_code != output.type_code:
            ctx.unsupported(f"input {t.describe()} with output type {output.type_name}")
    activation = ctx.options.get("fused_activation_function", 0)
    if output.type_name == "FLOAT32":
        return prepare_binary(ctx, BinaryOp.ADD, float_activation=activation_range_float(activation))

    s1, zp1 = ctx.per_tensor(input1)
    s2, zp2 = ctx.per_tensor(input2)
    s_out, zp_out = ctx.per_tensor(output)
    twice_max_input_scale = 2 * max(float(s1), float(s2))
    reals = {"input1": float(s1) / twice_max_input_scale, "input2": float(s2) / twice_max_input_scale,
             "output": twice_max_input_scale / ((1 << INT8_LEFT_SHIFT) * float(s_out))}
    params = {"input1_offset": -zp1, "input2_offset": -zp2, "output_offset": zp_out,
              "left_shift": INT8_LEFT_SHIFT}
    for name, real in reals.items():
        try:
            params[f"{name}_multiplier"], params[f"{name}_shift"] = quantize_multiplier_smaller_than_one_exp(real)
        except ValueError as e:
            ctx.fail(f"{name} rescale factor from scales in {s1!r}, {s2!r}, out {s_out!r} is unusable "
                     f"(TFLM aborts): {e}")
    params["activation_min"], params["activation_max"] = activation_range_quantized(
        activation, s_out, zp_out, output.dtype)
    return prepare_binary(ctx, BinaryOp.ADD, quantized=params)
