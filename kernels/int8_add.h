/* int8 ADD and SUB of two tensors of the output's element count (no broadcasting), TFLM's
 * reference_integer_ops AddElementwise / SubElementwise, 32 elements at a time with AVX2:
 *   a = RDBPOT(SRDHM((x1 + input1_offset) << left_shift, input1_multiplier), input1_exponent)
 *   b = the same for x2, s = a + b or a - b (wrapping),
 *   out = clamp(RDBPOT(SRDHM(s, output_multiplier), output_exponent) + output_offset, act_min, act_max)
 * with requantize.h's exact SRDHM and RDBPOT helpers. The exponents are the negated TFLM shifts and, like
 * left_shift, must lie in 0..31, no multiplier may be INT32_MIN and the clamp range must lie in int8
 * (the caller checks all three). The vector
 * function returns how many leading elements it wrote; the caller finishes the rest (fewer than 8, or all
 * of them without AVX2) with the reference template's scalar arithmetic, which gives the same bits.
 *
 * On AVX-512 VNNI with VBMI, each input's rescale, a function of its byte alone, is looked up instead:
 * `planes` holds the four bytes of its int32 value for each of the 256 byte values (filled by the caller
 * with the reference arithmetic), and vpermi2b reads 64 elements' byte k at once, which leaves only the
 * output rescale to compute. When `separable` is set the planes hold more: tables t1, t2 with
 *   out = clamp((t1[x1] + t2[x2]) >> table_shift, act_min, act_max)
 * for all 65,536 input pairs, which the caller builds from the output rescale's linear form and checks
 * pair by pair against the reference arithmetic before it sets the flag; then nothing is left to compute
 * but one add and one shift per element.
 *
 * Write order: each block of 64, 32, 16 or 8 elements is read whole before it is written, blocks in
 * increasing order, so an output that starts at or before an input (the planner's in-place placement)
 * stays valid.
 */
#ifndef MI_INT8_ADD_H
#define MI_INT8_ADD_H

#include <stdint.h>

#include "requantize.h"

typedef struct {
    int32_t input1_offset, input2_offset, left_shift;
    int32_t input1_multiplier, input1_exponent, input2_multiplier, input2_exponent;
    int32_t output_multiplier, output_exponent, output_offset, act_min, act_max;
    /* byte k of input i's rescale (or table, when separable) of the byte value u at
     * planes[(4 i + k) * 256 + u]; read on the AVX-512 VNNI path when the CPU has VBMI */
    const int8_t *planes;
    int32_t separable, table_shift;
} mi_add_params;

typedef int64_t (*mi_add_fn)(const int8_t *, const int8_t *, int8_t *, int64_t, const mi_add_params *);

static int64_t mi_add_none(const int8_t *x1, const int8_t *x2, int8_t *out, int64_t n, const mi_add_params *p)
{
    (void)x1; (void)x2; (void)out; (void)n; (void)p;
    return 0;
}

#ifdef MI_X86

/* The parameters broadcast to every lane; each exponent comes with its RDBPOT mask 2^e - 1. */
typedef struct {
    __m256i offset1, offset2, multiplier1, multiplier2, exponent1, exponent2, mask1, mask2;
    __m256i output_multiplier, output_exponent, output_mask, output_offset, act_min, act_max;
    __m128i left_shift;
} mi_add_lanes;

/* RDBPOT's mask 2^e - 1 in every lane. */
__attribute__((target("avx2"), always_inline))
static inline __m256i mi_pot_mask_avx2(int32_t e)
{
    return _mm256_set1_epi32((int32_t)(((int64_t)1 << e) - 1));
}

/* One input's rescale of the 8 int8 values at x. */
__attribute__((target("avx2"), always_inline))
static inline __m256i mi_add_rescale_avx2(const int8_t *x, __m256i offset, __m128i left_shift,
                                           __m256i multiplier, __m256i exponent, __m256i mask)
{
    __m256i v = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)x));
    v = _mm256_sll_epi32(_mm256_add_epi32(v, offset), left_shift);
    /* a broadcast multiplier is its own odd lanes moved down */
    return mi_rdbpot_avx2(mi_srdhm_avx2(v, multiplier, multiplier), exponent, mask, _mm256_srai_epi32(mask, 1));
}

