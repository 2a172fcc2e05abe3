/* The int8 CONV_2D / FULLY_CONNECTED inner products on unsigned-byte quads (VNNI's vpdpbusd), beside
 * int16_gemm.h's paths on int16 pairs, and the run-time choice among all of them (mi_select_gemm).
 *
 * vpdpbusd multiplies unsigned bytes by signed ones, four per int32 lane, and adds the four products to
 * the lane. The input x (int8, zero point zp) is therefore read as u = x + 128 (the byte x ^ 0x80), and
 * sum_k w[k] * (x[k] - zp) = sum_k w[k] * u[k] - (128 + zp) * sum_k w[k]: the last term, one value per
 * output channel, is computed at bind time and is the start value `init` of every sum. Out-of-image taps
 * hold u = 128 + zp, so they add w * (u - 128 - zp) = 0 to the corrected sum, which is TFLM's skipping
 * them. Each product is at most 255 * 128 and the sums wrap modulo 2^32, so the result has the bits of
 * TFLM's int32 sum in any order of addition.
 *
 * Packed layout: mi_pack_weights with group 4 and rows padded to MI_VNNI_ROW_BLOCK (16, one 512-bit
 * vector of int32 sums): one 512-bit load holds the quads (k .. k + 3) of 16 consecutive rows, and one
 * broadcast input quad serves them all. The rows come in panels as wide as the main tile (the bound step
 * picks panel_rows): a tile then reads its weights as one sequential stream. In one panel of all rows, a
 * tile of 32 of 1280 rows read 128 bytes every 5 KB: across pages, which the hardware prefetchers do not
 * follow, so a layer whose weights were not in cache waited on memory (a 1x1 conv 320 -> 1280 at 7x7 with
 * its weights evicted, 134-144 us; in panels of 32 rows, 104 us; 97 us with its weights in cache). Each
 * run of an input row is padded to a multiple of 4 with zero weights (its reader needs up to 3 readable
 * bytes past the run).
 *
 * Paths: AVX-512 VNNI (16 channels per vector; channel tails by masked loads and stores, so it also
 * requantizes every channel itself), AVX-VNNI (8 per vector, whole blocks of 8 requantized as the AVX2
 * path does) and a portable emulation of vpdpbusd on the same layout, which runs everywhere so that the
 * layout and the correction are tested on any machine.
 */
#ifndef MI_VNNI_GEMM_H
#define MI_VNNI_GEMM_H

#include "int16_gemm.h"

#define MI_VNNI_ROW_BLOCK 16

MI_SCALAR_GEMM(mi_gemm_vnni_emulated, 4)

#ifdef MI_X86
/* The tile of one VNNI path: `vectors` (at most WIDEST) blocks of LANES outputs from output r for n input
 * rows (both constants after inlining); each weight load serves n rows and each broadcast input quad
 * `vectors` blocks. STORE(acc, n, vectors, q, r, shape, out_rows, sums) writes the tile's blocks (outputs
 * r ..) of every row. Every loop over rows and blocks is unrolled whole (GCC unroll): left to GCC's size limits, the
 * tiles of 16 sums kept acc in memory besides the registers (16 vector stores at the tile's start and
 * end, loads in the output step), 10-16% of a conv with 16-32 input channels on AVX-512. */
