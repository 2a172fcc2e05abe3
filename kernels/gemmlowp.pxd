# cython: language_level=3
"""gemmlowp's scalar int32 fixed-point functions (fixedpoint/fixedpoint.h), ported operation for operation.

A value with `integer_bits` integer bits is a raw int32 x meaning x / 2^(31 - integer_bits). gemmlowp's
`+` and `-` on raw values wrap (two's complement); only SaturatingRoundingMultiplyByPOT with a positive
exponent saturates. Products are SRDHM (fixedpoint.pxd). SOFTMAX uses these with 5 integer bits;
LOGISTIC/TANH-style callers pass their own count. Inlined, so the integer-bit arguments fold to constants.
"""
cimport cython
from libc.stdint cimport int32_t, int64_t, uint32_t

from fixedpoint cimport rdbpot, srdhm

cdef extern from *:
    int __builtin_clz(unsigned int x) nogil


cdef inline int32_t wrapping_add(int32_t a, int32_t b) noexcept nogil:
    return <int32_t>(<uint32_t>a + <uint32_t>b)


cdef inline int32_t wrapping_sub(int32_t a, int32_t b) noexcept nogil:
    return <int32_t>(<uint32_t>a - <uint32_t>b)


cdef inline int32_t saturating_shift_left(int32_t x, int exponent) noexcept nogil:
    """SaturatingRoundingMultiplyByPOT<exponent> for exponent >= 0: x * 2^exponent clamped to int32."""
    if exponent == 0:
        return x
    cdef int32_t threshold = <int32_t>((<int64_t>1 << (31 - exponent)) - 1)
    if x > threshold:
        return 2147483647
    if x < -threshold:
        return -2147483647 - 1
    return <int32_t>(<uint32_t>x << exponent)


@cython.cdivision(True)
cdef inline int32_t rounding_half_sum(int32_t a, int32_t b) noexcept nogil:
    """(a + b) / 2 in int64, nudged by the sign of the sum, then truncated (C division)."""
    cdef int64_t total = <int64_t>a + <int64_t>b
    cdef int64_t sign = 1 if total >= 0 else -1
    return <int32_t>((total + sign) / 2)


cdef inline int32_t exp_on_interval_between_negative_one_quarter_and_0_excl(int32_t a) noexcept nogil:
    """exp(a) for a in [-1/4, 0), Q0.31 in and out: Taylor expansion around -1/8."""
    cdef int32_t constant_term = 1895147668       # exp(-1/8)
    cdef int32_t constant_1_over_3 = 715827883
    cdef int32_t x = wrapping_add(a, 1 << 28)     # a + 1/8
    cdef int32_t x2 = srdhm(x, x)
    cdef int32_t x3 = srdhm(x2, x)
    cdef int32_t x4 = srdhm(x2, x2)
    cdef int32_t x4_over_4 = rdbpot(x4, 2)
    cdef int32_t x4_over_24_plus_x3_over_6_plus_x2_over_2 = rdbpot(
        wrapping_add(srdhm(wrapping_add(x4_over_4, x3), constant_1_over_3), x2), 1)
    return wrapping_add(constant_term,
                        srdhm(constant_term, wrapping_add(x, x4_over_24_plus_x3_over_6_plus_x2_over_2)))


cdef inline int32_t _barrel_step(int32_t result, int32_t remainder, int integer_bits, int exponent,
                                 int32_t multiplier) noexcept nogil:
    # One GEMMLOWP_EXP_BARREL_SHIFTER line: multiply by exp(-2^exponent) if that bit of the remainder is set.
    if integer_bits > exponent and (remainder & (<int32_t>1 << (31 - integer_bits + exponent))) != 0:
        return srdhm(result, multiplier)
    return result


