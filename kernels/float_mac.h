/* The float32 fast path of CONV_2D (one group), DEPTHWISE_CONV_2D (depth multiplier 1) and
 * FULLY_CONNECTED (a 1x1 conv over its batch rows): a run of `pixels` output pixels that share one
 * in-image tap range, filter rows [ky0, ky1) and columns [kx0, kx1), all of their channels:
 *   conv:      out[p * channels + c] = clamp(bias[c] + sum over ky, kx, ic of x[p, ky, kx, ic] * w[c, ky, kx, ic])
 *   depthwise: out[p * channels + c] = clamp(bias[c] + sum over ky, kx of x[p, ky, kx, c] * w[ky, kx, c])
 * where x[p, ky, kx, i] = x[p * pixel_step + (ky - ky0) * row_step + (kx - kx0) * col_step + i], x pointing at
 * the first pixel's tap (ky0, kx0), and clamp is TFLM's max-then-min (a NaN passes through).
 *
 * Every output is summed in the reference template's (and TFLM's) order: from +0, one product at a time,
 * in (ky, kx, ic) order, then the bias. CONV_2D and DEPTHWISE_CONV_2D add each product with a fused
 * multiply-add (one rounding per tap instead of two: 7-17% faster per layer); their sums then differ from
 * TFLM's by rounding only, at most 2 (K + 1) 2^-24 (sum of |x w| + |bias|) for K taps (Higham's bound for
 * either order of roundings). FULLY_CONNECTED (`dense`) keeps TFLM's separate roundings, so its outputs,
 * often a model's few logits, have TFLM's bits. The AVX2 version keeps the order in each lane and
 * vectorises across output channels only (8 channels per __m256: a broadcast input value times 8
 * channels' weights for conv, 8 channels' inputs times their weights for depthwise), several pixels
 * sharing each weight load; so it gives the portable version's bits (which uses fmaf where the vector
 * code fuses). Out-of-image taps are skipped, not read as zeros (x * w with x = 0
 * could turn a -0 sum into +0, or an infinite weight into NaN).
 *
 * Packed weights (packed at bind time): blocks of 8 output channels, [block][tap = ky * filter_w + kx]
 * [depth][8], depth being 1 for depthwise, the last block padded with zeros.
 */
#ifndef MI_FLOAT_MAC_H
#define MI_FLOAT_MAC_H

#include <math.h>
#include <stdint.h>

#include "simd.h"

#define MI_FMAC_LANES 8
/* The most pixels of a tile, and the most blocks of 8 channels (tiles of a few pixels take more blocks). */
#define MI_FMAC_TILE_PIXELS 12
#define MI_FMAC_TILE_BLOCKS 6

typedef struct {
    const float *weights; /* packed, see above */
    const float *bias;    /* one per channel */
    int64_t filter_w, taps, depth, channels;
    int64_t pixel_step, row_step, col_step;
    float act_min, act_max;
} mi_fmac;

typedef void (*mi_fmac_fn)(const mi_fmac *, const float *, int64_t, int64_t, int64_t, int64_t, int64_t,
                           float *);

/* The reference template's epilogue (accumulate.pxd store_output). */
static inline float mi_fmac_finish(float acc, float bias, float lo, float hi)
{
    float total = acc + bias;
    if (total < lo)
        total = lo;
    if (hi < total)
        total = hi;
    return total;
}

