"""TRANSPOSE_CONV (TFLM transpose_conv.cc; reference integer_ops TransposeConv / float TransposeConv).

Inputs [output_shape, filter [OC, KH, KW, IC], input, bias?]. int8 with int32 bias, 16x8 with an int64
bias or none (an int16 bias is widened to int64 in a scratch buffer, as TFLM does), and float32. TFLM takes the
output dims from the model and ignores the output_shape tensor; a constant one that disagrees with them
is rejected here. Padding is ComputePaddingHeightWidth with the output size in the input slot, dilation
1. Quantized kernels accumulate in the scratch buffer TFLM requests (int32 for int8, int64 for 16x8),
so the planned head matches TFLM's; the float kernel accumulates in its output, as TFLM does.
"""
from __future__ import annotations

import functools

import numpy as np

from .._kernels import transpose_conv as transpose_conv_kernels
from ..model import Tensor
from ..quantization import compute_padding, computed_out_size
from .conv import INT16_PATHS, bias_view, check_bias, data_path, filter_op_dims, requantization
from .registry import BindFn, OpContext, register

_PADDING_NAMES = {0: "SAME", 1: "VALID"}


def _check_output_shape_tensor(ctx: OpContext, shape_input: Tensor, output: Tensor) -> None:
    """The output_shape input must be 4 int32 values; if constant, the output's own shape."""
    ctx.expect_type(shape_input, "INT32")
    if shape_input.num_elements != 4:
        ctx.fail(f"output_shape {shape_input.describe()} must hold 4 values, found {shape_input.num_elements}")
    if shape_input.data is not None and tuple(int(d) for d in shape_input.data.reshape(-1)) != tuple(output.shape):
        ctx.fail(f"output_shape {shape_input.describe()} holds {shape_input.data.reshape(-1).tolist()}, but "
                 f"{output.describe()} has shape {list(output.shape)}")


def _geometry(ctx: OpContext, input: Tensor, filter_h: int, filter_w: int, output: Tensor) -> tuple[int, ...]:
    """Strides and leading padding; the input size must be what a convolution of the output gives."""
    opts = ctx.options
    padding = opts.get("padding", 0)
    if padding not in _PADDING_NAMES:
        ctx.fail(f"unknown padding {padding} (expected 0 = SAME or 1 = VALID)")
    stride_h, stride_w = opts.get("stride_h", 0), opts.get("stride_w", 0)
    if stride_h <= 0 or stride_w <= 0:
        ctx.fail(f"strides must be positive, found {stride_h} x {stride_w}")
    out_h, out_w = output.shape[1], output.shape[2]
    expected = (computed_out_size(out_h, filter_h, stride_h, 1, padding),
                computed_out_size(out_w, filter_w, stride_w, 1, padding))
    if tuple(input.shape[1:3]) != expected:
        ctx.fail(f"input {input.describe()} has height x width {input.shape[1]} x {input.shape[2]}, but a "
                 f"{out_h} x {out_w} output with a {filter_h} x {filter_w} filter, strides {stride_h} x "
                 f"{stride_w} and {_PADDING_NAMES[padding]} padding needs {expected[0]} x {expected[1]}")
    return (stride_h, stride_w, compute_padding(out_h, filter_h, stride_h, 1, padding),
            compute_padding(out_w, filter_w, stride_w, 1, padding))


@register("TRANSPOSE_CONV")
def prepare_transpose_conv(ctx: OpContext) -> BindFn:
    """Validate a TRANSPOSE_CONV, precompute padding and per-channel requantization, and request TFLM's
    scratch buffers in TFLM's order (accumulators, then the widened int16 bias)."""
    ctx.expect_io((3, 4))
    shape_input, filter, input, output = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)
    bias = ctx.optional_input(3)
    int16_bias = input.type_name == "INT16" and bias is not None and bias.type_name == "INT16"
    # TFLM's 16x8 kernel accumulates in int64 with or without a bias (and would misread an int32 one).
    path = (INT16_PATHS["INT64"] if int16_bias else
            data_path(ctx, input, filter, output, bias, int16_bias_types=("INT64",), int16_no_bias="INT64"))
    _, in_channels, out_channels, filter_h, filter_w, filter_depth = filter_op_dims(ctx, input, filter, output)
    _check_output_shape_tensor(ctx, shape_input, output)
    if filter_depth != in_channels:
        ctx.fail(f"filter {filter.describe()} has input depth {filter_depth}, input has {in_channels} channels")
    if int16_bias:
        if bias.num_elements != out_channels:
            ctx.fail(f"bias {bias.describe()} has {bias.num_elements} elements, expected {out_channels} "
                     f"(one per output channel)")
    else:
        check_bias(ctx, path, bias, out_channels)
    geometry = _geometry(ctx, input, filter_h, filter_w, output)
    requant = requantization(ctx, path, input, filter, output, out_channels)
    # TFLM's int32 (int8) or int64 (16x8) accumulators, one per output element.
    accumulators = (ctx.request_scratch(output.num_elements * path.accumulator_dtype.itemsize, like_tflm=True)
                    if path.quantized else None)
    widened_bias = ctx.request_scratch(out_channels * 8, like_tflm=True) if int16_bias else None
    kernel = path.kernel(transpose_conv_kernels.transpose_conv)

    def bind(inputs, outputs, scratch):
        out = outputs[0]
        acc = out if accumulators is None else scratch[accumulators].view(path.accumulator_dtype).reshape(out.shape)
        bias_in = inputs[3] if len(inputs) > 3 else None
        if widened_bias is None:
            return functools.partial(kernel, inputs[2], inputs[1], bias_view(path, bias_in, out_channels), out, acc,
                                     *geometry, *requant.args())
        wide = scratch[widened_bias].view(np.int64)
        run = functools.partial(kernel, inputs[2], inputs[1], wide, out, acc, *geometry, *requant.args())

        def step() -> None:
            np.copyto(wide, bias_in.reshape(-1), casting="safe")
            run()
        return step
    return bind
