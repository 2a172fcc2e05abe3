/* The sums of one output pixel of the int8 DEPTHWISE_CONV_2D fast path (depth multiplier 1), over all of
 * its contiguous channels, with the weights widened to int32 at bind time:
 *   acc[c] = sum over the taps ky in [ky0, ky1), kx in [kx0, kx1) of w[ky][kx][c] * (x[c] - zp),
 * where tap (ky, kx) reads the channels at input + origin + ky * row_step + kx * col_step (the caller
 * keeps the taps inside the image) and w is [filter_h][filter_w][channels].
 *
 * The AVX2 version (picked at run time from the CPU's features) keeps 8 channels' sums in a register
 * across all taps; integer sums are exact, so it gives the portable version's bits.
 */
#ifndef MI_INT8_DEPTHWISE_H
#define MI_INT8_DEPTHWISE_H

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define MI_DEPTHWISE_X86 1
#endif

typedef void (*mi_depthwise_fn)(int32_t *, const int8_t *, int64_t, int64_t, int64_t, int64_t, int64_t,
                                int64_t, int64_t, int64_t, const int32_t *, int32_t, int64_t);

/* Channels [first, channels) one at a time. */
static inline void mi_depthwise_channels(int32_t *acc, const int8_t *input, int64_t origin, int64_t row_step,
                                         int64_t col_step, int64_t ky0, int64_t ky1, int64_t kx0, int64_t kx1,
                                         int64_t filter_w, const int32_t *w, int32_t zp, int64_t first,
                                         int64_t channels)
{
    for (int64_t c = first; c < channels; c++) {
        int32_t sum = 0;
        for (int64_t ky = ky0; ky < ky1; ky++)
            for (int64_t kx = kx0; kx < kx1; kx++)  /* origin alone may lie outside the input */
                sum += w[(ky * filter_w + kx) * channels + c] * (input[origin + ky * row_step + kx * col_step + c] - zp);
        acc[c] = sum;
    }
}

static void mi_depthwise_portable(int32_t *acc, const int8_t *input, int64_t origin, int64_t row_step,
                                  int64_t col_step, int64_t ky0, int64_t ky1, int64_t kx0, int64_t kx1,
                                  int64_t filter_w, const int32_t *w, int32_t zp, int64_t channels)
{
    mi_depthwise_channels(acc, input, origin, row_step, col_step, ky0, ky1, kx0, kx1, filter_w, w, zp, 0, channels);
}

#ifdef MI_DEPTHWISE_X86
__attribute__((target("avx2")))
static void mi_depthwise_avx2(int32_t *acc, const int8_t *input, int64_t origin, int64_t row_step,
                              int64_t col_step, int64_t ky0, int64_t ky1, int64_t kx0, int64_t kx1,
                              int64_t filter_w, const int32_t *w, int32_t zp, int64_t channels)
{
    const __m256i zpv = _mm256_set1_epi32(zp);
    int64_t c = 0;
    for (; c + 8 <= channels; c += 8) {
        __m256i sum = _mm256_setzero_si256();
        for (int64_t ky = ky0; ky < ky1; ky++)
            for (int64_t kx = kx0; kx < kx1; kx++) {
                int64_t x;
                memcpy(&x, input + (origin + ky * row_step + kx * col_step + c), sizeof x);
                __m256i xv = _mm256_sub_epi32(_mm256_cvtepi8_epi32(_mm_cvtsi64_si128(x)), zpv);
                __m256i wv = _mm256_loadu_si256((const __m256i *)(w + (ky * filter_w + kx) * channels + c));
                sum = _mm256_add_epi32(sum, _mm256_mullo_epi32(wv, xv));
            }
        _mm256_storeu_si256((__m256i *)(acc + c), sum);
    }
    mi_depthwise_channels(acc, input, origin, row_step, col_step, ky0, ky1, kx0, kx1, filter_w, w, zp, c, channels);
}
#endif

/* The AVX2 version if this CPU has it and force_portable is 0, else the portable one. */
static mi_depthwise_fn mi_select_depthwise(int force_portable)
{
#ifdef MI_DEPTHWISE_X86
    if (!force_portable && __builtin_cpu_supports("avx2"))
        return mi_depthwise_avx2;
#endif
    (void)force_portable;
    return mi_depthwise_portable;
}

#endif
