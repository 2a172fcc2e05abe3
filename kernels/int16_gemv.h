/* The inner product of the int8 CONV_2D and FULLY_CONNECTED fast path: out[r] = sum_k w[r][k] * x[k] in
 * int32, for every row r of a weight matrix repacked at bind time.
 *
 * Inputs and weights arrive as int16 with their zero points already subtracted, so every product and
 * every sum of two products fits int32 exactly, and integer addition gives the same bits in any order:
 * the AVX2 path (picked at run time from the CPU's features) and the portable one agree bit for bit.
 *
 * Packed layout (mi_pack_weights): depth padded to an even count, rows to a multiple of MI_ROW_BLOCK;
 * element (r, k) sits at [(k / 2) * rows_padded * 2 + r * 2 + k % 2], so one 256-bit load holds the
 * pairs (k, k + 1) of 8 consecutive rows, which _mm256_madd_epi16 multiplies with a broadcast input
 * pair and sums into 8 int32 lanes.
 */
#ifndef MI_INT16_GEMV_H
#define MI_INT16_GEMV_H

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define MI_HAVE_X86 1
#endif

#define MI_ROW_BLOCK 8

static inline int64_t mi_round_up(int64_t n, int64_t step) { return (n + step - 1) / step * step; }

/* w: rows x depth int16 (row-major) -> packed (see above); packed holds
 * mi_round_up(depth, 2) * mi_round_up(rows, MI_ROW_BLOCK) zero-initialised int16. */
static void mi_pack_weights(const int16_t *w, int64_t rows, int64_t depth, int16_t *packed)
{
    int64_t rows_padded = mi_round_up(rows, MI_ROW_BLOCK);
    for (int64_t r = 0; r < rows; r++)
        for (int64_t k = 0; k < depth; k++)
            packed[(k / 2) * rows_padded * 2 + r * 2 + k % 2] = w[r * depth + k];
}

static void mi_gemv_portable(const int16_t *packed, const int16_t *x, int64_t pairs, int64_t rows_padded,
                             int32_t *out)
{
    for (int64_t r = 0; r < rows_padded; r++) {
        int32_t acc = 0;
        for (int64_t p = 0; p < pairs; p++) {
            const int16_t *w = packed + p * rows_padded * 2 + r * 2;
            acc += (int32_t)w[0] * x[2 * p] + (int32_t)w[1] * x[2 * p + 1];
        }
        out[r] = acc;
    }
}

#ifdef MI_HAVE_X86
/* `vectors` (a constant after inlining) blocks of 8 rows from row r: more blocks reuse each broadcast
 * input pair and keep independent sums in flight. */
__attribute__((target("avx2"), always_inline))
static inline void mi_gemv_avx2_rows(const int16_t *packed, const int16_t *x, int64_t pairs,
                                     int64_t rows_padded, int32_t *out, int64_t r, int vectors)
{
    __m256i acc[4];
    for (int v = 0; v < vectors; v++)
        acc[v] = _mm256_setzero_si256();
    const int16_t *w = packed + r * 2;
    for (int64_t p = 0; p < pairs; p++, w += rows_padded * 2) {
        int32_t pair;
        memcpy(&pair, x + 2 * p, sizeof pair);
        __m256i xv = _mm256_set1_epi32(pair);
        for (int v = 0; v < vectors; v++)
            acc[v] = _mm256_add_epi32(acc[v], _mm256_madd_epi16(_mm256_loadu_si256((const __m256i *)(w + 16 * v)), xv));
    }
    for (int v = 0; v < vectors; v++)
        _mm256_storeu_si256((__m256i *)(out + r + 8 * v), acc[v]);
}

__attribute__((target("avx2")))
static void mi_gemv_avx2(const int16_t *packed, const int16_t *x, int64_t pairs, int64_t rows_padded,
                         int32_t *out)
{
    int64_t r = 0;
    for (; r + 32 <= rows_padded; r += 32)
        mi_gemv_avx2_rows(packed, x, pairs, rows_padded, out, r, 4);
    for (; r < rows_padded; r += 8)
        mi_gemv_avx2_rows(packed, x, pairs, rows_padded, out, r, 1);
}
#endif

typedef void (*mi_gemv_fn)(const int16_t *, const int16_t *, int64_t, int64_t, int32_t *);

/* The fastest implementation this CPU runs; force_portable selects the fallback (for tests). */
static mi_gemv_fn mi_select_gemv(int force_portable)
{
#ifdef MI_HAVE_X86
    if (!force_portable && __builtin_cpu_supports("avx2"))
        return mi_gemv_avx2;
#endif
    (void)force_portable;
    return mi_gemv_portable;
}

#endif
