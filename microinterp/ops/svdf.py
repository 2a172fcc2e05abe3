"""SVDF (TFLM svdf.cc, svdf_common.cc: PrepareSvdf, EvalIntegerSvdfReference, EvalFloatSvdfReference).

Inputs: input [batch, input_size], weights_feature [filters, input_size], weights_time [filters,
memory], optional bias [units], activation state (a variable tensor, [batch, memory * filters]);
output [batch, units], units = filters / rank. The state persists across invokes.

Data paths as in TFLM: int8 input/output with int8 feature weights, int32 bias, and int8 or int16
time weights with a state of the same type; float32 throughout. The int8 path's effective scales are
float32 products/quotients promoted to double, and it ignores the fused activation; the float path
applies it. A new state value is clamped to the state type before the state zero point is added, and
the sum wraps when narrowed: the tflite-micro build used as the oracle does so (newer TFLM sources add
the zero point before the clamp). TFLM's two int32 scratch buffers (one float32 buffer on the float
path) are requested as TFLM requests them, so the planned head stays TFLM's.

An omitted bias sums from zero; TFLM dereferences it and crashes (its TODO #1751).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .._kernels import svdf as svdf_kernels
from ..quantization import quantize_multiplier
from .registry import BindFn, OpContext, register

#: TFLM's PrepareSvdf: |s_bias - s_state * s_time| must be below this.
_BIAS_SCALE_TOLERANCE = 1e-5
_ACTIVATIONS = range(6)  # NONE, RELU, RELU_N1_TO_1, RELU6, TANH, SIGN_BIT


@dataclass(frozen=True)
class SvdfParams:
    """The kernel's scalar arguments after `rank`, in its order (quantized fields are 0 on the float path)."""
    input_zp: int = 0
    state_zp: int = 0
    output_zp: int = 0
    feature_multiplier: int = 0
    feature_shift: int = 0
    output_multiplier: int = 0
    output_shift: int = 0
    activation: int = 0

    def args(self) -> tuple[int, ...]:
        return (self.input_zp, self.state_zp, self.output_zp, self.feature_multiplier, self.feature_shift,
                self.output_multiplier, self.output_shift, self.activation)


def _int8_path(ctx: OpContext, input, weights_feature, weights_time, bias, state, output) -> tuple[str, SvdfParams]:
    """Types, zero points and multipliers of the int8 path: (kernel state type name, parameters)."""
    ctx.expect_type(weights_feature, "INT8")
    ctx.expect_type(weights_time, "INT8", "INT16")
    ctx.expect_type(output, "INT8")
    if state.type_code != weights_time.type_code:
        # TFLM reads the state with the time weights' type: any other state type is misread.
        ctx.fail(f"activation state {state.describe()} must have the type of weights_time "
                 f"{weights_time.describe()}")
    s_in, zp_in = ctx.per_tensor(input)
    s_feature, _ = ctx.per_tensor(weights_feature)
    s_time, _ = ctx.per_tensor(weights_time)
    s_state, zp_state = ctx.per_tensor(state)
    s_out, zp_out = ctx.per_tensor(output)
    f32 = np.float32
    if bias is not None:
        ctx.expect_type(bias, "INT32")
        s_bias = bias.quantization.scale if bias.quantization is not None else 0.0
        if not abs(s_bias - float(f32(s_state) * f32(s_time))) < _BIAS_SCALE_TOLERANCE:
            ctx.fail(f"bias {bias.describe()} scale {s_bias} differs from state scale x weights_time scale "
                     f"{float(f32(s_state) * f32(s_time))} by {_BIAS_SCALE_TOLERANCE} or more")
    feature_multiplier, feature_shift = quantize_multiplier(float(f32(s_in) * f32(s_feature) / f32(s_state)))
    output_multiplier, output_shift = quantize_multiplier(float(f32(s_state) * f32(s_time) / f32(s_out)))
    return ("int8_t" if state.type_name == "INT8" else "int16_t",
            SvdfParams(zp_in, zp_state, zp_out, feature_multiplier, feature_shift, output_multiplier, output_shift))


