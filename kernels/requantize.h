/* The output step of the int8 fast kernels: add the bias, TFLM's MultiplyByQuantizedMultiplier (double
 * rounding, as fixedpoint.pxd), add the output zero point, clamp, narrow to int8; 8 channels at a time
 * (AVX2) or 16 with masked tails (AVX-512, which finds the bias already in the sums and the zero point in
 * its rounding offsets: see mi_requant). The caller finishes the channels this does not (an AVX2 tail
 * of fewer than 8, or all of them on a CPU without AVX2) with the scalar store_output, same bits.
 *
 * SaturatingRoundingDoublingHighMul: (ab + nudge) / 2^31 truncated toward zero equals
 * floor((ab + 2^30) / 2^31) for either sign of ab (for ab < 0 the truncation adds 2^31 - 1 to the
 * nudge 1 - 2^30), and that quotient fits int32 except in the saturating case, so it is bits 31..62 of
 * ab + 2^30, which a logical 64-bit shift extracts. Shifts are per channel: left in 0..31 and right in
 * 0..31, and no multiplier is INT32_MIN (the caller checks both; beyond the range C's scalar shifts are
 * undefined).
 *
 * The AVX-512 step does both roundings with one 64-bit shift. With y = floor((p + 2^30) / 2^31) (p the
 * 64-bit product) and e >= 1, RoundingDivideByPOT(y, e) rounds half away from zero:
 * floor((y + 2^(e-1)) / 2^e) for y >= 0 and floor((y + 2^(e-1) - 1) / 2^e) for y < 0; and since
 * floor(floor(a / 2^31) / 2^e) = floor(a / 2^(31+e)), that is
 *   floor((p + 2^30 + 2^(30+e) - 2^31 [p < 0]) / 2^(31+e)),
 * where testing p < 0 instead of y < 0 (p < -2^30) changes nothing: for -2^30 <= p < 0 both forms give 0.
 * With e = 0 it is floor((p + 2^30) / 2^31). The offsets and the shift 31 + e are per channel
 * (mi_requant.rounding), and |p| <= 2^62 - 2^31 keeps every sum inside int64.
 */
#ifndef MI_REQUANTIZE_H
#define MI_REQUANTIZE_H

#include <stdint.h>
#include <string.h>

/* Per-channel requantization of int32 sums to int8. AVX2 reads bias, multiplier and shift8, TFLM's shift
 * of each channel as one signed byte (its own array: left = max(shift, 0), right = left - shift and the
 * mask 2^right - 1 are built in registers). AVX-512 reads no bias (the caller's sums start with it: the
 * wrapping int32 sum is the same in any order), but left (NULL when every left shift is 0),
 * round_down[2 b], [2 b + 1]: the even and odd channels with e > 0 (bit j for channel 16 b + 2 j,
 * + 2 j + 1), whose negative products take -2^31, and rounding[32 b ..]: the 64-bit offsets 2^30 + 2^(30+e) [e > 0] + v 2^(31+e) of the block's even
 * channels, of its odd ones, then their shifts 31 + e likewise. v is the output zero point, which passes
 * through the floor of the shift unchanged, or a constant channel's output with e = 0; the caller keeps
 * e <= 23 so that no sum overflows. rounding takes 16 bytes per channel: mi_requant_expand writes it from
 * two, shifts[16 b ..] (30 + e) and outputs[16 b ..] (v; NULL when v is output_zp everywhere), each the
 * block's even channels then its odd ones, which is what a step keeps: a conv or depthwise step expands
 * them into its workspace (shared by all steps) at the start of each run, an FC step once at bind.
 * uniform: every channel has the same multiplier and shifts (per-tensor quantization, most
 * FULLY_CONNECTED layers) and none is constant: the vector steps then broadcast uniform_multiplier,
 * uniform_left and uniform_e (the right shift) and read none of their own arrays (AVX2 still its bias).
 * clamp_low / clamp_high: whether act_min / act_max lie inside int8 (else the saturating narrowing
 * applies them). */
