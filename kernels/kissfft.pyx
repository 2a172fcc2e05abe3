# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Real FFTs bit-exact with TFLM's signal library (signal/src/rfft_*.cc, irfft_*.cc), which wraps KISS FFT
v130 (kiss_fft.c, tools/kiss_fftr.c) compiled three times: FIXED_POINT=16, FIXED_POINT=32 and float.

One template over `scalar_t` (int16, int32, float). Fixed point follows KISS FFT's arithmetic: every
butterfly stage first divides its inputs by its radix (C_FIXDIV: multiply by SAMP_MAX / radix and round
away the fraction bits), products round to nearest (sround), sums wrap to the scalar type as the C
code's stores do, and halving is an arithmetic shift. Float keeps C's evaluation order and types
(HALF_OF multiplies by a double 0.5). Twiddles come from libm cos/sin as KISS FFT computes them
(fixed point: floor(0.5 + SAMP_MAX * cos)).

A complex array is interleaved (re, im) scalars. The plan (twiddles, super twiddles, the radix
factors) is made once at prepare (make_plan); the callers validate the lengths first, so the loops run
without bounds checks.
"""
from libc.math cimport cos, floor, sin
from libc.stdint cimport int16_t, int32_t, int64_t, uint32_t
from libc.string cimport memcpy, memset

ctypedef fused scalar_t:
    int16_t
    int32_t
    float

cdef double PI = 3.14159265358979323846


cdef inline scalar_t wadd(scalar_t a, scalar_t b) noexcept nogil:
    # C adds int16 in int and stores back (wraps); int32 overflow wraps on every target TFLM runs on.
    if scalar_t is int32_t:
        return <int32_t>(<uint32_t>a + <uint32_t>b)
    else:
        return <scalar_t>(a + b)


cdef inline scalar_t wsub(scalar_t a, scalar_t b) noexcept nogil:
    if scalar_t is int32_t:
        return <int32_t>(<uint32_t>a - <uint32_t>b)
    else:
        return <scalar_t>(a - b)


cdef inline scalar_t wneg(scalar_t a) noexcept nogil:
    if scalar_t is int32_t:
        return <int32_t>(<uint32_t>0 - <uint32_t>a)
    else:
        return <scalar_t>(-a)


cdef inline void cadd(scalar_t* res, const scalar_t* a, const scalar_t* b) noexcept nogil:
    """C_ADD: res = a + b (res may be a or b)."""
    res[0] = wadd(a[0], b[0])
    res[1] = wadd(a[1], b[1])


cdef inline void csub(scalar_t* res, const scalar_t* a, const scalar_t* b) noexcept nogil:
    """C_SUB: res = a - b (res may be a or b)."""
    res[0] = wsub(a[0], b[0])
    res[1] = wsub(a[1], b[1])


cdef inline scalar_t smul(scalar_t a, scalar_t b) noexcept nogil:
    """S_MUL: the product, rounded back to the scalar's fraction bits in fixed point."""
    if scalar_t is int16_t:
        return <int16_t>((<int32_t>a * b + (1 << 14)) >> 15)
    elif scalar_t is int32_t:
        return <int32_t>((<int64_t>a * b + (1 << 30)) >> 31)
    else:
        return a * b


cdef inline void cmul(scalar_t* m, scalar_t ar, scalar_t ai, const scalar_t* b) noexcept nogil:
    """C_MUL: m = a * b, each part rounded once (fixed point)."""
    if scalar_t is int16_t:
        m[0] = <int16_t>((<int32_t>ar * b[0] - <int32_t>ai * b[1] + (1 << 14)) >> 15)
        m[1] = <int16_t>((<int32_t>ar * b[1] + <int32_t>ai * b[0] + (1 << 14)) >> 15)
    elif scalar_t is int32_t:
        m[0] = <int32_t>((<int64_t>ar * b[0] - <int64_t>ai * b[1] + (1 << 30)) >> 31)
        m[1] = <int32_t>((<int64_t>ar * b[1] + <int64_t>ai * b[0] + (1 << 30)) >> 31)
    else:
        m[0] = ar * b[0] - ai * b[1]
        m[1] = ar * b[1] + ai * b[0]


cdef inline void fixdiv(scalar_t* c, int div) noexcept nogil:
    """C_FIXDIV: c /= div in fixed point (a product with SAMP_MAX / div); nothing in float."""
    if scalar_t is int16_t:
        c[0] = smul(c[0], <int16_t>(32767 / div))
        c[1] = smul(c[1], <int16_t>(32767 / div))
    elif scalar_t is int32_t:
        c[0] = smul(c[0], <int32_t>(2147483647 / div))
        c[1] = smul(c[1], <int32_t>(2147483647 / div))


