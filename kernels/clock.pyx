# cython: language_level=3
"""The clock this core runs at, measured rather than read: a chain of dependent integer adds takes one cycle
per add on every x86-64 and AArch64 core, so the adds per second of the fastest of a few short runs is the
clock. /proc/cpuinfo's "cpu MHz" is often a nominal or stale figure on virtual machines: 2.45 GHz on the
EPYC host of BENCHMARKS.md, whose cores ran FMA loops at 2.9-3.8 GHz, which put the shares of the int8 peak
in `profile` and benchmarks/run.py up to 1.5 times too high.
"""
from time import perf_counter

from libc.stdint cimport uint64_t

cdef extern from *:
    """
    #include <stdint.h>

    /* n steps of 16 dependent adds (16 n cycles); returns 0 where there is no such asm for this target. */
    static int mi_add_chain(uint64_t n)
    {
    #if defined(__GNUC__) && defined(__x86_64__)
    #define MI_ADD "add %1, %0\\n\\t"
        uint64_t x = 0, one = 1;
        for (uint64_t i = 0; i < n; i++)
            __asm__ volatile(MI_ADD MI_ADD MI_ADD MI_ADD MI_ADD MI_ADD MI_ADD MI_ADD
                             MI_ADD MI_ADD MI_ADD MI_ADD MI_ADD MI_ADD MI_ADD MI_ADD : "+r"(x) : "r"(one));
        return 1;
    #elif defined(__GNUC__) && defined(__aarch64__)
    #define MI_ADD "add %0, %0, %1\\n\\t"
        uint64_t x = 0, one = 1;
        for (uint64_t i = 0; i < n; i++)
            __asm__ volatile(MI_ADD MI_ADD MI_ADD MI_ADD MI_ADD MI_ADD MI_ADD MI_ADD
                             MI_ADD MI_ADD MI_ADD MI_ADD MI_ADD MI_ADD MI_ADD MI_ADD : "+r"(x) : "r"(one));
        return 1;
    #else
        (void)n;
        return 0;
    #endif
    }
    """
    int mi_add_chain(uint64_t n) nogil

ADDS_PER_STEP = 16


def core_hz(double seconds=0.01, int trials=5):
    """The clock of the core this thread runs on, in Hz: the fastest of `trials` runs of about `seconds` each
    (the fastest, because another tenant or an interrupt can only make a run slower); None where the add
    chain has no implementation (neither x86-64 nor AArch64, or not GCC/Clang)."""
    cdef uint64_t probe = 100_000, steps
    cdef int ok
    start = perf_counter()
    with nogil:
        ok = mi_add_chain(probe)
    if not ok:
        return None
    elapsed = max(perf_counter() - start, 1e-7)
    steps = max(probe, <uint64_t>(probe * seconds / elapsed))
    best = float("inf")
    for _ in range(trials):
        start = perf_counter()
        with nogil:
            mi_add_chain(steps)
        best = min(best, perf_counter() - start)
    return steps * ADDS_PER_STEP / best
