/* The inner products of the int8 CONV_2D and FULLY_CONNECTED fast path: for n input rows x_i (one per
 * output pixel or batch), out_i[r] = init[r] + sum_k w[r][k] * x_i[k] in int32, for every row r of a
 * weight matrix repacked at bind time. This header holds what every path shares and the two paths on
 * int16 pairs (init is then 0); vnni_gemm.h adds those on unsigned-byte quads.
 *
 * An input row is not stored whole: it is `segments` runs of group * seg_groups elements each, run s starting
 * seg_offsets[s] elements after the row's own pointer. For a convolution the pointer is the window's
 * corner in a zero-padded int16 copy of the image and a run is one filter row (or one tap), so the
 * receptive field is read in place, never gathered (a 1x1 conv's pixels may instead be copied per call).
 *
 * Given a requantization, the AVX2 path also writes the output: each block of 8 channels is
 * requantized (requantize.h) straight from the registers holding its sums and stored as int8; only
 * the channels past the last whole block are left in `sums` for the caller's scalar step.
 *
 * Inputs arrive as int16 and weights as int8, both with their zero points already subtracted, so every
 * product and every sum of two products fits int32 exactly, and integer addition gives the same bits
 * in any order: the AVX2 path (picked at run time from the CPU's features) and the portable one agree
 * bit for bit. Weights stay int8 in memory (half the bytes to stream) and are widened in registers.
 *
 * Packed layout (mi_pack_weights, group g = 2 here): each run padded to a multiple of g, rows to a
 * multiple of the path's row block, and the rows cut into panels of P (panel_rows) rows, each panel
 * stored whole before the next: element (r, k) of a depth of d elements sits at
 * [(r / P) * d * P + (k / g) * P * g + (r % P) * g + k % g]: weights above 64 KB in panels as wide as
 * the path's main tile, so that a tile reads one sequential stream (see vnni_gemm.h), smaller ones in one
 * panel (P = rows_padded). With g = 2 and row block MI_ROW_BLOCK, one 128-bit load holds the
 * pairs (k, k + 1) of 8 consecutive rows, which _mm256_madd_epi16 (once widened) multiplies with a
 * broadcast input pair and sums into 8 int32 lanes. Several input rows share each weight load: that reuse is what
 * keeps layers with few output channels from being bound by loads.
 */
#ifndef MI_INT16_GEMM_H
#define MI_INT16_GEMM_H

#include <stdint.h>
#include <string.h>

#include "requantize.h"

#include "simd.h"

#define MI_ROW_BLOCK 8
/* Input rows per call, at most. */
#define MI_GEMM_ROWS 8
/* Input rows per AVX2 tile: 4 rows x 2 blocks of 8 outputs keep 8 sums in registers. */
#define MI_AVX2_ROWS 4

static inline int64_t mi_round_up(int64_t n, int64_t step) { return (n + step - 1) / step * step; }

/* The offset in a packed matrix of depth `depth` (elements) of row r's first group, in panels of P rows. */
static inline int64_t mi_packed_row(int64_t r, int64_t depth, int64_t P, int64_t group)
{
    return (r / P) * depth * P + (r % P) * group;
}

/* w: rows x depth int8 (row-major, depth a multiple of group) -> packed (see above) in panels of
 * panel_rows rows (a divisor of rows_padded); packed holds depth * rows_padded zero-initialised int8. */
static void mi_pack_weights(const int8_t *w, int64_t rows, int64_t depth, int64_t group, int64_t panel_rows,
                            int8_t *packed)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t k = 0; k < depth; k++)
            packed[mi_packed_row(r, depth, panel_rows, group) + (k / group) * panel_rows * group + k % group] =
                w[r * depth + k];
}

/* The shape of the input rows (see above); init: rows_padded start values (NULL on the pair paths, whose
 * sums start at 0); panel_rows: the packing's
 * panels (rows_padded on the pair paths). pairs (AVX-512 VNNI only, vnni_gemm.h): the packed rows are the
 * channels twice over, two input rows per vector. */
typedef struct {
    const int64_t *seg_offsets;
    const int32_t *init;
    int64_t segments, seg_groups, rows_padded, channels, panel_rows;
    int panel_shift; /* log2(panel_rows) where there are several panels (16 x a power of two rows each) */
    int pairs;
} mi_gemm_shape;

/* The packed weights of a tile whose rows from r lie in one panel (group: 2 or 4 elements): as
 * mi_packed_row, by shifts past the first panel (the only one of weights the caches keep, whose small
 * tiles the longer sum slowed by 2%). */
static inline const int8_t *mi_tile_weights(const int8_t *packed, int64_t r, const mi_gemm_shape *shape,
                                            int64_t group)
{
    const int64_t P = shape->panel_rows, depth = shape->segments * shape->seg_groups * group;
    if (r < P)
        return packed + r * group;
    return packed + (((r >> shape->panel_shift) * depth) << shape->panel_shift) + (r & (P - 1)) * group;
}

