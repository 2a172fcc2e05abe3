/* The sums of the int8 DEPTHWISE_CONV_2D fast path (depth multiplier 1) for a run of `count` output
 * pixels, over all of their contiguous channels:
 *   acc[i * channels + c] = init[c] + sum over the taps t of w_t[c] * x_t[c],
 * where tap t of pixel i reads the channels at taps[t] + i * step.
 *
 * The caller points every out-of-image tap at a run of bytes all equal to the input zero point zp, and
 * sets init[c] = -zp * sum_t w_t[c]: then the sum equals TFLM's sum of w_t[c] * (x_t[c] - zp) over the
 * in-image taps (the others give w * (zp - zp) = 0), without a zero-point subtraction or a branch in the
 * inner loop. Integer sums wrap modulo 2^32 in any order, so every path gives the same bits.
 *
 * Paths (simd.h's mi_int8_path): the pair paths (portable, AVX2) below, and the quad paths (a portable
 * emulation of vpdpbusd and AVX-512 VNNI; AVX-VNNI takes the AVX2 pairs here) at the end.
 *
 * Packed weights (mi_depthwise_pack, group g = 2 or 4): taps in groups (g p .. g p + g - 1), a count
 * that is no multiple of g completed by taps of weight 0 (whose tap pointers must still be readable, e.g.
 * the zero-point run); element (p, c, j) = w of tap g p + j, channel c, at
 * w[(p * channels + slot(c)) * g + j], int8; the pair paths read it widened to int16 (mi_depthwise_widen, into
 * the workspace at the start of each run: a step keeps its weights as bytes). Interleaving the
 * bytes of a pair's two taps and widening them to int16 puts (x_2p[c], x_2p+1[c]) next to each other, so
 * one _mm256_madd_epi16 gives 8 channels' w_2p * x_2p + w_2p+1 * x_2p+1 in int32 (exact: at most
 * 2 * 128^2). Blocks of 32 channels do that within 128-bit lanes (unpack with the sign bytes rather
 * than the slower lane-crossing widening), which leaves lane l of vector v holding channels
 * 4v + 16l .. +3: the slot reorders their weights to match, and the sums are put back in channel order
 * once per pixel. Other channels keep their own slot.
 */
#ifndef MI_INT8_DEPTHWISE_H
#define MI_INT8_DEPTHWISE_H

#include <stdint.h>

#include "requantize.h"

/* (acc, taps, step, count, packed weights, init, tap groups, channels, q, out). q is NULL, or, on the
 * AVX-512 VNNI path only, the requantization of the sums (requantize.h, its per-channel arrays indexed by
 * the channel within a pixel): the int8 results are then written to out (laid out as acc) instead of the
 * sums to acc, which saves their round trip through memory. */
typedef void (*mi_depthwise_fn)(int32_t *, const int8_t *const *, int64_t, int64_t, const void *,
                                const int32_t *, int64_t, int64_t, const mi_requant *, int8_t *);

/* The place of channel c's weights among a pair's (see above). */
static inline int64_t mi_depthwise_slot(int64_t c, int64_t channels)
{
    int64_t k = c % 32;
    if (c - k + 32 > channels)
        return c;
    return c - k + (k % 16) / 4 * 8 + k / 16 * 4 + k % 4;
}

/* The place of channel c's weights among a quad's: blocks of 64 channels are read as four vectors whose
 * 128-bit lane l holds channels 16 l + 4 j .. + 3 in vector j (byte unpacks stay within lanes); the
 * channels past the last such block keep their own place. */
static inline int64_t mi_depthwise_quad_slot(int64_t c, int64_t channels)
{
    int64_t k = c % 64;
    if (c - k + 64 > channels)
        return c;
    return c - k + (k % 16) / 4 * 16 + k / 16 * 4 + k % 4;
}

/* w: taps x channels int8 (tap-major) -> packed (see above) with groups of `group` (2 or 4) taps,
 * ceil(taps / group) * group * channels int8. */
static void mi_depthwise_pack(const int8_t *w, int64_t taps, int64_t channels, int64_t group, int8_t *packed)
{
    for (int64_t t = 0; t < (taps + group - 1) / group * group; t++)
        for (int64_t c = 0; c < channels; c++) {
            int64_t slot = group == 4 ? mi_depthwise_quad_slot(c, channels) : mi_depthwise_slot(c, channels);
            packed[((t / group) * channels + slot) * group + t % group] = t < taps ? w[t * channels + c] : 0;
        }
}