#define MI_VNNI_TILE(NAME, TARGET, VEC, LANES, WIDEST, LOAD, SET1, DPBUSD, STORE)                             \
    __attribute__((target(TARGET), always_inline))                                                            \
    static inline void NAME(const int8_t *packed, const void *const *x, int n, const mi_gemm_shape *shape,    \
                            const mi_requant *q, int8_t *const *out_rows, int32_t *out, int64_t r, int vectors) \
    {                                                                                                         \
        const int64_t P = shape->panel_rows;                                                                  \
        VEC acc[MI_GEMM_ROWS][WIDEST];                                                                        \
        _Pragma("GCC unroll 16")                                                                              \
        for (int v = 0; v < vectors; v++) {                                                                   \
            VEC init = LOAD(shape->init + r + LANES * v);                                                     \
            _Pragma("GCC unroll 16")                                                                          \
            for (int i = 0; i < n; i++)                                                                       \
                acc[i][v] = init;                                                                             \
        }                                                                                                     \
        const int8_t *w = mi_tile_weights(packed, r, shape, 4);  /* one panel: MI_VNNI_ROWS */                \
        for (int64_t s = 0; s < shape->segments; s++) {                                                       \
            const uint8_t *xs[MI_GEMM_ROWS];                                                                  \
            for (int i = 0; i < n; i++)                                                                       \
                xs[i] = (const uint8_t *)x[i] + shape->seg_offsets[s];                                        \
            for (int64_t g = 0; g < shape->seg_groups; g++, w += P * 4) {                                     \
                VEC wv[WIDEST];                                                                               \
                _Pragma("GCC unroll 16")                                                                      \
                for (int v = 0; v < vectors; v++)                                                             \
                    wv[v] = LOAD(w + 4 * LANES * v);                                                          \
                _Pragma("GCC unroll 16")                                                                      \
                for (int i = 0; i < n; i++) {                                                                 \
                    int32_t quad;                                                                             \
                    memcpy(&quad, xs[i] + 4 * g, sizeof quad);                                                \
                    VEC xv = SET1(quad);                                                                      \
                    _Pragma("GCC unroll 16")                                                                  \
                    for (int v = 0; v < vectors; v++)                                                         \
                        acc[i][v] = DPBUSD(acc[i][v], xv, wv[v]);                                             \
                }                                                                                             \
            }                                                                                                 \
        }                                                                                                     \
        STORE(acc, n, vectors, q, r, shape, out_rows, out);                                                   \
    }

/* All output blocks for n (a constant after inlining) input rows: tiles of WIDE blocks (an expression
 * of n that keeps the sums within half the vector registers) where the weight panels are as wide, then
 * single blocks. */
#define MI_VNNI_ROWS(NAME, TARGET, TILE, LANES, WIDE)                                                         \
    __attribute__((target(TARGET), always_inline))                                                            \
    static inline void NAME(const int8_t *packed, const void *const *x, int n, const mi_gemm_shape *shape,    \
                            const mi_requant *q, int8_t *const *out_rows, int32_t *out)                       \
    {                                                                                                         \
        const int wide = (WIDE);                                                                              \
        int64_t r = 0;                                                                                        \
        for (; r + LANES * wide <= shape->rows_padded && LANES * wide <= shape->panel_rows; r += LANES * wide) \
            TILE(packed, x, n, shape, q, out_rows, out, r, wide);                                             \
        for (; r < shape->rows_padded; r += LANES)                                                            \
            TILE(packed, x, n, shape, q, out_rows, out, r, 1);                                                \
    }

/* The entry point: n <= MI_GEMM_ROWS rows, dispatched to a row count known at compile time. */
#define MI_VNNI_GEMM(NAME, TARGET, ROWS_FN, DONE)                                                             \
    __attribute__((target(TARGET)))                                                                           \
    static int64_t NAME(const int8_t *packed, const void *const *x, int64_t n, const mi_gemm_shape *shape,    \
                        const mi_requant *q, int8_t *const *out_rows, int32_t *out)                           \
    {                                                                                                         \
        switch (n) {                                                                                          \
        case 8: ROWS_FN(packed, x, 8, shape, q, out_rows, out); break;                                        \
        case 7: ROWS_FN(packed, x, 7, shape, q, out_rows, out); break;                                        \
        case 6: ROWS_FN(packed, x, 6, shape, q, out_rows, out); break;                                        \
        case 5: ROWS_FN(packed, x, 5, shape, q, out_rows, out); break;                                        \
        case 4: ROWS_FN(packed, x, 4, shape, q, out_rows, out); break;                                        \
        case 3: ROWS_FN(packed, x, 3, shape, q, out_rows, out); break;                                        \
        case 2: ROWS_FN(packed, x, 2, shape, q, out_rows, out); break;                                        \
        case 1: ROWS_FN(packed, x, 1, shape, q, out_rows, out); break;                                        \
        default: break;                                                                                       \
        }                                                                                                     \
        return q ? (DONE) : 0;                                                                                \
    }