static inline __attribute__((always_inline))
void mi_fmac_portable_kind(const mi_fmac *m, const int depthwise, const int fused, const float *x, int64_t pixels,
                           int64_t ky0, int64_t ky1, int64_t kx0, int64_t kx1, float *out)
{
    for (int64_t p = 0; p < pixels; p++)
        for (int64_t c = 0; c < m->channels; c++) {
            const float *w = m->weights + c / MI_FMAC_LANES * m->taps * m->depth * MI_FMAC_LANES + c % MI_FMAC_LANES;
            float acc = 0;
            for (int64_t ky = ky0; ky < ky1; ky++)
                for (int64_t kx = kx0; kx < kx1; kx++) {
                    const float *xt = x + p * m->pixel_step + (ky - ky0) * m->row_step + (kx - kx0) * m->col_step;
                    const float *wt = w + (ky * m->filter_w + kx) * m->depth * MI_FMAC_LANES;
                    for (int64_t i = 0; i < m->depth; i++)
                        acc = fused ? fmaf(xt[depthwise ? c : i], wt[i * MI_FMAC_LANES], acc)
                                    : acc + xt[depthwise ? c : i] * wt[i * MI_FMAC_LANES];
                }
            out[p * m->channels + c] = mi_fmac_finish(acc, m->bias[c], m->act_min, m->act_max);
        }
}

static void mi_fmac_conv_portable(const mi_fmac *m, const float *x, int64_t pixels, int64_t ky0, int64_t ky1,
                                  int64_t kx0, int64_t kx1, float *out)
{
    mi_fmac_portable_kind(m, 0, 1, x, pixels, ky0, ky1, kx0, kx1, out);
}

static void mi_fmac_dense_portable(const mi_fmac *m, const float *x, int64_t pixels, int64_t ky0, int64_t ky1,
                                   int64_t kx0, int64_t kx1, float *out)
{
    mi_fmac_portable_kind(m, 0, 0, x, pixels, ky0, ky1, kx0, kx1, out);
}

static void mi_fmac_depthwise_portable(const mi_fmac *m, const float *x, int64_t pixels, int64_t ky0, int64_t ky1,
                                       int64_t kx0, int64_t kx1, float *out)
{
    mi_fmac_portable_kind(m, 1, 1, x, pixels, ky0, ky1, kx0, kx1, out);
}

#ifdef MI_X86
/* Lanes below `count` set: the channels of a partial last block. */
__attribute__((target("avx2,fma")))
static inline __m256i mi_fmac_mask(int64_t count)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* P <= MI_FMAC_TILE_PIXELS pixels x NB <= MI_FMAC_TILE_BLOCKS blocks of 8 channels from block `block`
 * (P x NB <= 12 accumulators), each lane one
 * output summed in the reference order (P, NB, depthwise and masked are constants after inlining).
 * masked: the (single) block is the partial last one, whose inputs (depthwise), bias and outputs beyond
 * the channel count are not touched. */
