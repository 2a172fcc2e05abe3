"""FULLY_CONNECTED (TFLM fully_connected.cc, fully_connected_common.cc; reference FullyConnected,
FullyConnectedPerChannel and float FullyConnected).

The input is read as a flat [batches, accum] matrix, batches being the product of the output's
dims but the last; keep_num_dims only shapes the output tensor, which comes from the model.
int8 and 16x8: multipliers as in the conv ops (see _requantization); per-tensor filters subtract the
filter zero point, per-channel filters (more than one scale, one per unit) do not. 16x8 accumulates
in the bias type (int64 or int32; without a bias, see conv.data_path). float32: a float32 dot product
in index order.
"""
from __future__ import annotations

import functools
import math

from .._kernels import fully_connected as fc_kernels
from .._kernels import steps
from ..model import Tensor
from .conv import (FLOAT32_PATH, INT8_PATH, DataPath, Requantization, bias_view, check_bias, data_path,
                   has_fixed_weights, requantization)
from .int4 import accepts_int4_filter
from .registry import BindFn, OpContext, register

#: TFLM's GetQuantizedConvolutionMultipler tolerance on |s_in * s_w - s_bias| / s_out.
_BIAS_SCALE_TOLERANCE = 0.02


def _requantization(ctx: OpContext, path: DataPath, input: Tensor, filter: Tensor, bias: Tensor | None,
                    output: Tensor, units: int) -> tuple[Requantization, int]:
    """CalculateOpDataFullyConnected: (requantization, filter zero point the kernel subtracts).

    Multipliers are the conv ops' double(s_in) * double(s_w) / double(s_out), one per unit. Spec §1.3
    says TFLM forms the per-tensor product in float32, but the tflite-micro build used as the oracle
    (0.dev20261023) promotes to double: tests/test_op_fully_connected.py has scales that tell them apart.
    """
    requant = requantization(ctx, path, input, filter, output, units)
    if not path.quantized or filter.quantization.per_channel:
        return requant, 0
    if bias is not None:
        s_in, s_w, s_out = input.quantization.scale, filter.quantization.scale, output.quantization.scale
        s_bias = bias.quantization.scale if bias.quantization is not None else 0.0
        if abs(s_in * s_w - s_bias) / s_out > _BIAS_SCALE_TOLERANCE:
            ctx.fail(f"bias {bias.describe()} scale {s_bias} differs from input scale x filter scale "
                     f"{s_in * s_w} by more than {_BIAS_SCALE_TOLERANCE} x output scale {s_out}")
    return requant, filter.quantization.zero_point


@register("FULLY_CONNECTED")
@functools.partial(accepts_int4_filter, per_channel=False)
def prepare_fully_connected(ctx: OpContext) -> BindFn:
    """Validate a FULLY_CONNECTED and precompute its requantization."""
    ctx.expect_io((2, 3))
    input, filter, output = ctx.input(0), ctx.input(1), ctx.output(0)
    bias = ctx.optional_input(2)
    path = data_path(ctx, input, filter, output, bias)
    if ctx.options.get("weights_format", 0) != 0:
        ctx.unsupported(f"weights_format {ctx.options['weights_format']} (only DEFAULT)")
    ctx.expect_rank(filter, 2)
    units, accum = filter.shape
    if not output.shape:
        ctx.fail(f"{output.describe()} is a scalar, expected [..., {units}]")
    if output.shape[-1] != units:
        ctx.fail(f"{output.describe()} has {output.shape[-1]} units in its last dimension, "
                 f"filter {filter.describe()} has {units}")
    batches = math.prod(output.shape[:-1])
    if input.num_elements != batches * accum:
        ctx.fail(f"input {input.describe()} has {input.num_elements} elements, expected "
                 f"{batches} batches x {accum} (filter depth) = {batches * accum}")
    check_bias(ctx, path, bias, units)
    requant, filter_zp = _requantization(ctx, path, input, filter, bias, output, units)
    kernel = path.kernel(fc_kernels.fully_connected)
    # the fast GEMM keeps the centered weights int8 (always so with TFLM's usual filter zero point 0)
    fast = (path == INT8_PATH and has_fixed_weights(filter) and batches * units * accum > 0
            and steps.centered_weights(filter.data, filter_zp) is not None)
    fast_float = path == FLOAT32_PATH and has_fixed_weights(filter) and batches * units * accum > 0

    def bind(inputs, outputs, scratch):
        bias_values = bias_view(path, inputs[2] if len(inputs) > 2 else None, units)
        if fast:
            return steps.Int8FullyConnectedStep(inputs[0].reshape(batches, accum), inputs[1], bias_values,
                                                outputs[0].reshape(batches, units), requant.input_zp,
                                                filter_zp, requant.output_zp, requant.multiplier,
                                                requant.shift, requant.act_min, requant.act_max)
        if fast_float:
            return steps.FloatFullyConnectedStep(inputs[0].reshape(batches, accum), inputs[1], bias_values,
                                                 outputs[0].reshape(batches, units), requant.act_min,
                                                 requant.act_max)
        return functools.partial(kernel, inputs[0].reshape(batches, accum), inputs[1], bias_values,
                                 outputs[0].reshape(batches, units), requant.input_zp, filter_zp,
                                 requant.output_zp, requant.multiplier, requant.shift,
                                 requant.act_min, requant.act_max)
    return bind