def _float_path(ctx: OpContext, tensors) -> SvdfParams:
    """Every tensor float32; the fused activation applies."""
    for t in tensors:
        if t is not None:
            ctx.expect_type(t, "FLOAT32")
    activation = ctx.options.get("fused_activation_function", 0)
    if activation not in _ACTIVATIONS:
        ctx.fail(f"unknown fused activation {activation}")
    return SvdfParams(activation=activation)


@register("SVDF")
def prepare_svdf(ctx: OpContext) -> BindFn:
    """Validate an SVDF, precompute its requantization and request TFLM's scratch buffers."""
    ctx.expect_io(5)
    input, weights_feature, weights_time = ctx.input(0), ctx.input(1), ctx.input(2)
    bias, state, output = ctx.optional_input(3), ctx.input(4), ctx.output(0)
    for t in (input, weights_feature, weights_time, state, output):
        ctx.expect_rank(t, 2)
    rank = ctx.options.get("rank", 0)
    batches, input_size = input.shape
    filters, memory = weights_time.shape
    if rank <= 0 or filters % rank:
        ctx.fail(f"rank {rank} must be positive and divide the {filters} filters of {weights_time.describe()}")
    units = filters // rank
    if min(batches, filters, memory) < 1:
        ctx.fail(f"batch {batches}, filters {filters} and memory {memory} must all be at least 1")
    if tuple(weights_feature.shape) != (filters, input_size):
        ctx.fail(f"weights_feature {weights_feature.describe()} must be [{filters}, {input_size}] "
                 f"(filters of weights_time, input size)")
    if tuple(state.shape) != (batches, memory * filters):
        ctx.fail(f"activation state {state.describe()} must be [{batches}, {memory * filters}] "
                 f"(batch, memory x filters)")
    if not state.is_variable:
        ctx.fail(f"activation state {state.describe()} must be a variable tensor")
    if tuple(output.shape) != (batches, units):
        ctx.fail(f"{output.describe()} must be [{batches}, {units}] (batch, filters / rank)")
    if bias is not None and (not bias.shape or bias.shape[0] != units):
        ctx.fail(f"bias {bias.describe()} must have {units} entries in its first dimension")

    if input.type_name == "INT8":
        state_type, params = _int8_path(ctx, input, weights_feature, weights_time, bias, state, output)
        kernel = svdf_kernels.svdf["int8_t", state_type, "int32_t"]
        acc_dtype = np.dtype(np.int32)
        ctx.request_scratch(4 * batches * filters, like_tflm=True)
        ctx.request_scratch(4 * batches * units, like_tflm=True)
    elif input.type_name == "FLOAT32":
        params = _float_path(ctx, (weights_feature, weights_time, bias, state, output))
        kernel = svdf_kernels.svdf["float", "float", "float"]
        acc_dtype = np.dtype(np.float32)
        ctx.request_scratch(4 * batches * filters, like_tflm=True)
    else:
        ctx.unsupported(f"input type {input.type_name} (supported: INT8, FLOAT32)")

    def bind(inputs, outputs, scratch):
        # An omitted bias is zeros: the same sums as TFLM's zero-initialised accumulators.
        bias_values = np.zeros(units, acc_dtype) if inputs[3] is None else inputs[3].reshape(-1)[:units]
        feature_sums = scratch[0].view(acc_dtype).reshape(batches, filters)
        unit_sums = outputs[0] if len(scratch) == 1 else scratch[1].view(acc_dtype).reshape(batches, units)
        return functools.partial(kernel, inputs[0], inputs[1], inputs[2], bias_values, inputs[4].reshape(-1),
                                 outputs[0], feature_sums, unit_sums, rank, *params.args())
    return bind