cdef inline scalar_t half_sum(scalar_t a, scalar_t b) noexcept nogil:
    """HALF_OF(a + b)."""
    if scalar_t is float:
        return <float>((a + b) * 0.5)
    elif scalar_t is int32_t:
        return wadd(a, b) >> 1
    else:
        return <int16_t>((<int32_t>a + b) >> 1)


cdef inline scalar_t half_diff(scalar_t a, scalar_t b) noexcept nogil:
    """HALF_OF(a - b)."""
    if scalar_t is float:
        return <float>((a - b) * 0.5)
    elif scalar_t is int32_t:
        return wsub(a, b) >> 1
    else:
        return <int16_t>((<int32_t>a - b) >> 1)


cdef inline scalar_t minus_half(scalar_t a, scalar_t b) noexcept nogil:
    """a - HALF_OF(b) (float: in double, as C promotes it)."""
    if scalar_t is float:
        return <float>(<double>a - <double>b * 0.5)
    else:
        return wsub(a, <scalar_t>(b >> 1))


cdef inline void load_legs(scalar_t* fout, Py_ssize_t k, Py_ssize_t m, int p, scalar_t** f) noexcept nogil:
    """Point f[j] at the butterfly's j-th input fout[k + j * m] and divide each by the radix (C_FIXDIV)."""
    cdef int j
    for j in range(p):
        f[j] = fout + 2 * (k + j * m)
        fixdiv(f[j], p)


