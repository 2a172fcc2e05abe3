# cython: language_level=3
"""SOFTMAX over the last axis (TFLM reference/softmax.h), rows given as 2-D [rows, depth] views.

int8 input (int8 or int16 output): gemmlowp fixed point throughout (no LUT, no float exp): differences
to the row maximum are scaled to Q5.26, exponentiated to Q0.31, summed in Q12.19 with wrapping int32
adds, and multiplied by the fixed-point reciprocal of the sum. int16 (SoftmaxInt16): differences are
rescaled so [-65535, 0] spans [-10, 0], exponentiated through an interpolated 513-entry LUT, summed in
Q16.15, and multiplied by a LUT reciprocal. Float32 runs as a compiled step (softmax_rows.pxd).
"""
from libc.float cimport FLT_MAX
from libc.math cimport expf, logf, roundf
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint32_t

from fixedpoint cimport clamp32, mbqm, rdbpot, srdhm
from gemmlowp cimport (one_over_one_plus_x_for_x_in_0_1, rounding_half_sum, saturating_shift_left, wrapping_add,
                      wrapping_sub)
from softmax_rows cimport (ACCUMULATION_INTEGER_BITS, SCALED_DIFF_INTEGER_BITS, _scaled_exp, count_leading_zeros,
                           softmax_out_t, softmax_row)


def softmax_quantized(const int8_t[:, ::1] x, softmax_out_t[:, ::1] out, int32_t input_multiplier,
                      int input_left_shift, int32_t diff_min) -> int:
    """Quantized softmax of each row; returns -1, or the first row where TFLM's exponent check fails.

    TFLM aborts (TFLITE_CHECK) when the reciprocal's exponent leaves [0, 31], which happens when a row's
    sum of exponentials reaches 2^28 (e.g. 512 equal maxima) or wraps; such rows are left unwritten.
    """
    if x.shape[0] != out.shape[0] or x.shape[1] != out.shape[1]:
        raise ValueError(f"softmax: input rows {x.shape[0]}x{x.shape[1]} vs output {out.shape[0]}x{out.shape[1]}")
    if not 0 <= input_left_shift <= 31:
        raise ValueError(f"softmax: input_left_shift {input_left_shift} outside [0, 31]")
    cdef Py_ssize_t rows = x.shape[0], depth = x.shape[1], i
    cdef Py_ssize_t failed_row = -1
    with nogil:
        for i in range(rows):
            if not softmax_row(&x[i, 0], &out[i, 0], depth, input_multiplier, input_left_shift, diff_min):
                failed_row = i
                break
    return failed_row


# The functions TFLM tabulates for SoftmaxInt16, in float32 like its lambdas (std::exp(float) is expf).
cdef enum LutFunction:
    LUT_EXP = 0
    LUT_ONE_OVER_ONE_PLUS_X = 1

INT16_LUT_SIZE = 513


cdef inline float _lut_function(int function, float value) noexcept nogil:
    cdef float one = 1.0
    if function == LUT_EXP:
        return expf(value)
    return one / (one + value)