/* AVX-512 VNNI: with q, every channel of the block requantized (masked past the last channel), else the
 * 16 sums stored. */
__attribute__((target(MI_AVX512_VNNI), always_inline))
static inline void mi_vnni512_store_block(__m512i acc[][8], int n, int v, const mi_requant *q, int64_t c,
                                          const mi_gemm_shape *shape, int8_t *const *out_rows, int32_t *out)
{
    if (c >= shape->channels)
        return;
    if (q) {
        int64_t count = shape->channels - c;
        mi_requant16 k = mi_requant16_load(q, c, count);
        _Pragma("GCC unroll 16")
        for (int i = 0; i < n; i++)
            mi_requantize16_store(acc[i][v], &k, out_rows[i] + c, count);
    }
    else
        _Pragma("GCC unroll 16")
        for (int i = 0; i < n; i++)
            _mm512_storeu_si512(out + i * shape->rows_padded + c, acc[i][v]);
}

/* The tile's `vectors` blocks from output r, one at a time. */
__attribute__((target(MI_AVX512_VNNI), always_inline))
static inline void mi_vnni512_store(__m512i acc[][8], int n, int vectors, const mi_requant *q, int64_t r,
                                    const mi_gemm_shape *shape, int8_t *const *out_rows, int32_t *out)
{
    _Pragma("GCC unroll 16")
    for (int v = 0; v < vectors; v++)
        mi_vnni512_store_block(acc, n, v, q, r + 16 * v, shape, out_rows, out);
}

#define MI_LOAD512(p) _mm512_loadu_si512((const void *)(p))
#define MI_LOAD256(p) _mm256_loadu_si256((const __m256i *)(p))

MI_VNNI_TILE(mi_vnni512_tile, MI_AVX512_VNNI, __m512i, 16, 8, MI_LOAD512, _mm512_set1_epi32, _mm512_dpbusd_epi32,
             mi_vnni512_store)
/* one or two rows (FULLY_CONNECTED, the last pixels of a conv): 8 blocks, so that 8 or 16 independent sums
 * hide vpdpbusd's latency, which 4 chains of a long depth wait on */
MI_VNNI_ROWS(mi_vnni512_rows, MI_AVX512_VNNI, mi_vnni512_tile, 16, n <= 2 ? 8 : n > 4 ? 2 : 4)

/* At most 8 output channels in rows padded to 8, not 16 (an FC's narrow layer: autoencoders' bottlenecks,
 * classifier heads; mi_gemm_row_block): 8 sums per 256-bit vector (vpdpbusd's VL form), requantized in the
 * low half of a 512-bit one. */
__attribute__((target(MI_AVX512_VNNI), always_inline))
static inline void mi_vnni512_narrow_store(__m256i acc[][1], int n, int vectors, const mi_requant *q, int64_t r,
                                           const mi_gemm_shape *shape, int8_t *const *out_rows, int32_t *out)
{
    (void)vectors; (void)r;  /* the one block: vectors = 1, r = 0 */
    if (q) {
        mi_requant16 k = mi_requant16_load(q, 0, shape->channels);
        _Pragma("GCC unroll 8")
        for (int i = 0; i < n; i++)
            mi_requantize16_store(_mm512_castsi256_si512(acc[i][0]), &k, out_rows[i], shape->channels);
    }
    else
        _Pragma("GCC unroll 8")
        for (int i = 0; i < n; i++)
            _mm256_storeu_si256((__m256i *)(out + i * shape->rows_padded), acc[i][0]);
}
MI_VNNI_TILE(mi_vnni512_narrow_tile, MI_AVX512_VNNI, __m256i, 8, 1, MI_LOAD256, _mm256_set1_epi32,
             _mm256_dpbusd_epi32, mi_vnni512_narrow_store)

