"""Prepare-time fixed-point helpers, exactly as TFLM computes them (see spec/int8-kernels.md §1).

These run once per op in allocate_tensors(); the per-element arithmetic lives in kernels/fixedpoint.pxd.
"""
from __future__ import annotations

import math

import numpy as np

from .errors import InconsistentModelError

INT_RANGES = {np.dtype("i1"): (-128, 127), np.dtype("<i2"): (-32768, 32767),
              np.dtype("u1"): (0, 255), np.dtype("<i4"): (-(1 << 31), (1 << 31) - 1)}

# ActivationFunctionType values of the schema.
ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6, ACT_TANH, ACT_SIGN_BIT = 0, 1, 2, 3, 4, 5


def tflite_round(x: float) -> int:
    """C round(): half away from zero (Python's round() is half-to-even and must not be used)."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


#: Largest left shift a requantization may need: MultiplyByQuantizedMultiplier shifts an int32 left by
#: it before the doubling high multiply (TFLM only DCHECKs the bound; beyond it the C shift is undefined).
MAX_LEFT_SHIFT = 30
#: The int64 MultiplyByQuantizedMultiplier (16x8 kernels) rounds with 1 << (14 - shift): defined for
#: shift <= 14.
MAX_INT64_REQUANT_SHIFT = 14


def quantize_multiplier(real: float, max_left_shift: int = MAX_LEFT_SHIFT) -> tuple[int, int]:
    """TFLM QuantizeMultiplier: real ~= m * 2^(shift-31), m in [2^30, 2^31) (negative real: negative m).

    A real below 2^-32 or so (a right shift beyond 31) gives multiplier 0 and shift 0, as in TFLM.
    A NaN or infinite real (scales or options from an untrusted model; TFLM's TFLITE_CHECK aborts), or
    one needing a left shift above max_left_shift, is an InconsistentModelError naming the ratio; the
    op's prepare names the op (see prepare.prepare_model).
    """
    if not math.isfinite(real):
        raise InconsistentModelError(f"requantization multiplier {real!r} (from quantization scales or "
                                     f"options) is not a finite number")
    if real == 0.0:
        return 0, 0
    q, e = math.frexp(real)
    m = tflite_round(q * (1 << 31))
    if m == (1 << 31):
        m //= 2
        e += 1
    if e < -31:
        return 0, 0
    if e > max_left_shift:
        raise InconsistentModelError(f"requantization scale ratio {real!r} needs a left shift of {e}, "
                                     f"above {max_left_shift}: the int32 shift would overflow")
    return m, e


def quantize_multipliers(reals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """quantize_multiplier over an array of doubles, as int32 multiplier and shift arrays."""
    pairs = [quantize_multiplier(float(r)) for r in np.asarray(reals, dtype=np.float64).ravel()]
    return (np.array([p[0] for p in pairs], dtype=np.int32),
            np.array([p[1] for p in pairs], dtype=np.int32))


def quantize_value(value: float, scale: float, zero_point: int) -> int:
    """TFLM's Q(f) = zp + int(roundf(float32(f) / scale)), float32 division."""
    with np.errstate(over="ignore", divide="ignore"):
        quotient = float(np.float32(value) / np.float32(scale))
    if not math.isfinite(quotient):
        # TFLM's float->int conversion is undefined here; such a scale is not a usable quantization.
        raise InconsistentModelError(f"quantizing {value} with scale {scale} overflows float32")
    return zero_point + tflite_round(quotient)


def activation_range_quantized(activation: int, scale: float, zero_point: int,
                               dtype: np.dtype) -> tuple[int, int]:
    """CalculateActivationRangeQuantized: the clamp range of a fused activation on a quantized output."""
    lo, hi = INT_RANGES[np.dtype(dtype)]
    if activation == ACT_RELU:
        return max(lo, quantize_value(0.0, scale, zero_point)), hi
    if activation == ACT_RELU6:
        return (max(lo, quantize_value(0.0, scale, zero_point)),
                min(hi, quantize_value(6.0, scale, zero_point)))
    if activation == ACT_RELU_N1_TO_1:
        return (max(lo, quantize_value(-1.0, scale, zero_point)),
                min(hi, quantize_value(1.0, scale, zero_point)))
    return lo, hi


#: std::numeric_limits<float>::max(): TFLM's float "no activation" bounds are finite, so they clamp +-inf.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def activation_range_float(activation: int) -> tuple[float, float]:
    """CalculateActivationRange for float outputs: the bounds are +-FLT_MAX, not +-inf, as in TFLM."""
    if activation == ACT_RELU:
        return 0.0, FLOAT32_MAX
    if activation == ACT_RELU6:
        return 0.0, 6.0
    if activation == ACT_RELU_N1_TO_1:
        return -1.0, 1.0
    return -FLOAT32_MAX, FLOAT32_MAX


def compute_padding(in_size: int, filter_size: int, stride: int, dilation: int, padding: int) -> int:
    """ComputePaddingHeightWidth's pad_before (padding: 0 = SAME, 1 = VALID); the odd pixel goes after."""
    eff = (filter_size - 1) * dilation + 1
    out_size = computed_out_size(in_size, filter_size, stride, dilation, padding)
    return max((out_size - 1) * stride + eff - in_size, 0) // 2


def computed_out_size(in_size: int, filter_size: int, stride: int, dilation: int, padding: int) -> int:
    """The output size TFLite derives from padding, for checking the model's declared output shape."""
    eff = (filter_size - 1) * dilation + 1
    if padding == 0:
        return (in_size + stride - 1) // stride
    return max((in_size - eff + stride) // stride, 0)


def quantize_multiplier_smaller_than_one_exp(real: float) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp (ADD/SUB): like quantize_multiplier, for 0 < real < 1, shift <= 0.

    Raises ValueError where TFLM's TFLITE_CHECKs would abort.
    """
    if not 0.0 < real < 1.0:
        raise ValueError(f"multiplier {real!r} must be in (0, 1)")
    m, shift = quantize_multiplier(real)
    if shift > 0:
        raise ValueError(f"multiplier {real!r} rounds to 1.0 (shift {shift})")
    return m, shift


def quantize_multiplier_greater_than_one(real: float) -> tuple[int, int]:
    """QuantizeMultiplierGreaterThanOne (SOFTMAX): for real > 1, shift >= 0; ValueError otherwise."""
    if not real > 1.0:
        raise ValueError(f"multiplier {real!r} must be greater than 1")
    return quantize_multiplier(real, max_left_shift=31)  # softmax caps real below 2^31: shift <= 31


def calculate_input_radius(input_integer_bits: int, input_left_shift: int, total_signed_bits: int = 31) -> int:
    """CalculateInputRadius: the largest input difference whose rescaled value still fits the fixed-point format."""
    max_input_rescaled = (1.0 * ((1 << input_integer_bits) - 1) * (1 << (total_signed_bits - input_integer_bits))
                          / (1 << input_left_shift))
    return math.floor(max_input_rescaled)


def activation_range_int32(activation: int) -> tuple[int, int]:
    """CalculateActivationRange for int32 outputs (SUB, MUL, DIV): RELU [0, max], RELU6 [0, 6], RELU_N1_TO_1 [-1, 1]."""
    lo, hi = INT_RANGES[np.dtype("<i4")]
    return {ACT_RELU: (0, hi), ACT_RELU6: (0, 6), ACT_RELU_N1_TO_1: (-1, 1)}.get(activation, (lo, hi))


def float_to_quantized(value: float, scale: float, zero_point: int, dtype: np.dtype) -> int:
    """FloatToQuantizedType (micro_utils.h): round(float32 value / scale) + zero point, clamped to the type.

    The sum is converted to int32 the way x86 does it: out of range gives INT32_MIN.
    """
    total = tflite_round(float(np.float32(value) / np.float32(scale))) + zero_point
    lo32, hi32 = INT_RANGES[np.dtype("<i4")]
    if not lo32 <= total <= hi32:
        total = lo32
    lo, hi = INT_RANGES[np.dtype(dtype)]
    return min(max(total, lo), hi)


def checked_log2(x: float) -> int | None:
    """CheckedLog2: the rounded log2 of x when it is within 1e-3 of an integer (float32 math), else None."""
    with np.errstate(divide="ignore", invalid="ignore"):
        x_log2 = float(np.float32(np.log(np.float32(x))) * np.float32(np.float32(1.0) / np.log(np.float32(2.0))))
    if not math.isfinite(x_log2):
        return None
    rounded = tflite_round(x_log2)
    return rounded if abs(x_log2 - rounded) < 1e-3 else None