def populate_int16_lut(int function, float input_scale, int32_t input_zero_point, float output_scale,
                       int32_t output_zero_point, int16_t[::1] lut) -> None:
    """LUTPopulate<int16_t> (kernels/internal/common.h) in float32: 512 samples of the function over the
    int16 input range, each biased by half the interpolation error at its midpoint, plus the last value.

    function: 0 = exp, 1 = 1 / (1 + x).
    """
    if lut.shape[0] != INT16_LUT_SIZE:
        raise ValueError(f"int16 LUT needs {INT16_LUT_SIZE} entries, got {lut.shape[0]}")
    cdef float input_min = input_scale * <float>(-32768 - input_zero_point)
    cdef float input_max = input_scale * <float>(32767 - input_zero_point)
    cdef float output_min = output_scale * <float>(-32768 - output_zero_point)
    cdef float output_max = output_scale * <float>(32767 - output_zero_point)
    cdef int steps = 512
    cdef float two = 2.0
    cdef float step = (input_max - input_min) / <float>steps
    cdef float half_step = step / two
    cdef float scaling_inv = <float>65536 / (output_max - output_min)
    cdef float table_min = -32768.0, table_max = 32767.0
    cdef float value, midpoint, following, sample, interpolated, midpoint_sample, bias, entry
    cdef int i
    for i in range(steps):
        value = _lut_function(function, input_min + <float>i * step)
        midpoint = _lut_function(function, input_min + <float>i * step + half_step)
        following = _lut_function(function, input_min + <float>(i + 1) * step)
        sample = roundf(value * scaling_inv)
        interpolated = roundf((following * scaling_inv + roundf(value * scaling_inv)) / two)
        midpoint_sample = roundf(midpoint * scaling_inv)
        bias = roundf((interpolated - midpoint_sample) / two)
        entry = sample - bias
        entry = table_min if entry < table_min else entry
        lut[i] = <int16_t>(table_max if table_max < entry else entry)
    entry = roundf(_lut_function(function, input_max) * scaling_inv)
    entry = table_min if entry < table_min else entry
    lut[steps] = <int16_t>(table_max if table_max < entry else entry)


cdef inline int16_t _lut_lookup(int16_t value, const int16_t* lut) noexcept nogil:
    # LUTLookup: the top 9 bits index the table, the low 7 interpolate towards the next entry.
    cdef int index = 256 + (value >> 7)
    cdef int offset = value & 0x7f
    cdef int slope = <int16_t>(lut[index + 1] - lut[index])
    return <int16_t>(lut[index] + ((slope * offset + 64) >> 7))


def softmax_int16(const int16_t[:, ::1] x, int16_t[:, ::1] out, int32_t input_multiplier, int input_shift,
                  const int16_t[::1] exp_lut, const int16_t[::1] reciprocal_lut) -> None:
    """SoftmaxInt16 of each row. The exponentials are kept in the output row until the reciprocal of
    their sum is known, as TFLM does. Rows must be short enough for the Q16.15 sum to fit in int32."""
    if x.shape[0] != out.shape[0] or x.shape[1] != out.shape[1]:
        raise ValueError(f"softmax: input rows {x.shape[0]}x{x.shape[1]} vs output {out.shape[0]}x{out.shape[1]}")
    if exp_lut.shape[0] != INT16_LUT_SIZE or reciprocal_lut.shape[0] != INT16_LUT_SIZE:
        raise ValueError(f"softmax: int16 LUTs need {INT16_LUT_SIZE} entries")
    cdef Py_ssize_t rows = x.shape[0], depth = x.shape[1], i, c
    cdef int16_t max_in_row
    cdef int32_t sum_of_exps, shifted_sum, result
    cdef int16_t reciprocal
    cdef int headroom_plus_one, right_shift
    cdef int64_t rounding
    with nogil:
        for i in range(rows):
            max_in_row = -32768
            for c in range(depth):
                if max_in_row < x[i, c]:
                    max_in_row = x[i, c]
            sum_of_exps = 0
            for c in range(depth):
                # Rescaled difference recentred from [-65535, 0] to the LUT's symmetric int16 input.
                result = wrapping_add(mbqm(x[i, c] - max_in_row, input_multiplier, input_shift), 32767)
                out[i, c] = _lut_lookup(<int16_t>clamp32(result, -32768, 32767), &exp_lut[0])
                sum_of_exps = wrapping_add(sum_of_exps, out[i, c])
            # Normalise the Q16.15 sum to [1, 2) in Q1.15 (rounded), recentre sum - 1 for the 1/(1+x) LUT.
            headroom_plus_one = count_leading_zeros(<uint32_t>sum_of_exps)
            shifted_sum = <int32_t>((((<int64_t>sum_of_exps) << (headroom_plus_one - 1)) + (1 << 13)) >> 14)
            reciprocal = _lut_lookup(<int16_t>clamp32(shifted_sum - ((1 << 15) + (1 << 16)), -32768, 32767),
                                     &reciprocal_lut[0])
            right_shift = 31 - headroom_plus_one
            rounding = 1 << (right_shift - 1)
            for c in range(depth):
                result = <int32_t>((<int64_t>out[i, c] * reciprocal + rounding) >> right_shift)
                out[i, c] = <int16_t>clamp32(result, 0, 32767)


