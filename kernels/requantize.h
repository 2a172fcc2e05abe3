/* The output step of the int8 fast kernels for 8 channels at a time (AVX2): add the bias, TFLM's
 * MultiplyByQuantizedMultiplier (double rounding, as fixedpoint.pxd), add the output zero point, clamp,
 * narrow to int8. The caller finishes the channels this does not (a tail of fewer than 8, or all of them
 * on a CPU without AVX2) with the scalar store_output, which gives the same bits.
 *
 * SaturatingRoundingDoublingHighMul: (ab + nudge) / 2^31 truncated toward zero equals
 * floor((ab + 2^30) / 2^31) for either sign of ab (for ab < 0 the truncation adds 2^31 - 1 to the
 * nudge 1 - 2^30), and that quotient fits int32 except in the saturating case, so it is bits 31..62 of
 * ab + 2^30, which a logical 64-bit shift extracts. Shifts are per channel: left in 0..31 and right in
 * 0..31 (the caller checks the range; beyond it C's scalar shifts are undefined).
 */
#ifndef MI_REQUANTIZE_H
#define MI_REQUANTIZE_H

#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

__attribute__((target("avx2")))
static int64_t mi_requantize_int8_avx2(const int32_t *acc, const int32_t *bias, const int32_t *multiplier,
                                       const int32_t *left, const int32_t *right, int32_t output_zp,
                                       int32_t act_min, int32_t act_max, int8_t *out, int64_t n)
{
    const __m256i int_min = _mm256_set1_epi32(INT32_MIN), int_max = _mm256_set1_epi32(INT32_MAX);
    const __m256i half = _mm256_set1_epi64x((int64_t)1 << 30), one = _mm256_set1_epi32(1);
    const __m256i zero = _mm256_setzero_si256();
    int64_t c = 0;
    for (; c + 8 <= n; c += 8) {
        __m256i x = _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(acc + c)),
                                     _mm256_loadu_si256((const __m256i *)(bias + c)));
        __m256i b = _mm256_loadu_si256((const __m256i *)(multiplier + c));
        __m256i e = _mm256_loadu_si256((const __m256i *)(right + c));
        __m256i a = _mm256_sllv_epi32(x, _mm256_loadu_si256((const __m256i *)(left + c)));
        /* 64-bit products of the even lanes, then of the odd lanes moved down */
        __m256i even = _mm256_add_epi64(_mm256_mul_epi32(a, b), half);
        __m256i odd = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(a, 32), _mm256_srli_epi64(b, 32)), half);
        __m256i high = _mm256_blend_epi32(_mm256_srli_epi64(even, 31), _mm256_slli_epi64(odd, 1), 0xAA);
        __m256i saturate = _mm256_and_si256(_mm256_cmpeq_epi32(a, int_min), _mm256_cmpeq_epi32(b, int_min));
        high = _mm256_blendv_epi8(high, int_max, saturate);
        /* RoundingDivideByPOT: shift right, ties away from zero */
        __m256i mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, e), one);
        __m256i remainder = _mm256_and_si256(high, mask);
        __m256i threshold = _mm256_sub_epi32(_mm256_srai_epi32(mask, 1), _mm256_cmpgt_epi32(zero, high));
        __m256i scaled = _mm256_sub_epi32(_mm256_srav_epi32(high, e), _mm256_cmpgt_epi32(remainder, threshold));
        scaled = _mm256_add_epi32(scaled, _mm256_set1_epi32(output_zp));
        scaled = _mm256_min_epi32(_mm256_max_epi32(scaled, _mm256_set1_epi32(act_min)), _mm256_set1_epi32(act_max));
        /* the low byte of each lane (the (int8_t) cast), gathered to the bottom 4 bytes of each half */
        __m256i bytes = _mm256_shuffle_epi8(scaled, _mm256_set1_epi32(0x0C080400));
        __m128i packed = _mm_unpacklo_epi32(_mm256_castsi256_si128(bytes), _mm256_extracti128_si256(bytes, 1));
        _mm_storel_epi64((__m128i *)(out + c), packed);
    }
    return c;
}
#endif

typedef int64_t (*mi_requantize_fn)(const int32_t *, const int32_t *, const int32_t *, const int32_t *,
                                    const int32_t *, int32_t, int32_t, int32_t, int8_t *, int64_t);

static int64_t mi_requantize_none(const int32_t *acc, const int32_t *bias, const int32_t *multiplier,
                                  const int32_t *left, const int32_t *right, int32_t output_zp,
                                  int32_t act_min, int32_t act_max, int8_t *out, int64_t n)
{
    (void)acc; (void)bias; (void)multiplier; (void)left; (void)right;
    (void)output_zp; (void)act_min; (void)act_max; (void)out; (void)n;
    return 0;
}

/* The vector output step if this CPU has AVX2 and force_portable is 0, else one that leaves every
 * channel to the scalar step. */
static mi_requantize_fn mi_select_requantize(int force_portable)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (!force_portable && __builtin_cpu_supports("avx2"))
        return mi_requantize_int8_avx2;
#endif
    (void)force_portable;
    return mi_requantize_none;
}

#endif