__attribute__((target("avx2,fma"), always_inline))
static inline void mi_fmac_tile_avx2(const mi_fmac *m, const int depthwise, const int fused, const int NB,
                                     const int P, const int masked, const float *x, int64_t block, int64_t ky0, int64_t ky1,
                                     int64_t kx0, int64_t kx1, float *out)
{
    /* locals, so that the vector stores (which may alias anything) do not force reloads */
    const int64_t depth = depthwise ? 1 : m->depth; /* a constant for depthwise: no inner loop */
    const int64_t channels = m->channels, pixel_step = m->pixel_step, row_step = m->row_step;
    const int64_t col_step = m->col_step, filter_w = m->filter_w;
    const float *weights = m->weights;
    const int64_t block_size = m->taps * depth * MI_FMAC_LANES;
    const int64_t first = block * MI_FMAC_LANES;
    const __m256i mask = mi_fmac_mask(masked ? channels - first : MI_FMAC_LANES);
    __m256 acc[MI_FMAC_TILE_PIXELS][MI_FMAC_TILE_BLOCKS];
#pragma GCC unroll 12
    for (int p = 0; p < P; p++)
#pragma GCC unroll 6
        for (int b = 0; b < NB; b++)
            acc[p][b] = _mm256_setzero_ps();
    /* One loop over the taps in (ky, kx) order, the pointers stepping from tap to tap: a tap of a conv with
     * few input channels (3 in a first layer) is only a few instructions, and a nested kx loop of 3 paid
     * its setup every third tap (depthwise measured no change). When a conv's filter columns are adjacent
     * input pixels (col_step == depth: no width dilation), a filter row's taps are one contiguous run of
     * inputs and of weights, taken as one "tap" of run_w * depth values in the same order: a first layer's
     * 3 x 3 filter on 3 channels is 3 runs of 9 instead of 9 taps of 3 (2-8% faster on first layers). */
    const int64_t run_w = kx1 - kx0;
    const int rows = !depthwise && col_step == depth;
    const int64_t tap_w = rows ? 1 : run_w, taps = (ky1 - ky0) * tap_w, values = rows ? run_w * depth : depth;
    const float *xt = x, *wt = weights + block * block_size + (ky0 * filter_w + kx0) * depth * MI_FMAC_LANES;
    for (int64_t t = 0, kx = 0; t < taps; t++) {
        if (t) {
            if (++kx < tap_w) {
                xt += col_step;
                wt += depth * MI_FMAC_LANES;
            } else {
                kx = 0;
                xt += row_step - (tap_w - 1) * col_step;
                wt += (filter_w - tap_w + 1) * depth * MI_FMAC_LANES;
            }
        }
        /* unrolled by 4: a step of 12 multiply-adds also took 5 counter, pointer and branch instructions
         * (vww_96_float 0.95 of its time, trained_lstm 0.85); each lane still sums in i order */
#pragma GCC unroll 4
        for (int64_t i = 0; i < values; i++) {
            __m256 w[MI_FMAC_TILE_BLOCKS];
#pragma GCC unroll 6
            for (int b = 0; b < NB; b++)
                w[b] = _mm256_loadu_ps(wt + b * block_size + i * MI_FMAC_LANES);
#pragma GCC unroll 12
            for (int p = 0; p < P; p++) {
                const float *xp = xt + p * pixel_step;
                const __m256 broadcast = _mm256_broadcast_ss(xp + i);  /* conv: one per pixel for every block */
#pragma GCC unroll 6
                for (int b = 0; b < NB; b++) {
                    __m256 xv = !depthwise ? broadcast
                              : masked ? _mm256_maskload_ps(xp + first, mask)
                              : _mm256_loadu_ps(xp + first + b * MI_FMAC_LANES);
                    acc[p][b] = fused ? _mm256_fmadd_ps(xv, w[b], acc[p][b])
                                      : _mm256_add_ps(acc[p][b], _mm256_mul_ps(xv, w[b]));
                }
            }
        }
    }
    /* unrolled whole, as every loop over acc: one that is not keeps acc in memory, and GCC then stored
     * every accumulator to the stack at each step of the depth loop (12 stores per 12 multiply-adds) */
    const __m256 lo = _mm256_set1_ps(m->act_min), hi = _mm256_set1_ps(m->act_max);
#pragma GCC unroll 6
    for (int b = 0; b < NB; b++) {
        const float *bias = m->bias + first + b * MI_FMAC_LANES;
        __m256 bv = masked ? _mm256_maskload_ps(bias, mask) : _mm256_loadu_ps(bias);
#pragma GCC unroll 12
        for (int p = 0; p < P; p++) {
            /* max(lo, v) is (lo > v ? lo : v) and min(hi, v) is (hi < v ? hi : v): the template's clamp */
            __m256 v = _mm256_min_ps(hi, _mm256_max_ps(lo, _mm256_add_ps(acc[p][b], bv)));
            float *o = out + p * channels + first + b * MI_FMAC_LANES;
            if (masked)
                _mm256_maskstore_ps(o, mask, v);
            else
                _mm256_storeu_ps(o, v);
        }
    }
}

