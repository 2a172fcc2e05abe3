"""Elementwise math: EXP, LOG, SQRT, SIN, COS, SQUARE, FLOOR, CEIL, ROUND, RSQRT, ABS, NEG (TFLM exp.cc,
elementwise.cc, floor.cc, ceil.cc, round.cc, neg.cc).

float32 calls the C library's float functions as TFLM does (expf, logf, sqrtf, sinf, cosf, floorf,
ceilf, 1 / sqrtf, fabsf); SQUARE is x * x and ROUND is TFLM's RoundToNearest (ties to even). The
first nine are float32 only in TFLM.
Quantized, per TFLM's elementwise.cc:
* ABS int8, int16 (zero points 0): |q - zp_in| rescaled to the output (QuantizeMultiplier of
  s_in / s_out, exact when the scales are equal), clamped to the type; unquantized int16: C abs.
* RSQRT int8: 1/sqrt(q - zp_in) by TFLM's fixed-point Newton iteration, rescaled by
  1 / (sqrt(s_in) s_out); q == zp_in gives 127, q < zp_in fails the invoke (KernelDomainError here).
* NEG: TFLM has float32 only; int8, int16 and int32 follow LiteRT's reference kernel, a C negation
  of the stored value that ignores quantization.
"""
from __future__ import annotations

import math

from ..quantization import INT_RANGES, quantize_multiplier
from .activations import prepare_int8_or_float
from .elementwise import UnaryOp, check_unary, prepare_unary, require_zero_points_zero
from .registry import BindFn, OpContext, register

_FLOAT_ONLY = {"EXP": UnaryOp.EXP, "LOG": UnaryOp.LOG, "SQRT": UnaryOp.SQRT, "SIN": UnaryOp.SIN, "COS": UnaryOp.COS,
               "SQUARE": UnaryOp.SQUARE, "FLOOR": UnaryOp.FLOOR, "CEIL": UnaryOp.CEIL, "ROUND": UnaryOp.ROUND}


@register(*_FLOAT_ONLY)
def prepare_float_math(ctx: OpContext) -> BindFn:
    """EXP, LOG, SQRT, SIN, COS, SQUARE, FLOOR, CEIL, ROUND: float32 only, as in TFLM."""
    check_unary(ctx, "FLOAT32")
    return prepare_unary(ctx, _FLOAT_ONLY[ctx.op.name])


@register("RSQRT")
def prepare_rsqrt(ctx: OpContext) -> BindFn:
    """RSQRT: float32 (1 / sqrtf(x)) and int8."""
    def int8_params(s_in: float, zp_in: int, s_out: float, zp_out: int) -> dict:
        multiplier, shift = quantize_multiplier(1.0 / (math.sqrt(float(s_in)) * float(s_out)))
        return {"input_zero_point": zp_in, "output_zero_point": zp_out, "multiplier": multiplier, "shift": shift}
    return prepare_int8_or_float(ctx, UnaryOp.RSQRT, int8_params,
                                 failure="RSQRT of a value below the input zero point: TFLM fails the invoke "
                                         "(\"Rsqrt is only defined for positive values\")")


@register("ABS")
def prepare_abs(ctx: OpContext) -> BindFn:
    """ABS: float32, int8 and quantized int16 (rescaled to the output), unquantized int16 (C abs)."""
    input, output = check_unary(ctx, "INT8", "INT16", "FLOAT32")
    if input.type_name == "FLOAT32" or (input.type_name == "INT16" and input.quantization is None):
        return prepare_unary(ctx, UnaryOp.ABS)
    (s_in, zp_in), (s_out, zp_out) = ctx.per_tensor(input), ctx.per_tensor(output)
    if input.type_name == "INT16":
        require_zero_points_zero(ctx, input, output)
    multiplier, shift = quantize_multiplier(float(s_in) / float(s_out))
    lo, hi = INT_RANGES[output.dtype]
    return prepare_unary(ctx, UnaryOp.ABS_RESCALE,
                         {"input_zero_point": zp_in, "output_zero_point": zp_out, "multiplier": multiplier,
                          "shift": shift, "lo": lo, "hi": hi})


@register("NEG")
def prepare_neg(ctx: OpContext) -> BindFn:
    """NEG: float32 (TFLM), and int8, int16, int32 as LiteRT: the stored value negated, wrapping."""
    check_unary(ctx, "INT8", "INT16", "INT32", "FLOAT32")
    return prepare_unary(ctx, UnaryOp.NEG)