/* At most 8 output channels (the first conv of a small CNN, whose requantization cost about twice its
 * multiply-accumulates): the bound step packs the channels, their start values and requantization
 * parameters twice (16 rows), and input rows 2j and 2j + 1 share vector j, their quads broadcast into
 * its low and high 8 lanes. That halves both the vpdpbusd and the requantizations of one pixel per
 * half-empty vector. An odd last row takes both halves (the high one is not stored). */
__attribute__((target(MI_AVX512_VNNI), always_inline))
static inline void mi_vnni512_pairs(const int8_t *packed, const void *const *x, int n, const mi_gemm_shape *shape,
                                    const mi_requant *q, int8_t *const *out_rows)
{
    const int pairs = (n + 1) / 2;
    __m512i acc[MI_GEMM_ROWS / 2];
    const __m512i init = _mm512_loadu_si512((const void *)shape->init);
    _Pragma("GCC unroll 8")
    for (int j = 0; j < pairs; j++)
        acc[j] = init;
    const int8_t *w = packed;
    for (int64_t s = 0; s < shape->segments; s++) {
        const uint8_t *xs[MI_GEMM_ROWS];
        for (int i = 0; i < n; i++)
            xs[i] = (const uint8_t *)x[i] + shape->seg_offsets[s];
        for (int64_t g = 0; g < shape->seg_groups; g++, w += 16 * 4) {
            const __m512i wv = _mm512_loadu_si512((const void *)w);
            _Pragma("GCC unroll 8")
            for (int j = 0; j < pairs; j++) {
                int32_t low, high;
                memcpy(&low, xs[2 * j] + 4 * g, sizeof low);
                memcpy(&high, xs[2 * j + 1 < n ? 2 * j + 1 : 2 * j] + 4 * g, sizeof high);
                acc[j] = _mm512_dpbusd_epi32(acc[j], _mm512_mask_set1_epi32(_mm512_set1_epi32(low), 0xFF00, high), wv);
            }
        }
    }
    const mi_requant16 k = mi_requant16_load(q, 0, 16);
    const __mmask16 m = MI_LANE_MASK16(shape->channels);
    _Pragma("GCC unroll 8")
    for (int j = 0; j < pairs; j++) {
        __m512i y = mi_requantize16(acc[j], &k);
        _mm512_mask_cvtsepi32_storeu_epi8(out_rows[2 * j], m, y);
        if (2 * j + 1 < n)
            _mm512_mask_cvtsepi32_storeu_epi8(out_rows[2 * j + 1], m, _mm512_alignr_epi32(y, y, 8));
    }
}

/* The pair layout where the step bound it (q is then never NULL), the 8-row tile where the rows are
 * padded to 8, else the tiles of 16. */
__attribute__((target(MI_AVX512_VNNI), always_inline))
static inline void mi_vnni512_any(const int8_t *packed, const void *const *x, int n, const mi_gemm_shape *shape,
                                  const mi_requant *q, int8_t *const *out_rows, int32_t *out)
{
    if (shape->pairs)
        mi_vnni512_pairs(packed, x, n, shape, q, out_rows);
    else if (shape->rows_padded < MI_VNNI_ROW_BLOCK)
        mi_vnni512_narrow_tile(packed, x, n, shape, q, out_rows, out, 0, 1);
    else
        mi_vnni512_rows(packed, x, n, shape, q, out_rows, out);
}
MI_VNNI_GEMM(mi_gemm_avx512_vnni, MI_AVX512_VNNI, mi_vnni512_any, shape->channels)