/* x: n <= MI_GEMM_ROWS row pointers (int16 or uint8 elements, as the path reads); sums: n rows of
 * rows_padded int32. With q (its shifts in the vector range), the output rows `out` receive the
 * requantized channels [0, returned count); the sums of the others are in `sums`. Without q, every sum
 * is, and the return is 0. */
typedef int64_t (*mi_gemm_fn)(const int8_t *packed, const void *const *x, int64_t n, const mi_gemm_shape *shape,
                              const mi_requant *q, int8_t *const *out, int32_t *sums);

/* Both scalar paths: int16 pairs (group 2, the portable one) or vpdpbusd's unsigned-byte quads in plain
 * C (group 4, vnni_gemm.h's emulation), every sum from its start value (init, or 0). */
static inline int64_t mi_gemm_scalar(const int8_t *packed, const void *const *x, int64_t n,
                                     const mi_gemm_shape *shape, int32_t *out, int group)
{
    const int64_t rows_padded = shape->rows_padded, P = shape->panel_rows;
    const int64_t depth = shape->segments * shape->seg_groups * group;
    for (int64_t i = 0; i < n; i++, out += rows_padded)
        for (int64_t r = 0; r < rows_padded; r++) {
            int32_t acc = shape->init ? shape->init[r] : 0;
            const int8_t *w = packed + mi_packed_row(r, depth, P, group);
            for (int64_t s = 0; s < shape->segments; s++)
                for (int64_t g = 0; g < shape->seg_groups; g++, w += P * group) {
                    if (group == 4) {
                        acc = mi_dpbusd_lane(acc, (const uint8_t *)x[i] + shape->seg_offsets[s] + 4 * g, w);
                    } else {
                        const int16_t *xs = (const int16_t *)x[i] + shape->seg_offsets[s] + 2 * g;
                        acc += (int32_t)w[0] * xs[0] + (int32_t)w[1] * xs[1];
                    }
                }
            out[r] = acc;
        }
    return 0;
}

/* A scalar path as an mi_gemm_fn (which leaves every channel's requantization to the caller). */
#define MI_SCALAR_GEMM(NAME, GROUP)                                                                          \
    static int64_t NAME(const int8_t *packed, const void *const *x, int64_t n, const mi_gemm_shape *shape,   \
                        const mi_requant *q, int8_t *const *out_rows, int32_t *out)                          \
    {                                                                                                        \
        (void)q; (void)out_rows;                                                                             \
        return mi_gemm_scalar(packed, x, n, shape, out, GROUP);                                              \
    }

MI_SCALAR_GEMM(mi_gemm_portable, 2)

#ifdef MI_X86
/* The tile's `vectors` (1, 2 or 4) blocks of 8 outputs from output c, of n rows, from the sums in
 * registers: requantized with q where the blocks are whole, each row's 8, 16 or 32 outputs narrowed and
 * stored together; else (no q, or the tile reaches past the last channel) each block's sums stored to the
 * rows of `out` (rows_padded int32 each), the whole blocks among them requantized. The AVX-VNNI path
 * shares it. Every loop over acc is unrolled whole, as in vnni_gemm.h's tiles: GCC kept the loop over
 * blocks, and with it acc in memory (stored after the multiply-adds, reloaded by the requantization and
 * again by the narrowing): a 1x1 conv 16 -> 96 at 112x112 0.92-0.95 of its time without them. */
__attribute__((target("avx2"), always_inline))
static inline void mi_store_tile_avx2(__m256i acc[][4], int n, int vectors, const mi_requant *q, int64_t c,
                                      const mi_gemm_shape *shape, int8_t *const *out_rows, int32_t *out)
{
    if (q && c + 8 * vectors <= shape->channels) {
        /* one block's parameters in registers at a time, its sums rescaled in place */
#pragma GCC unroll 4
        for (int v = 0; v < vectors; v++) {
            mi_requant8 k = mi_requant8_load(q, c + 8 * v);
            if (q->any_left)
#pragma GCC unroll 4
                for (int i = 0; i < n; i++)
                    acc[i][v] = mi_rescale8_avx2(acc[i][v], &k, 1);
            else
#pragma GCC unroll 4
                for (int i = 0; i < n; i++)
                    acc[i][v] = mi_rescale8_avx2(acc[i][v], &k, 0);
        }
        const mi_narrow_avx2 narrow = mi_narrow_load(q);
#pragma GCC unroll 4
        for (int i = 0; i < n; i++)
            if (vectors == 4)
                _mm256_storeu_si256((__m256i *)(out_rows[i] + c), mi_narrow32_avx2(acc[i], &narrow));
            else if (vectors == 2)
                _mm_storeu_si128((__m128i *)(out_rows[i] + c), mi_narrow16_avx2(acc[i][0], acc[i][1], &narrow));
            else
                _mm_storel_epi64((__m128i *)(out_rows[i] + c), mi_narrow8_avx2(acc[i][0], &narrow));
        return;
    }
#pragma GCC unroll 4
    for (int v = 0; v < vectors; v++, c += 8) {
        if (q && c + 8 <= shape->channels) {
            const mi_narrow_avx2 narrow = mi_narrow_load(q);
            mi_requant8 k = mi_requant8_load(q, c);
#pragma GCC unroll 4
            for (int i = 0; i < n; i++)
                _mm_storel_epi64((__m128i *)(out_rows[i] + c),
                                 mi_narrow8_avx2(mi_rescale8_avx2(acc[i][v], &k, 1), &narrow));
        }
        else
#pragma GCC unroll 4
            for (int i = 0; i < n; i++)
                _mm256_storeu_si256((__m256i *)(out + i * shape->rows_padded + c), acc[i][v]);
    }
}

