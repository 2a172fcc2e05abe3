"""Broadcasting arithmetic: ADD, SUB, MUL, DIV, SQUARED_DIFFERENCE, MAXIMUM, MINIMUM, FLOOR_DIV, FLOOR_MOD
(TFLM add.cc, sub.cc, mul.cc, div.cc, squared_difference.cc, maximum_minimum.cc, floor_div.cc,
floor_mod.cc and their reference kernels).

All run through the one broadcast template (elementwise.py, kernels/elementwise.pyx) up to 6-D. int8 and
int16 are quantized; int32 and float32 are plain, with the fused activation as a clamp. Per TFLM:
* ADD/SUB: inputs lifted by 2^20 (int8) or 2^15 (int16), rescaled to twice the larger input scale,
  combined, rescaled to the output; the real multipliers are computed in double (for SUB too: the
  tflite-micro wheel matches double, not the float32 of spec §2). int8 without broadcasting runs as the
  compiled Int8AddStep (kernels/steps.pyx), same bits.
* MUL: one multiplier s1*s2/s_out on the product of the offset inputs; int16 needs zero points 0.
* SQUARED_DIFFERENCE: like SUB with a 2^7 lift (int8; int16: none and zero points 0), the squared
  difference rescaled by QuantizeMultiplier; no fused activation.
* DIV: float32 and int32 (C truncating division; a zero divisor, which fails TFLM's invoke, and
  INT32_MIN / -1, which traps there, raise KernelDomainError); int8 through the fixed-point reciprocal
  of the offset divisor, one multiplier float32(s1 / (s2 s_out)) (a divisor at its zero point, undefined
  in TFLM, raises KernelDomainError).
* MAXIMUM/MINIMUM: raw comparisons of the stored values (int64 too), no rescaling, no activation.
* FLOOR_DIV/FLOOR_MOD: float32 only; floor(double(x) / double(y)), and fmodf moved to the divisor's sign.
  FLOOR_DIV fails on any zero divisor (KernelDomainError). Broadcasting is TFLM's 4-D loop.
"""
from __future__ import annotations

import numpy as np

from .._kernels import steps
from ..model import Tensor
from ..quantization import (activation_range_float, activation_range_int32, activation_range_quantized,
                            quantize_multiplier, quantize_multiplier_smaller_than_one_exp)
from .elementwise import MAX_RANK, BinaryOp, binary_params, prepare_binary, require_zero_points_zero, rescale_inputs
from .registry import BindFn, OpContext, register

# TFLM's left_shift for ADD/SUB: headroom that keeps the rescaled inputs precise.
ADD_LEFT_SHIFT = {"INT8": 20, "INT16": 15}
SQUARED_DIFFERENCE_LEFT_SHIFT = {"INT8": 7, "INT16": 0}


def _same_types(ctx: OpContext, *type_names: str) -> tuple[Tensor, Tensor, Tensor]:
    """Two inputs and one output, all of one type among type_names."""
    ctx.expect_io(2)
    input1, input2, output = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.expect_type(output, *type_names)
    for t in (input1, input2):
        if t.type_code != output.type_code:
            ctx.unsupported(f"input {t.describe()} with output type {output.type_name}")
    return input1, input2, output


def _unquantized(ctx: OpContext, *tensors: Tensor) -> None:
    """TFLM's int32 ADD/SUB/DIV reject quantized tensors."""
    for t in tensors:
        if t.quantization is not None:
            ctx.unsupported(f"{t.describe()} is a quantized int32 tensor; TFLM supports plain int32 only")


def _broadcast_rank(input1: Tensor, input2: Tensor, broadcast_rank: int) -> int:
    """The rank limit of a TFLM kernel that runs same-shape inputs flat and broadcasts in a fixed-rank loop."""
    return MAX_RANK if tuple(input1.shape) == tuple(input2.shape) else broadcast_rank


def checked_multiplier(ctx: OpContext, name: str, real: float, smaller_than_one: bool = False) -> tuple[int, int]:
    """QuantizeMultiplier (or its SmallerThanOneExp form) of `real`; a model TFLM would abort on fails here."""
    try:
        return quantize_multiplier_smaller_than_one_exp(real) if smaller_than_one else quantize_multiplier(real)
    except ValueError as e:
        ctx.fail(f"{name} rescale factor {real!r} is unusable (TFLM aborts): {e}")