/* Runs of rows at a constant step known at compile time (a conv's windows along one output row: the step
 * is stride_w * depth bytes): rows i at x + i * STEP, outputs at out + i * out_step, every channel
 * requantized (q fused). With the step a constant, each tile reads its rows' quads at fixed displacements
 * from one pointer; from row pointers or a step in a register, GCC's tiles took 5-10% longer (a 16-channel
 * 3x3 conv at 32x32, 13.2 -> 12.4 us in a C harness; RGB first convs, steps 3 and 6, 8-19%). Tiles of
 * MI_GEMM_ROWS; the last n % MI_GEMM_ROWS rows through the row-pointer GEMM. (`step` is STEP.) */
#define MI_VNNI512_STRIP(NAME, STEP)                                                                          \
    __attribute__((target(MI_AVX512_VNNI)))                                                                   \
    static void NAME(const int8_t *packed, const uint8_t *x, int64_t n, int64_t step, const mi_gemm_shape *shape, \
                     const mi_requant *q, int8_t *out, int64_t out_step)                                      \
    {                                                                                                         \
        const void *rows[MI_GEMM_ROWS];                                                                       \
        int8_t *out_rows[MI_GEMM_ROWS];                                                                       \
        (void)step;                                                                                           \
        for (; n > 0; n -= MI_GEMM_ROWS, x += MI_GEMM_ROWS * (STEP), out += MI_GEMM_ROWS * out_step) {        \
            for (int i = 0; i < MI_GEMM_ROWS; i++) {                                                          \
                rows[i] = x + i * (STEP);                                                                     \
                out_rows[i] = out + i * out_step;                                                             \
            }                                                                                                 \
            if (n < MI_GEMM_ROWS) {                                                                           \
                mi_gemm_avx512_vnni(packed, rows, n, shape, q, out_rows, NULL);                               \
                break;                                                                                        \
            }                                                                                                 \
            mi_vnni512_rows(packed, rows, MI_GEMM_ROWS, shape, q, out_rows, NULL);                            \
        }                                                                                                     \
    }

/* The steps with a strip GEMM: RGB images at stride 1 and 2, and the depths (times strides) of the
 * benchmark models' convs. */
#define MI_STRIP_STEPS(X) X(3) X(6) X(16) X(24) X(32) X(40) X(48) X(64) X(80) X(96) X(128) X(160)
#define MI_STRIP_DEFINE(STEP) MI_VNNI512_STRIP(mi_strip_avx512_vnni_##STEP, STEP)
MI_STRIP_STEPS(MI_STRIP_DEFINE)

/* AVX2's strip, at any step (in bytes: the int16 image's), where the GEMM requantizes every channel (a
 * multiple of 8): the row and output pointers of each MI_GEMM_ROWS rows made here, in registers, where
 * the caller's loop kept them per pixel in its arrays (about 15 instructions a pixel and the call's: a
 * sixth of a low-depth conv's time, vww_96_int8's 8 -> 16 1x1 conv at 48x48). */
__attribute__((target("avx2")))
static void mi_strip_avx2(const int8_t *packed, const uint8_t *x, int64_t n, int64_t step, const mi_gemm_shape *shape,
                          const mi_requant *q, int8_t *out, int64_t out_step)
{
    const void *rows[MI_GEMM_ROWS];
    int8_t *out_rows[MI_GEMM_ROWS];
    for (int64_t first = 0; first < n; first += MI_GEMM_ROWS) {
        const int64_t count = n - first < MI_GEMM_ROWS ? n - first : MI_GEMM_ROWS;
        for (int64_t i = 0; i < count; i++) {
            rows[i] = x + (first + i) * step;
            out_rows[i] = out + (first + i) * out_step;
        }
        mi_gemm_avx2(packed, rows, count, shape, q, out_rows, NULL);
    }
}

MI_VNNI_TILE(mi_vnni256_tile, MI_AVX_VNNI, __m256i, 8, 4, MI_LOAD256, _mm256_set1_epi32, _mm256_dpbusd_avx_epi32,
             mi_store_tile_avx2)
MI_VNNI_ROWS(mi_vnni256_rows, MI_AVX_VNNI, mi_vnni256_tile, 8, n > 4 ? 1 : 2)
MI_VNNI_GEMM(mi_gemm_avx_vnni, MI_AVX_VNNI, mi_vnni256_rows, shape->channels / 8 * 8)
#endif