/* n packed int8 weights as the pair paths read them. */
static void mi_depthwise_widen(const int8_t *packed, int16_t *wide, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        wide[i] = packed[i];
}

/* Channels [first, last) of pixel offset `offset` one at a time, summed in uint32 so that a wrap is
 * defined (the same bits as the int32 vector lanes). */
static inline void mi_depthwise_channels(int32_t *acc, const int8_t *const *taps, int64_t offset,
                                         const int16_t *w, const int32_t *init, int64_t pairs,
                                         int64_t channels, int64_t first, int64_t last)
{
    for (int64_t c = first; c < last; c++) {
        uint32_t sum = (uint32_t)init[c];
        int64_t slot = mi_depthwise_slot(c, channels);
        for (int64_t p = 0; p < pairs; p++) {
            const int16_t *wp = w + (p * channels + slot) * 2;
            sum += (uint32_t)(wp[0] * taps[2 * p][offset + c] + wp[1] * taps[2 * p + 1][offset + c]);
        }
        acc[c] = (int32_t)sum;
    }
}

static void mi_depthwise_portable(int32_t *acc, const int8_t *const *taps, int64_t step, int64_t count,
                                  const void *w, const int32_t *init, int64_t pairs, int64_t channels,
                                  const mi_requant *q, int8_t *out)
{
    (void)q; (void)out;
    for (int64_t i = 0; i < count; i++)
        mi_depthwise_channels(acc + i * channels, taps, i * step, w, init, pairs, channels, 0, channels);
}

#ifdef MI_X86
/* 8 channels from c of the pixel at tap offset `offset`: the 8 bytes of each tap of a pair, interleaved
 * and widened to 16 int16. */
__attribute__((target("avx2"), always_inline))
static inline __m256i mi_depthwise_8(const int8_t *const *taps, int64_t offset, const int16_t *w,
                                     const int32_t *init, int64_t pairs, int64_t channels, int64_t c)
{
    __m256i sum = _mm256_loadu_si256((const __m256i *)(init + c));
    for (int64_t p = 0; p < pairs; p++) {
        __m128i x0 = _mm_loadl_epi64((const __m128i *)(taps[2 * p] + offset + c));
        __m128i x1 = _mm_loadl_epi64((const __m128i *)(taps[2 * p + 1] + offset + c));
        __m256i x = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(x0, x1));
        __m256i wv = _mm256_loadu_si256((const __m256i *)(w + (p * channels + c) * 2));
        sum = _mm256_add_epi32(sum, _mm256_madd_epi16(x, wv));
    }
    return sum;
}

/* `count` pixels; pairs and channels are constants after inlining for the common small shapes, so the
 * pair loop unrolls and the weights stay in registers across pixels. */