# LOG_SOFTMAX int8: output Q4 (scale 16/256, zero point 127); the log is computed with one more integer
# bit than the Q5.26 result it returns.
cdef enum:
    LOG_OUTPUT_INTEGER_BITS = 4
    LOG_ACCUM_INTEGER_BITS = SCALED_DIFF_INTEGER_BITS + 1


cdef inline int32_t _multiply_by_pot(int32_t x, int exponent) noexcept nogil:
    # SaturatingRoundingMultiplyByPOTParam: a saturating left shift, or a rounding right shift.
    return saturating_shift_left(x, exponent) if exponent >= 0 else rdbpot(x, -exponent)


cdef inline int32_t _saturate(int64_t x) noexcept nogil:
    return <int32_t>(2147483647 if x > 2147483647 else (-2147483648 if x < -2147483648 else x))


cdef inline int32_t _log_q5_of_q12(int32_t sum_of_exps) noexcept nogil:
    """TFLM's log_x_for_x_greater_than_or_equal_to_1<5>(x in Q12.19): ln x in Q5.26.

    Normalises x to r in [sqrt(1/2), 1) times a power of two (two candidate normalisations, the better
    kept), then ln r from a rational approximation around 2^-1/4; constants are TFLM's Q0.31 values.
    """
    cdef int32_t log_2 = 1488522236, sqrt_sqrt_half = 1805811301, sqrt_half = 1518500250
    cdef int32_t alpha_n = 117049297, alpha_d = 127690142, alpha_i = 1057819769, alpha_f = 638450708
    cdef int32_t shifted_quarter = rdbpot(536870912, LOG_ACCUM_INTEGER_BITS)
    cdef int input_bits = ACCUMULATION_INTEGER_BITS
    cdef int z_a_headroom_plus_1 = count_leading_zeros(<uint32_t>sum_of_exps)
    cdef int32_t r_a = _multiply_by_pot(srdhm(_multiply_by_pot(sum_of_exps, z_a_headroom_plus_1 - 1), sqrt_half), 1)
    cdef int32_t z_a_pow_2 = _saturate(<int64_t>_multiply_by_pot(input_bits - z_a_headroom_plus_1,
                                                                 31 - LOG_ACCUM_INTEGER_BITS) + shifted_quarter)
    cdef int z_b_headroom = count_leading_zeros(<uint32_t>srdhm(sum_of_exps, sqrt_half)) - 1
    cdef int32_t r_b = _multiply_by_pot(sum_of_exps, z_b_headroom)
    cdef int32_t z_b_pow_2 = _saturate(<int64_t>_multiply_by_pot(input_bits - z_b_headroom,
                                                                 31 - LOG_ACCUM_INTEGER_BITS) - shifted_quarter)
    cdef int32_t r = r_a if r_a < r_b else r_b
    cdef int32_t z_pow_2 = z_a_pow_2 if z_a_pow_2 > z_b_pow_2 else z_b_pow_2
    cdef int32_t p = rounding_half_sum(r, sqrt_sqrt_half)
    cdef int32_t q = wrapping_sub(r, sqrt_sqrt_half)
    q = wrapping_add(q, q)
    cdef int32_t common_sq = srdhm(q, q)
    cdef int32_t num = wrapping_add(srdhm(q, r), srdhm(srdhm(q, common_sq), alpha_n))
    cdef int32_t denom_minus_one = wrapping_add(
        srdhm(p, wrapping_add(wrapping_add(alpha_i, q), srdhm(alpha_d, common_sq))), srdhm(alpha_f, q))
    cdef int32_t recip_denom = one_over_one_plus_x_for_x_in_0_1(denom_minus_one)
    cdef int32_t total = wrapping_add(srdhm(z_pow_2, log_2),
                                      srdhm(rdbpot(num, LOG_ACCUM_INTEGER_BITS), recip_denom))
    return _multiply_by_pot(total, LOG_ACCUM_INTEGER_BITS - SCALED_DIFF_INTEGER_BITS)


