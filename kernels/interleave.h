/* Interleaving a few byte planes: out[p * inner + c] = src[c * plane_step + p] for p < count, c < inner (a
 * TRANSPOSE of an NCHW image with 2-4 channels to NHWC, after StridedCopyStep has merged its axes). The
 * portable loop moves one byte per step; with AVX-512 VBMI, 64 elements of every plane are loaded at once
 * and each 64-byte output vector is assembled from them by `inner` masked byte permutes, whose indices
 * and masks depend only on inner (built once per call). The result is the same bytes either way.
 */
#ifndef MI_INTERLEAVE_H
#define MI_INTERLEAVE_H

#include <stdint.h>

#include "simd.h"

#define MI_INTERLEAVE_MAX 4

typedef void (*mi_interleave_fn)(uint8_t *out, const uint8_t *src, int64_t plane_step, int64_t inner,
                                 int64_t count);

static void mi_interleave_portable(uint8_t *out, const uint8_t *src, int64_t plane_step, int64_t inner,
                                   int64_t count)
{
    for (int64_t c = 0; c < inner; c++)
        for (int64_t p = 0; p < count; p++)
            out[p * inner + c] = src[c * plane_step + p];
}

#ifdef MI_X86
/* 2 <= inner <= MI_INTERLEAVE_MAX planes, 64 elements at a time, then the portable loop for the rest. */
__attribute__((target("avx512f,avx512bw,avx512vbmi")))
static void mi_interleave_vbmi(uint8_t *out, const uint8_t *src, int64_t plane_step, int64_t inner, int64_t count)
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
    mi_interleave_portable(out, src + p, plane_step, inner, count - p);
}
#endif

/* The fastest interleave this CPU runs, or NULL for inner outside 2..MI_INTERLEAVE_MAX or without VBMI
 * (the caller's byte loop is as fast as the portable one there). */
static mi_interleave_fn mi_select_interleave(int64_t inner)
{
#ifdef MI_X86
    if (inner >= 2 && inner <= MI_INTERLEAVE_MAX && __builtin_cpu_supports("avx512vbmi"))
        return mi_interleave_vbmi;
#endif
    (void)inner;
    return NULL;
}

#endif