__attribute__((target("avx2"), always_inline))
static inline void mi_depthwise_pixels_avx2(int32_t *restrict acc, const int8_t *const *restrict taps,
                                            int64_t step, int64_t count, const int16_t *restrict w,
                                            const int32_t *restrict init, int64_t pairs, int64_t channels)
{
    const __m256i zero = _mm256_setzero_si256();
    for (int64_t i = 0; i < count; i++, acc += channels) {
        int64_t offset = i * step, c = 0;
        for (; c + 32 <= channels; c += 32) {
            __m256i sums[4] = {zero, zero, zero, zero};
            for (int64_t p = 0; p < pairs; p++) {
                __m256i x0 = _mm256_loadu_si256((const __m256i *)(taps[2 * p] + offset + c));
                __m256i x1 = _mm256_loadu_si256((const __m256i *)(taps[2 * p + 1] + offset + c));
                const __m256i *wp = (const __m256i *)(w + (p * channels + c) * 2);
                for (int half = 0; half < 2; half++) {
                    __m256i x = half ? _mm256_unpackhi_epi8(x0, x1) : _mm256_unpacklo_epi8(x0, x1);
                    __m256i sign = _mm256_cmpgt_epi8(zero, x);
                    sums[2 * half] = _mm256_add_epi32(sums[2 * half], _mm256_madd_epi16(
                        _mm256_unpacklo_epi8(x, sign), _mm256_loadu_si256(wp + 2 * half)));
                    sums[2 * half + 1] = _mm256_add_epi32(sums[2 * half + 1], _mm256_madd_epi16(
                        _mm256_unpackhi_epi8(x, sign), _mm256_loadu_si256(wp + 2 * half + 1)));
                }
            }
            /* channels 0..7 are the low lanes of sums 0 and 1, 8..15 of sums 2 and 3, 16..31 the high ones */
            __m256i ordered[4] = {
                _mm256_permute2x128_si256(sums[0], sums[1], 0x20), _mm256_permute2x128_si256(sums[2], sums[3], 0x20),
                _mm256_permute2x128_si256(sums[0], sums[1], 0x31), _mm256_permute2x128_si256(sums[2], sums[3], 0x31)};
            for (int k = 0; k < 4; k++)
                _mm256_storeu_si256((__m256i *)(acc + c + 8 * k), _mm256_add_epi32(
                    ordered[k], _mm256_loadu_si256((const __m256i *)(init + c + 8 * k))));
        }
        for (; c + 16 <= channels; c += 16) {
            __m256i lo = _mm256_loadu_si256((const __m256i *)(init + c));
            __m256i hi = _mm256_loadu_si256((const __m256i *)(init + c + 8));
            for (int64_t p = 0; p < pairs; p++) {
                __m128i x0 = _mm_loadu_si128((const __m128i *)(taps[2 * p] + offset + c));
                __m128i x1 = _mm_loadu_si128((const __m128i *)(taps[2 * p + 1] + offset + c));
                const int16_t *wp = w + (p * channels + c) * 2;
                lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_unpacklo_epi8(x0, x1)),
                                                            _mm256_loadu_si256((const __m256i *)wp)));
                hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_unpackhi_epi8(x0, x1)),
                                                            _mm256_loadu_si256((const __m256i *)(wp + 16))));
            }
            _mm256_storeu_si256((__m256i *)(acc + c), lo);
            _mm256_storeu_si256((__m256i *)(acc + c + 8), hi);
        }
        /* A remainder of 1..15 channels: one or two blocks of 8, the last ending at the last channel
         * (recomputing a few channels gives the same values) unless that reaches into a block of 32. */
        while (c < channels && channels - 8 >= channels / 32 * 32) {
            int64_t first = c + 8 <= channels ? c : channels - 8;
            _mm256_storeu_si256((__m256i *)(acc + first),
                                mi_depthwise_8(taps, offset, w, init, pairs, channels, first));
            c = first + 8;
        }
        mi_depthwise_channels(acc, taps, offset, w, init, pairs, channels, c, channels);
    }
}

__attribute__((target("avx2")))
static void mi_depthwise_avx2(int32_t *acc, const int8_t *const *taps, int64_t step, int64_t count,
                              const void *w, const int32_t *init, int64_t pairs, int64_t channels,
                              const mi_requant *q, int8_t *out)
{
    (void)q; (void)out;
    if (pairs == 5 && channels == 8)  /* 3x3 filters on 8 or 16 channels */
        mi_depthwise_pixels_avx2(acc, taps, step, count, w, init, 5, 8);
    else if (pairs == 5 && channels == 16)
        mi_depthwise_pixels_avx2(acc, taps, step, count, w, init, 5, 16);
    else
        mi_depthwise_pixels_avx2(acc, taps, step, count, w, init, pairs, channels);
}
#endif

/* The quad paths: every channel c of pixel i sums, from init[c], vpdpbusd of the bytes x + 128 of four
 * taps with their four weights, so out-of-image taps (the zero-point run, x = zp) and the init
 * -(128 + zp) * sum_t w_t[c] give TFLM's sum (see vnni_gemm.h). */