/* 8 elements' clamped results as int32 lanes; subtract is a constant after inlining. */
__attribute__((target("avx2"), always_inline))
static inline __m256i mi_add8_avx2(const int8_t *x1, const int8_t *x2, const mi_add_lanes *k, int subtract)
{
    __m256i a = mi_add_rescale_avx2(x1, k->offset1, k->left_shift, k->multiplier1, k->exponent1, k->mask1);
    __m256i b = mi_add_rescale_avx2(x2, k->offset2, k->left_shift, k->multiplier2, k->exponent2, k->mask2);
    __m256i s = subtract ? _mm256_sub_epi32(a, b) : _mm256_add_epi32(a, b);
    s = mi_rdbpot_avx2(mi_srdhm_avx2(s, k->output_multiplier, k->output_multiplier), k->output_exponent,
                       k->output_mask, _mm256_srai_epi32(k->output_mask, 1));
    s = _mm256_add_epi32(s, k->output_offset);
    return _mm256_min_epi32(_mm256_max_epi32(s, k->act_min), k->act_max);
}

__attribute__((target("avx2"), always_inline))
static inline int64_t mi_add_sub_avx2(const int8_t *x1, const int8_t *x2, int8_t *out, int64_t n,
                                       const mi_add_params *p, int subtract)
{
    const mi_add_lanes k = {
        _mm256_set1_epi32(p->input1_offset), _mm256_set1_epi32(p->input2_offset),
        _mm256_set1_epi32(p->input1_multiplier), _mm256_set1_epi32(p->input2_multiplier),
        _mm256_set1_epi32(p->input1_exponent), _mm256_set1_epi32(p->input2_exponent),
        mi_pot_mask_avx2(p->input1_exponent), mi_pot_mask_avx2(p->input2_exponent),
        _mm256_set1_epi32(p->output_multiplier), _mm256_set1_epi32(p->output_exponent),
        mi_pot_mask_avx2(p->output_exponent),
        _mm256_set1_epi32(p->output_offset), _mm256_set1_epi32(p->act_min), _mm256_set1_epi32(p->act_max),
        _mm_cvtsi32_si128(p->left_shift),
    };
    /* packs works within 128-bit halves: its 4-byte groups are r0..r3's lanes 0-3, then r0..r3's lanes 4-7 */
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i r0 = mi_add8_avx2(x1 + i, x2 + i, &k, subtract);
        __m256i r1 = mi_add8_avx2(x1 + i + 8, x2 + i + 8, &k, subtract);
        __m256i r2 = mi_add8_avx2(x1 + i + 16, x2 + i + 16, &k, subtract);
        __m256i r3 = mi_add8_avx2(x1 + i + 24, x2 + i + 24, &k, subtract);
        __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(r0, r1), _mm256_packs_epi32(r2, r3));
        _mm256_storeu_si256((__m256i *)(out + i), _mm256_permutevar8x32_epi32(bytes, order));
    }
    for (; i + 8 <= n; i += 8)
        mi_store8_int8_avx2(out + i, mi_add8_avx2(x1 + i, x2 + i, &k, subtract));
    return i;
}

__attribute__((target("avx2")))
static int64_t mi_add_int8_avx2(const int8_t *x1, const int8_t *x2, int8_t *out, int64_t n, const mi_add_params *p)
{
    return mi_add_sub_avx2(x1, x2, out, n, p, 0);
}

__attribute__((target("avx2")))
static int64_t mi_sub_int8_avx2(const int8_t *x1, const int8_t *x2, int8_t *out, int64_t n, const mi_add_params *p)
{
    return mi_add_sub_avx2(x1, x2, out, n, p, 1);
}

/* The parameters of the AVX-512 step, broadcast to every lane. */
typedef struct {
    __m512i offset1, offset2, output_offset, act_min, act_max;
    __m128i left_shift;
    mi_rescale16 input1, input2, output;
} mi_add_lanes16;

/* 16 elements' clamped results as int32 lanes (the first n < 16 read when fewer remain). */
__attribute__((target(MI_AVX512_VNNI), always_inline))
static inline __m512i mi_add16_avx512(const int8_t *x1, const int8_t *x2, int64_t n, const mi_add_lanes16 *k,
                                      int subtract)
{
    __mmask16 m = MI_LANE_MASK16(n);
    __m512i a = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, x1));
    __m512i b = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, x2));
    a = mi_rescale16_apply(_mm512_sll_epi32(_mm512_add_epi32(a, k->offset1), k->left_shift), &k->input1);
    b = mi_rescale16_apply(_mm512_sll_epi32(_mm512_add_epi32(b, k->offset2), k->left_shift), &k->input2);
    __m512i s = subtract ? _mm512_sub_epi32(a, b) : _mm512_add_epi32(a, b);
    s = _mm512_add_epi32(mi_rescale16_apply(s, &k->output), k->output_offset);
    return _mm512_min_epi32(_mm512_max_epi32(s, k->act_min), k->act_max);
}

