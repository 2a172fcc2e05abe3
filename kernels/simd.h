/* What every fast kernel header shares for choosing its path at run time: MI_X86 where the SIMD paths
 * can be compiled (GCC or Clang on x86-64, each such function carrying its target attribute, so the
 * build needs no -march), and MI_PICK, which returns the AVX2 implementation when this CPU has AVX2 and
 * the caller does not force the portable one (tests do, to check that both give the same bits).
 *
 * The int8 dot products (conv, depthwise, FC) have more paths, named by mi_int8_path: two on int16
 * pairs (portable C, AVX2 madd) and three on unsigned-byte quads with VNNI's vpdpbusd semantics (a
 * portable C emulation that runs everywhere, AVX-VNNI on 256 bits, AVX-512 VNNI on 512 bits).
 * mi_cpu_runs says which of them this CPU can execute.
 */
#ifndef MI_SIMD_H
#define MI_SIMD_H

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define MI_X86 1
#ifdef MI_EMULATE_ISA
/* Every path in portable C through SIMDe (isa_emulation.h), as if this CPU had every extension: the
 * functions' targets are only what the emulation's code itself may use. */
#include "isa_emulation.h"
#define MI_CPU_SUPPORTS(feature) ((void)(feature), 1)
#define MI_ISA_EMULATED 1
#define MI_AVX512_VNNI "avx2,fma"
#define MI_AVX_VNNI "avx2,fma"
#define MI_AVX512_VBMI "avx2,fma"
#define MI_AVX512_VBMI_ONLY "avx2,fma"
#define MI_AVX512_VBMI2 "avx2,fma,popcnt"
#else
#include <immintrin.h>
#define MI_CPU_SUPPORTS(feature) __builtin_cpu_supports(feature)
/* The target of the AVX-512 VNNI functions (the 256-bit VL forms are used for channel tails). */
#define MI_AVX512_VNNI "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni"
#define MI_AVX_VNNI "avx2,avxvnni"
#define MI_AVX512_VBMI MI_AVX512_VNNI ",avx512vbmi"
#define MI_AVX512_VBMI_ONLY "avx512f,avx512bw,avx512vbmi"
#define MI_AVX512_VBMI2 "avx512f,avx512bw,avx512vbmi2,popcnt"
#endif
#define MI_PICK(force_portable, avx2, portable) \
    ((!(force_portable) && MI_CPU_SUPPORTS("avx2")) ? (avx2) : (portable))
/* The AVX-512 mask of the first n lanes of 16 (all of them from 16 on). */
#define MI_LANE_MASK16(n) ((__mmask16)((n) >= 16 ? 0xFFFF : (1u << (n)) - 1))
#else
#define MI_PICK(force_portable, avx2, portable) ((void)(force_portable), (portable))
#endif
#ifndef MI_ISA_EMULATED
#define MI_ISA_EMULATED 0
#endif

typedef enum {
    MI_INT8_PORTABLE, MI_INT8_AVX2, MI_INT8_VNNI_EMULATED, MI_INT8_AVX_VNNI, MI_INT8_AVX512_VNNI
} mi_int8_path;

/* Whether this CPU executes the path's instructions. */
static inline int mi_cpu_runs(mi_int8_path path)
{
    switch (path) {
    case MI_INT8_PORTABLE:
    case MI_INT8_VNNI_EMULATED:
        return 1;
#ifdef MI_X86
    case MI_INT8_AVX2:
        return MI_CPU_SUPPORTS("avx2");
    case MI_INT8_AVX_VNNI:
        return MI_CPU_SUPPORTS("avx2") && MI_CPU_SUPPORTS("avxvnni");
    case MI_INT8_AVX512_VNNI:
        return MI_CPU_SUPPORTS("avx512f") && MI_CPU_SUPPORTS("avx512bw") &&
               MI_CPU_SUPPORTS("avx512vl") && MI_CPU_SUPPORTS("avx512vnni");
#endif
    default:
        return 0;
    }
}

/* Whether the path reads unsigned-byte quads (input + 128, vpdpbusd) rather than int16 pairs. */
static inline int mi_path_uses_quads(mi_int8_path path)
{
    return path == MI_INT8_VNNI_EMULATED || path == MI_INT8_AVX_VNNI || path == MI_INT8_AVX512_VNNI;
}

/* vpdpbusd on one int32 lane: acc + the four products of unsigned bytes x and signed bytes w, in
 * wrapping arithmetic (the instruction's non-saturating form). */
static inline int32_t mi_dpbusd_lane(int32_t acc, const uint8_t *x, const int8_t *w)
{
    uint32_t sum = (uint32_t)acc;
    for (int j = 0; j < 4; j++)
        sum += (uint32_t)((int32_t)x[j] * w[j]);
    return (int32_t)sum;
}

#endif
