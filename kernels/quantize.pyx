# cython: language_level=3
"""QUANTIZE (float -> int, int -> int requantize) and DEQUANTIZE (int -> float), elementwise on flat views.

TFLM reference/quantize.h, requantize.h and dequantize.h: float32 division and roundf (half away from
zero) to quantize, the double-rounding MultiplyByQuantizedMultiplier to requantize, and one rounding of
double(scale) * (q - zp) to float32 to dequantize.
"""
from libc.math cimport roundf
from libc.stdint cimport int8_t, int16_t, int32_t, uint32_t

from fixedpoint cimport clamp32, mbqm, quantized_t

ctypedef fused quantized_out_t:
    int8_t
    int16_t


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


def requantize(const quantized_t[::1] x, quantized_out_t[::1] out, int32_t multiplier, int shift,
               int32_t input_zero_point, int32_t output_zero_point) -> None:
    """out = clamp(MBQM(q - input_zero_point, multiplier, shift) + output_zero_point) to the output type."""
    if x.shape[0] != out.shape[0]:
        raise ValueError(f"requantize: input has {x.shape[0]} elements, output {out.shape[0]}")
    cdef int32_t lo = -128 if quantized_out_t is int8_t else -32768
    cdef int32_t hi = 127 if quantized_out_t is int8_t else 32767
    cdef Py_ssize_t i
    with nogil:
        for i in range(x.shape[0]):
            out[i] = <quantized_out_t>clamp32(
                mbqm(x[i] - input_zero_point, multiplier, shift) + output_zero_point, lo, hi)


def dequantize(const quantized_t[::1] x, float[::1] out, double scale, int32_t zero_point) -> None:
    """out = float32(scale * (q - zero_point)) with the product in double."""
    if x.shape[0] != out.shape[0]:
        raise ValueError(f"dequantize: input has {x.shape[0]} elements, output {out.shape[0]}")
    cdef Py_ssize_t i
    with nogil:
        for i in range(x.shape[0]):
            out[i] = <float>(scale * <double>(x[i] - zero_point))