/* Whether the last `rest` of a run of `pixels` (rest < P) go as one more tile of P ending at the last pixel
 * rather than in runs of 8, 4, 2, 1: where that is two runs or more and there is room. The tile computes
 * again a few outputs already written, with the same bits, and its P chains of dependent multiply-adds
 * keep the adders busy where runs of 2 or 1 had too few (a first layer's 3 x 3 x 3 filter is a chain of
 * 27; its rows of 47 pixels took 12 + 12 + 12 + 8 + 2 + 1: 0.91 of its time; a single run of 4 is faster
 * than a tile of 8). Only where the output does not lie over the input: conv and depthwise steps buffer
 * such rows, the LSTM's gate FCs (conv kind) write arrays of their own, but the rows of a dense layer may
 * be placed over its input. */
static inline int mi_fmac_rewrites(int64_t rest, int64_t pixels, int P)
{
    return (rest & (rest - 1)) != 0 && pixels > P;
}

/* All the pixels for NB blocks from `block`: P at a time, the rest in runs of 8, 4, 2, 1 (P <= 15) or, if
 * `rewrite` allows, mi_fmac_rewrites. */
__attribute__((target("avx2,fma"), always_inline))
static inline void mi_fmac_blocks_avx2(const mi_fmac *m, const int depthwise, const int fused, const int rewrite,
                                       const int NB, const int P, const int masked, const float *x, int64_t pixels,
                                       int64_t block, int64_t ky0, int64_t ky1, int64_t kx0, int64_t kx1, float *out)
{
    int64_t p = 0;
    for (; p + P <= pixels; p += P)
        mi_fmac_tile_avx2(m, depthwise, fused, NB, P, masked, x + p * m->pixel_step, block, ky0, ky1, kx0, kx1,
                          out + p * m->channels);
    if (rewrite && mi_fmac_rewrites(pixels - p, pixels, P)) {
        p = pixels - P;
        mi_fmac_tile_avx2(m, depthwise, fused, NB, P, masked, x + p * m->pixel_step, block, ky0, ky1, kx0, kx1,
                          out + p * m->channels);
        return;
    }
    int64_t rest = pixels - p;
#define MI_FMAC_RUN(n)                                                                                        \
    if (n < P && (rest & n)) {                                                                                \
        mi_fmac_tile_avx2(m, depthwise, fused, NB, n, masked, x + p * m->pixel_step, block, ky0, ky1, kx0,    \
                          kx1,                                                                                \
                          out + p * m->channels);                                                             \
        p += n;                                                                                               \
    }
    MI_FMAC_RUN(8)
    MI_FMAC_RUN(4)
    MI_FMAC_RUN(2)
    MI_FMAC_RUN(1)
#undef MI_FMAC_RUN
}

/* Depthwise with a filter run W = 3 (or, at a border, 2) columns wide and stride S (1 or 2) between
 * pixels that are adjacent columns (no width dilation). Neighbouring pixels share input columns, so each
 * filter row's (P - 1) * S + W columns are loaded once and multiplied into every pixel they reach (1.25
 * loads per pixel and row instead of 3 at stride 1). A pixel still takes its products in (ky, kx) order,
 * column by column, so its sum has the tap loop's bits. */
typedef struct {
    const float *w;   /* the block's weights of the first in-image tap (ky0, kx0) */
    int64_t rows;     /* in-image filter rows */
    int64_t row_step, col_step, w_row_step, pixel_step, channels;
    __m256i mask;     /* the block's channels (a partial last block) */
    __m256 bias, lo, hi;
} mi_fmac_slide;

/* Pointers base[k] = p + 4 k step, each hidden from the optimiser, so that element i of a strided run is
 * base[i / 4] + (i % 4) step: one addressing mode (step and 3 step in registers). Left to itself, GCC
 * folded every i step into one offset, which it kept on the stack and reloaded for each access (a
 * depthwise tile: 8 of its 53 instructions per filter row, and 8 of 50 in its stores). */
#define MI_FMAC_STRIDED_BASES(base, count, p, step)                                                          \
    _Pragma("GCC unroll 8") for (int k_ = 0; k_ < ((count) + 3) / 4; k_++) {                                 \
        (base)[k_] = (p) + 4 * k_ * (step);                                                                  \
        __asm__("" : "+r"((base)[k_]));                                                                      \
    }