def _output_range(activation: int, output: Tensor) -> dict:
    """The integer clamp of a quantized or int32 output, or the float clamp, for a fused activation."""
    if output.type_name == "FLOAT32":
        lo, hi = activation_range_float(activation)
        return {"float_min": lo, "float_max": hi}
    if output.type_name == "INT32":
        lo, hi = activation_range_int32(activation)
    else:
        s_out, zp_out = output.quantization.scale, output.quantization.zero_point
        lo, hi = activation_range_quantized(activation, s_out, zp_out, output.dtype)
    return {"activation_min": lo, "activation_max": hi}


def _add_sub(ctx: OpContext, op: int) -> BindFn:
    input1, input2, output = _same_types(ctx, "INT8", "INT16", "INT32", "FLOAT32")
    activation = ctx.options.get("fused_activation_function", 0)
    if output.type_name == "FLOAT32":
        return prepare_binary(ctx, op, _output_range(activation, output))
    if output.type_name == "INT32":
        _unquantized(ctx, input1, input2, *((output,) if op == BinaryOp.SUB else ()))
        # TFLM's int32 ADD ignores the fused activation; SUB applies it.
        return prepare_binary(ctx, op, _output_range(activation if op == BinaryOp.SUB else 0, output))

    (s1, _), (s2, _), (s_out, zp_out) = ctx.per_tensor(input1), ctx.per_tensor(input2), ctx.per_tensor(output)
    left_shift = ADD_LEFT_SHIFT[output.type_name]
    # In double for both ops: the float32 SUB of newer TFLM sources is not what the tflite-micro wheel runs.
    twice_max = 2 * max(float(s1), float(s2))
    reals = (float(s1) / twice_max, float(s2) / twice_max)
    real_out = twice_max / ((1 << left_shift) * float(s_out))
    params = rescale_inputs(ctx, input1, input2, left_shift, reals)
    params["output_offset"] = zp_out
    params["output_multiplier"], params["output_shift"] = checked_multiplier(ctx, "output", real_out,
                                                                             smaller_than_one=True)
    params |= _output_range(activation, output)
    reference = prepare_binary(ctx, op, params)
    if output.type_name != "INT8" or not input1.num_elements == input2.num_elements == output.num_elements:
        return reference
    step_params = binary_params(**params)

    def bind(inputs, outputs, scratch):
        return steps.Int8AddStep(inputs[0].reshape(-1), inputs[1].reshape(-1), outputs[0].reshape(-1), step_params,
                                 op == BinaryOp.SUB)
    return bind


@register("ADD")
def prepare_add(ctx: OpContext) -> BindFn:
    """ADD: int8, int16 (TFLM's general-scale path; pot_scale_int16 is ignored, as in TFLM), int32, float32."""
    return _add_sub(ctx, BinaryOp.ADD)


@register("SUB")
def prepare_sub(ctx: OpContext) -> BindFn:
    """SUB: int8, int16, int32, float32."""
    return _add_sub(ctx, BinaryOp.SUB)


@register("MUL")
def prepare_mul(ctx: OpContext) -> BindFn:
    """MUL: int8, int16 (zero points 0), int32 (wrapping), float32."""
    input1, input2, output = _same_types(ctx, "INT8", "INT16", "INT32", "FLOAT32")
    activation = ctx.options.get("fused_activation_function", 0)
    if output.type_name in ("FLOAT32", "INT32"):
        return prepare_binary(ctx, BinaryOp.MUL, _output_range(activation, output))
    (s1, zp1), (s2, zp2), (s_out, zp_out) = ctx.per_tensor(input1), ctx.per_tensor(input2), ctx.per_tensor(output)
    if output.type_name == "INT16":
        require_zero_points_zero(ctx, input1, input2, output)
    multiplier, shift = checked_multiplier(ctx, "output", float(s1) * float(s2) / float(s_out))
    params = {"input1_offset": -zp1, "input2_offset": -zp2, "output_offset": zp_out,
              "output_multiplier": multiplier, "output_shift": shift}
    return prepare_binary(ctx, BinaryOp.MUL, params | _output_range(activation, output))