__attribute__((target(MI_AVX512_VNNI), always_inline))
static inline int64_t mi_add_sub_avx512(const int8_t *x1, const int8_t *x2, int8_t *out, int64_t n,
                                         const mi_add_params *p, int subtract)
{
    mi_add_lanes16 k;
    k.offset1 = _mm512_set1_epi32(p->input1_offset);
    k.offset2 = _mm512_set1_epi32(p->input2_offset);
    k.output_offset = _mm512_set1_epi32(p->output_offset);
    k.act_min = _mm512_set1_epi32(p->act_min);
    k.act_max = _mm512_set1_epi32(p->act_max);
    k.left_shift = _mm_cvtsi32_si128(p->left_shift);
    k.input1 = mi_rescale16_uniform(p->input1_multiplier, p->input1_exponent, 0);
    k.input2 = mi_rescale16_uniform(p->input2_multiplier, p->input2_exponent, 0);
    k.output = mi_rescale16_uniform(p->output_multiplier, p->output_exponent, 0);
    for (int64_t i = 0; i < n; i += 16)
        _mm512_mask_cvtsepi32_storeu_epi8(out + i, MI_LANE_MASK16(n - i),
                                          mi_add16_avx512(x1 + i, x2 + i, n - i, &k, subtract));
    return n;
}

/* One input's rescales of the 64 int8 values x, looked up in its four planes (vpermi2b indexes 128 bytes,
 * the sign bit picks the half), as int32 lanes in the unpacks' order: d[j] lane l = elements
 * 16 l + 4 j .. + 3. */
__attribute__((target(MI_AVX512_VBMI), always_inline))
static inline void mi_add_lookup64(__m512i x, const int8_t *planes, __m512i d[4])
{
    __mmask64 upper = _mm512_movepi8_mask(x);
    __m512i b[4];
    for (int k = 0; k < 4; k++) {
        const int8_t *t = planes + 256 * k;
        __m512i low = _mm512_permutex2var_epi8(_mm512_loadu_si512((const void *)t), x,
                                               _mm512_loadu_si512((const void *)(t + 64)));
        __m512i high = _mm512_permutex2var_epi8(_mm512_loadu_si512((const void *)(t + 128)), x,
                                                _mm512_loadu_si512((const void *)(t + 192)));
        b[k] = _mm512_mask_blend_epi8(upper, low, high);
    }
    __m512i lo01 = _mm512_unpacklo_epi8(b[0], b[1]), hi01 = _mm512_unpackhi_epi8(b[0], b[1]);
    __m512i lo23 = _mm512_unpacklo_epi8(b[2], b[3]), hi23 = _mm512_unpackhi_epi8(b[2], b[3]);
    d[0] = _mm512_unpacklo_epi16(lo01, lo23);
    d[1] = _mm512_unpackhi_epi16(lo01, lo23);
    d[2] = _mm512_unpacklo_epi16(hi01, hi23);
    d[3] = _mm512_unpackhi_epi16(hi01, hi23);
}

/* Blocks of 64 elements from separable tables (see the top): the sums shifted, narrowed with saturation
 * (the packs restore the elements' order, as below) and clamped as bytes. */
__attribute__((target(MI_AVX512_VBMI), always_inline))
static inline int64_t mi_add_separable_vbmi(const int8_t *x1, const int8_t *x2, int8_t *out, int64_t n,
                                            const mi_add_params *p)
{
    const __m128i shift = _mm_cvtsi32_si128(p->table_shift);
    const __m512i low = _mm512_set1_epi8((char)p->act_min), high = _mm512_set1_epi8((char)p->act_max);
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512i a[4], b[4], r[4];
        mi_add_lookup64(_mm512_loadu_si512((const void *)(x1 + i)), p->planes, a);
        mi_add_lookup64(_mm512_loadu_si512((const void *)(x2 + i)), p->planes + 4 * 256, b);
        for (int j = 0; j < 4; j++)
            r[j] = _mm512_sra_epi32(_mm512_add_epi32(a[j], b[j]), shift);
        __m512i bytes = _mm512_packs_epi16(_mm512_packs_epi32(r[0], r[1]), _mm512_packs_epi32(r[2], r[3]));
        _mm512_storeu_si512((void *)(out + i), _mm512_min_epi8(_mm512_max_epi8(bytes, low), high));
    }
    return i;
}