#define MI_FMAC_STRIDED(base, i, step) ((base)[(i) / 4] + ((i) % 4) * (step))

/* P pixels x 8 channels: x points at the first pixel's first in-image tap in the block's channels, out at
 * its outputs. Everything a tile shares with the others of its run is in sl, computed once per run: a
 * tile is its sums and stores only (computed per tile, the pointers and strides were half of the
 * instructions of a layer with 8 channels). */
__attribute__((target("avx2,fma"), always_inline))
static inline void mi_fmac_slide_avx2(const mi_fmac_slide *sl, const int P, const int S, const int W,
                                      const int masked, const float *x, float *out)
{
    __m256 acc[MI_FMAC_TILE_PIXELS];
#pragma GCC unroll 16
    for (int p = 0; p < P; p++)
        acc[p] = _mm256_setzero_ps();
    const int N = (P - 1) * S + W;  /* the input columns a filter row reaches */
    const int64_t col_step = sl->col_step, row_step = sl->row_step, w_row_step = sl->w_row_step;
    const float *column[((MI_FMAC_TILE_PIXELS - 1) * 2 + 3 + 3) / 4];  /* N at stride 2, W = 3 */
    MI_FMAC_STRIDED_BASES(column, N, x, col_step)
    const float *wt = sl->w;
    for (int64_t ky = 0; ky < sl->rows; ky++, wt += w_row_step) {
        __m256 w[3];
        for (int kx = 0; kx < W; kx++)
            w[kx] = _mm256_loadu_ps(wt + kx * MI_FMAC_LANES);
        /* unrolled whole, or GCC keeps the accumulators in memory from row to row */
#pragma GCC unroll 32
        for (int i = 0; i < N; i++) {
            const float *xi = MI_FMAC_STRIDED(column, i, col_step);
            __m256 xv = masked ? _mm256_maskload_ps(xi, sl->mask) : _mm256_loadu_ps(xi);
#pragma GCC unroll 3
            for (int kx = 0; kx < W; kx++) {
                const int d = i - kx;
                if (d >= 0 && d % S == 0 && d / S < P)
                    acc[d / S] = _mm256_fmadd_ps(xv, w[kx], acc[d / S]);
            }
        }
#pragma GCC unroll 8
        for (int k = 0; k < (N + 3) / 4; k++)
            column[k] += row_step;
    }
    const int64_t channels = sl->channels;
    float *pixel[(MI_FMAC_TILE_PIXELS + 3) / 4];
    MI_FMAC_STRIDED_BASES(pixel, P, out, channels)
#pragma GCC unroll 16
    for (int p = 0; p < P; p++) {
        __m256 v = _mm256_min_ps(sl->hi, _mm256_max_ps(sl->lo, _mm256_add_ps(acc[p], sl->bias)));
        float *o = MI_FMAC_STRIDED(pixel, p, channels);
        if (masked)
            _mm256_maskstore_ps(o, sl->mask, v);
        else
            _mm256_storeu_ps(o, v);
    }
}

/* All the pixels of block `block` through mi_fmac_slide_avx2: 8 at a time (8 accumulators, 3 weights),
 * then the rest as one tile. */