static void mi_depthwise_vnni_emulated(int32_t *acc, const int8_t *const *taps, int64_t step, int64_t count,
                                       const void *w, const int32_t *init, int64_t quads, int64_t channels,
                                       const mi_requant *q, int8_t *out)
{
    (void)q; (void)out;
    for (int64_t i = 0; i < count; i++, acc += channels)
        for (int64_t c = 0; c < channels; c++) {
            int32_t sum = init[c];
            for (int64_t q = 0; q < quads; q++) {
                uint8_t x[4];
                for (int j = 0; j < 4; j++)
                    x[j] = (uint8_t)taps[4 * q + j][i * step + c] ^ 0x80;
                sum = mi_dpbusd_lane(sum, x, (const int8_t *)w + (q * channels + mi_depthwise_quad_slot(c, channels)) * 4);
            }
            acc[c] = sum;
        }
}

#ifdef MI_X86
/* Four taps' bytes of 16 (per 128-bit lane) channels, + 128, interleaved into the quads of vpdpbusd:
 * v[j] lane l = channels 16 l + 4 j .. + 3, each as its four taps' bytes. */
#define MI_DEPTHWISE_QUADS(SUFFIX, X, V)                                                                    \
    do {                                                                                                    \
        __typeof__(X[0]) lo01 = _mm##SUFFIX##_unpacklo_epi8(X[0], X[1]), hi01 = _mm##SUFFIX##_unpackhi_epi8(X[0], X[1]); \
        __typeof__(X[0]) lo23 = _mm##SUFFIX##_unpacklo_epi8(X[2], X[3]), hi23 = _mm##SUFFIX##_unpackhi_epi8(X[2], X[3]); \
        V[0] = _mm##SUFFIX##_unpacklo_epi16(lo01, lo23);                                                   \
        V[1] = _mm##SUFFIX##_unpackhi_epi16(lo01, lo23);                                                   \
        V[2] = _mm##SUFFIX##_unpacklo_epi16(hi01, hi23);                                                   \
        V[3] = _mm##SUFFIX##_unpackhi_epi16(hi01, hi23);                                                   \
    } while (0)

/* The sums of channels c .. c + n - 1 (n <= 16) of a pixel: requantized into out with q, else stored. */
__attribute__((target(MI_AVX512_VNNI), always_inline))
static inline void mi_depthwise_store16(__m512i sums, const mi_requant *q, int8_t *out, int32_t *acc, int64_t c,
                                        int64_t n)
{
    if (q) {
        mi_requant16 k = mi_requant16_load(q, c, n);
        mi_requantize16_store(sums, &k, out + c, n);
    }
    else
        _mm512_mask_storeu_epi32(acc + c, MI_LANE_MASK16(n), sums);
}

/* The sums of one 512-bit block, without init: ordered[l] = 16 channels from c, either (grouped = 0) of the
 * pixel at tap offset `offset`, channels c + 16 l .. (a block of 64, quad_slot layout), or (grouped = 1)
 * of the pixel at offset + l * lane_step, channels c .. c + 15 (16 of fewer than 64 channels, each tap's
 * 16 bytes of four pixels in the four 128-bit lanes, their weights broadcast to all of them). */
__attribute__((target(MI_AVX512_VNNI), always_inline))
static inline void mi_depthwise_block512(const int8_t *const *taps, int64_t offset, int64_t lane_step,
                                         const int8_t *w, int64_t quads, int64_t channels, int64_t c,
                                         int grouped, __m512i ordered[4])
{
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    __m512i sums[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                       _mm512_setzero_si512()};
    for (int64_t g = 0; g < quads; g++) {
        __m512i x[4], v[4];
        for (int j = 0; j < 4; j++) {
            const int8_t *t = taps[4 * g + j] + offset + c;
            __m512i bytes;
            if (grouped) {
                bytes = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)t));
                for (int l = 1; l < 4; l++)
                    bytes = _mm512_inserti32x4(bytes, _mm_loadu_si128((const __m128i *)(t + l * lane_step)), l);
            }
            else
                bytes = _mm512_loadu_si512((const void *)t);
            x[j] = _mm512_xor_si512(bytes, flip);
        }
        MI_DEPTHWISE_QUADS(512, x, v);
        const int8_t *wq = w + (g * channels + c) * 4;
        for (int j = 0; j < 4; j++) {
            __m512i wv = grouped ? _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(wq + 16 * j)))
                                 : _mm512_loadu_si512((const void *)(wq + 64 * j));
            sums[j] = _mm512_dpbusd_epi32(sums[j], v[j], wv);
        }
    }
    /* a 4 x 4 transpose of 128-bit lanes: output vector l = lane l of sums 0..3 */
    __m512i t0 = _mm512_shuffle_i32x4(sums[0], sums[1], 0x44), t1 = _mm512_shuffle_i32x4(sums[2], sums[3], 0x44);
    __m512i t2 = _mm512_shuffle_i32x4(sums[0], sums[1], 0xEE), t3 = _mm512_shuffle_i32x4(sums[2], sums[3], 0xEE);
    ordered[0] = _mm512_shuffle_i32x4(t0, t1, 0x88);
    ordered[1] = _mm512_shuffle_i32x4(t0, t1, 0xDD);
    ordered[2] = _mm512_shuffle_i32x4(t2, t3, 0x88);
    ordered[3] = _mm512_shuffle_i32x4(t2, t3, 0xDD);
}

