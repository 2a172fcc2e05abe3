# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""The audio front end steps of TFLM's signal library (signal/src/*.cc), bit-exact: window, FFT auto
scale, energy, filter bank, its square root, spectral subtraction, PCAN gain control and log.

Integer semantics are the C code's: unsigned arithmetic wraps, an int16 result is the low 16 bits,
a shift by a tensor's value (the square root's scale bits, out of range only in a hostile model) takes
the count modulo 32 as x86-64, where the oracle runs, does (TFLM's C leaves it undefined). Index
ranges (energy bins, filter bank channels) and shift counts from the options are validated by the ops
at prepare, so the loops run without bounds checks.
"""
from libc.stdint cimport int16_t, int32_t, int64_t, uint16_t, uint32_t, uint64_t

cdef extern from *:
    int __builtin_clz(unsigned int x) nogil
    int __builtin_clzll(unsigned long long x) nogil

# Log2 correction table of signal/src/log.cc: 128 segments of log2(1 + x) - x, scaled by 2^16.
cdef uint16_t LOG_LUT[130]
LOG_LUT[:] = [
    0, 224, 442, 654, 861, 1063, 1259, 1450, 1636, 1817, 1992, 2163, 2329, 2490, 2646, 2797, 2944, 3087,
    3224, 3358, 3487, 3611, 3732, 3848, 3960, 4068, 4172, 4272, 4368, 4460, 4549, 4633, 4714, 4791, 4864,
    4934, 5001, 5063, 5123, 5178, 5231, 5280, 5326, 5368, 5408, 5444, 5477, 5507, 5533, 5557, 5578, 5595,
    5610, 5622, 5631, 5637, 5640, 5641, 5638, 5633, 5626, 5615, 5602, 5586, 5568, 5547, 5524, 5498, 5470,
    5439, 5406, 5370, 5332, 5291, 5249, 5203, 5156, 5106, 5054, 5000, 4944, 4885, 4825, 4762, 4697, 4630,
    4561, 4490, 4416, 4341, 4264, 4184, 4103, 4020, 3935, 3848, 3759, 3668, 3575, 3481, 3384, 3286, 3186,
    3084, 2981, 2875, 2768, 2659, 2549, 2437, 2323, 2207, 2090, 1971, 1851, 1729, 1605, 1480, 1353, 1224,
    1094, 963, 830, 695, 559, 421, 282, 142, 0, 0]

cdef uint64_t UINT32_MAX_64 = 0xFFFFFFFF

cdef enum:
    LOG_SEGMENTS_LOG2 = 7
    LOG_SCALE_LOG2 = 16
    LOG_COEFF = 45426  # ln(2) * 2^16
    PCAN_SNR_BITS = 12
    PCAN_OUTPUT_BITS = 6


cdef inline uint32_t msb32(uint32_t x) noexcept nogil:
    """Index of the highest set bit plus one; 32 for 0 (TFLM's __builtin_clz branch)."""
    return 32 - __builtin_clz(x) if x else 32


cdef inline uint32_t msb64(uint64_t x) noexcept nogil:
    return 64 - __builtin_clzll(x) if x else 64


def window(const int16_t[::1] input, const int16_t[::1] weights, int16_t[::1] output, int shift) -> None:
    """Each block of len(weights) samples times the window, shifted right, saturated to int16."""
    cdef Py_ssize_t i, n = weights.shape[0]
    cdef int32_t raw
    with nogil:
        for i in range(input.shape[0]):
            raw = (<int32_t>input[i] * weights[i % n]) >> shift
            output[i] = <int16_t>(32767 if raw > 32767 else (-32768 if raw < -32768 else raw))


def fft_auto_scale(const int16_t[::1] input, int16_t[::1] output, int32_t[::1] scale_bits) -> None:
    """Shift the frame left so its largest magnitude uses all 15 bits; the shift goes to scale_bits[0].
    The maximum is kept in an int16 as TFLM's MaxAbs16 keeps it (-(-32768) wraps)."""
    cdef Py_ssize_t i
    cdef int16_t peak = 0, value
    cdef int bits
    with nogil:
        for i in range(input.shape[0]):
            value = input[i]
            if value > peak:
                peak = value
            elif -<int32_t>value > peak:
                peak = <int16_t>(-<int32_t>value)
        bits = 16 - <int>msb32(<uint32_t><int32_t>peak) - 1
        if bits < 0:
            bits = 0
        for i in range(output.shape[0]):
            output[i] = <int16_t>(input[i] * (1 << bits))
        scale_bits[0] = bits


def energy(const int16_t[::1] spectrum, uint32_t[::1] output, Py_ssize_t start, Py_ssize_t end) -> None:
    """|X[i]|^2 of the complex bins start..end-1 (interleaved re, im); other outputs are left alone."""
    cdef Py_ssize_t i
    cdef int32_t re, im
    with nogil:
        for i in range(start, end):
            re = spectrum[2 * i]
            im = spectrum[2 * i + 1]
            output[i] = <uint32_t>(re * re) + <uint32_t>(im * im)


def filter_bank(const uint32_t[::1] input, const int16_t[::1] weights, const int16_t[::1] unweights,
                const int16_t[::1] frequency_starts, const int16_t[::1] weight_starts,
                const int16_t[::1] widths, uint64_t[::1] work, uint64_t[::1] output) -> None:
    """Weighted sums of spectrum bins into num_channels + 1 accumulators (channel 0 is scratch); each
    bin's unweighted part carries into the next channel. output = work[1:]."""
    cdef Py_ssize_t i, j, channels = work.shape[0]
    cdef uint64_t weighted = 0, unweighted = 0, energy
    cdef int16_t freq, first
    with nogil:
        for i in range(channels):
            freq = frequency_starts[i]
            first = weight_starts[i]
            for j in range(widths[i]):
                energy = input[freq + j]
                weighted += <uint64_t><int64_t>weights[first + j] * energy
                unweighted += <uint64_t><int64_t>unweights[first + j] * energy
            work[i] = weighted
            weighted = unweighted
            unweighted = 0
        for i in range(output.shape[0]):
            output[i] = work[i + 1]


ctypedef fused unsigned_t:
    uint32_t
    uint64_t


cdef inline unsigned_t isqrt(unsigned_t num, unsigned_t largest) noexcept nogil:
    """TFLM's bit-by-bit integer square root of a non-zero num, rounded up when the remainder exceeds
    the root (unless the root is already `largest`)."""
    cdef int width = 8 * sizeof(unsigned_t)
    cdef int top = (width - <int>(msb32(num) if unsigned_t is uint32_t else msb64(num))) | 1
    cdef int iterations = (width - 1 - top) // 2 + 1
    cdef unsigned_t res = 0, bit = (<unsigned_t>1) << (width - 1 - top)
    while iterations:
        iterations -= 1
        if num >= res + bit:
            num -= res + bit
            res = (res >> 1) + bit
        else:
            res >>= 1
        bit >>= 2
    if num > res and res != largest:
        res += 1
    return res


cdef inline uint32_t sqrt64(uint64_t num) noexcept nogil:
    """Sqrt64: the 32-bit routine (a uint16 result) when the high word is clear, as TFLM shortcuts."""
    if num == 0:
        return 0
    if (num >> 32) == 0:
        return <uint16_t>isqrt(<uint32_t>num, <uint32_t>0xFFFF)
    return <uint32_t>isqrt(num, UINT32_MAX_64)


def filter_bank_square_root(const uint64_t[::1] input, const int32_t[::1] scale_bits,
                            uint32_t[::1] output) -> None:
    """sqrt of each channel, shifted right by scale_bits[0] (the count modulo 32, as x86-64 shifts)."""
    cdef Py_ssize_t i
    cdef int shift = scale_bits[0] & 31
    with nogil:
        for i in range(output.shape[0]):
            output[i] = sqrt64(input[i]) >> shift


def spectral_subtraction(const uint32_t[::1] input, uint32_t[::1] output, uint32_t[::1] noise_output,
                         uint32_t[::1] noise, uint32_t smoothing, uint32_t one_minus_smoothing,
                         uint32_t alternate_smoothing, uint32_t alternate_one_minus_smoothing,
                         uint32_t min_signal_remaining, int smoothing_bits, int subtraction_bits,
                         bint clamping) -> None:
    """Update the per-channel noise estimate (a low-pass filter, alternate coefficients on odd
    channels) and subtract it, keeping at least min_signal_remaining of the signal."""
    cdef Py_ssize_t i
    cdef uint32_t s, oms, signal, estimate, floor_value, subtracted
    with nogil:
        for i in range(input.shape[0]):
            if i & 1:
                s, oms = alternate_smoothing, alternate_one_minus_smoothing
            else:
                s, oms = smoothing, one_minus_smoothing
            signal = input[i] << smoothing_bits
            noise[i] = <uint32_t>((<uint64_t>signal * s + <uint64_t>noise[i] * oms) >> subtraction_bits)
            estimate = noise[i]
            if estimate > signal:
                estimate = signal
                if clamping:
                    noise[i] = estimate
            floor_value = <uint32_t>((<uint64_t>input[i] * min_signal_remaining) >> subtraction_bits)
            subtracted = (signal - estimate) >> smoothing_bits
            output[i] = subtracted if subtracted > floor_value else floor_value
            noise_output[i] = noise[i]


cdef inline int16_t wide_dynamic(uint32_t x, const int16_t* lut) noexcept nogil:
    """PCAN's gain curve: a piecewise quadratic in the position of x's top bit (WideDynamicFunction)."""
    if x <= 2:
        return lut[x]
    cdef int16_t interval = <int16_t>msb32(x)
    lut += 4 * interval - 6
    cdef int16_t frac = <int16_t>(((x << (11 - interval)) if interval < 11 else (x >> (interval - 11))) & 0x3FF)
    cdef int32_t result = (<int32_t>lut[2] * frac) >> 5
    result = <int32_t>(<uint32_t>result + (<uint32_t><int32_t>lut[1] << 5))
    result = <int32_t>(<uint32_t>result * <uint32_t><int32_t>frac)
    result = (result + (1 << 14)) >> 15
    result += lut[0]
    return <int16_t>result


cdef inline uint32_t pcan_shrink(uint32_t x) noexcept nogil:
    if x < (2 << PCAN_SNR_BITS):
        return (x * x) >> (2 + 2 * PCAN_SNR_BITS - PCAN_OUTPUT_BITS)
    return (x >> (PCAN_SNR_BITS - PCAN_OUTPUT_BITS)) - (1 << PCAN_OUTPUT_BITS)


def pcan(const uint32_t[::1] input, const uint32_t[::1] noise, const int16_t[::1] gain_lut,
         uint32_t[::1] output, int snr_shift) -> None:
    """Per-channel automatic gain control: gain from the noise estimate, then the shrink function."""
    cdef Py_ssize_t i
    cdef uint32_t gain, snr
    with nogil:
        for i in range(output.shape[0]):
            # The int16 gain widens to uint32 with its sign, as in TFLM.
            gain = <uint32_t><int32_t>wide_dynamic(noise[i], &gain_lut[0])
            snr = <uint32_t>((<uint64_t>input[i] * gain) >> snr_shift)
            output[i] = pcan_shrink(snr)


cdef inline uint32_t log32(uint32_t x, uint32_t out_scale) noexcept nogil:
    """Fixed-point natural log scaled by out_scale (Log32): log2 from the top bit plus a table-corrected
    fraction, times ln 2."""
    cdef uint32_t integer = msb32(x) - 1
    cdef int32_t frac = <int32_t>(<int64_t>x - ((<int64_t>1) << integer))
    if integer < LOG_SCALE_LOG2:
        frac <<= LOG_SCALE_LOG2 - integer
    else:
        frac >>= integer - LOG_SCALE_LOG2
    cdef uint32_t base_seg = <uint32_t>(frac >> (LOG_SCALE_LOG2 - LOG_SEGMENTS_LOG2))
    cdef int32_t c0 = LOG_LUT[base_seg], c1 = LOG_LUT[base_seg + 1]
    cdef int32_t seg_base = <int32_t>(((<uint32_t>1 << LOG_SCALE_LOG2) >> LOG_SEGMENTS_LOG2) * base_seg)
    cdef int32_t rel_pos = ((c1 - c0) * (frac - seg_base)) >> LOG_SCALE_LOG2
    cdef uint32_t fraction = <uint32_t>(frac + c0 + rel_pos)
    cdef uint32_t log2 = (integer << LOG_SCALE_LOG2) + fraction
    cdef uint32_t rounding = (1 << LOG_SCALE_LOG2) // 2
    cdef uint32_t loge = <uint32_t>((<uint64_t>LOG_COEFF * log2 + rounding) >> LOG_SCALE_LOG2)
    return (out_scale * loge + rounding) >> LOG_SCALE_LOG2


def filter_bank_log(const uint32_t[::1] input, int16_t[::1] output, uint32_t output_scale,
                    int correction_bits) -> None:
    """log of each channel after a left shift, capped at INT16_MAX; 0 for values below 2."""
    cdef Py_ssize_t i
    cdef uint32_t scaled, value
    with nogil:
        for i in range(output.shape[0]):
            scaled = input[i] << correction_bits
            if scaled > 1:
                value = log32(scaled, output_scale)
                output[i] = <int16_t>(value if value < 32767 else 32767)
            else:
                output[i] = 0
