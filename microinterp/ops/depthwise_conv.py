"""DEPTHWISE_CONV_2D (TFLM depthwise_conv.cc, depthwise_conv_common.cc; reference DepthwiseConvPerChannel
/ float DepthwiseConv).

Filter [1, KH, KW, IC * depth_multiplier]; output channel ic * depth_multiplier + m reads input
channel ic. Data paths, window geometry and requantization are CONV_2D's (ops/conv.py), with the
filter quantized along dimension 3. TFLM's 16x8 depthwise kernel always reads the bias as int64 (and
accumulates in int64 without one), so an int32 bias is unsupported there (TFLM would misread it).

int8 fast paths: depth multiplier 1 runs Int8DepthwiseStep; a single input channel (any multiplier,
e.g. a grayscale image's first layer) is exactly a CONV_2D with filter [IC * depth_multiplier, KH, KW,
1] and runs Int8ConvStep (integer sums are exact in any order, so the bits stay TFLM's). float32 with
depth multiplier 1 runs FloatDepthwiseStep (each channel summed in TFLM's tap order). The int8 step
may read its input through a PAD (ops/pad.py), its output then often over the PAD's input.
"""
from __future__ import annotations

import functools

import numpy as np

from .._kernels import conv as conv_kernels
from .._kernels import steps
from .conv import (FLOAT32_PATH, INT8_PATH, bias_view, check_bias, column_as_row, data_path,
                   has_fixed_weights, padded, padded_image_fits, requantization, window)
from .int4 import accepts_int4_filter
from .registry import BindFn, OpContext, register


@register("DEPTHWISE_CONV_2D")
@accepts_int4_filter
def prepare_depthwise_conv_2d(ctx: OpContext) -> BindFn:
    """Validate a DEPTHWISE_CONV_2D (including depth_multiplier against the shapes, which TFLM only
    debug-asserts) and precompute padding and per-channel requantization."""
    ctx.expect_io((2, 3))
    input, filter, output = ctx.input(0), ctx.input(1), ctx.output(0)
    bias = ctx.optional_input(2)
    path = data_path(ctx, input, filter, output, bias, int16_bias_types=("INT64",))
    for t in (input, filter, output):
        ctx.expect_rank(t, 4)
    batches, _, _, in_channels = input.shape
    _, filter_h, filter_w, out_channels = filter.shape
    if min(filter.shape) <= 0:
        ctx.fail(f"filter {filter.describe()} has an empty dimension")
    if output.shape[0] != batches:
        ctx.fail(f"{output.describe()} has batch {output.shape[0]}, input has {batches}")
    if output.shape[3] != out_channels:
        ctx.fail(f"{output.describe()} has {output.shape[3]} channels, filter has {out_channels}")
    multiplier = ctx.options.get("depth_multiplier", 0)
    if multiplier <= 0 or in_channels * multiplier != out_channels:
        ctx.fail(f"depth_multiplier {multiplier} with {in_channels} input channels does not give the "
                 f"filter's {out_channels} output channels")
    check_bias(ctx, path, bias, out_channels)
    geometry = window(ctx, input, filter_h, filter_w, output)
    requant = requantization(ctx, path, input, filter, output, out_channels)
    kernel = path.kernel(conv_kernels.depthwise_conv_2d)
    compiled = has_fixed_weights(filter) and min(output.shape) > 0
    fast = compiled and multiplier == 1 and path == INT8_PATH
    fast_float = compiled and multiplier == 1 and path == FLOAT32_PATH
    as_conv = (compiled and path == INT8_PATH and multiplier > 1 and in_channels == 1
               and padded_image_fits(input, output, filter_h, filter_w, geometry))
    # One accumulator per output channel lets the reference kernel sum a pixel's channels tap by tap (the
    # compiled steps keep their own, outside the arena).
    accumulators = (None if fast or fast_float or as_conv
                    else ctx.request_scratch(out_channels * path.accumulator_dtype.itemsize))

    def bind(inputs, outputs, scratch, padding=(0, 0)):
        bias_values = bias_view(path, inputs[2] if len(inputs) > 2 else None, out_channels)
        # TFLM's kernels read the filter's first slice along dim 0 only (a valid model has just that one).
        filter_slice = inputs[1][:1]
        if fast or fast_float:
            image, weights, out, rows = column_as_row(inputs[0], filter_slice, outputs[0], padded(geometry, *padding))
            if fast:
                return steps.Int8DepthwiseStep(image, weights, bias_values, out, *rows.args(), *requant.args())
            return steps.FloatDepthwiseStep(image, weights, bias_values, out, *rows.args(), requant.act_min,
                                            requant.act_max)
        if as_conv:  # [1, KH, KW, OC] -> [OC, KH, KW, 1]
            return steps.Int8ConvStep(inputs[0], np.ascontiguousarray(filter_slice.transpose(3, 1, 2, 0)),
                                      bias_values, outputs[0], *geometry.args(), *requant.args())
        return functools.partial(kernel, inputs[0], inputs[1], bias_values, outputs[0],
                                 scratch[accumulators].view(path.accumulator_dtype), multiplier,
                                 *geometry.args(), *requant.args())

    def bind_padded(inputs, outputs, scratch, top, left):
        # the output may lie over the unpadded image (TFLM's plan puts it over the PAD's input): the step
        # saves the rows it overwrites while later rows read them, unless that takes too many
        try:
            return bind(inputs, outputs, scratch, (top, left))
        except steps.DepthwiseOverlapError:
            return None

    if fast:
        ctx.declare_padded_reader(bind_padded)
    return bind