__attribute__((target("avx2,fma"), always_inline))
static inline void mi_fmac_slide_block_avx2(const mi_fmac *m, const int S, const int W, const int masked,
                                            const float *x,
                                            int64_t pixels, int64_t block, int64_t ky0, int64_t ky1, int64_t kx0,
                                            float *out)
{
    const int64_t first = block * MI_FMAC_LANES;
    mi_fmac_slide sl;
    sl.w = m->weights + block * m->taps * MI_FMAC_LANES + (ky0 * m->filter_w + kx0) * MI_FMAC_LANES;
    sl.rows = ky1 - ky0;
    sl.row_step = m->row_step;
    sl.col_step = m->col_step;
    sl.w_row_step = m->filter_w * MI_FMAC_LANES;
    sl.pixel_step = m->pixel_step;
    sl.channels = m->channels;
    sl.mask = mi_fmac_mask(masked ? m->channels - first : MI_FMAC_LANES);
    sl.bias = masked ? _mm256_maskload_ps(m->bias + first, sl.mask) : _mm256_loadu_ps(m->bias + first);
    sl.lo = _mm256_set1_ps(m->act_min);
    sl.hi = _mm256_set1_ps(m->act_max);
    x += first;
    out += first;
    int64_t p = 0;
    for (; p + 8 <= pixels; p += 8)
        mi_fmac_slide_avx2(&sl, 8, S, W, masked, x + p * sl.pixel_step, out + p * sl.channels);
    /* the rest in one tile of its own size: a tile's P chains of 9 dependent multiply-adds take the same
     * time for any P up to 8, so runs of 4 + 2 took two such times where one tile of 6 takes one (6 x 6
     * images 0.63-0.67 of their time, 12 x 12 0.72, 48 x 48 0.93) */
    const float *xr = x + p * sl.pixel_step;
    float *o = out + p * sl.channels;
    switch (pixels - p) {
    case 7: mi_fmac_slide_avx2(&sl, 7, S, W, masked, xr, o); break;
    case 6: mi_fmac_slide_avx2(&sl, 6, S, W, masked, xr, o); break;
    case 5: mi_fmac_slide_avx2(&sl, 5, S, W, masked, xr, o); break;
    case 4: mi_fmac_slide_avx2(&sl, 4, S, W, masked, xr, o); break;
    case 3: mi_fmac_slide_avx2(&sl, 3, S, W, masked, xr, o); break;
    case 2: mi_fmac_slide_avx2(&sl, 2, S, W, masked, xr, o); break;
    case 1: mi_fmac_slide_avx2(&sl, 1, S, W, masked, xr, o); break;
    default: break;
    }
}

/* Every block through mi_fmac_slide_block_avx2 at stride S. */
__attribute__((target("avx2,fma"), always_inline))
static inline void mi_fmac_slide_kind_avx2(const mi_fmac *m, const int S, const int W, const float *x,
                                           int64_t pixels, int64_t ky0, int64_t ky1, int64_t kx0, float *out)
{
    const int64_t full = m->channels / MI_FMAC_LANES;
    for (int64_t block = 0; block < full; block++)
        mi_fmac_slide_block_avx2(m, S, W, 0, x, pixels, block, ky0, ky1, kx0, out);
    if (full * MI_FMAC_LANES < m->channels)
        mi_fmac_slide_block_avx2(m, S, W, 1, x, pixels, full, ky0, ky1, kx0, out);
}

/* P pixels (few: a conv's last P < 6, a depthwise run of one or two) over the full blocks [0, blocks): NB
 * blocks per tile, the rest (fewer than NB) in one more tile. Tiles of 1 or 2 pixels with only the two
 * blocks of the main tile had 2 or 4 accumulators, too few chains of dependent multiply-adds to keep the
 * adders busy (a 3x3 image, 9 = 6 + 2 + 1 pixels, ran at 60%); a depthwise border pixel through the slide
 * was one chain per block. */
__attribute__((target("avx2,fma"), always_inline))
static inline void mi_fmac_few_avx2(const mi_fmac *m, const int depthwise, const int fused, const int P,
                                    const int NB, const float *x, int64_t blocks, int64_t ky0, int64_t ky1,
                                    int64_t kx0, int64_t kx1, float *out)
{
    int64_t block = 0;
    for (; block + NB <= blocks; block += NB)
        mi_fmac_tile_avx2(m, depthwise, fused, NB, P, 0, x, block, ky0, ky1, kx0, kx1, out);
#define MI_FMAC_REST(n)                                                                                       \
    case n:                                                                                                   \
        if (n < NB)                                                                                           \
            mi_fmac_tile_avx2(m, depthwise, fused, n, P, 0, x, block, ky0, ky1, kx0, kx1, out);               \
        break;
    switch (blocks - block) {
    MI_FMAC_REST(5)
    MI_FMAC_REST(4)
    MI_FMAC_REST(3)
    MI_FMAC_REST(2)
    MI_FMAC_REST(1)
    default: break;
    }
#undef MI_FMAC_REST
}

