# cython: language_level=3
"""TFLM's fixed-point primitives (gemmlowp semantics), defined once and inlined into every kernel.

See spec/int8-kernels.md §1: SRDHM rounds half toward +inf, RDBPOT half away from zero, and TFLM
always uses the double-rounding MultiplyByQuantizedMultiplier.
"""
cimport cython
from libc.stdint cimport int16_t, int32_t, int64_t, int8_t, uint32_t

cdef extern from *:
    int __builtin_clz(unsigned int x) nogil

ctypedef fused quantized_t:
    int8_t
    int16_t


@cython.cdivision(True)
cdef inline int32_t srdhm(int32_t a, int32_t b) noexcept nogil:
    """SaturatingRoundingDoublingHighMul."""
    if a == b and a == -2147483648:
        return 2147483647
    cdef int64_t ab = <int64_t>a * <int64_t>b
    cdef int64_t nudge = (1 << 30) if ab >= 0 else (1 - (1 << 30))
    return <int32_t>((ab + nudge) / (<int64_t>1 << 31))


cdef inline int32_t rdbpot(int32_t x, int exponent) noexcept nogil:
    """RoundingDivideByPOT: arithmetic shift right, ties away from zero."""
    cdef int32_t mask = <int32_t>((<int64_t>1 << exponent) - 1)
    cdef int32_t remainder = x & mask
    cdef int32_t threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


cdef inline int32_t mbqm(int32_t x, int32_t multiplier, int shift) noexcept nogil:
    """MultiplyByQuantizedMultiplier, double rounding (the left shift wraps like TFLM's int32 multiply)."""
    cdef int left = shift if shift > 0 else 0
    cdef int right = -shift if shift < 0 else 0
    return rdbpot(srdhm(<int32_t>(<uint32_t>x << left), multiplier), right)


cdef inline int32_t mbqm_int64(int64_t x, int32_t multiplier, int shift) noexcept nogil:
    """The int64-input overload (16x8 kernels): a single rounding with a 16-bit multiplier."""
    cdef int64_t m16 = 0x7FFF if multiplier >= 0x7FFF0000 else ((<int64_t>multiplier + (1 << 15)) >> 16)
    cdef int total_shift = 15 - shift
    cdef int64_t rounded = (x * m16 + (<int64_t>1 << (total_shift - 1))) >> total_shift
    return <int32_t>rounded


cdef inline int count_leading_zeros(uint32_t x) noexcept nogil:
    """TFLM's CountLeadingZeros: the type's width for 0 (__builtin_clz(0) is undefined)."""
    return 32 if x == 0 else __builtin_clz(x)


cdef inline int32_t clamp32(int32_t v, int32_t lo, int32_t hi) noexcept nogil:
    return lo if v < lo else (hi if v > hi else v)


# int16 variants (gemmlowp's int16 overloads and TFLM's reference/hard_swish.h helpers): same rounding
# rules, computed in int16 exactly as the templates instantiate them.

@cython.cdivision(True)
cdef inline int16_t srdhm16(int16_t a, int16_t b) noexcept nogil:
    """SaturatingRoundingDoublingHighMul on int16: ties toward +inf."""
    if a == b and a == -32768:
        return 32767
    cdef int32_t ab = <int32_t>a * <int32_t>b
    cdef int32_t nudge = (1 << 14) if ab >= 0 else (1 - (1 << 14))
    return <int16_t>((ab + nudge) / (1 << 15))


@cython.cdivision(True)
cdef inline int16_t sdhm16(int16_t a, int16_t b) noexcept nogil:
    """SaturatingDoublingHighMul on int16: like srdhm16 but truncating toward zero (no nudge)."""
    if a == b and a == -32768:
        return 32767
    return <int16_t>((<int32_t>a * <int32_t>b) / (1 << 15))


cdef inline int16_t rdbpot16(int16_t x, int exponent) noexcept nogil:
    """RoundingDivideByPOT on int16 (exponent 0..31): the mask is truncated to int16 as in gemmlowp."""
    cdef int16_t mask = <int16_t>((<int64_t>1 << exponent) - 1)
    cdef int16_t remainder = x & mask
    cdef int16_t threshold = <int16_t>((mask >> 1) + (1 if x < 0 else 0))
    return <int16_t>((x >> exponent) + (1 if remainder > threshold else 0))


cdef inline int16_t saturating_left_shift16(int16_t x, int amount) noexcept nogil:
    """x * 2^amount clamped to int16 (reference_ops::SaturatingLeftShift)."""
    cdef int64_t shifted = <int64_t>x * (<int64_t>1 << amount)
    return <int16_t>(-32768 if shifted < -32768 else (32767 if shifted > 32767 else shifted))
