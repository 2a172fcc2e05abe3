/* Interleaving a few byte planes: out[p * inner + c] = src[c * plane_step + p] for p < count, c < inner (a
 * TRANSPOSE of an NCHW image with 2-4 channels to NHWC, after StridedCopyStep has merged its axes). With
 * AVX-512 VBMI, 64 elements of every plane are loaded at once and each 64-byte output vector is assembled
 * from them by `inner` masked byte permutes, whose indices and masks depend only on inner (built once per
 * call); the function returns how many leading elements it wrote (whole blocks of 64), and the caller's
 * byte loop does the rest, and everything where the CPU has no VBMI. The result is the same bytes either way.
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
#endif

/* The VBMI interleave, or NULL for inner outside 2..MI_INTERLEAVE_MAX or a CPU without VBMI. */
static mi_interleave_fn mi_select_interleave(int64_t inner)
{
#ifdef MI_X86
    if (inner >= 2 && inner <= MI_INTERLEAVE_MAX && MI_CPU_SUPPORTS("avx512vbmi"))
        return mi_interleave_vbmi;
#endif
    (void)inner;
    return NULL;
}

#endif
