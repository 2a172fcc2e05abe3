/* What every fast kernel header shares for choosing its path at run time: MI_X86 where the AVX2 paths
 * can be compiled (GCC or Clang on x86-64, each such function carrying target("avx2"), so the build
 * needs no -march), and MI_PICK, which returns the AVX2 implementation when this CPU has AVX2 and the
 * caller does not force the portable one (tests do, to check that both give the same bits).
 */
#ifndef MI_SIMD_H
#define MI_SIMD_H

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define MI_X86 1
#define MI_PICK(force_portable, avx2, portable) \
    ((!(force_portable) && __builtin_cpu_supports("avx2")) ? (avx2) : (portable))
#else
#define MI_PICK(force_portable, avx2, portable) ((void)(force_portable), (portable))
#endif

#endif