cdef void bfly2(scalar_t* fout, Py_ssize_t fstride, const scalar_t* tw, Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t k
    cdef scalar_t t[2]
    cdef scalar_t* f[2]
    for k in range(m):
        load_legs(fout, k, m, 2, f)
        cmul(t, f[1][0], f[1][1], tw + 2 * k * fstride)
        csub(f[1], f[0], t)
        cadd(f[0], f[0], t)


cdef void bfly3(scalar_t* fout, Py_ssize_t fstride, const scalar_t* tw, Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t k
    cdef scalar_t s0[2]
    cdef scalar_t s1[2]
    cdef scalar_t s2[2]
    cdef scalar_t s3[2]
    cdef scalar_t epi3 = tw[2 * fstride * m + 1]
    cdef scalar_t* f[3]
    cdef scalar_t* f0
    cdef scalar_t* f1
    cdef scalar_t* f2
    for k in range(m):
        load_legs(fout, k, m, 3, f)
        f0, f1, f2 = f[0], f[1], f[2]
        cmul(s1, f1[0], f1[1], tw + 2 * k * fstride)
        cmul(s2, f2[0], f2[1], tw + 4 * k * fstride)
        cadd(s3, s1, s2)
        csub(s0, s1, s2)
        f1[0] = minus_half(f0[0], s3[0])
        f1[1] = minus_half(f0[1], s3[1])
        s0[0] = smul(s0[0], epi3)  # C_MULBYSCALAR
        s0[1] = smul(s0[1], epi3)
        cadd(f0, f0, s3)
        f2[0] = wadd(f1[0], s0[1])
        f2[1] = wsub(f1[1], s0[0])
        f1[0] = wsub(f1[0], s0[1])
        f1[1] = wadd(f1[1], s0[0])


cdef void bfly4(scalar_t* fout, Py_ssize_t fstride, const scalar_t* tw, Py_ssize_t m,
                bint inverse) noexcept nogil:
    cdef Py_ssize_t k
    cdef scalar_t s0[2]
    cdef scalar_t s1[2]
    cdef scalar_t s2[2]
    cdef scalar_t s3[2]
    cdef scalar_t s4[2]
    cdef scalar_t s5[2]
    cdef scalar_t* f[4]
    cdef scalar_t* f0
    cdef scalar_t* f1
    cdef scalar_t* f2
    cdef scalar_t* f3
    for k in range(m):
        load_legs(fout, k, m, 4, f)
        f0, f1, f2, f3 = f[0], f[1], f[2], f[3]
        cmul(s0, f1[0], f1[1], tw + 2 * k * fstride)
        cmul(s1, f2[0], f2[1], tw + 4 * k * fstride)
        cmul(s2, f3[0], f3[1], tw + 6 * k * fstride)
        csub(s5, f0, s1)
        cadd(f0, f0, s1)
        cadd(s3, s0, s2)
        csub(s4, s0, s2)
        csub(f2, f0, s3)
        cadd(f0, f0, s3)
        if inverse:
            f1[0] = wsub(s5[0], s4[1])
            f1[1] = wadd(s5[1], s4[0])
            f3[0] = wadd(s5[0], s4[1])
            f3[1] = wsub(s5[1], s4[0])
        else:
            f1[0] = wadd(s5[0], s4[1])
            f1[1] = wsub(s5[1], s4[0])
            f3[0] = wsub(s5[0], s4[1])
            f3[1] = wadd(s5[1], s4[0])


cdef void bfly5(scalar_t* fout, Py_ssize_t fstride, const scalar_t* tw, Py_ssize_t m) noexcept nogil:
    cdef Py_ssize_t u
    cdef int j
    cdef scalar_t s[13][2]
    cdef scalar_t* f[5]
    cdef scalar_t yar = tw[2 * fstride * m]
    cdef scalar_t yai = tw[2 * fstride * m + 1]
    cdef scalar_t ybr = tw[4 * fstride * m]
    cdef scalar_t ybi = tw[4 * fstride * m + 1]
    for u in range(m):
        load_legs(fout, u, m, 5, f)
        s[0][0] = f[0][0]
        s[0][1] = f[0][1]
        for j in range(1, 5):
            cmul(s[j], f[j][0], f[j][1], tw + 2 * j * u * fstride)
        cadd(s[7], s[1], s[4])
        csub(s[10], s[1], s[4])
        cadd(s[8], s[2], s[3])
        csub(s[9], s[2], s[3])
        f[0][0] = wadd(f[0][0], wadd(s[7][0], s[8][0]))
        f[0][1] = wadd(f[0][1], wadd(s[7][1], s[8][1]))
        s[5][0] = wadd(wadd(s[0][0], smul(s[7][0], yar)), smul(s[8][0], ybr))
        s[5][1] = wadd(wadd(s[0][1], smul(s[7][1], yar)), smul(s[8][1], ybr))
        s[6][0] = wadd(smul(s[10][1], yai), smul(s[9][1], ybi))
        s[6][1] = wsub(wneg(smul(s[10][0], yai)), smul(s[9][0], ybi))
        csub(f[1], s[5], s[6])
        cadd(f[4], s[5], s[6])
        s[11][0] = wadd(wadd(s[0][0], smul(s[7][0], ybr)), smul(s[8][0], yar))
        s[11][1] = wadd(wadd(s[0][1], smul(s[7][1], ybr)), smul(s[8][1], yar))
        s[12][0] = wadd(wneg(smul(s[10][1], ybi)), smul(s[9][1], yai))
        s[12][1] = wsub(smul(s[10][0], ybi), smul(s[9][0], yai))
        cadd(f[2], s[11], s[12])
        csub(f[3], s[11], s[12])


cdef void work(scalar_t* fout, const scalar_t* f, Py_ssize_t fstride, const int32_t* factors,
               const scalar_t* tw, bint inverse) noexcept nogil:
    """kf_work: p DFTs of length m on decimated inputs, then one radix-p butterfly stage over them
    (p is 2, 3, 4 or 5: the ops refuse lengths that need KISS FFT's generic butterfly)."""
    cdef Py_ssize_t p = factors[0], m = factors[1], q
    if m == 1:
        for q in range(p):
            fout[2 * q] = f[2 * q * fstride]
            fout[2 * q + 1] = f[2 * q * fstride + 1]
    else:
        for q in range(p):
            work(fout + 2 * q * m, f + 2 * q * fstride, fstride * p, factors + 2, tw, inverse)
    if p == 2:
        bfly2(fout, fstride, tw, m)
    elif p == 3:
        bfly3(fout, fstride, tw, m)
    elif p == 4:
        bfly4(fout, fstride, tw, m, inverse)
    else:
        bfly5(fout, fstride, tw, m)


cdef inline void set_twiddle(scalar_t* tw, double phase) noexcept nogil:
    """kf_cexp: (cos, sin) of the phase, in fixed point floor(0.5 + SAMP_MAX * x)."""
    if scalar_t is int16_t:
        tw[0] = <int16_t>floor(0.5 + 32767 * cos(phase))
        tw[1] = <int16_t>floor(0.5 + 32767 * sin(phase))
    elif scalar_t is int32_t:
        tw[0] = <int32_t>floor(0.5 + 2147483647 * cos(phase))
        tw[1] = <int32_t>floor(0.5 + 2147483647 * sin(phase))
    else:
        tw[0] = <float>cos(phase)
        tw[1] = <float>sin(phase)


def make_plan(scalar_t[::1] twiddles, scalar_t[::1] super_twiddles, bint inverse) -> None:
    """Fill the twiddles of the complex FFT of length ncfft (2 * ncfft scalars) and the real FFT's
    super twiddles (ncfft / 2 complex values), as kiss_fft_alloc and kiss_fftr_alloc compute them."""
    cdef Py_ssize_t ncfft = twiddles.shape[0] // 2, i
    cdef double phase
    for i in range(ncfft):
        phase = -2 * PI * i / ncfft
        if inverse:
            phase = -phase
        set_twiddle(&twiddles[2 * i], phase)
    for i in range(super_twiddles.shape[0] // 2):
        phase = -PI * (<double>(i + 1) / ncfft + 0.5)
        if inverse:
            phase = -phase
        set_twiddle(&super_twiddles[2 * i], phase)


cdef inline void mirror_pair(const scalar_t* x, Py_ssize_t k, Py_ssize_t ncfft, const scalar_t* super_twiddle,
                             scalar_t* total, scalar_t* rotated) noexcept nogil:
    """What kiss_fftr and kiss_fftri both compute for bin k: a = x[k] / 2 and b = conj(x[ncfft - k]) / 2
    (C_FIXDIV), total = a + b, rotated = (a - b) * super twiddle."""
    cdef scalar_t a[2]
    cdef scalar_t b[2]
    a[0] = x[2 * k]
    a[1] = x[2 * k + 1]
    b[0] = x[2 * (ncfft - k)]
    b[1] = wneg(x[2 * (ncfft - k) + 1])
    fixdiv(a, 2)
    fixdiv(b, 2)
    cadd(total, a, b)
    cmul(rotated, wsub(a[0], b[0]), wsub(a[1], b[1]), super_twiddle)


def rfft(const scalar_t[:, ::1] input, scalar_t[:, ::1] output, scalar_t[::1] padded, scalar_t[::1] tmpbuf,
         const scalar_t[::1] twiddles, const scalar_t[::1] super_twiddles,
         const int32_t[::1] factors) -> None:
    """Each input row, zero-padded to fft_length (= padded's length) in `padded` (TFLM's scratch buffer),
    through kiss_fftr: fft_length / 2 + 1 complex values per output row."""
    cdef Py_ssize_t rows = input.shape[0], length = input.shape[1], ncfft = padded.shape[0] // 2
    cdef Py_ssize_t r, k
    cdef scalar_t dc[2]
    cdef scalar_t f1k[2]
    cdef scalar_t tw[2]
    cdef scalar_t* out
    cdef scalar_t* tmp = &tmpbuf[0]
    with nogil:
        for r in range(rows):
            memcpy(&padded[0], &input[r, 0], length * sizeof(scalar_t))
            memset(&padded[length], 0, (2 * ncfft - length) * sizeof(scalar_t))
            work(tmp, &padded[0], 1, &factors[0], &twiddles[0], False)
            out = &output[r, 0]
            dc[0] = tmp[0]
            dc[1] = tmp[1]
            fixdiv(dc, 2)
            out[0] = wadd(dc[0], dc[1])
            out[2 * ncfft] = wsub(dc[0], dc[1])
            out[1] = 0
            out[2 * ncfft + 1] = 0
            for k in range(1, ncfft // 2 + 1):
                mirror_pair(tmp, k, ncfft, &super_twiddles[2 * (k - 1)], f1k, tw)
                out[2 * k] = half_sum(f1k[0], tw[0])
                out[2 * k + 1] = half_sum(f1k[1], tw[1])
                out[2 * (ncfft - k)] = half_diff(f1k[0], tw[0])
                out[2 * (ncfft - k) + 1] = half_diff(tw[1], f1k[1])


def irfft(const scalar_t[:, ::1] input, scalar_t[:, ::1] output, scalar_t[::1] tmpbuf,
          const scalar_t[::1] twiddles, const scalar_t[::1] super_twiddles, const int32_t[::1] factors) -> None:
    """Each input row's first fft_length / 2 + 1 complex values through kiss_fftri into fft_length (= the
    output row length) real values; float results are divided by fft_length as TFLM does."""
    cdef Py_ssize_t rows = input.shape[0], fft_length = output.shape[1], ncfft = fft_length // 2
    cdef Py_ssize_t r, k, i
    cdef scalar_t fek[2]
    cdef scalar_t fok[2]
    cdef const scalar_t* freq
    cdef scalar_t* tmp = &tmpbuf[0]
    with nogil:
        for r in range(rows):
            freq = &input[r, 0]
            tmp[0] = wadd(freq[0], freq[2 * ncfft])
            tmp[1] = wsub(freq[0], freq[2 * ncfft])
            fixdiv(tmp, 2)
            for k in range(1, ncfft // 2 + 1):
                mirror_pair(freq, k, ncfft, &super_twiddles[2 * (k - 1)], fek, fok)
                cadd(tmp + 2 * k, fek, fok)
                csub(tmp + 2 * (ncfft - k), fek, fok)
                tmp[2 * (ncfft - k) + 1] = wneg(tmp[2 * (ncfft - k) + 1])
            work(&output[r, 0], tmp, 1, &factors[0], &twiddles[0], True)
            if scalar_t is float:
                for i in range(fft_length):
                    output[r, i] = output[r, i] / fft_length
