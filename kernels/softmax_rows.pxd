# cython: language_level=3
"""One row of TFLM's int8-input and float32 SOFTMAX (reference/softmax.h), shared by softmax.pyx and the
compiled steps. int8: gemmlowp fixed point throughout (no LUT, no float exp): differences to the row
maximum are scaled to Q5.26, exponentiated to Q0.31, summed in Q12.19 with wrapping int32 adds, and
multiplied by the fixed-point reciprocal of the sum. float32: exp((x - max) * beta) in float32, summed in
order, then divided."""
from libc.float cimport FLT_MAX
from libc.math cimport expf
from libc.stdint cimport int8_t, int16_t, int32_t, uint32_t

from fixedpoint cimport rdbpot, srdhm
from gemmlowp cimport exp_on_negative_values, one_over_one_plus_x_for_x_in_0_1, wrapping_add

cdef extern from *:
    int __builtin_clz(unsigned int x) nogil

ctypedef fused softmax_out_t:
    int8_t
    int16_t

# Integer bits of the scaled input difference (Q5.26) and of the sum of exponentials (Q12.19).
cdef enum:
    SCALED_DIFF_INTEGER_BITS = 5
    ACCUMULATION_INTEGER_BITS = 12


cdef inline int count_leading_zeros(uint32_t x) noexcept nogil:
    # TFLM's CountLeadingZeros returns the type's width for 0 (__builtin_clz(0) is undefined).
    return 32 if x == 0 else __builtin_clz(x)


cdef inline int32_t _scaled_exp(int32_t input_diff, int32_t multiplier, int left_shift) noexcept nogil:
    # MultiplyByQuantizedMultiplierGreaterThanOne (the left shift is an int32 multiply), then exp in Q0.31.
    return exp_on_negative_values(srdhm(<int32_t>(<uint32_t>input_diff << left_shift), multiplier),
                                  SCALED_DIFF_INTEGER_BITS)


cdef inline bint softmax_row(const int8_t* x, softmax_out_t* out, Py_ssize_t depth, int32_t input_multiplier,
                             int input_left_shift, int32_t diff_min) noexcept nogil:
    """Softmax of one row; False (row left unwritten) where TFLM aborts: the reciprocal's exponent leaves
    [0, 31], i.e. the sum of exponentials reaches 2^28 (e.g. 512 equal maxima) or wraps."""
    cdef int32_t out_min = -128 if softmax_out_t is int8_t else -32768
    cdef int32_t out_max = 127 if softmax_out_t is int8_t else 32767
    cdef int out_bits = 8 if softmax_out_t is int8_t else 16
    cdef int32_t max_in_row = -128, input_diff, sum_of_exps = 0, shifted_scale, shifted_sum_minus_one, value
    cdef int headroom_plus_one, num_bits_over_unit, exponent
    cdef Py_ssize_t c
    for c in range(depth):
        if x[c] > max_in_row:
            max_in_row = x[c]
    for c in range(depth):
        input_diff = x[c] - max_in_row
        if input_diff >= diff_min:
            # Rescale<12>: Q0.31 -> Q12.19 is a rounding right shift by the 12 integer bits.
            sum_of_exps = wrapping_add(sum_of_exps, rdbpot(
                _scaled_exp(input_diff, input_multiplier, input_left_shift), ACCUMULATION_INTEGER_BITS))
    # GetReciprocal: normalise the sum to [1, 2), drop the leading 1, take 1 / (1 + x).
    headroom_plus_one = count_leading_zeros(<uint32_t>sum_of_exps)
    num_bits_over_unit = ACCUMULATION_INTEGER_BITS - headroom_plus_one
    shifted_sum_minus_one = <int32_t>(
        (<uint32_t>sum_of_exps << headroom_plus_one if headroom_plus_one < 32 else 0) - (<uint32_t>1 << 31))
    shifted_scale = one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one)
    exponent = num_bits_over_unit + 31 - out_bits
    if exponent < 0 or exponent > 31:
        return False
    for c in range(depth):
        input_diff = x[c] - max_in_row
        if input_diff >= diff_min:
            value = rdbpot(srdhm(shifted_scale, _scaled_exp(input_diff, input_multiplier, input_left_shift)),
                           exponent) + out_min
            out[c] = <softmax_out_t>(out_min if value < out_min else (out_max if value > out_max else value))
        else:
            out[c] = <softmax_out_t>out_min
    return True


cdef inline void softmax_float_row(const float* x, float* out, Py_ssize_t depth, float beta) noexcept nogil:
    """Float softmax of one row (an output over its input is fine: each element is read before it is written)."""
    cdef float max_in_row = -FLT_MAX, total = 0.0, e
    cdef Py_ssize_t c
    for c in range(depth):
        # std::max(max, v): keeps max unless max < v (a NaN never replaces it).
        if max_in_row < x[c]:
            max_in_row = x[c]
    for c in range(depth):
        e = expf((x[c] - max_in_row) * beta)
        out[c] = e
        total = total + e
    for c in range(depth):
        out[c] = out[c] / total