def log_softmax_int8(const int8_t[:, ::1] x, int8_t[:, ::1] out, int32_t input_multiplier, int input_left_shift,
                     int32_t reverse_scaling_divisor, int reverse_scaling_left_shift, int32_t diff_min) -> None:
    """reference_ops::LogSoftmaxQuantized (int8) of each row: x - max - ln(sum of exp), in Q4 around 127."""
    if x.shape[0] != out.shape[0] or x.shape[1] != out.shape[1]:
        raise ValueError(f"log_softmax: input rows {x.shape[0]}x{x.shape[1]} vs output {out.shape[0]}x{out.shape[1]}")
    if not 0 <= input_left_shift <= 31:
        raise ValueError(f"log_softmax: input_left_shift {input_left_shift} outside [0, 31]")
    cdef Py_ssize_t i, c
    cdef int32_t max_in_row, input_diff, sum_of_exps, log_sum, adjusted_diff_min, limit
    with nogil:
        for i in range(x.shape[0]):
            max_in_row = -128
            for c in range(x.shape[1]):
                if x[i, c] > max_in_row:
                    max_in_row = x[i, c]
            sum_of_exps = 0
            for c in range(x.shape[1]):
                input_diff = x[i, c] - max_in_row
                if input_diff >= diff_min:
                    sum_of_exps = wrapping_add(sum_of_exps, rdbpot(
                        _scaled_exp(input_diff, input_multiplier, input_left_shift), ACCUMULATION_INTEGER_BITS))
            log_sum = _log_q5_of_q12(sum_of_exps)
            limit = mbqm(wrapping_add(log_sum, -2147483647 - 1), reverse_scaling_divisor, reverse_scaling_left_shift)
            adjusted_diff_min = diff_min - 1 if diff_min - 1 > limit else limit
            for c in range(x.shape[1]):
                input_diff = x[i, c] - max_in_row
                if input_diff > adjusted_diff_min:
                    out[i, c] = <int8_t>clamp32(rdbpot(wrapping_sub(mbqm(input_diff, input_multiplier, input_left_shift),
                                                                    log_sum),
                                                       31 - SCALED_DIFF_INTEGER_BITS - LOG_OUTPUT_INTEGER_BITS) + 127,
                                                -128, 127)
                else:
                    out[i, c] = -128


def log_softmax_float(const float[:, ::1] x, float[:, ::1] out) -> None:
    """Float log-softmax of each row: x - max - logf(sum of expf(x - max)), summed in order in float32."""
    if x.shape[0] != out.shape[0] or x.shape[1] != out.shape[1]:
        raise ValueError(f"log_softmax: input rows {x.shape[0]}x{x.shape[1]} vs output {out.shape[0]}x{out.shape[1]}")
    cdef Py_ssize_t i, c
    cdef float max_in_row, total, log_sum
    with nogil:
        for i in range(x.shape[0]):
            max_in_row = -FLT_MAX
            for c in range(x.shape[1]):
                if max_in_row < x[i, c]:
                    max_in_row = x[i, c]
            total = 0.0
            for c in range(x.shape[1]):
                total = total + expf(x[i, c] - max_in_row)
            log_sum = logf(total)
            for c in range(x.shape[1]):
                out[i, c] = x[i, c] - max_in_row - log_sum
