/* The window sums of one output pixel of the int8 AVERAGE_POOL_2D fast path, over all of its contiguous
 * channels: acc[c] = sum over r < rows, k < cols of input[r * row_step + k * col_step + c], where input
 * points at the window's first in-image tap (the caller clips the window to the image) and the values are
 * the raw int8 ones (no zero point, as in TFLM).
 *
 * The AVX2 version (picked at run time from the CPU's features) keeps 8 channels' sums in a register
 * across the window; integer sums are exact, so it gives the portable version's bits.
 */
#ifndef MI_INT8_POOL_H
#define MI_INT8_POOL_H

#include <stdint.h>

#include "simd.h"

typedef void (*mi_pool_sum_fn)(int32_t *, const int8_t *, int64_t, int64_t, int64_t, int64_t, int64_t);

/* Channels [first, channels) one at a time. */
static inline void mi_pool_sum_channels(int32_t *acc, const int8_t *input, int64_t row_step, int64_t col_step,
                                        int64_t rows, int64_t cols, int64_t first, int64_t channels)
{
    for (int64_t c = first; c < channels; c++) {
        int32_t sum = 0;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t k = 0; k < cols; k++)
                sum += input[r * row_step + k * col_step + c];
        acc[c] = sum;
    }
}

static void mi_pool_sum_portable(int32_t *acc, const int8_t *input, int64_t row_step, int64_t col_step,
                                 int64_t rows, int64_t cols, int64_t channels)
{
    mi_pool_sum_channels(acc, input, row_step, col_step, rows, cols, 0, channels);
}

#ifdef MI_X86
__attribute__((target("avx2")))
static void mi_pool_sum_avx2(int32_t *acc, const int8_t *input, int64_t row_step, int64_t col_step,
                             int64_t rows, int64_t cols, int64_t channels)
{
    int64_t c = 0;
    for (; c + 8 <= channels; c += 8) {
        __m256i sum = _mm256_setzero_si256();
        for (int64_t r = 0; r < rows; r++)
            for (int64_t k = 0; k < cols; k++) {
                __m128i x = _mm_loadl_epi64((const __m128i *)(input + r * row_step + k * col_step + c));
                sum = _mm256_add_epi32(sum, _mm256_cvtepi8_epi32(x));
            }
        _mm256_storeu_si256((__m256i *)(acc + c), sum);
    }
    mi_pool_sum_channels(acc, input, row_step, col_step, rows, cols, c, channels);
}
#endif

/* The AVX2 version if this CPU has it and force_portable is 0, else the portable one. */
static mi_pool_sum_fn mi_select_pool_sum(int force_portable)
{
    return MI_PICK(force_portable, mi_pool_sum_avx2, mi_pool_sum_portable);
}

#endif
