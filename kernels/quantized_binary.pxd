# cython: language_level=3
"""The parameters of the binary elementwise kernels and TFLM's quantized input rescale and ADD/SUB
arithmetic, shared by the broadcast template (elementwise.pyx) and the compiled int8 ADD/SUB step
(steps.pyx), whose scalar tail must give the template's bits.
"""
from libc.stdint cimport int32_t, uint32_t

from fixedpoint cimport rdbpot, srdhm
from gemmlowp cimport wrapping_add, wrapping_sub


cdef struct Params:
    # TFLM's ArithmeticParams / ComparisonParams: offsets are the negated input zero points and the output
    # zero point. Each op module documents how it fills the multipliers (PRELU reuses input1_* for its
    # identity multiplier and output_* for the alpha product).
    int32_t input1_offset
    int32_t input2_offset
    int32_t output_offset
    int left_shift
    int32_t input1_multiplier
    int input1_shift
    int32_t input2_multiplier
    int input2_shift
    int32_t output_multiplier
    int output_shift
    # Clamp range of integer outputs (the fused activation), and of float outputs (+-inf: no clamp).
    int32_t activation_min
    int32_t activation_max
    float float_min
    float float_max


cdef inline int32_t wrap_mul(int32_t a, int32_t b) noexcept nogil:
    return <int32_t>(<uint32_t>a * <uint32_t>b)


cdef inline int32_t rescaled(int32_t q, int32_t offset, int left_shift, int32_t multiplier, int shift) noexcept nogil:
    # ADD/SUB/SQUARED_DIFFERENCE/comparison input rescale: lift by 2^left_shift, then
    # MultiplyByQuantizedMultiplierSmallerThanOneExp = RDBPOT(SRDHM(x, m), -shift) with shift <= 0.
    return rdbpot(srdhm(wrap_mul(q + offset, <int32_t>1 << left_shift), multiplier), -shift)


cdef inline int32_t rescaled1(int32_t q, const Params* p) noexcept nogil:
    return rescaled(q, p.input1_offset, p.left_shift, p.input1_multiplier, p.input1_shift)


cdef inline int32_t rescaled2(int32_t q, const Params* p) noexcept nogil:
    return rescaled(q, p.input2_offset, p.left_shift, p.input2_multiplier, p.input2_shift)


cdef inline int32_t quantized_add_sub(int32_t x, int32_t y, bint subtract, const Params* p) noexcept nogil:
    """AddElementwise / SubElementwise of int8 and int16 before the output clamp."""
    cdef int32_t a = rescaled1(x, p), b = rescaled2(y, p)
    a = wrapping_sub(a, b) if subtract else wrapping_add(a, b)
    return wrapping_add(rdbpot(srdhm(a, p.output_multiplier), -p.output_shift), p.output_offset)
