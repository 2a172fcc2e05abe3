# cython: language_level=3
"""SOFTMAX over the last axis (TFLM reference/softmax.h), rows given as 2-D [rows, depth] views.

int8 input (int8 or int16 output): gemmlowp fixed point throughout (no LUT, no float exp): differences
to the row maximum are scaled to Q5.26, exponentiated to Q0.31, summed in Q12.19 with wrapping int32
adds, and multiplied by the fixed-point reciprocal of the sum. int16 (SoftmaxInt16): differences are
rescaled so [-65535, 0] spans [-10, 0], exponentiated through an interpolated 513-entry LUT, summed in
Q16.15, and multiplied by a LUT reciprocal. Float32 runs as a compiled step (softmax_rows.pxd).
"""
from libc.math cimport expf, roundf
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint32_t

from fixedpoint cimport clamp32, mbqm
from gemmlowp cimport wrapping_add
from softmax_rows cimport count_leading_zeros, softmax_out_t, softmax_row

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
