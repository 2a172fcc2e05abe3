/* A build that runs the AVX-512 and AVX-VNNI paths on a CPU without them, to check their bits (not their
 * speed): compiled with -DMI_EMULATE_ISA, simd.h takes every intrinsic from SIMDe (SIMD Everywhere,
 * Debian's libsimde-dev, header-only), which implements them in portable C, and this header adds the
 * ones SIMDe 0.7.4 lacks, lane by lane from Intel's definitions. Masked loads and stores touch only
 * their selected lanes, as the instructions do, so a read past a buffer shows up as it would on the
 * hardware. Never part of a normal build.
 */
#ifndef MI_ISA_EMULATION_H
#define MI_ISA_EMULATION_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

typedef simde__mmask8 __mmask8;
typedef simde__mmask16 __mmask16;
typedef simde__mmask64 __mmask64;
#define _MM_PERM_CCAA 0xA0  /* lanes 0, 0, 2, 2 of each 128 bits */

/* The lanes of a vector as arrays, through memory (the emulated vectors are plain structs). */
#define MI_EMU_LANES(type, name, n, vector) type name[n]; memcpy(name, &(vector), sizeof(name))
#define MI_EMU_VECTOR(vtype, lanes) ({ vtype v_; memcpy(&v_, lanes, sizeof(v_)); v_; })

/* AVX-VNNI's vpdpbusd on 256 bits is AVX-512 VNNI's VL form with another name. */
#define _mm256_dpbusd_avx_epi32(src, a, b) simde_mm256_dpbusd_epi32(src, a, b)

/* SIMDe's fmadd multiplies and adds with two roundings; the instruction rounds once, as fmaf does. */
static inline simde__m256 mi_emu_fmadd_ps(simde__m256 a, simde__m256 b, simde__m256 c)
{
    MI_EMU_LANES(float, x, 8, a);
    MI_EMU_LANES(float, y, 8, b);
    MI_EMU_LANES(float, z, 8, c);
    for (int i = 0; i < 8; i++)
        z[i] = fmaf(x[i], y[i], z[i]);
    return MI_EMU_VECTOR(simde__m256, z);
}
#undef _mm256_fmadd_ps
#define _mm256_fmadd_ps(a, b, c) mi_emu_fmadd_ps(a, b, c)

static inline simde__m512i mi_emu_alignr_epi32(simde__m512i a, simde__m512i b, int shift)
{
    MI_EMU_LANES(int32_t, x, 16, a);
    MI_EMU_LANES(int32_t, y, 16, b);
    int32_t r[16];
    for (int i = 0; i < 16; i++)
        r[i] = i + (shift & 15) < 16 ? y[i + (shift & 15)] : x[i + (shift & 15) - 16];
    return MI_EMU_VECTOR(simde__m512i, r);
}
#define _mm512_alignr_epi32(a, b, shift) mi_emu_alignr_epi32(a, b, shift)

/* Sign- or zero-extension of the first n bytes of a to n lanes of type T. */
#define MI_EMU_WIDEN(name, byte, T, n)                                                                       \
    static inline simde__m512i name(simde__m128i a)                                                          \
    {                                                                                                        \
        MI_EMU_LANES(byte, x, 16, a);                                                                        \
        T r[n];                                                                                              \
        for (int i = 0; i < n; i++)                                                                          \
            r[i] = (T)x[i];                                                                                  \
        return MI_EMU_VECTOR(simde__m512i, r);                                                               \
    }
MI_EMU_WIDEN(mi_emu_cvtepi8_epi32, int8_t, int32_t, 16)
MI_EMU_WIDEN(mi_emu_cvtepi8_epi64, int8_t, int64_t, 8)
MI_EMU_WIDEN(mi_emu_cvtepu8_epi64, uint8_t, int64_t, 8)
#define _mm512_cvtepi8_epi32(a) mi_emu_cvtepi8_epi32(a)
#define _mm512_cvtepi8_epi64(a) mi_emu_cvtepi8_epi64(a)
#define _mm512_cvtepu8_epi64(a) mi_emu_cvtepu8_epi64(a)

static inline simde__mmask8 mi_emu_mask_cmplt_epi64_mask(simde__mmask8 k, simde__m512i a, simde__m512i b)
{
    MI_EMU_LANES(int64_t, x, 8, a);
    MI_EMU_LANES(int64_t, y, 8, b);
    simde__mmask8 r = 0;
    for (int i = 0; i < 8; i++)
        r |= (simde__mmask8)((((k >> i) & 1) && x[i] < y[i]) << i);
    return r;
}
#define _mm512_mask_cmplt_epi64_mask(k, a, b) mi_emu_mask_cmplt_epi64_mask(k, a, b)