/* Pairs of full blocks (6 pixels x 16 channels: 12 accumulators; a conv's last pixels in wider tiles,
 * mi_fmac_few_avx2), then a full block and a partial one (12 pixels x 8 channels). */
__attribute__((target("avx2,fma"), always_inline))
static inline void mi_fmac_avx2_kind(const mi_fmac *m, const int depthwise, const int fused, const int rewrite,
                                     const float *x, int64_t pixels, int64_t ky0, int64_t ky1, int64_t kx0,
                                     int64_t kx1, float *out)
{
    const int64_t full = m->channels / MI_FMAC_LANES, paired = full / 2 * 2;
    const int64_t tail = depthwise || paired == 0 ? 0 : pixels % 6, head = pixels - tail;
    int64_t block = 0;
    for (; block < paired; block += 2)
        mi_fmac_blocks_avx2(m, depthwise, fused, rewrite, 2, 6, 0, x, head, block, ky0, ky1, kx0, kx1, out);
    const float *xt = x + head * m->pixel_step;
    float *ot = out + head * m->channels;
    switch (tail) {  /* P x NB <= 12 accumulators, NB weights and two temporaries in 16 registers */
    case 1: mi_fmac_few_avx2(m, 0, fused, 1, 6, xt, paired, ky0, ky1, kx0, kx1, ot); break;
    case 2: mi_fmac_few_avx2(m, 0, fused, 2, 4, xt, paired, ky0, ky1, kx0, kx1, ot); break;
    case 3: mi_fmac_few_avx2(m, 0, fused, 3, 3, xt, paired, ky0, ky1, kx0, kx1, ot); break;
    case 4: mi_fmac_few_avx2(m, 0, fused, 4, 2, xt, paired, ky0, ky1, kx0, kx1, ot); break;
    case 5: mi_fmac_few_avx2(m, 0, fused, 5, 2, xt, paired, ky0, ky1, kx0, kx1, ot); break;
    }
    if (block < full)
        mi_fmac_blocks_avx2(m, depthwise, fused, rewrite, 1, 12, 0, x, pixels, block++, ky0, ky1, kx0, kx1, out);
    if (block * MI_FMAC_LANES < m->channels)
        mi_fmac_blocks_avx2(m, depthwise, fused, rewrite, 1, 12, 1, x, pixels, block, ky0, ky1, kx0, kx1, out);
}

__attribute__((target("avx2,fma")))
static void mi_fmac_conv_avx2(const mi_fmac *m, const float *x, int64_t pixels, int64_t ky0, int64_t ky1,
                              int64_t kx0, int64_t kx1, float *out)
{
    const mi_fmac local = *m;  /* see mi_fmac_depthwise_avx2 */
    mi_fmac_avx2_kind(&local, 0, 1, 1, x, pixels, ky0, ky1, kx0, kx1, out);
}

__attribute__((target("avx2,fma")))
static void mi_fmac_dense_avx2(const mi_fmac *m, const float *x, int64_t pixels, int64_t ky0, int64_t ky1,
                               int64_t kx0, int64_t kx1, float *out)
{
    const mi_fmac local = *m;  /* see mi_fmac_depthwise_avx2 */
    mi_fmac_avx2_kind(&local, 0, 0, 0, x, pixels, ky0, ky1, kx0, kx1, out);
}

