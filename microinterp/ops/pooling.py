"""AVERAGE_POOL_2D, MAX_POOL_2D and L2_POOL_2D (TFLM pooling.cc, pooling_common.cc, l2_pool_2d.cc; reference
pooling kernels).

int8, int16 and float32, NHWC. Quantized pooling does not requantize: TFLM requires input and output to share
scale (within 1e-6) and zero point, and pools the raw values. Padding comes from the options with
dilation 1; the model's output height/width must match it. int8 AVERAGE_POOL_2D runs as the compiled
Int8AveragePoolStep (kernels/steps.pyx), float32 average and max pooling as FloatPoolStep, same bits. L2_POOL_2D is float32 only, as in TFLM: the float32
sum of the in-image taps' squares (row by row, as TFLM adds them), divided by their count, sqrtf, clamped.
"""
from __future__ import annotations

import functools

import numpy as np

from .._kernels import pooling as pooling_kernels
from .._kernels import steps
from ..quantization import activation_range_float, activation_range_quantized
from .conv import window
from .registry import BindFn, OpContext, register

_KERNEL_TYPES = {"INT8": "int8_t", "INT16": "int16_t", "FLOAT32": "float"}


def _prepare_pool(ctx: OpContext, fused_kernel, types=tuple(_KERNEL_TYPES)) -> BindFn:
    ctx.expect_io(1)
    input, output = ctx.input(0), ctx.output(0)
    ctx.expect_type(input, *types)
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
    if fused_kernel is None:
        return _bind_l2_pool(input.shape, output.shape, geometry, filter_h, filter_w, act_min, act_max)
    kernel = fused_kernel[_KERNEL_TYPES[input.type_name]]
    window_args = (geometry.stride_h, geometry.stride_w, filter_h, filter_w, geometry.pad_top, geometry.pad_left)
    fast = fused_kernel is pooling_kernels.average_pool and input.type_name == "INT8" and min(output.shape) > 0

    def bind(inputs, outputs, scratch):
        if fast:
            return steps.Int8AveragePoolStep(inputs[0], outputs[0], *window_args, int(act_min), int(act_max))
        if input.type_name == "FLOAT32":
            return steps.FloatPoolStep(inputs[0], outputs[0], fused_kernel is pooling_kernels.average_pool,
                                       *window_args, float(act_min), float(act_max))
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


@register("L2_POOL_2D")
def prepare_l2_pool_2d(ctx: OpContext) -> BindFn:
    """Square root of the mean square of the in-image taps of each window (float32)."""
    return _prepare_pool(ctx, None, types=("FLOAT32",))


def _bind_l2_pool(in_shape, out_shape, geometry, filter_h: int, filter_w: int, act_min: float, act_max: float) -> BindFn:
    """numpy L2 pooling: the input zero-padded so every tap is a strided slice; padded taps add exactly 0."""
    _, in_h, in_w, _ = in_shape
    _, out_h, out_w, _ = out_shape
    sh, sw, top, left = geometry.stride_h, geometry.stride_w, geometry.pad_top, geometry.pad_left
    pad_h = max(0, (out_h - 1) * sh + filter_h - top - in_h)
    pad_w = max(0, (out_w - 1) * sw + filter_w - left - in_w)
    rows = np.arange(out_h) * sh - top
    cols = np.arange(out_w) * sw - left
    count_h = np.minimum(filter_h, in_h - rows) - np.maximum(0, -rows)
    count_w = np.minimum(filter_w, in_w - cols) - np.maximum(0, -cols)
    counts = (count_h[:, None] * count_w[None, :]).astype(np.float32)[None, :, :, None]
    low, high = np.float32(act_min), np.float32(act_max)

    def bind(inputs, outputs, scratch):
        x, out = inputs[0], outputs[0]
        padded = np.zeros((x.shape[0], top + in_h + pad_h, left + in_w + pad_w, x.shape[3]), np.float32)
        inner = padded[:, top:top + in_h, left:left + in_w]

        @np.errstate(over="ignore", invalid="ignore")  # IEEE results, as in C
        def step() -> None:
            np.copyto(inner, x)
            total = np.zeros(out.shape, np.float32)
            for fy in range(filter_h):
                for fx in range(filter_w):
                    tap = padded[:, fy:fy + (out_h - 1) * sh + 1:sh, fx:fx + (out_w - 1) * sw + 1:sw]
                    total += tap * tap
            result = np.sqrt(total / counts)
            np.copyto(out, np.minimum(np.maximum(result, low), high))
        return step
    return bind