static inline void mi_emu_mask_cvtsepi32_storeu_epi8(void *p, simde__mmask16 k, simde__m512i a)
{
    MI_EMU_LANES(int32_t, x, 16, a);
    for (int i = 0; i < 16; i++)
        if ((k >> i) & 1)
            ((int8_t *)p)[i] = (int8_t)(x[i] < -128 ? -128 : x[i] > 127 ? 127 : x[i]);
}
#define _mm512_mask_cvtsepi32_storeu_epi8(p, k, a) mi_emu_mask_cvtsepi32_storeu_epi8(p, k, a)

static inline simde__m512i mi_emu_mask_expand_epi8(simde__m512i src, simde__mmask64 k, simde__m512i a)
{
    MI_EMU_LANES(int8_t, r, 64, src);
    MI_EMU_LANES(int8_t, x, 64, a);
    for (int i = 0, m = 0; i < 64; i++)
        if ((k >> i) & 1)
            r[i] = x[m++];
    return MI_EMU_VECTOR(simde__m512i, r);
}
#define _mm512_mask_expand_epi8(src, k, a) mi_emu_mask_expand_epi8(src, k, a)

static inline simde__m512i mi_emu_mask_shuffle_epi32(simde__m512i src, simde__mmask16 k, simde__m512i a, int order)
{
    MI_EMU_LANES(int32_t, r, 16, src);
    MI_EMU_LANES(int32_t, x, 16, a);
    for (int i = 0; i < 16; i++)
        if ((k >> i) & 1)
            r[i] = x[(i & ~3) + ((order >> (2 * (i & 3))) & 3)];
    return MI_EMU_VECTOR(simde__m512i, r);
}
#define _mm512_mask_shuffle_epi32(src, k, a, order) mi_emu_mask_shuffle_epi32(src, k, a, order)

/* Masked loads and stores of n lanes of `size` bytes, touching only the selected lanes. */
static inline void mi_emu_mask_copy(void *to, const void *from, uint64_t k, int n, int size, int zero_rest)
{
    for (int i = 0; i < n; i++) {
        if ((k >> i) & 1)
            memcpy((char *)to + i * size, (const char *)from + i * size, size);
        else if (zero_rest)
            memset((char *)to + i * size, 0, size);
    }
}
static inline simde__m512i mi_emu_maskz_load512(uint64_t k, const void *p, int n, int size)
{
    simde__m512i r;
    mi_emu_mask_copy(&r, p, k, n, size, 1);
    return r;
}
static inline simde__m128i mi_emu_maskz_load128(uint64_t k, const void *p, int n, int size)
{
    simde__m128i r;
    mi_emu_mask_copy(&r, p, k, n, size, 1);
    return r;
}
static inline void mi_emu_mask_store512(void *p, uint64_t k, simde__m512i a, int n, int size)
{
    mi_emu_mask_copy(p, &a, k, n, size, 0);
}
#define _mm512_maskz_loadu_epi32(k, p) mi_emu_maskz_load512(k, p, 16, 4)
#define _mm512_maskz_loadu_epi8(k, p) mi_emu_maskz_load512(k, p, 64, 1)
#define _mm_maskz_loadu_epi8(k, p) mi_emu_maskz_load128(k, p, 16, 1)
#define _mm512_mask_storeu_epi32(p, k, a) mi_emu_mask_store512(p, k, a, 16, 4)
#define _mm512_mask_storeu_epi8(p, k, a) mi_emu_mask_store512(p, k, a, 64, 1)

static inline simde__m512i mi_emu_sra_epi32(simde__m512i a, simde__m128i count)
{
    MI_EMU_LANES(int32_t, x, 16, a);
    MI_EMU_LANES(uint64_t, c, 2, count);
    int shift = c[0] > 31 ? 31 : (int)c[0];
    for (int i = 0; i < 16; i++)
        x[i] >>= shift;
    return MI_EMU_VECTOR(simde__m512i, x);
}
#define _mm512_sra_epi32(a, count) mi_emu_sra_epi32(a, count)

static inline simde__m512i mi_emu_srav_epi64(simde__m512i a, simde__m512i count)
{
    MI_EMU_LANES(int64_t, x, 8, a);
    MI_EMU_LANES(uint64_t, c, 8, count);
    for (int i = 0; i < 8; i++)
        x[i] >>= c[i] > 63 ? 63 : (int)c[i];
    return MI_EMU_VECTOR(simde__m512i, x);
}
#define _mm512_srav_epi64(a, count) mi_emu_srav_epi64(a, count)

#endif
