"""AVERAGE_POOL_2D and MAX_POOL_2D (TFLM pooling.cc, pooling_common.cc; reference pooling kernels).

int8, int16 and float32, NHWC. Quantized pooling does not requantize: TFLM requires input and output to share
scale (within 1e-6) and zero point, and pools the raw values. Padding comes from the options with
dilation 1; the model's output height/width must match it. int8 AVERAGE_POOL_2D runs as the compiled
Int8AveragePoolStep (kernels/steps.pyx), same bits.
"""
from __future__ import annotations

import functools

from .._kernels import pooling as pooling_kernels
from .._kernels import steps
from ..quantization import activation_range_float, activation_range_quantized
from .conv import window
from .registry import BindFn, OpContext, register

_KERNEL_TYPES = {"INT8": "int8_t", "INT16": "int16_t", "FLOAT32": "float"}


def _prepare_pool(ctx: OpContext, fused_kernel) -> BindFn:
    ctx.expect_io(1)
    input, output = ctx.input(0), ctx.output(0)
    ctx.expect_type(input, *_KERNEL_TYPES)
    if output.type_code != input.type_code:
        ctx.unsupported(f"input type {input.type_name} with output type {output.type_name}")
    ctx.expect_rank(input, 4)
    ctx.expect_rank(output, 4)
    if output.shape[0] != input.shape[0] or output.shape[3] != input.shape[3]:
        ctx.fail(f"{output.describe()} must have the batch and channels of {input.describe()}")
    opts = ctx.options
    filter_h, filter_w = opts.get("filter_height", 0), opts.get("filter_width", 0)
    if filter_h <= 0 or filter_w <= 0:
        ctx.fail(f"filter size must be positive, found {filter_h} x {filter_w}")
    # The output-size check in window() also guarantees every window holds at least one in-image tap,
    # so the average never divides by zero.
    geometry = window(ctx, input, filter_h, filter_w, output)
    activation = opts.get("fused_activation_function", 0)
    if input.type_name == "FLOAT32":
        act_min, act_max = activation_range_float(activation)
    else:
        s_in, zp_in = ctx.per_tensor(input)
        s_out, zp_out = ctx.per_tensor(output)
        if abs(float(s_in) - float(s_out)) > 1e-6 or zp_in != zp_out:
            ctx.fail(f"input and output quantization must match (no requantization): input scale {s_in} "
                     f"zero point {zp_in}, output scale {s_out} zero point {zp_out}")
        act_min, act_max = activation_range_quantized(activation, s_out, zp_out, output.dtype)
    kernel = fused_kernel[_KERNEL_TYPES[input.type_name]]
    window_args = (geometry.stride_h, geometry.stride_w, filter_h, filter_w, geometry.pad_top, geometry.pad_left)
    fast = fused_kernel is pooling_kernels.average_pool and input.type_name == "INT8" and min(output.shape) > 0

    def bind(inputs, outputs, scratch):
        if fast:
            return steps.Int8AveragePoolStep(inputs[0], outputs[0], *window_args, int(act_min), int(act_max))
        return functools.partial(kernel, inputs[0], outputs[0], *window_args, float(act_min), float(act_max))
    return bind


@register("AVERAGE_POOL_2D")
def prepare_average_pool_2d(ctx: OpContext) -> BindFn:
    """Average over the in-image taps of each window (padded taps are not counted)."""
    return _prepare_pool(ctx, pooling_kernels.average_pool)


@register("MAX_POOL_2D")
def prepare_max_pool_2d(ctx: OpContext) -> BindFn:
    """Maximum over the in-image taps of each window."""
    return _prepare_pool(ctx, pooling_kernels.max_pool)