/* Pixels whose 64-channel blocks share one load of the requantization parameters (their sums, 16
 * vectors, stay in registers). */
#define MI_DEPTHWISE_PIXELS 4

/* The 64-channel blocks c .. c + 63 of `pixels` (a constant after inlining) pixels from `offset`, `step`
 * apart: all their sums first, then each block of 16 channels requantized (or stored) for every pixel
 * with its parameters loaded once. Loading them per pixel (the int8 stores may alias them, so the
 * compiler reloads every one) cost about as much as the requantization itself in the narrow, wide-run
 * layers. */
__attribute__((target(MI_AVX512_VNNI), always_inline))
static inline void mi_depthwise_wide_pixels512(const int8_t *const *taps, int64_t offset, int64_t step, int pixels,
                                               const int8_t *w, const int32_t *init, int64_t quads,
                                               int64_t channels, int64_t c, const mi_requant *q,
                                               int8_t *out, int32_t *acc)
{
    __m512i ordered[MI_DEPTHWISE_PIXELS][4];
    for (int p = 0; p < pixels; p++)
        mi_depthwise_block512(taps, offset + p * step, 0, w, quads, channels, c, 0, ordered[p]);
    for (int l = 0; l < 4; l++) {
        const __m512i start = _mm512_loadu_si512((const void *)(init + c + 16 * l));
        if (q) {
            mi_requant16 k = mi_requant16_load(q, c + 16 * l, 16);
            for (int p = 0; p < pixels; p++)
                mi_requantize16_store(_mm512_add_epi32(ordered[p][l], start), &k, out + p * channels + c + 16 * l, 16);
        }
        else
            for (int p = 0; p < pixels; p++)
                _mm512_storeu_si512((void *)(acc + p * channels + c + 16 * l), _mm512_add_epi32(ordered[p][l], start));
    }
}

/* `count` pixels: the blocks of 64 channels in 512-bit vectors, MI_DEPTHWISE_PIXELS pixels at a time while
 * that many remain; the channels past them (all of them below 64), when a multiple of 16, in groups of four
 * pixels a 512-bit block per 16 channels (one pixel's would fill a quarter of it: the narrow layers of a
 * stride-2 depthwise, the last 32 of 96 channels); what is left of each pixel's last channels up to 16 at
 * a time in 128-bit vectors (masked loads and stores past the last channel; the packed weights carry 64
 * bytes of slack). */