/* The implementation of a path (which the caller has checked this CPU runs, mi_cpu_runs). */
static mi_gemm_fn mi_select_gemm(mi_int8_path path)
{
    switch (path) {
#ifdef MI_X86
    case MI_INT8_AVX2: return mi_gemm_avx2;
    case MI_INT8_AVX_VNNI: return mi_gemm_avx_vnni;
    case MI_INT8_AVX512_VNNI: return mi_gemm_avx512_vnni;
#endif
    case MI_INT8_VNNI_EMULATED: return mi_gemm_vnni_emulated;
    default: return mi_gemm_portable;
    }
}

/* Rows x + i * step (bytes), outputs out + i * out_step: n rows, every channel requantized. */
typedef void (*mi_strip_fn)(const int8_t *packed, const uint8_t *x, int64_t n, int64_t step,
                            const mi_gemm_shape *shape, const mi_requant *q, int8_t *out, int64_t out_step);

/* The strip GEMM of a step, where the path has one (AVX-512 VNNI: MI_STRIP_STEPS; AVX2: any), else NULL. */
static mi_strip_fn mi_select_strip(mi_int8_path path, int64_t step)
{
#ifdef MI_X86
#define MI_STRIP_CASE(STEP) case STEP: return mi_strip_avx512_vnni_##STEP;
    if (path == MI_INT8_AVX512_VNNI)
        switch (step) {
        MI_STRIP_STEPS(MI_STRIP_CASE)
        default: break;
        }
#undef MI_STRIP_CASE
    if (path == MI_INT8_AVX2)
        return mi_strip_avx2;
#endif
    (void)path; (void)step;
    return NULL;
}

/* The quad paths' input elements: the n int8 values x as the bytes x + 128 (x ^ 0x80). */
typedef void (*mi_quad_bytes_fn)(uint8_t *dst, const int8_t *src, int64_t n);

static void mi_quad_bytes_portable(uint8_t *dst, const int8_t *src, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        dst[i] = (uint8_t)src[i] ^ 0x80;
}

#ifdef MI_X86
/* 64 bytes at a time and a masked tail (the portable loop compiles to 16-byte SSE2 blocks: a conv's
 * image is written at every invoke, and that copy took a few percent of a small CNN's time). */
__attribute__((target(MI_AVX512_VNNI)))
static void mi_quad_bytes_avx512(uint8_t *dst, const int8_t *src, int64_t n)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80);
    int64_t i = 0;
    for (; i + 64 <= n; i += 64)
        _mm512_storeu_si512((void *)(dst + i), _mm512_xor_si512(_mm512_loadu_si512((const void *)(src + i)), flip));
    __mmask64 tail = ((__mmask64)1 << (n - i)) - 1;  /* n - i < 64 */
    _mm512_mask_storeu_epi8(dst + i, tail, _mm512_xor_si512(_mm512_maskz_loadu_epi8(tail, src + i), flip));
}
#endif

static mi_quad_bytes_fn mi_select_quad_bytes(mi_int8_path path)
{
#ifdef MI_X86
    if (path == MI_INT8_AVX512_VNNI)
        return mi_quad_bytes_avx512;
#endif
    (void)path;
    return mi_quad_bytes_portable;
}

/* Output channels per vector of the path's sums for `channels` channels: the padding of the packed rows
 * (the VNNI paths pad at most 8 channels to 8: mi_vnni512_narrow_store, and AVX-VNNI's vectors hold 8). */
static inline int64_t mi_gemm_row_block(mi_int8_path path, int64_t channels)
{
    if ((path == MI_INT8_AVX512_VNNI || path == MI_INT8_AVX_VNNI) && channels <= 8)
        return 8;
    return mi_path_uses_quads(path) ? MI_VNNI_ROW_BLOCK : MI_ROW_BLOCK;
}

#endif