typedef struct {
    const int32_t *bias, *multiplier, *left;
    const int8_t *shift8;
    const int64_t *rounding;
    const uint8_t *shifts;
    const int8_t *outputs;
    const uint8_t *round_down;
    int32_t output_zp, act_min, act_max;
    int clamp_low, clamp_high;
    int uniform;
    int32_t uniform_multiplier, uniform_left, uniform_e;
    int any_left;  /* whether some channel shifts left (else AVX2 skips the shift) */
} mi_requant;

#include "simd.h"

#ifdef MI_X86
/* SaturatingRoundingDoublingHighMul of 8 lanes whose multipliers b are not INT32_MIN (the callers
 * check at bind time; TFLM's multipliers are never negative), so the one saturating case cannot occur;
 * b_odd: b's odd lanes moved down (_mm256_srli_epi64(b, 32)). */
__attribute__((target("avx2"), always_inline))
static inline __m256i mi_srdhm_avx2(__m256i a, __m256i b, __m256i b_odd)
{
    const __m256i half = _mm256_set1_epi64x((int64_t)1 << 30);
    /* 64-bit products of the even lanes, then of the odd lanes moved down */
    __m256i even = _mm256_add_epi64(_mm256_mul_epi32(a, b), half);
    __m256i odd = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(a, 32), b_odd), half);
    return _mm256_blend_epi32(_mm256_srli_epi64(even, 31), _mm256_slli_epi64(odd, 1), 0xAA);
}

/* RoundingDivideByPOT of 8 lanes by 2^e (e in 0..31, mask = 2^e - 1, half = mask >> 1): shift right,
 * ties away from zero. */
__attribute__((target("avx2"), always_inline))
static inline __m256i mi_rdbpot_avx2(__m256i x, __m256i e, __m256i mask, __m256i half)
{
    __m256i remainder = _mm256_and_si256(x, mask);
    __m256i threshold = _mm256_sub_epi32(half, _mm256_cmpgt_epi32(_mm256_setzero_si256(), x));
    return _mm256_sub_epi32(_mm256_srav_epi32(x, e), _mm256_cmpgt_epi32(remainder, threshold));
}

/* The parameters of channels c..c+7 in registers, loaded once for all the rows that share them. */
typedef struct {
    __m256i bias, multiplier, multiplier_odd, left, right, right_mask, right_half;
} mi_requant8;

__attribute__((target("avx2"), always_inline))
static inline mi_requant8 mi_requant8_load(const mi_requant *q, int64_t c)
{
    mi_requant8 k;
    k.bias = _mm256_loadu_si256((const __m256i *)(q->bias + c));
    if (q->uniform) {
        k.multiplier = _mm256_set1_epi32(q->uniform_multiplier);
        k.left = _mm256_set1_epi32(q->uniform_left);
        k.right = _mm256_set1_epi32(q->uniform_e);
    }
    else {
        k.multiplier = _mm256_loadu_si256((const __m256i *)(q->multiplier + c));
        __m256i shift = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(q->shift8 + c)));
        k.left = _mm256_max_epi32(shift, _mm256_setzero_si256());
        k.right = _mm256_sub_epi32(k.left, shift);
    }
    const __m256i one = _mm256_set1_epi32(1);
    k.multiplier_odd = _mm256_srli_epi64(k.multiplier, 32);
    k.right_mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, k.right), one);
    k.right_half = _mm256_srai_epi32(k.right_mask, 1);
    return k;
}

/* 8 channels' sums rescaled: bias, left shift (where shift_left, a constant after inlining), SRDHM,
 * RDBPOT; the zero point and the clamp come with the narrowing (mi_narrow_avx2). */