__attribute__((target(MI_AVX512_VNNI), always_inline))
static inline void mi_depthwise_pixels_vnni512(int32_t *restrict acc, const int8_t *const *restrict taps,
                                               int64_t step, int64_t count, const int8_t *restrict w,
                                               const int32_t *restrict init, int64_t quads, int64_t channels,
                                               const mi_requant *q, int8_t *out)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    const int64_t wide_end = channels / 64 * 64;  /* the channels in blocks of 64 */
    int64_t i = 0;
    if (channels > wide_end && (channels - wide_end) % 16 == 0)
        for (; i + 4 <= count; i += 4)
            for (int64_t c = wide_end; c < channels; c += 16) {
                __m512i ordered[4];
                mi_depthwise_block512(taps, i * step, step, w, quads, channels, c, 1, ordered);
                const __m512i start = _mm512_loadu_si512((const void *)(init + c));
                if (q) {  /* the four pixels' channels c .. c + 15 share one load of the parameters */
                    mi_requant16 k = mi_requant16_load(q, c, 16);
                    for (int l = 0; l < 4; l++)
                        mi_requantize16_store(_mm512_add_epi32(ordered[l], start), &k, out + (i + l) * channels + c,
                                              16);
                }
                else
                    for (int l = 0; l < 4; l++)
                        _mm512_storeu_si512((void *)(acc + (i + l) * channels + c), _mm512_add_epi32(ordered[l], start));
            }
    const int64_t grouped_done = i;  /* the pixels before it have their last channels done */
    for (i = 0; i + MI_DEPTHWISE_PIXELS <= count && wide_end; i += MI_DEPTHWISE_PIXELS)
        for (int64_t c = 0; c < wide_end; c += 64)
            mi_depthwise_wide_pixels512(taps, i * step, step, MI_DEPTHWISE_PIXELS, w, init, quads, channels, c, q,
                                        out + i * channels, acc + i * channels);
    const int64_t wide_done = i;  /* the pixels before it have their 64-channel blocks done */
    for (i = 0; i < count; i++) {
        int64_t offset = i * step;
        int8_t *pixel_out = out + i * channels;
        int32_t *pixel_acc = acc + i * channels;
        if (i >= wide_done)
            for (int64_t c = 0; c < wide_end; c += 64)
                mi_depthwise_wide_pixels512(taps, offset, step, 1, w, init, quads, channels, c, q, pixel_out,
                                            pixel_acc);
        if (i < grouped_done)
            continue;
        for (int64_t c = wide_end; c < channels; c += 16) {
            __mmask16 m = MI_LANE_MASK16(channels - c);
            __m128i sums[4] = {_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128()};
            for (int64_t g = 0; g < quads; g++) {
                __m128i x[4], v[4];
                for (int j = 0; j < 4; j++)
                    x[j] = _mm_xor_si128(_mm_maskz_loadu_epi8(m, taps[4 * g + j] + offset + c),
                                         _mm512_castsi512_si128(flip));
                MI_DEPTHWISE_QUADS(, x, v);
                const int8_t *wq = w + (g * channels + c) * 4;
                for (int j = 0; j < 4; j++)
                    sums[j] = _mm_dpbusd_epi32(sums[j], v[j], _mm_loadu_si128((const __m128i *)(wq + 16 * j)));
            }
            __m512i all = _mm512_inserti32x4(_mm512_castsi128_si512(sums[0]), sums[1], 1);
            all = _mm512_inserti32x4(_mm512_inserti32x4(all, sums[2], 2), sums[3], 3);
            mi_depthwise_store16(_mm512_add_epi32(all, _mm512_maskz_loadu_epi32(m, init + c)), q, pixel_out,
                                 pixel_acc, c, channels - c);
        }
    }
}

__attribute__((target(MI_AVX512_VNNI)))
static void mi_depthwise_avx512_vnni(int32_t *acc, const int8_t *const *taps, int64_t step, int64_t count,
                                     const void *w, const int32_t *init, int64_t quads, int64_t channels,
                                     const mi_requant *q, int8_t *out)
{
    if (quads == 3)  /* 3x3 filters: the quad loop unrolls */
        mi_depthwise_pixels_vnni512(acc, taps, step, count, (const int8_t *)w, init, 3, channels, q, out);
    else
        mi_depthwise_pixels_vnni512(acc, taps, step, count, (const int8_t *)w, init, quads, channels, q, out);
}
#endif

/* The implementation of a path (which the caller has checked this CPU runs); AVX-VNNI takes AVX2's. */
static mi_depthwise_fn mi_select_depthwise(mi_int8_path path)
{
    switch (path) {
#ifdef MI_X86
    case MI_INT8_AVX2:
    case MI_INT8_AVX_VNNI: return mi_depthwise_avx2;
    case MI_INT8_AVX512_VNNI: return mi_depthwise_avx512_vnni;
#endif
    case MI_INT8_VNNI_EMULATED: return mi_depthwise_vnni_emulated;
    default: return mi_depthwise_portable;
    }
}

/* Taps per group of the path's packed weights. */
static inline int64_t mi_depthwise_group(mi_int8_path path)
{
    return path == MI_INT8_VNNI_EMULATED || path == MI_INT8_AVX512_VNNI ? 4 : 2;
}

#endif