@register("DIV")
def prepare_div(ctx: OpContext) -> BindFn:
    """DIV: float32, int32 and int8."""
    input1, input2, output = _same_types(ctx, "INT8", "INT32", "FLOAT32")
    activation = ctx.options.get("fused_activation_function", 0)
    if output.type_name == "INT8":
        (s1, zp1), (s2, zp2), (s_out, zp_out) = (ctx.per_tensor(t) for t in (input1, input2, output))
        real = float(np.float32(s1) / (np.float32(s2) * np.float32(s_out)))  # float32 in TFLM
        multiplier, shift = checked_multiplier(ctx, "output", real)
        params = {"input1_offset": -zp1, "input2_offset": -zp2, "output_offset": zp_out,
                  "output_multiplier": multiplier, "output_shift": shift}
        return prepare_binary(ctx, BinaryOp.DIV, params | _output_range(activation, output),
                              failure="int8 division by a divisor at its zero point (undefined in TFLM)")
    if output.type_name == "INT32":
        _unquantized(ctx, input1, input2)
        return prepare_binary(ctx, BinaryOp.DIV, _output_range(activation, output),
                              failure="int32 division by zero (TFLM fails the invoke) or INT32_MIN / -1 "
                                      "(TFLM traps, SIGFPE)")
    return prepare_binary(ctx, BinaryOp.DIV, _output_range(activation, output))


@register("SQUARED_DIFFERENCE")
def prepare_squared_difference(ctx: OpContext) -> BindFn:
    """SQUARED_DIFFERENCE: int8, int16 (zero points 0), int32 (wrapping), float32; no fused activation."""
    input1, input2, output = _same_types(ctx, "INT8", "INT16", "INT32", "FLOAT32")
    if output.type_name in ("FLOAT32", "INT32"):
        return prepare_binary(ctx, BinaryOp.SQUARED_DIFFERENCE)
    (s1, _), (s2, _), (s_out, zp_out) = ctx.per_tensor(input1), ctx.per_tensor(input2), ctx.per_tensor(output)
    if output.type_name == "INT16":
        require_zero_points_zero(ctx, input1, input2, output)
    left_shift = SQUARED_DIFFERENCE_LEFT_SHIFT[output.type_name]
    twice_max = 2.0 * max(float(s1), float(s2))
    # (1 << 2 * left_shift) * s_out is a float32 product in TFLM.
    real_out = twice_max * twice_max / float(np.float32(1 << (2 * left_shift)) * np.float32(s_out))
    params = rescale_inputs(ctx, input1, input2, left_shift, (float(s1) / twice_max, float(s2) / twice_max))
    params["output_offset"] = zp_out
    params["output_multiplier"], params["output_shift"] = checked_multiplier(ctx, "output", real_out)
    return prepare_binary(ctx, BinaryOp.SQUARED_DIFFERENCE, params | _output_range(0, output))


def _maximum_minimum(ctx: OpContext, op: int) -> BindFn:
    _same_types(ctx, "INT8", "INT16", "INT32", "INT64", "FLOAT32")
    return prepare_binary(ctx, op)


@register("MAXIMUM")
def prepare_maximum(ctx: OpContext) -> BindFn:
    """MAXIMUM: int8, int16, int32, int64, float32 on the stored values (x > y ? x : y)."""
    return _maximum_minimum(ctx, BinaryOp.MAXIMUM)


@register("MINIMUM")
def prepare_minimum(ctx: OpContext) -> BindFn:
    """MINIMUM: int8, int16, int32, int64, float32 on the stored values (x < y ? x : y)."""
    return _maximum_minimum(ctx, BinaryOp.MINIMUM)


def _floor_div_mod(ctx: OpContext, op: int, failure: str | None) -> BindFn:
    input1, input2, _ = _same_types(ctx, "FLOAT32")
    return prepare_binary(ctx, op, max_rank=_broadcast_rank(input1, input2, 4), failure=failure)


@register("FLOOR_DIV")
def prepare_floor_div(ctx: OpContext) -> BindFn:
    """FLOOR_DIV: float32 (TFLM's only type); a zero divisor fails the invoke."""
    return _floor_div_mod(ctx, BinaryOp.FLOOR_DIV, "FLOOR_DIV by zero (TFLM fails the invoke: \"Division by 0\")")


@register("FLOOR_MOD")
def prepare_floor_mod(ctx: OpContext) -> BindFn:
    """FLOOR_MOD: float32 (TFLM's only type)."""
    return _floor_div_mod(ctx, BinaryOp.FLOOR_MOD, None)