__attribute__((target("avx2"), always_inline))
static inline __m256i mi_rescale8_avx2(__m256i acc, const mi_requant8 *k, int shift_left)
{
    __m256i x = _mm256_add_epi32(acc, k->bias);
    if (shift_left)
        x = _mm256_sllv_epi32(x, k->left);
    return mi_rdbpot_avx2(mi_srdhm_avx2(x, k->multiplier, k->multiplier_odd), k->right, k->right_mask,
                          k->right_half);
}

static inline int8_t mi_saturate8(int32_t v) { return (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v); }

/* The output zero point and the activation bounds saturated to int8 (byte lanes). The zero point is
 * added in int32 (wrapping, as TFLM's int32 sum), the sums narrowed with saturation to int8 and clamped
 * there: saturation commutes with the clamp, which thus does the work of 8 channels once per 16 or 32. */
typedef struct {
    __m256i output_zp, act_min, act_max;
} mi_narrow_avx2;

__attribute__((target("avx2"), always_inline))
static inline mi_narrow_avx2 mi_narrow_load(const mi_requant *q)
{
    mi_narrow_avx2 k;
    k.output_zp = _mm256_set1_epi32(q->output_zp);
    k.act_min = _mm256_set1_epi8(mi_saturate8(q->act_min));
    k.act_max = _mm256_set1_epi8(mi_saturate8(q->act_max));
    return k;
}

/* 32 channels' rescaled values (r[v]: channels 8 v ..) as 32 int8 outputs in channel order. The in-lane
 * packs leave 4-byte groups in the order 0, 2, 4, 6, 1, 3, 5, 7; one permute restores it. */
__attribute__((target("avx2"), always_inline))
static inline __m256i mi_narrow32_avx2(const __m256i r[4], const mi_narrow_avx2 *k)
{
    __m256i a = _mm256_packs_epi32(_mm256_add_epi32(r[0], k->output_zp), _mm256_add_epi32(r[1], k->output_zp));
    __m256i b = _mm256_packs_epi32(_mm256_add_epi32(r[2], k->output_zp), _mm256_add_epi32(r[3], k->output_zp));
    __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(a, b), _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    return _mm256_min_epi8(_mm256_max_epi8(bytes, k->act_min), k->act_max);
}

