/* Interleaving a few byte planes: out[p * inner + c] = src[c * plane_step + p] for p < count, c < inner (a
 * TRANSPOSE of an NCHW image with 2-4 channels to NHWC, after StridedCopyStep has merged its axes). With
 * AVX-512 VBMI, 64 elements of every plane are loaded at once and each 64-byte output vector is assembled
 * from them by `inner` masked byte permutes, whose indices and masks depend only on inner (built once per
 * call). With AVX2 (its 128-bit byte shuffles), blocks of 16 elements: each 16-byte output vector is the OR
 * of `inner` shuffles, one per plane, each zeroing the bytes the other planes fill. The function returns
 * how many leading elements it wrote (whole blocks), and the caller's byte loop does the rest, and
 * everything on a CPU with neither. The result is the same bytes every way.
 */
#ifndef MI_INTERLEAVE_H
#define MI_INTERLEAVE_H

#include <stdint.h>

#include "simd.h"

#define MI_INTERLEAVE_MAX 4

typedef int64_t (*mi_interleave_fn)(uint8_t *out, const uint8_t *src, int64_t plane_step, int64_t inner,
                                    int64_t count);

#ifdef MI_X86
/* 2 <= inner <= MI_INTERLEAVE_MAX planes, 64 elements at a time. */
__attribute__((target(MI_AVX512_VBMI_ONLY)))
static int64_t mi_interleave_vbmi(uint8_t *out, const uint8_t *src, int64_t plane_step, int64_t inner, int64_t count)
{
    /* output vector k, byte j: element g = 64 k + j is pixel g / inner of plane g % inner */
    __m512i index[MI_INTERLEAVE_MAX];
    __mmask64 from[MI_INTERLEAVE_MAX][MI_INTERLEAVE_MAX];
    for (int64_t k = 0; k < inner; k++) {
        uint8_t bytes[64];
        for (int64_t c = 0; c < inner; c++)
            from[k][c] = 0;
        for (int j = 0; j < 64; j++) {
            int64_t g = 64 * k + j;
            bytes[j] = (uint8_t)(g / inner);
            from[k][g % inner] |= (__mmask64)1 << j;
        }
        index[k] = _mm512_loadu_si512((const void *)bytes);
    }
    int64_t p = 0;
    for (; p + 64 <= count; p += 64, out += 64 * inner) {
        __m512i planes[MI_INTERLEAVE_MAX];
        for (int64_t c = 0; c < inner; c++)
            planes[c] = _mm512_loadu_si512((const void *)(src + c * plane_step + p));
        for (int64_t k = 0; k < inner; k++) {
            __m512i v = _mm512_setzero_si512();
            for (int64_t c = 0; c < inner; c++)
                v = _mm512_mask_permutexvar_epi8(v, from[k][c], index[k], planes[c]);
            _mm512_storeu_si512((void *)(out + 64 * k), v);
        }
    }
    return p;
}

/* INNER (a constant after inlining) planes, 16 elements at a time (see the top). */
__attribute__((target("avx2"), always_inline))
static inline int64_t mi_interleave16(uint8_t *out, const uint8_t *src, int64_t plane_step, const int INNER,
                                      int64_t count)
{
    __m128i index[MI_INTERLEAVE_MAX][MI_INTERLEAVE_MAX];
    for (int k = 0; k < INNER; k++)
        for (int c = 0; c < INNER; c++) {
            uint8_t bytes[16];
            for (int j = 0; j < 16; j++) {
                int g = 16 * k + j;
                bytes[j] = g % INNER == c ? (uint8_t)(g / INNER) : 0x80;  /* 0x80: a zero byte */
            }
            index[k][c] = _mm_loadu_si128((const __m128i *)bytes);
        }
    int64_t p = 0;
    for (; p + 16 <= count; p += 16, out += 16 * INNER) {
        __m128i planes[MI_INTERLEAVE_MAX];
        for (int c = 0; c < INNER; c++)
            planes[c] = _mm_loadu_si128((const __m128i *)(src + c * plane_step + p));
        for (int k = 0; k < INNER; k++) {
            __m128i v = _mm_shuffle_epi8(planes[0], index[k][0]);
            for (int c = 1; c < INNER; c++)
                v = _mm_or_si128(v, _mm_shuffle_epi8(planes[c], index[k][c]));
            _mm_storeu_si128((__m128i *)(out + 16 * k), v);
        }
    }
    return p;
}

__attribute__((target("avx2")))
static int64_t mi_interleave_avx2(uint8_t *out, const uint8_t *src, int64_t plane_step, int64_t inner, int64_t count)
{
    switch (inner) {
    case 2: return mi_interleave16(out, src, plane_step, 2, count);
    case 3: return mi_interleave16(out, src, plane_step, 3, count);
    default: return mi_interleave16(out, src, plane_step, 4, count);
    }
}
#endif

/* The VBMI or AVX2 interleave, or NULL for inner outside 2..MI_INTERLEAVE_MAX or a CPU with neither. */
static mi_interleave_fn mi_select_interleave(int64_t inner)
{
#ifdef MI_X86
    if (inner >= 2 && inner <= MI_INTERLEAVE_MAX && MI_CPU_SUPPORTS("avx512vbmi"))
        return mi_interleave_vbmi;
    if (inner >= 2 && inner <= MI_INTERLEAVE_MAX && MI_CPU_SUPPORTS("avx2"))
        return mi_interleave_avx2;
#endif
    (void)inner;
    return NULL;
}

#endif
