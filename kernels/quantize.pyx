# cython: language_level=3
"""QUANTIZE (float -> int, int -> int requantize) and DEQUANTIZE (int -> float), elementwise on flat views.

TFLM reference/quantize.h, requantize.h and dequantize.h: float32 division and roundf (half away from
zero) to quantize, the double-rounding MultiplyByQuantizedMultiplier to requantize, and one rounding of
double(scale) * (q - zp) to float32 to dequantize.
"""
from libc.math cimport roundf
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint32_t

from fixedpoint cimport clamp32, mbqm, mbqm_int64

ctypedef fused quantized_out_t:
    int8_t
    int16_t

# Requantize reads and writes any of TFLM's integer types (which pairs are valid is the op's business).
ctypedef fused integer_in_t:
    int8_t
    uint8_t
    int16_t
    int32_t

# DEQUANTIZE inputs.
ctypedef fused dequantized_t:
    int8_t
    uint8_t
    int16_t

ctypedef fused integer_out_t:
    int8_t
    uint8_t
    int16_t
    int32_t


cdef inline int32_t _float_to_int32(float r) noexcept nogil:
    # static_cast<int32_t>(float) as x86 executes it (cvttss2si): NaN and out-of-range give INT32_MIN.
    if r >= 2147483648.0 or not (r >= -2147483648.0):
        return -2147483647 - 1
    return <int32_t>r


def quantize_float(const float[::1] x, quantized_out_t[::1] out, float scale, int32_t zero_point) -> None:
    """q = clamp(int32(roundf(v / scale)) + zero_point) to the output type's range."""
    if x.shape[0] != out.shape[0]:
        raise ValueError(f"quantize: input has {x.shape[0]} elements, output {out.shape[0]}")
    cdef int32_t lo = -128 if quantized_out_t is int8_t else -32768
    cdef int32_t hi = 127 if quantized_out_t is int8_t else 32767
    cdef Py_ssize_t i
    cdef int32_t q
    with nogil:
        for i in range(x.shape[0]):
            # The zero-point add wraps like TFLM's int32 add (it only matters for INT32_MIN above).
            q = <int32_t>(<uint32_t>_float_to_int32(roundf(x[i] / scale)) + <uint32_t>zero_point)
            out[i] = <quantized_out_t>clamp32(q, lo, hi)


def requantize(const integer_in_t[::1] x, integer_out_t[::1] out, int32_t multiplier, int shift,
               int32_t input_zero_point, int32_t output_zero_point) -> None:
    """out = clamp(MBQM(q - input_zero_point, multiplier, shift) + output_zero_point) to the output type.

    The zero-point subtraction and addition are int32 operations that wrap, as in TFLM (they only can
    for int32 tensors); an int32 output needs no clamp.
    """
    if x.shape[0] != out.shape[0]:
        raise ValueError(f"requantize: input has {x.shape[0]} elements, output {out.shape[0]}")
    cdef int32_t lo, hi
    if integer_out_t is int8_t:
        lo, hi = -128, 127
    elif integer_out_t is uint8_t:
        lo, hi = 0, 255
    elif integer_out_t is int16_t:
        lo, hi = -32768, 32767
    else:
        lo, hi = -2147483647 - 1, 2147483647
    cdef Py_ssize_t i
    cdef int32_t centred, scaled
    with nogil:
        for i in range(x.shape[0]):
            centred = <int32_t>(<uint32_t><int32_t>x[i] - <uint32_t>input_zero_point)
            scaled = <int32_t>(<uint32_t>mbqm(centred, multiplier, shift) + <uint32_t>output_zero_point)
            out[i] = <integer_out_t>clamp32(scaled, lo, hi)


def dequantize(const dequantized_t[::1] x, float[::1] out, double scale, int32_t zero_point) -> None:
    """out = float32(scale * (q - zero_point)) with the product in double."""
    if x.shape[0] != out.shape[0]:
        raise ValueError(f"dequantize: input has {x.shape[0]} elements, output {out.shape[0]}")
    cdef Py_ssize_t i
    with nogil:
        for i in range(x.shape[0]):
            out[i] = <float>(scale * <double>(x[i] - zero_point))


def requantize_int64(const int64_t[::1] x, int16_t[::1] out, int32_t multiplier, int shift,
                     int32_t output_zero_point) -> None:
    """out = clamp(MBQM(x, multiplier, shift) + output_zero_point) to int16, with TFLM's int64-input MBQM
    (a 16-bit multiplier and one rounding): the output stage of int16 kernels that accumulate in int64."""
    if x.shape[0] != out.shape[0]:
        raise ValueError(f"requantize_int64: input has {x.shape[0]} elements, output {out.shape[0]}")
    if not -31 <= shift <= 14:
        raise ValueError(f"requantize_int64: shift {shift} outside [-31, 14]")
    cdef Py_ssize_t i
    with nogil:
        for i in range(x.shape[0]):
            out[i] = <int16_t>clamp32(mbqm_int64(x[i], multiplier, shift) + output_zero_point, -32768, 32767)