/* `vectors` blocks of 8 outputs from output r, for `n` input rows (both constants after inlining):
 * each weight load serves n rows and each broadcast input pair `vectors` blocks. */
__attribute__((target("avx2"), always_inline))
static inline void mi_gemm_avx2_tile(const int8_t *packed, const void *const *x, int n,
                                     const mi_gemm_shape *shape, const mi_requant *q, int8_t *const *out_rows,
                                     int32_t *out, int64_t r, int vectors)
{
    __m256i acc[MI_AVX2_ROWS][4];
#pragma GCC unroll 4
    for (int i = 0; i < n; i++)
#pragma GCC unroll 4
        for (int v = 0; v < vectors; v++)
            acc[i][v] = _mm256_setzero_si256();
    const int64_t P = shape->panel_rows;
    const int8_t *w = mi_tile_weights(packed, r, shape, 2);  /* one panel: mi_gemm_avx2_rows */
    for (int64_t s = 0; s < shape->segments; s++) {
        const int16_t *xs[MI_AVX2_ROWS];
        for (int i = 0; i < n; i++)
            xs[i] = (const int16_t *)x[i] + shape->seg_offsets[s];
        /* unrolled by 4, as the float tile's loop (float_mac.h): pretrainedResnet_quant, kws, ResNet large,
         * vww_96_int8 and mobilenet_v2 0.96-0.985 of their time */
#pragma GCC unroll 4
        for (int64_t p = 0; p < shape->seg_groups; p++, w += P * 2) {
            __m256i wv[4];
#pragma GCC unroll 4
            for (int v = 0; v < vectors; v++)
                wv[v] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(w + 16 * v)));
#pragma GCC unroll 4
            for (int i = 0; i < n; i++) {
                int32_t pair;
                memcpy(&pair, xs[i] + 2 * p, sizeof pair);
                __m256i xv = _mm256_set1_epi32(pair);
#pragma GCC unroll 4
                for (int v = 0; v < vectors; v++)
                    acc[i][v] = _mm256_add_epi32(acc[i][v], _mm256_madd_epi16(wv[v], xv));
            }
        }
    }
    mi_store_tile_avx2(acc, n, vectors, q, r, shape, out_rows, out);
}

/* All output blocks for n (a constant after inlining) input rows: wide tiles of 16 outputs for four
 * rows, of 32 for fewer (about 8 sums in registers either way), then single blocks. */
__attribute__((target("avx2"), always_inline))
static inline void mi_gemm_avx2_rows(const int8_t *packed, const void *const *x, int n,
                                     const mi_gemm_shape *shape, const mi_requant *q, int8_t *const *out_rows,
                                     int32_t *out)
{
    const int wide = n >= 3 ? 2 : 4;
    int64_t r = 0;
    for (; r + 8 * wide <= shape->rows_padded && 8 * wide <= shape->panel_rows; r += 8 * wide)
        mi_gemm_avx2_tile(packed, x, n, shape, q, out_rows, out, r, wide);
    for (; r < shape->rows_padded; r += 8)
        mi_gemm_avx2_tile(packed, x, n, shape, q, out_rows, out, r, 1);
}

__attribute__((target("avx2")))
static int64_t mi_gemm_avx2(const int8_t *packed, const void *const *x, int64_t n, const mi_gemm_shape *shape,
                            const mi_requant *q, int8_t *const *out_rows, int32_t *out)
{
    for (; n >= MI_AVX2_ROWS; n -= MI_AVX2_ROWS, x += MI_AVX2_ROWS, out_rows += MI_AVX2_ROWS,
                              out += MI_AVX2_ROWS * shape->rows_padded)
        mi_gemm_avx2_rows(packed, x, MI_AVX2_ROWS, shape, q, out_rows, out);
    switch (n) {
    case 3: mi_gemm_avx2_rows(packed, x, 3, shape, q, out_rows, out); break;
    case 2: mi_gemm_avx2_rows(packed, x, 2, shape, q, out_rows, out); break;
    case 1: mi_gemm_avx2_rows(packed, x, 1, shape, q, out_rows, out); break;
    default: break;
    }
    return q ? shape->channels / 8 * 8 : 0;
}
#endif

#endif