/* 16 channels' (r0: 0..7, r1: 8..15) as 16 int8 outputs. */
__attribute__((target("avx2"), always_inline))
static inline __m128i mi_narrow16_avx2(__m256i r0, __m256i r1, const mi_narrow_avx2 *k)
{
    /* words of channels 0-3, 8-11 | 4-7, 12-15 */
    __m256i a = _mm256_packs_epi32(_mm256_add_epi32(r0, k->output_zp), _mm256_add_epi32(r1, k->output_zp));
    __m128i bytes = _mm_packs_epi16(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
    bytes = _mm_shuffle_epi32(bytes, _MM_SHUFFLE(3, 1, 2, 0));
    return _mm_min_epi8(_mm_max_epi8(bytes, _mm256_castsi256_si128(k->act_min)), _mm256_castsi256_si128(k->act_max));
}

/* 8 channels' as 8 int8 outputs (the low half). */
__attribute__((target("avx2"), always_inline))
static inline __m128i mi_narrow8_avx2(__m256i r, const mi_narrow_avx2 *k)
{
    r = _mm256_add_epi32(r, k->output_zp);
    __m128i words = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
    __m128i bytes = _mm_packs_epi16(words, words);
    return _mm_min_epi8(_mm_max_epi8(bytes, _mm256_castsi256_si128(k->act_min)), _mm256_castsi256_si128(k->act_max));
}

/* 8 int32 lanes already inside int8's range stored as 8 bytes (the saturating packs only narrow). */
__attribute__((target("avx2"), always_inline))
static inline void mi_store8_int8_avx2(int8_t *out, __m256i x)
{
    __m128i halves = _mm_packs_epi32(_mm256_castsi256_si128(x), _mm256_extracti128_si256(x, 1));
    _mm_storel_epi64((__m128i *)out, _mm_packs_epi16(halves, halves));
}

/* The multipliers, rounding offsets, shifts 31 + e and round-down masks (e > 0) of 16 lanes (see the top),
 * for the even lanes and for the odd ones (their multipliers in the low 32 bits of each 64-bit lane). */
typedef struct {
    __m512i multiplier_even, multiplier_odd, offset_even, offset_odd, shift_even, shift_odd;
    __mmask8 down_even, down_odd;
} mi_rescale16;

/* The same multiplier, right shift e and output v (added through the offsets, see the top) in every lane. */
__attribute__((target(MI_AVX512_VNNI), always_inline))
static inline mi_rescale16 mi_rescale16_uniform(int32_t multiplier, int32_t e, int32_t v)
{
    mi_rescale16 r;
    r.multiplier_even = r.multiplier_odd = _mm512_set1_epi32(multiplier);
    r.offset_even = r.offset_odd = _mm512_set1_epi64(((int64_t)1 << 30) + (e > 0 ? (int64_t)1 << (30 + e) : 0) +
                                                     (int64_t)v * ((int64_t)1 << (31 + e)));
    r.shift_even = r.shift_odd = _mm512_set1_epi64(31 + e);
    r.down_even = r.down_odd = e > 0 ? 0xFF : 0;
    return r;
}

/* Half the lanes (the even ones, or the odd ones moved down) of x times their multipliers, both roundings
 * done: the results in the low 32 bits of each 64-bit lane. */
__attribute__((target(MI_AVX512_VNNI), always_inline))
static inline __m512i mi_rescale_half(__m512i x, __m512i multiplier, __m512i offset, __m512i shift, __mmask8 down)
{
    __m512i product = _mm512_mul_epi32(x, multiplier);
    __m512i sum = _mm512_add_epi64(product, offset);
    sum = _mm512_mask_sub_epi64(sum, _mm512_mask_cmplt_epi64_mask(down, product, _mm512_setzero_si512()), sum,
                                _mm512_set1_epi64((int64_t)1 << 31));
    return _mm512_srav_epi64(sum, shift);
}

/* RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x, multiplier), e) of 16 lanes. */
__attribute__((target(MI_AVX512_VNNI), always_inline))
static inline __m512i mi_rescale16_apply(__m512i x, const mi_rescale16 *r)
{
    __m512i even = mi_rescale_half(x, r->multiplier_even, r->offset_even, r->shift_even, r->down_even);
    __m512i odd = mi_rescale_half(_mm512_srli_epi64(x, 32), r->multiplier_odd, r->offset_odd, r->shift_odd,
                                  r->down_odd);
    /* the odd lanes' results (low halves of odd's 64-bit lanes) into the odd 32-bit lanes */
    return _mm512_mask_shuffle_epi32(even, 0xAAAA, odd, _MM_PERM_CCAA);
}

/* The parameters of channels c..c+15 (c a multiple of 16; only the first n < 16 read when fewer remain). */
typedef struct {
    __m512i left, act_min, act_max;
    mi_rescale16 scale;
    int shift_left, clamp_low, clamp_high;
} mi_requant16;

/* The rounding offsets and shifts of 8 lanes (the even or the odd channels of a block) from their bytes
 * (see mi_requant): shifts 30 + e, outputs v (NULL: output_zp) and the round-down mask. */
__attribute__((target(MI_AVX512_VNNI), always_inline))
static inline void mi_rescale_half_bytes(const uint8_t *shifts, const int8_t *outputs, int32_t output_zp,
                                         __mmask8 down, __m512i *offset, __m512i *shift)
{
    const __m512i one = _mm512_set1_epi64(1);
    __m512i s = _mm512_cvtepu8_epi64(_mm_loadl_epi64((const __m128i *)shifts));
    __m512i v = outputs ? _mm512_cvtepi8_epi64(_mm_loadl_epi64((const __m128i *)outputs))
                        : _mm512_set1_epi64(output_zp);
    v = _mm512_add_epi64(v, v);
    *offset = _mm512_add_epi64(_mm512_sllv_epi64(_mm512_mask_add_epi64(v, down, v, one), s),
                               _mm512_set1_epi64((int64_t)1 << 30));
    *shift = _mm512_add_epi64(s, one);
}

__attribute__((target(MI_AVX512_VNNI), always_inline))
static inline mi_requant16 mi_requant16_load(const mi_requant *q, int64_t c, int64_t n)
{
    mi_requant16 k;
    if (q->uniform) {
        k.scale = mi_rescale16_uniform(q->uniform_multiplier, q->uniform_e, q->output_zp);
        k.shift_left = q->uniform_left != 0;
        k.left = _mm512_set1_epi32(q->uniform_left);
    }
    else {
        __mmask16 m = MI_LANE_MASK16(n);
        const int64_t *rounding = q->rounding + c * 2;
        k.scale.multiplier_even = _mm512_maskz_loadu_epi32(m, q->multiplier + c);
        k.scale.multiplier_odd = _mm512_srli_epi64(k.scale.multiplier_even, 32);
        k.shift_left = q->left != NULL;
        k.left = k.shift_left ? _mm512_maskz_loadu_epi32(m, q->left + c) : _mm512_setzero_si512();
        k.scale.offset_even = _mm512_loadu_si512((const void *)rounding);
        k.scale.offset_odd = _mm512_loadu_si512((const void *)(rounding + 8));
        k.scale.shift_even = _mm512_loadu_si512((const void *)(rounding + 16));
        k.scale.shift_odd = _mm512_loadu_si512((const void *)(rounding + 24));
        k.scale.down_even = q->round_down[c / 8];
        k.scale.down_odd = q->round_down[c / 8 + 1];
    }
    k.act_min = _mm512_set1_epi32(q->act_min);
    k.act_max = _mm512_set1_epi32(q->act_max);
    k.clamp_low = q->clamp_low;
    k.clamp_high = q->clamp_high;
    return k;
}

/* The requantization of 16 lanes, clamped (the narrowing to int8 saturates the rest). */
__attribute__((target(MI_AVX512_VNNI), always_inline))
static inline __m512i mi_requantize16(__m512i acc, const mi_requant16 *k)
{
    __m512i x = k->shift_left ? _mm512_sllv_epi32(acc, k->left) : acc;
    x = mi_rescale16_apply(x, &k->scale);
    if (k->clamp_low)
        x = _mm512_max_epi32(x, k->act_min);
    if (k->clamp_high)
        x = _mm512_min_epi32(x, k->act_max);
    return x;
}

/* The requantization of 16 lanes, stored as the first n < 16 (or all 16) bytes of out. */
__attribute__((target(MI_AVX512_VNNI), always_inline))
static inline void mi_requantize16_store(__m512i acc, const mi_requant16 *k, int8_t *out, int64_t n)
{
    _mm512_mask_cvtsepi32_storeu_epi8(out, MI_LANE_MASK16(n), mi_requantize16(acc, k));
}

/* Each block of 32 channels, then of 8, for all the pixels: its parameters loaded once per call, not per
 * pixel. */
__attribute__((target("avx2"), always_inline))
static inline int64_t mi_requantize_int8_avx2_shifting(const int32_t *acc, const mi_requant *q, int8_t *out,
                                                       int64_t n, int64_t pixels, int shift_left)
{
    const mi_narrow_avx2 narrow = mi_narrow_load(q);
    int64_t c = 0;
    for (; c + 32 <= n; c += 32) {
        mi_requant8 k[4];
        for (int v = 0; v < 4; v++)
            k[v] = mi_requant8_load(q, c + 8 * v);
        for (int64_t p = 0; p < pixels; p++) {
            __m256i r[4];
            for (int v = 0; v < 4; v++)
                r[v] = mi_rescale8_avx2(_mm256_loadu_si256((const __m256i *)(acc + p * n + c + 8 * v)), &k[v],
                                        shift_left);
            _mm256_storeu_si256((__m256i *)(out + p * n + c), mi_narrow32_avx2(r, &narrow));
        }
    }
    for (; c + 8 <= n; c += 8) {
        mi_requant8 k = mi_requant8_load(q, c);
        for (int64_t p = 0; p < pixels; p++)
            _mm_storel_epi64((__m128i *)(out + p * n + c), mi_narrow8_avx2(
                mi_rescale8_avx2(_mm256_loadu_si256((const __m256i *)(acc + p * n + c)), &k, shift_left), &narrow));
    }
    return c;
}

__attribute__((target("avx2")))
static int64_t mi_requantize_int8_avx2(const int32_t *acc, const mi_requant *q, int8_t *out, int64_t n,
                                       int64_t pixels)
{
    return q->any_left ? mi_requantize_int8_avx2_shifting(acc, q, out, n, pixels, 1)
                       : mi_requantize_int8_avx2_shifting(acc, q, out, n, pixels, 0);
}
#endif

/* Requantizes a prefix of the n channels of each of `pixels` pixels (acc and out hold pixels x n values);
 * returns how many channels per pixel (the caller does the rest). */
typedef int64_t (*mi_requantize_fn)(const int32_t *acc, const mi_requant *q, int8_t *out, int64_t n, int64_t pixels);

static int64_t mi_requantize_none(const int32_t *acc, const mi_requant *q, int8_t *out, int64_t n, int64_t pixels)
{
    (void)acc; (void)q; (void)out; (void)n; (void)pixels;
    return 0;
}

#ifdef MI_X86
__attribute__((target(MI_AVX512_VNNI)))
static int64_t mi_requantize_int8_avx512(const int32_t *acc, const mi_requant *q, int8_t *out, int64_t n,
                                         int64_t pixels)
{
    for (int64_t c = 0; c < n; c += 16) {
        mi_requant16 k = mi_requant16_load(q, c, n - c);
        for (int64_t p = 0; p < pixels; p++)
            mi_requantize16_store(_mm512_maskz_loadu_epi32(MI_LANE_MASK16(n - c), acc + p * n + c), &k,
                                  out + p * n + c, n - c);
    }
    return n;
}
#endif

#ifdef MI_X86
/* rounding[32 b ..] of the blocks of 16 of `channels` channels from their bytes (see mi_requant);
 * q->rounding then points there. */
__attribute__((target(MI_AVX512_VNNI)))
static void mi_requant_expand(mi_requant *q, int64_t *rounding, int64_t channels)
{
    for (int64_t c = 0; c < channels; c += 16)
        for (int half = 0; half < 2; half++) {  /* the block's even channels, then its odd ones */
            __m512i offset, shift;
            mi_rescale_half_bytes(q->shifts + c + 8 * half, q->outputs ? q->outputs + c + 8 * half : NULL,
                                  q->output_zp, q->round_down[c / 8 + half], &offset, &shift);
            _mm512_storeu_si512((void *)(rounding + 2 * c + 8 * half), offset);
            _mm512_storeu_si512((void *)(rounding + 2 * c + 16 + 8 * half), shift);
        }
    q->rounding = rounding;
}
#else
static void mi_requant_expand(mi_requant *q, int64_t *rounding, int64_t channels)
{
    (void)q; (void)rounding; (void)channels;  /* only the AVX-512 step has these arrays */
}
#endif

/* The vector output step of an int8 path (AVX-512 on 16 lanes with masked tails, else AVX2 on 8), or,
 * for the portable paths, one that leaves every channel to the scalar step. */
static mi_requantize_fn mi_select_requantize(mi_int8_path path)
{
    switch (path) {
#ifdef MI_X86
    case MI_INT8_AVX512_VNNI: return mi_requantize_int8_avx512;
    case MI_INT8_AVX2:
    case MI_INT8_AVX_VNNI: return mi_requantize_int8_avx2;
#endif
    default: return mi_requantize_none;
    }
}

#endif