/* A depthwise run of one or two pixels: 6 blocks per tile (6 or 12 chains), then the partial block. */
__attribute__((target("avx2,fma"), always_inline))
static inline void mi_fmac_depthwise_few_avx2(const mi_fmac *m, const int P, const float *x, int64_t ky0,
                                              int64_t ky1, int64_t kx0, int64_t kx1, float *out)
{
    const int64_t full = m->channels / MI_FMAC_LANES;
    mi_fmac_few_avx2(m, 1, 1, P, 6, x, full, ky0, ky1, kx0, kx1, out);
    if (full * MI_FMAC_LANES < m->channels)
        mi_fmac_tile_avx2(m, 1, 1, 1, P, 1, x, full, ky0, ky1, kx0, kx1, out);
}

/* Runs of one or two pixels with 16 channels or more take mi_fmac_depthwise_few_avx2 (vww_96_float's depthwise
 * layers 0.91 of their time: its images of 24 x 24 down to 3 x 3 have one border pixel on each side of a
 * row, and each was a single chain of 6 multiply-adds per block). Otherwise, without width dilation, runs
 * whose in-image filter columns are 3 adjacent ones (at stride 1 or 2, or a single pixel) or 2 (a 3-wide
 * filter's border pixels) slide along the row (border pixels: 0.966-0.976 of the layers' time through the
 * tap loop with 2 blocks per tile); the others (other filters, width dilation) take the tap loop. */
__attribute__((target("avx2,fma")))
static void mi_fmac_depthwise_avx2(const mi_fmac *m, const float *x, int64_t pixels, int64_t ky0, int64_t ky1,
                                   int64_t kx0, int64_t kx1, float *out)
{
    /* a local: the output's vector stores may alias anything, *m included, so that every tile reloaded
     * and recomputed its fields (conv: 50 of the 168 instructions around a tile's sums) */
    const mi_fmac local = *m;
    const int64_t width = kx1 - kx0;
    const int columns = local.col_step == local.channels, single = pixels == 1;
    if (pixels <= 2 && local.channels >= 2 * MI_FMAC_LANES) {
        if (single)
            mi_fmac_depthwise_few_avx2(&local, 1, x, ky0, ky1, kx0, kx1, out);
        else
            mi_fmac_depthwise_few_avx2(&local, 2, x, ky0, ky1, kx0, kx1, out);
    }
    else if (columns && width == 3 && (single || local.pixel_step == local.channels))
        mi_fmac_slide_kind_avx2(&local, 1, 3, x, pixels, ky0, ky1, kx0, out);
    else if (columns && width == 3 && local.pixel_step == 2 * local.channels)
        mi_fmac_slide_kind_avx2(&local, 2, 3, x, pixels, ky0, ky1, kx0, out);
    else if (columns && width == 2 && (single || local.pixel_step == local.channels))
        mi_fmac_slide_kind_avx2(&local, 1, 2, x, pixels, ky0, ky1, kx0, out);
    else
        mi_fmac_avx2_kind(&local, 1, 1, 1, x, pixels, ky0, ky1, kx0, kx1, out);
}
#endif

typedef enum { MI_FMAC_CONV, MI_FMAC_DEPTHWISE, MI_FMAC_DENSE } mi_fmac_kind;

/* The AVX2 kernel of the kind if this CPU has AVX2 and FMA and force_portable is 0, else the portable one. */
static mi_fmac_fn mi_select_fmac(mi_fmac_kind kind, int force_portable)
{
#ifdef MI_X86
    force_portable = force_portable || !MI_CPU_SUPPORTS("fma");
#endif
    switch (kind) {
    case MI_FMAC_DEPTHWISE: return MI_PICK(force_portable, mi_fmac_depthwise_avx2, mi_fmac_depthwise_portable);
    case MI_FMAC_DENSE: return MI_PICK(force_portable, mi_fmac_dense_avx2, mi_fmac_dense_portable);
    default: return MI_PICK(force_portable, mi_fmac_conv_avx2, mi_fmac_conv_portable);
    }
}

#endif