cdef inline int32_t exp_on_negative_values(int32_t a, int integer_bits) noexcept nogil:
    """exp(a) for a <= 0 with `integer_bits` integer bits, result Q0.31 (exp(0) = INT32_MAX)."""
    cdef int fractional_bits = 31 - integer_bits
    cdef int32_t one_quarter = <int32_t>1 << (fractional_bits - 2)
    cdef int32_t mask = one_quarter - 1
    cdef int32_t a_mod_quarter_minus_one_quarter = wrapping_sub(a & mask, one_quarter)
    cdef int32_t result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        saturating_shift_left(a_mod_quarter_minus_one_quarter, integer_bits))
    cdef int32_t remainder = wrapping_sub(a_mod_quarter_minus_one_quarter, a)
    result = _barrel_step(result, remainder, integer_bits, -2, 1672461947)  # exp(-1/4)
    result = _barrel_step(result, remainder, integer_bits, -1, 1302514674)  # exp(-1/2)
    result = _barrel_step(result, remainder, integer_bits, 0, 790015084)    # exp(-1)
    result = _barrel_step(result, remainder, integer_bits, 1, 290630308)    # exp(-2)
    result = _barrel_step(result, remainder, integer_bits, 2, 39332535)     # exp(-4)
    result = _barrel_step(result, remainder, integer_bits, 3, 720401)       # exp(-8)
    result = _barrel_step(result, remainder, integer_bits, 4, 242)          # exp(-16)
    # gemmlowp clamps below -32 only when the format can hold it (more than 5 integer bits).
    if integer_bits > 5 and a < -(<int32_t>1 << (36 - integer_bits)):
        result = 0
    if a == 0:
        result = 2147483647
    return result


cdef inline int32_t _reciprocal_of_half_denominator(int32_t a) noexcept nogil:
    """The Newton-Raphson part of gemmlowp's one_over_one_plus_x_for_x_in_0_1 and
    one_minus_x_over_one_plus_x_for_x_in_0_1: x ~= 1 / ((1 + a) / 2) in Q2.29 for a in [0, 1) in Q0.31,
    from 48/17 - 32/17 * d, 3 steps."""
    cdef int32_t half_denominator = rounding_half_sum(a, 2147483647)
    cdef int32_t x = wrapping_add(1515870810, srdhm(half_denominator, -1010580540))  # Q2.29
    cdef int32_t one_minus_half_denominator_times_x
    cdef int i
    for i in range(3):
        one_minus_half_denominator_times_x = wrapping_sub(1 << 29, srdhm(half_denominator, x))
        x = wrapping_add(x, saturating_shift_left(srdhm(x, one_minus_half_denominator_times_x), 2))
    return x


cdef inline int32_t one_over_one_plus_x_for_x_in_0_1(int32_t a) noexcept nogil:
    """1 / (1 + a) for a in [0, 1), Q0.31 in and out: Newton-Raphson from 48/17 - 32/17 * d, 3 steps."""
    return saturating_shift_left(_reciprocal_of_half_denominator(a), 1)


cdef inline int32_t one_minus_x_over_one_plus_x_for_x_in_0_1(int32_t a) noexcept nogil:
    """(1 - a) / (1 + a) for a in [0, 1), Q0.31 in and out: the Newton-Raphson steps of
    one_over_one_plus_x_for_x_in_0_1, then Rescale<0>(x - 1) instead of a halving."""
    return saturating_shift_left(wrapping_sub(_reciprocal_of_half_denominator(a), 1 << 29), 2)


cdef inline int32_t logistic(int32_t a, int integer_bits) noexcept nogil:
    """gemmlowp::logistic: 1 / (1 + exp(-a)) for a with `integer_bits` integer bits, result Q0.31."""
    if a == 0:
        return 1 << 30
    cdef int32_t magnitude = a if a > 0 else -a
    cdef int32_t positive = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(-magnitude, integer_bits))
    return positive if a > 0 else wrapping_sub(2147483647, positive)


cdef inline int32_t tanh(int32_t a, int integer_bits) noexcept nogil:
    """gemmlowp::tanh for a with `integer_bits` integer bits, result Q0.31: (1 - e^-2|a|) / (1 + e^-2|a|)
    (ExactMulByPot<1> only relabels the raw value with one more integer bit)."""
    if a == 0:
        return 0
    cdef int32_t negative_magnitude = a if a < 0 else -a
    cdef int32_t t = one_minus_x_over_one_plus_x_for_x_in_0_1(
        exp_on_negative_values(negative_magnitude, integer_bits + 1))
    return -t if a < 0 else t


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
