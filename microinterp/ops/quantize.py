"""QUANTIZE and DEQUANTIZE (TFLM quantize_common.cc, dequantize_common.cc; reference quantize.h,
requantize.h, dequantize.h).

QUANTIZE: float32 -> int8/int16 (float32 division, roundf), or integer requantization with the double
multiplier s_in / s_out between the type pairs TFLM's reference kernel dispatches (REQUANTIZE_PAIRS).
DEQUANTIZE: int8/uint8/int16 -> float32 (the tflite-micro wheel accepts uint8 though prepare in newer
sources lists int8/int16 only). Quantization must be per tensor: TFLM requires it of QUANTIZE's
output and would silently use only the first scale of a per-channel DEQUANTIZE input. Zero points
are used as given for every type (TFLM's requantization subtracts and adds them, int16 included).
"""
from __future__ import annotations

import functools

import numpy as np

from .._kernels import quantize as quantize_kernels
from ..quantization import quantize_multiplier
from .registry import BindFn, OpContext, register

_KERNEL_TYPES = {"INT8": "int8_t", "UINT8": "uint8_t", "INT16": "int16_t", "INT32": "int32_t"}

#: (input, output) type pairs TFLM's EvalQuantizeReference requantizes.
REQUANTIZE_PAIRS = frozenset({
    ("INT8", "INT8"), ("INT8", "UINT8"), ("INT8", "INT16"), ("INT8", "INT32"), ("UINT8", "INT8"),
    ("INT16", "INT8"), ("INT16", "INT16"), ("INT16", "INT32"), ("INT32", "INT8"), ("INT32", "INT16"),
})


def _check_shapes(ctx: OpContext) -> None:
    input, output = ctx.input(0), ctx.output(0)
    if input.num_elements != output.num_elements:
        ctx.fail(f"{output.describe()} must have as many elements as {input.describe()}")


@register("QUANTIZE")
def prepare_quantize(ctx: OpContext) -> BindFn:
    """Validate a QUANTIZE; precompute the requantization multiplier for integer inputs."""
    ctx.expect_io(1)
    input, output = ctx.input(0), ctx.output(0)
    pair = (input.type_name, output.type_name)
    if pair not in REQUANTIZE_PAIRS and pair not in (("FLOAT32", "INT8"), ("FLOAT32", "INT16")):
        ctx.unsupported(f"{input.type_name} to {output.type_name} (supported: FLOAT32 to INT8/INT16, and "
                        f"{', '.join(f'{a} to {b}' for a, b in sorted(REQUANTIZE_PAIRS))})")
    _check_shapes(ctx)
    s_out, zp_out = ctx.per_tensor(output)
    if input.type_name == "FLOAT32":
        kernel = quantize_kernels.quantize_float[_KERNEL_TYPES[output.type_name]]
        scale = np.float32(s_out)

        def bind_float(inputs, outputs, scratch):
            return functools.partial(kernel, inputs[0].reshape(-1), outputs[0].reshape(-1), scale, zp_out)
        return bind_float

    s_in, zp_in = ctx.per_tensor(input)
    multiplier, shift = quantize_multiplier(float(s_in) / float(s_out))
    kernel = quantize_kernels.requantize[_KERNEL_TYPES[input.type_name], _KERNEL_TYPES[output.type_name]]

    def bind(inputs, outputs, scratch):
        return functools.partial(kernel, inputs[0].reshape(-1), outputs[0].reshape(-1), multiplier, shift,
                                 zp_in, zp_out)
    return bind


@register("DEQUANTIZE")
def prepare_dequantize(ctx: OpContext) -> BindFn:
    """Validate a DEQUANTIZE (int8/uint8/int16 -> float32)."""
    ctx.expect_io(1)
    input, output = ctx.input(0), ctx.output(0)
    ctx.expect_type(input, "INT8", "UINT8", "INT16")
    ctx.expect_type(output, "FLOAT32")
    _check_shapes(ctx)
    q = ctx.quantization(input)
    if q.per_channel:
        ctx.unsupported(f"{input.describe()} is quantized per channel ({q.scales.size} scales); TFLM's "
                        f"DEQUANTIZE would use only the first scale")
    scale, zero_point = float(q.scale), q.zero_point
    kernel = quantize_kernels.dequantize[_KERNEL_TYPES[input.type_name]]

    def bind(inputs, outputs, scratch):
        return functools.partial(kernel, inputs[0].reshape(-1), outputs[0].reshape(-1), scale, zero_point)
    return bind
