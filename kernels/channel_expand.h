/* The output pixels of a conv that skips its dead channels. Real models carry output channels whose
 * weights are all zero (vww_96_int8: 47% of its multiply-accumulates), whose output is the same at every
 * pixel: their bias requantized. Such a conv computes its live channels only, compactly, and each output
 * pixel is then written whole: the live values in order at the live positions, each dead channel's
 * constant elsewhere. With AVX-512 VBMI2 (vpexpandb) 64 channels at a time; with AVX2, 16 at a time by a
 * byte shuffle fixed at bind time (the live pattern is the layer's); the rest one at a time, whose
 * branch per channel on an irregular pattern mispredicts often.
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
    /* per whole block of 16 channels (AVX2): the shuffle of 16 compact values from shuffle_first[j] into
     * the block's live channels (0x80, a zero, at the dead ones), the dead channels' constants with 0 at
     * the live ones, and shuffle_first[channels / 16]: the live channels before the rest */
    const uint8_t *shuffles;
    const int8_t *fills;
    const int64_t *shuffle_first;
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

#ifdef MI_X86
/* Each block's 16 loaded compact values hold its live ones first (a block has at most 16, and at least
 * 16 dead channels follow the last live one in the compact row's stride, so the load stays inside it). */
__attribute__((target("avx2")))
static void mi_expand_avx2(int8_t *out, const int8_t *compact, const mi_expand *e)
{
    const int64_t whole = e->channels / 16;
    for (int64_t j = 0; j < whole; j++) {
        __m128i live = _mm_loadu_si128((const __m128i *)(compact + e->shuffle_first[j]));
        __m128i placed = _mm_shuffle_epi8(live, _mm_loadu_si128((const __m128i *)(e->shuffles + 16 * j)));
        _mm_storeu_si128((__m128i *)(out + 16 * j),
                         _mm_or_si128(placed, _mm_loadu_si128((const __m128i *)(e->fills + 16 * j))));
    }
    int64_t k = e->shuffle_first[whole];
    for (int64_t c = 16 * whole; c < e->channels; c++)
        out[c] = (e->live[c / 64] >> (c % 64)) & 1 ? compact[k++] : e->constants[c];
}
#endif

/* The AVX-512 VNNI path's expansion when this CPU has VBMI2, the AVX2 one for the other vector paths, the
 * portable one for the portable paths, so that every path's tests reach one of them. */
static mi_expand_fn mi_select_expand(mi_int8_path path)
{
#ifdef MI_X86
    if (path == MI_INT8_AVX512_VNNI && MI_CPU_SUPPORTS("avx512vbmi2"))
        return mi_expand_vbmi2;
    if (path == MI_INT8_AVX512_VNNI || path == MI_INT8_AVX2 || path == MI_INT8_AVX_VNNI)
        return mi_expand_avx2;
#endif
    (void)path;
    return mi_expand_portable;
}

#endif
