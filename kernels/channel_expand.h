/* The output pixels of a conv that skips its dead channels. Real models carry output channels whose
 * weights are all zero (vww_96_int8: 47% of its multiply-accumulates), whose output is the same at every
 * pixel: their bias requantized. Such a conv computes its live channels only, compactly, and each output
 * pixel is then written whole: the live values in order at the live positions, each dead channel's
 * constant elsewhere. With AVX-512 VBMI2 (vpexpandb) 64 channels at a time, else one at a time.
 */
#ifndef MI_CHANNEL_EXPAND_H
#define MI_CHANNEL_EXPAND_H

#include <stdint.h>

#include "simd.h"

typedef struct {
    int64_t channels;
    const uint64_t *live;     /* bit c % 64 of live[c / 64]: channel c is computed */
    const int64_t *first;     /* first[j]: the live channels before channel 64 j */
    const int8_t *constants;  /* each channel's constant output (anything for the live ones) */
} mi_expand;

typedef void (*mi_expand_fn)(int8_t *out, const int8_t *compact, const mi_expand *e);

static void mi_expand_portable(int8_t *out, const int8_t *compact, const mi_expand *e)
{
    int64_t k = 0;
    for (int64_t c = 0; c < e->channels; c++)
        out[c] = (e->live[c / 64] >> (c % 64)) & 1 ? compact[k++] : e->constants[c];
}

#ifdef MI_X86
/* Reads exactly the live values of each block of 64 (a load masked to their count), so the compact row
 * needs no slack. */
__attribute__((target(MI_AVX512_VBMI2)))
static void mi_expand_vbmi2(int8_t *out, const int8_t *compact, const mi_expand *e)
{
    for (int64_t c = 0, j = 0; c < e->channels; c += 64, j++) {
        int64_t n = e->channels - c;
        __mmask64 block = n >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << n) - 1;
        int count = __builtin_popcountll(e->live[j]);
        __mmask64 values = count >= 64 ? ~(__mmask64)0 : ((__mmask64)1 << count) - 1;
        __m512i constants = _mm512_maskz_loadu_epi8(block, e->constants + c);
        __m512i live = _mm512_maskz_loadu_epi8(values, compact + e->first[j]);
        _mm512_mask_storeu_epi8(out + c, block, _mm512_mask_expand_epi8(constants, (__mmask64)e->live[j], live));
    }
}
#endif

/* The AVX-512 VNNI path's expansion when this CPU has VBMI2, else (and for the other paths) the portable
 * one, so that every path's tests reach one of them. */
static mi_expand_fn mi_select_expand(mi_int8_path path)
{
#ifdef MI_X86
    if (path == MI_INT8_AVX512_VNNI && MI_CPU_SUPPORTS("avx512vbmi2"))
        return mi_expand_vbmi2;
#endif
    (void)path;
    return mi_expand_portable;
}

#endif
