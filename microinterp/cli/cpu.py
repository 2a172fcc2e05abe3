"""This host's processor as the benchmarks and `profile` report it: its name, its SIMD flags, the int8 path
the compiled kernels take on it, and the int8 peak of one core that MAC rates are compared with."""
from __future__ import annotations

import functools
import os
import platform
from dataclasses import dataclass
from pathlib import Path

#: The flags that decide the kernels' paths (as /proc/cpuinfo spells them).
SIMD_FLAGS = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx_vnni", "avx512_bf16")
#: int8 MACs per cycle of each path's dot-product instruction at its throughput: one 512-bit vpdpbusd (64;
#: measured on Zen 4, which shares that one pipe with vpmuldq and FMA), two 256-bit vpdpbusd (Alder Lake:
#: 2 x 32) or two 256-bit vpmaddwd (Skylake and Zen 2-4: 2 x 16; until 2026-12-06 counted as one, which
#: put AVX2 layers above 100%), one scalar multiply for the portable ones.
MACS_PER_CYCLE = {"avx512_vnni": 64, "avx_vnni": 64, "avx2": 32, "vnni_emulated": 1, "portable": 1}


def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.split("\n\n")[0].splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def cpu_name() -> str:
    """The processor's model name (Linux), else the machine type."""
    return _cpuinfo().get("model name") or platform.machine()


def cpu_flags() -> list[str]:
    """Which of SIMD_FLAGS this processor has."""
    flags = set(_cpuinfo().get("flags", "").split())
    return [flag for flag in SIMD_FLAGS if flag in flags]


@dataclass(frozen=True)
class Int8Peak:
    """One core's int8 peak on the kernels' path: MACs per cycle times the clock (`clock`: where its
    figure comes from, "measured" or "/proc/cpuinfo")."""
    path: str
    macs_per_cycle: int
    hz: float
    clock: str = "measured"

    @property
    def macs_per_second(self) -> float:
        return self.macs_per_cycle * self.hz


@functools.cache
def core_clock() -> tuple[float, str] | None:
    """This core's clock in Hz and where the figure comes from: measured by a chain of dependent adds
    (clock.core_hz, 50 ms once per process) where the kernels have one for this CPU, else /proc/cpuinfo's
    "cpu MHz" (on virtual machines often a nominal figure: 2.45 GHz on a host whose cores ran at 2.8-3.8);
    None where neither is known."""
    from .._kernels import clock

    hz = clock.core_hz()
    if hz:
        return hz, "measured"
    mhz = _cpuinfo().get("cpu MHz")
    return (float(mhz) * 1e6, "/proc/cpuinfo") if mhz else None


def int8_peak() -> Int8Peak | None:
    """The peak of the int8 path the kernels bind now (MICROINTERP_INT8_PATH, else the fastest), at
    core_clock(); None where the clock is unknown."""
    from .._kernels import steps

    found = core_clock()
    if found is None:
        return None
    path = os.environ.get(steps.INT8_PATH_VARIABLE) or steps.int8_paths()[0]
    return Int8Peak(path, MACS_PER_CYCLE.get(path, 1), found[0], found[1])
