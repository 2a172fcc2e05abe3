"""Activations: RELU, RELU6, RELU_N1_TO_1, LEAKY_RELU, PRELU, LOGISTIC, TANH, HARD_SWISH, ELU.

TFLM sources: activations.cc/activations_common.cc, leaky_relu_common.cc, prelu_common.cc,
logistic_common.cc, tanh.cc, hard_swish_common.cc, elu.cc and their reference kernels. All but PRELU
are unary (kernels/activations.pyx); PRELU broadcasts its alpha through the binary template.
* RELU int8/int16: rescaled to the output (double multiplier), clamped at the output zero point.
  RELU6 int8/int16 does *not* rescale: it clamps the stored values to [zp_in, Q_in(6)] (TFLM assumes
  equal input and output quantization). RELU_N1_TO_1 is absent from TFLM: LiteRT's reference kernel
  (int8: like RELU with a float32 multiplier and [-1, 1] clamp; float32) is the oracle.
* LEAKY_RELU int8/int16: identity and alpha multipliers computed in double (the tflite-micro wheel
  matches double, not the float32 of spec §2); a negative alpha subtracts the scaled magnitude.
* LOGISTIC/TANH int8: gemmlowp fixed point on Q4.27 (spec §2); int16: TFLM's sigmoid-table
  interpolation, zero points 0 and a power-of-two output scale 2^-15; float32 via the C library.
* HARD_SWISH int8: TFLM's int16 fixed point with 16-bit multipliers (spec §2).
* ELU int8: TFLM's 256-entry table computed in float32 at prepare; float32: expm1.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .._kernels import activations as activation_kernels
from ..model import Tensor
from ..quantization import (ACT_RELU, ACT_RELU_N1_TO_1, INT_RANGES, activation_range_quantized,
                            calculate_input_radius, checked_log2, float_to_quantized, quantize_multiplier,
                            tflite_round)
from .elementwise import BinaryOp, UnaryOp, check_unary, prepare_binary, prepare_unary, require_zero_points_zero
from .registry import BindFn, OpContext, register

# Integer bits of the int8 LOGISTIC/TANH fixed-point input (Q4.27) and of the int16 one (Q3.12).
INT8_INPUT_INTEGER_BITS = 4
INT16_INPUT_INTEGER_BITS = 3
# int16 LOGISTIC/TANH outputs are Q0.15: scale 2^-15.
INT16_OUTPUT_SCALE_LOG2 = -15


def _type_range(tensor: Tensor) -> dict:
    lo, hi = INT_RANGES[tensor.dtype]
    return {"lo": lo, "hi": hi}


def prepare_int8_or_float(ctx: OpContext, op: int, int8_params: Callable[[float, int, float, int], dict], *,
                          failure: str | None = None) -> BindFn:
    """A unary op on int8 or float32 (HARD_SWISH, ELU, RSQRT): float32 takes no parameters; int8 takes
    int8_params(input scale, input zero point, output scale, output zero point) and `failure` (see
    prepare_unary)."""
    input, output = check_unary(ctx, "INT8", "FLOAT32")
    if input.type_name == "FLOAT32":
        return prepare_unary(ctx, op)
    (s_in, zp_in), (s_out, zp_out) = ctx.per_tensor(input), ctx.per_tensor(output)
    return prepare_unary(ctx, op, int8_params(s_in, zp_in, s_out, zp_out), failure=failure)


def _relu_family(ctx: OpContext, activation: int, float_range: tuple[float, float], *, float32_ratio: bool,
                 int16: bool) -> BindFn:
    """RELU and RELU_N1_TO_1: rescale to the output, clamp to the fused-activation range."""
    input, output = check_unary(ctx, "INT8", "FLOAT32", *(("INT16",) if int16 else ()))
    if input.type_name == "FLOAT32":
        return prepare_unary(ctx, UnaryOp.CLAMP, {"float_lo": float_range[0], "float_hi": float_range[1]})
    (s_in, zp_in), (s_out, zp_out) = ctx.per_tensor(input), ctx.per_tensor(output)
    if input.type_name == "INT16":
        require_zero_points_zero(ctx, input, output)
    ratio = float(np.float32(s_in) / np.float32(s_out)) if float32_ratio else float(s_in) / float(s_out)
    multiplier, shift = quantize_multiplier(ratio)
    lo, hi = activation_range_quantized(activation, s_out, zp_out, output.dtype)
    return prepare_unary(ctx, UnaryOp.RESCALE_CLAMP, {"input_zero_point": zp_in, "output_zero_point": zp_out,
                                                      "multiplier": multiplier, "shift": shift, "lo": lo, "hi": hi})


@register("RELU")
def prepare_relu(ctx: OpContext) -> BindFn:
    """RELU: int8, int16 (zero points 0), float32 (x < 0 ? 0 : x)."""
    return _relu_family(ctx, ACT_RELU, (0.0, math.inf), float32_ratio=False, int16=True)


@register("RELU_N1_TO_1")
def prepare_relu_n1_to_1(ctx: OpContext) -> BindFn:
    """RELU_N1_TO_1 (not in TFLM; LiteRT's reference kernel): int8, float32."""
    return _relu_family(ctx, ACT_RELU_N1_TO_1, (-1.0, 1.0), float32_ratio=True, int16=False)


@register("RELU6")
def prepare_relu6(ctx: OpContext) -> BindFn:
    """RELU6: float32, and int8/int16 clamped to [zp_in, Q_in(6)] without rescaling (as TFLM)."""
    input, _ = check_unary(ctx, "INT8", "INT16", "FLOAT32")
    if input.type_name == "FLOAT32":
        return prepare_unary(ctx, UnaryOp.CLAMP, {"float_lo": 0.0, "float_hi": 6.0})
    s_in, zp_in = ctx.per_tensor(input)
    return prepare_unary(ctx, UnaryOp.CLAMP, {"lo": zp_in, "hi": float_to_quantized(6.0, s_in, zp_in, input.dtype)})


@register("LEAKY_RELU")
def prepare_leaky_relu(ctx: OpContext) -> BindFn:
    """LEAKY_RELU: int8, int16, float32 (x > 0 ? x : alpha x); alpha may be negative or above 1."""
    input, output = check_unary(ctx, "INT8", "INT16", "FLOAT32")
    alpha = np.float32(ctx.options.get("alpha", 0.0))
    if input.type_name == "FLOAT32":
        return prepare_unary(ctx, UnaryOp.LEAKY_RELU, {"alpha": float(alpha)})
    (s_in, zp_in), (s_out, zp_out) = ctx.per_tensor(input), ctx.per_tensor(output)
    identity, identity_shift = quantize_multiplier(float(s_in) / float(s_out))
    alpha_multiplier, alpha_shift = quantize_multiplier(float(s_in) * float(alpha) / float(s_out))
    return prepare_unary(ctx, UnaryOp.LEAKY_RELU, {
        "input_zero_point": zp_in, "output_zero_point": zp_out, "multiplier": identity, "shift": identity_shift,
        "multiplier2": alpha_multiplier, "shift2": alpha_shift, **_type_range(output)})


@register("PRELU")
def prepare_prelu(ctx: OpContext) -> BindFn:
    """PRELU: x >= 0 ? x : alpha x with alpha broadcast to the input; int8 (int8 alpha), int16 (int8 alpha,
    as TFLM requires) and float32 (rank <= 4)."""
    ctx.expect_io(2)
    input, alpha, output = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.expect_type(input, "INT8", "INT16", "FLOAT32")
    alpha_type = "INT8" if input.type_name == "INT16" else input.type_name
    if alpha.type_name != alpha_type:
        ctx.unsupported(f"{alpha.describe()} with input type {input.type_name} (TFLM wants {alpha_type} alpha)")
    if output.type_code != input.type_code:
        ctx.unsupported(f"{output.describe()} with input type {input.type_name}")
    if input.type_name == "FLOAT32":
        # TFLM's float PRELU is a 4-D loop (BroadcastPrelu4DSlowFloat).
        return prepare_binary(ctx, BinaryOp.PRELU, max_rank=4)
    (s_in, zp_in), (s_alpha, zp_alpha), (s_out, zp_out) = (ctx.per_tensor(t) for t in (input, alpha, output))
    identity, identity_shift = quantize_multiplier(float(s_in) / float(s_out))
    product, product_shift = quantize_multiplier(float(s_in) * float(s_alpha) / float(s_out))
    # The binary kernel's PRELU reads the identity multiplier from input1_* and the alpha product's from output_*.
    lo, hi = INT_RANGES[output.dtype]
    params = {"input1_offset": -zp_in, "input2_offset": -zp_alpha, "output_offset": zp_out,
              "input1_multiplier": identity, "input1_shift": identity_shift,
              "output_multiplier": product, "output_shift": product_shift,
              "activation_min": lo, "activation_max": hi}
    binary = prepare_binary(ctx, BinaryOp.PRELU, params)
    if input.type_name == "INT8":
        return binary
    # The binary kernel takes one element type: int16 PRELU gets its int8 alpha widened to int16.
    constant_alpha = alpha.is_constant

    def bind(inputs, outputs, scratch):
        alpha_values = inputs[1]
        if constant_alpha:  # widened once
            return binary([inputs[0], alpha_values.astype(np.int16)], outputs, scratch)
        widened = np.empty(alpha_values.shape, np.int16)
        run = binary([inputs[0], widened], outputs, scratch)

        def step() -> None:
            np.copyto(widened, alpha_values)
            run()
        return step
    return bind


def _int8_sigmoid_input(ctx: OpContext, input: Tensor) -> dict:
    """int8 LOGISTIC/TANH: frexp of s_in * 2^27 (no renormalisation, as TFLM) and the saturation radius."""
    s_in, zp_in = ctx.per_tensor(input)
    q, left_shift = math.frexp(float(s_in) * (1 << (31 - INT8_INPUT_INTEGER_BITS)))
    # TFLM casts the rounded double to int32: a rounding up to 2^31 wraps.
    multiplier = int(np.array(tflite_round(q * (1 << 31)), dtype=np.int64).astype(np.int32))
    radius = calculate_input_radius(INT8_INPUT_INTEGER_BITS, left_shift)
    if radius > INT_RANGES[np.dtype("<i4")][1]:
        ctx.fail(f"input scale {s_in!r} of {input.describe()} is too small: TFLM's input radius {radius} "
                 f"overflows int32")
    return {"input_zero_point": zp_in, "multiplier": multiplier, "shift": left_shift, "radius": radius}


def _int16_sigmoid_input(ctx: OpContext, input: Tensor, output: Tensor, pot_shifts: tuple[int, ...]) -> dict:
    """int16 LOGISTIC/TANH: the table's input multiplier and shift (multiplier 0: power-of-two scale)."""
    require_zero_points_zero(ctx, input, output)
    s_in = ctx.per_tensor(input)[0]
    log2_in = checked_log2(s_in)
    left_shift = (15 - INT16_INPUT_INTEGER_BITS) + (log2_in or 0)
    if log2_in is not None and left_shift in pot_shifts:
        multiplier = 0
    else:
        # Rescale the input to 1 / (3 * 4096): the multiplier doubled while <= 32767 / 2, at most 31 times.
        real = float(s_in) * 4096.0 * 3.0
        left_shift = 0
        while real <= 32767.0 / 2.0 and left_shift <= 30:
            left_shift += 1
            real *= 2.0
        multiplier = int(real)
        if multiplier > 32767:
            ctx.fail(f"input scale {s_in!r} of {input.describe()} is too large for TFLM's int16 table "
                     f"(multiplier {multiplier} above 32767, which TFLM only debug-checks)")
    if checked_log2(ctx.per_tensor(output)[0]) != INT16_OUTPUT_SCALE_LOG2:
        ctx.fail(f"int16 {output.describe()} must have scale 2^-15 (TFLM requires it), "
                 f"found {output.quantization.scale!r}")
    return {"multiplier": multiplier, "shift": left_shift}


def _sigmoid_family(ctx: OpContext, op: int, input: Tensor, output: Tensor, pot_shifts: tuple[int, ...]) -> BindFn:
    """LOGISTIC and TANH once their output checks are done; pot_shifts: int16 shifts TFLM handles as 3 << shift."""
    if input.type_name == "FLOAT32":
        return prepare_unary(ctx, op)
    if input.type_name == "INT16":
        return prepare_unary(ctx, op, _int16_sigmoid_input(ctx, input, output, pot_shifts))
    return prepare_unary(ctx, op, _int8_sigmoid_input(ctx, input))


@register("LOGISTIC")
def prepare_logistic(ctx: OpContext) -> BindFn:
    """LOGISTIC: int8 (output zero point -128, scale 1/256 assumed), int16, float32."""
    input, output = check_unary(ctx, "INT8", "INT16", "FLOAT32")
    if input.type_name == "INT8" and ctx.per_tensor(output)[1] != -128:
        ctx.fail(f"int8 {output.describe()} must have zero point -128 (TFLM requires it), "
                 f"found {output.quantization.zero_point}")
    return _sigmoid_family(ctx, UnaryOp.LOGISTIC, input, output, pot_shifts=(0,))


@register("TANH")
def prepare_tanh(ctx: OpContext) -> BindFn:
    """TANH: int8 (output zero point 0 and scale 1/128 assumed, unchecked as in TFLM), int16, float32."""
    input, output = check_unary(ctx, "INT8", "INT16", "FLOAT32")
    return _sigmoid_family(ctx, UnaryOp.TANH, input, output, pot_shifts=(0, 1))


def _int16_multiplier(ctx: OpContext, name: str, real: float) -> tuple[int, int]:
    """QuantizeMultiplier, then DownScaleInt32ToInt16Multiplier: (m + 2^15) >> 16, saturating at 32767."""
    multiplier, shift = quantize_multiplier(real)
    if multiplier < 0:
        ctx.fail(f"{name} multiplier {real!r} is negative")
    if multiplier >= (1 << 31) - 1 - (1 << 15):
        return 32767, shift
    return (multiplier + (1 << 15)) >> 16, shift


@register("HARD_SWISH")
def prepare_hard_swish(ctx: OpContext) -> BindFn:
    """HARD_SWISH: int8 (TFLM's 16-bit fixed point) and float32 (x * min(6, max(0, x + 3)) / 6)."""
    def int8_params(s_in: float, zp_in: int, s_out: float, zp_out: int) -> dict:
        hires_input_scale = np.float32(1.0 / 128.0) * np.float32(s_in)
        output_multiplier, output_shift = _int16_multiplier(ctx, "output",
                                                            float(hires_input_scale / np.float32(s_out)))
        reluish_multiplier, reluish_shift = _int16_multiplier(
            ctx, "relu-ish", float(hires_input_scale / np.float32(3.0 / 32768.0)))
        if not -31 <= output_shift <= 0:
            ctx.fail(f"output scale {s_out!r} against input scale {s_in!r} gives an output exponent "
                     f"{output_shift}; TFLM requires it in [-31, 0]")
        if not -31 <= reluish_shift <= 31:
            ctx.fail(f"input scale {s_in!r} gives an unusable relu-ish exponent {reluish_shift}")
        return {"input_zero_point": zp_in, "output_zero_point": zp_out, "multiplier": output_multiplier,
                "shift": output_shift, "multiplier2": reluish_multiplier, "shift2": reluish_shift}
    return prepare_int8_or_float(ctx, UnaryOp.HARD_SWISH, int8_params)


@register("ELU")
def prepare_elu(ctx: OpContext) -> BindFn:
    """ELU: int8 through TFLM's lookup table, float32 (x < 0 ? expm1(x) : x)."""
    return prepare_int8_or_float(ctx, UnaryOp.ELU,
                                 lambda *scales: {"table": activation_kernels.elu_int8_table(*scales)})