/* Blocks of 64 elements with looked-up input rescales (or separable tables), the rest with
 * mi_add_sub_avx512. */
__attribute__((target(MI_AVX512_VBMI), always_inline))
static inline int64_t mi_add_sub_vbmi(const int8_t *x1, const int8_t *x2, int8_t *out, int64_t n,
                                      const mi_add_params *p, int subtract)
{
    if (p->separable) {
        int64_t i = mi_add_separable_vbmi(x1, x2, out, n, p);
        return i + mi_add_sub_avx512(x1 + i, x2 + i, out + i, n - i, p, subtract);
    }
    const mi_rescale16 output = mi_rescale16_uniform(p->output_multiplier, p->output_exponent, 0);
    const __m512i output_offset = _mm512_set1_epi32(p->output_offset);
    const __m512i act_min = _mm512_set1_epi32(p->act_min), act_max = _mm512_set1_epi32(p->act_max);
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        __m512i a[4], b[4], r[4];
        mi_add_lookup64(_mm512_loadu_si512((const void *)(x1 + i)), p->planes, a);
        mi_add_lookup64(_mm512_loadu_si512((const void *)(x2 + i)), p->planes + 4 * 256, b);
        for (int j = 0; j < 4; j++) {
            __m512i s = subtract ? _mm512_sub_epi32(a[j], b[j]) : _mm512_add_epi32(a[j], b[j]);
            s = _mm512_add_epi32(mi_rescale16_apply(s, &output), output_offset);
            r[j] = _mm512_min_epi32(_mm512_max_epi32(s, act_min), act_max);
        }
        /* the packs work within 128-bit lanes, which puts elements 16 l .. + 15 back in lane l; the clamp
         * range lies in int8, so their saturation changes nothing */
        _mm512_storeu_si512((void *)(out + i), _mm512_packs_epi16(_mm512_packs_epi32(r[0], r[1]),
                                                                  _mm512_packs_epi32(r[2], r[3])));
    }
    return i + mi_add_sub_avx512(x1 + i, x2 + i, out + i, n - i, p, subtract);
}

__attribute__((target(MI_AVX512_VBMI)))
static int64_t mi_add_int8_vbmi(const int8_t *x1, const int8_t *x2, int8_t *out, int64_t n, const mi_add_params *p)
{
    return mi_add_sub_vbmi(x1, x2, out, n, p, 0);
}

__attribute__((target(MI_AVX512_VBMI)))
static int64_t mi_sub_int8_vbmi(const int8_t *x1, const int8_t *x2, int8_t *out, int64_t n, const mi_add_params *p)
{
    return mi_add_sub_vbmi(x1, x2, out, n, p, 1);
}

__attribute__((target(MI_AVX512_VNNI)))
static int64_t mi_add_int8_avx512(const int8_t *x1, const int8_t *x2, int8_t *out, int64_t n, const mi_add_params *p)
{
    return mi_add_sub_avx512(x1, x2, out, n, p, 0);
}

__attribute__((target(MI_AVX512_VNNI)))
static int64_t mi_sub_int8_avx512(const int8_t *x1, const int8_t *x2, int8_t *out, int64_t n, const mi_add_params *p)
{
    return mi_add_sub_avx512(x1, x2, out, n, p, 1);
}
#endif

/* The vector ADD (or SUB) of an int8 path (which the caller has checked this CPU runs): AVX-512 on the
 * AVX-512 VNNI path (with looked-up input rescales when the CPU has VBMI), AVX2 on the AVX2 and AVX-VNNI
 * ones, else one that leaves every element to the scalar step. */
static mi_add_fn mi_select_add(int subtract, mi_int8_path path)
{
    switch (path) {
#ifdef MI_X86
    case MI_INT8_AVX512_VNNI:
        if (MI_CPU_SUPPORTS("avx512vbmi"))
            return subtract ? mi_sub_int8_vbmi : mi_add_int8_vbmi;
        return subtract ? mi_sub_int8_avx512 : mi_add_int8_avx512;
    case MI_INT8_AVX2:
    case MI_INT8_AVX_VNNI: return subtract ? mi_sub_int8_avx2 : mi_add_int8_avx2;
#endif
    default: return mi_add_none;
    }
}

#endif
