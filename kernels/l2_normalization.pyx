# cython: language_level=3
"""L2_NORMALIZATION over the last axis (TFLM reference/l2normalization.h and integer_ops/l2normalization.h),
rows given as 2-D [rows, depth] views.

int8: the int32 sum of squared (q - zp) gives a fixed-point 1/sqrt multiplier (GetInvSqrtQuantizedMultiplierExp:
5 Newton-Raphson steps in gemmlowp Q3.28), and each (q - zp) is requantized to the fixed 1/128 output scale.
float32: float32 sum of squares in order, sqrtf, at least 1e-6, then a float32 division.
"""
from libc.math cimport sqrtf
from libc.stdint cimport int8_t, int32_t

from fixedpoint cimport mbqm
from gemmlowp cimport inv_sqrt_multiplier

# Output scale 1/128: requantization shift on top of the inverse square root's.
cdef enum:
    OUTPUT_SCALE_BITS = 7


def l2_normalization_int8(const int8_t[:, ::1] x, int8_t[:, ::1] out, int32_t input_zero_point) -> None:
    """Each row divided by its L2 norm, int8 with output scale 1/128 and zero point 0."""
    if x.shape[0] != out.shape[0] or x.shape[1] != out.shape[1]:
        raise ValueError(f"l2_normalization: input {x.shape[0]}x{x.shape[1]} vs output {out.shape[0]}x{out.shape[1]}")
    cdef Py_ssize_t i, c
    cdef int32_t acc, centred, multiplier, scaled
    cdef int shift
    with nogil:
        for i in range(x.shape[0]):
            acc = 0
            for c in range(x.shape[1]):
                centred = x[i, c] - input_zero_point
                acc += centred * centred
            inv_sqrt_multiplier(acc, &multiplier, &shift)
            for c in range(x.shape[1]):
                scaled = mbqm(x[i, c] - input_zero_point, multiplier, shift + OUTPUT_SCALE_BITS)
                out[i, c] = <int8_t>(-128 if scaled < -128 else (127 if scaled > 127 else scaled))


def l2_normalization_float(const float[:, ::1] x, float[:, ::1] out) -> None:
    """Each row divided by max(sqrt(sum of squares), 1e-6), all in float32."""
    if x.shape[0] != out.shape[0] or x.shape[1] != out.shape[1]:
        raise ValueError(f"l2_normalization: input {x.shape[0]}x{x.shape[1]} vs output {out.shape[0]}x{out.shape[1]}")
    cdef float epsilon = 1e-6
    cdef float squared, norm
    cdef Py_ssize_t i, c
    with nogil:
        for i in range(x.shape[0]):
            squared = 0
            for c in range(x.shape[1]):
                squared = squared + x[i, c] * x[i, c]
            norm = sqrtf(squared)
            # std::max(norm, epsilon) keeps norm unless norm < epsilon (a NaN stays).
            if norm < epsilon:
                norm = epsilon
            for c in range(x.shape[1]):
                out[i, c] = x[i, c] / norm
