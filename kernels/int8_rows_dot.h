/* Dot products of int8 weight rows with int16 vectors, the multiply-accumulate of the int8 LSTM gates:
 *   out[v * out_stride + r] = sum over d < depth of w[r * depth + d] * x[v * depth + d]
 * for every row r < rows and vector v < vectors, in int32. depth is a multiple of MI_ROWS_DOT_ALIGN (the
 * caller pads rows and vectors with zeros) and small enough that no partial sum overflows (|w| <= 128,
 * |x| <= 255).
 *
 * Integer sums are exact in any order, so both paths give the same bits: AVX2 sign-extends 16 weights
 * to int16 and multiplies pairs into 8 int32 lanes (vpmaddwd), the portable path one at a time; AVX2 is
 * chosen at run time where the CPU has it (on AVX-512 machines too: these dot products are a small part
 * of an LSTM step, most of which is the per-element requantization and gate arithmetic). A row is
 * reused across all vectors while it is in L1.
 */
#ifndef MI_INT8_ROWS_DOT_H
#define MI_INT8_ROWS_DOT_H

#include <stdint.h>

#include "simd.h"

/* Whole AVX2 blocks of 16 int8 weights. */
#define MI_ROWS_DOT_ALIGN 16

typedef void (*mi_rows_dot_fn)(const int8_t *, int64_t, int64_t, const int16_t *, int64_t, int32_t *, int64_t);

static void mi_rows_dot_portable(const int8_t *w, int64_t rows, int64_t depth, const int16_t *x, int64_t vectors,
                                 int32_t *out, int64_t out_stride)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t v = 0; v < vectors; v++) {
            int32_t acc = 0;
            for (int64_t d = 0; d < depth; d++)
                acc += (int32_t)w[r * depth + d] * (int32_t)x[v * depth + d];
            out[v * out_stride + r] = acc;
        }
}

#ifdef MI_X86
__attribute__((target("avx2")))
static void mi_rows_dot_avx2(const int8_t *w, int64_t rows, int64_t depth, const int16_t *x, int64_t vectors,
                             int32_t *out, int64_t out_stride)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t v = 0; v < vectors; v++) {
            __m256i acc = _mm256_setzero_si256();
            for (int64_t d = 0; d < depth; d += 16) {
                __m256i wv = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + r * depth + d)));
                __m256i xv = _mm256_loadu_si256((const __m256i *)(x + v * depth + d));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(wv, xv));
            }
            __m128i sum = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
            sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0x4E));
            sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0xB1));
            out[v * out_stride + r] = _mm_cvtsi128_si32(sum);
        }
}

#endif

/* The AVX2 path if this CPU has it and force_portable is 0, else the portable one. */
static mi_rows_dot_fn mi_select_rows_dot(int force_portable)
{
    return MI_PICK(force_portable, mi_rows_dot_avx2, mi_rows_dot_portable);
}

#endif
