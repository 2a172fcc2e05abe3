# cython: language_level=3
"""L2_NORMALIZATION over the last axis (TFLM reference/l2normalization.h and integer_ops/l2normalization.h),
rows given as 2-D [rows, depth] views.

int8: the int32 sum of squared (q - zp) gives a fixed-point 1/sqrt multiplier (GetInvSqrtQuantizedMultiplierExp:
5 Newton-Raphson steps in gemmlowp Q3.28), and each (q - zp) is requantized to the fixed 1/128 output scale.
float32: float32 sum of squares in order, sqrtf, at least 1e-6, then a float32 division.
"""
from libc.math cimport sqrtf
from libc.stdint cimport int8_t, int32_t, uint32_t

from fixedpoint cimport mbqm, rdbpot, srdhm
from gemmlowp cimport saturating_shift_left, wrapping_sub

cdef extern from *:
    int __builtin_clz(unsigned int x) nogil

# Output scale 1/128: requantization shift on top of the inverse square root's.
cdef enum:
    OUTPUT_SCALE_BITS = 7


cdef inline void inv_sqrt_multiplier(int32_t input, int32_t* multiplier, int* shift) noexcept nogil:
    """GetInvSqrtQuantizedMultiplierExp with reverse_shift -1: 1/sqrt(input) ~= multiplier * 2^(shift - 31)."""
    if input <= 1:
        # 0 and 1 both map to 1.0, which avoids dividing by zero.
        multiplier[0] = 2147483647
        shift[0] = 0
        return
    cdef int exponent = 11
    while input >= (1 << 29):
        input = input // 4
        exponent += 1
    # Normalise the input to [2^27, 2^29) by an even shift, keeping its square root exact.
    cdef unsigned left_shift_bit_pairs = <unsigned>(__builtin_clz(<uint32_t>input) - 1) // 2 - 1
    exponent -= <int>left_shift_bit_pairs
    input = input << (2 * left_shift_bit_pairs)
    # Newton-Raphson in Q3.28: x <- 1.5 x - (input / 2) x^3, from x = 1. Products of Q3.28 values are
    # Q6.25 (x^3: Q9.22); Rescale<3> shifts them back left with saturation.
    cdef int32_t half_input = rdbpot(input >> 1, 1)
    cdef int32_t half_three = (1 << 28) + (1 << 27)
    cdef int32_t x = 1 << 28
    cdef int32_t x3
    cdef int i
    for i in range(5):
        x3 = saturating_shift_left(srdhm(srdhm(x, x), x), 6)
        x = saturating_shift_left(wrapping_sub(srdhm(half_three, x), srdhm(half_input, x3)), 3)
    x = srdhm(x, 1518500250)  # times sqrt(2) / 2 in Q0.31
    if exponent < 0:
        x = <int32_t>(<uint32_t>x << -exponent)
        exponent = 0
    multiplier[0] = x
    shift[0] = -exponent


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
