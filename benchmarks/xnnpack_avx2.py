"""Imported into the oracle worker by `benchmarks/run.py --isa avx2`: LiteRT in this process then runs
XNNPACK's (and ruy's) AVX2 kernels, as on a CPU with AVX2 but without AVX-512 or AVX-VNNI.

XNNPACK chooses its kernels from cpuinfo's feature flags, a private struct (`cpuinfo_isa`) inside
LiteRT's library that cpuinfo fills once and everything reads afterwards. This module lets cpuinfo
detect the CPU, then clears the AVX-512 and AVX-VNNI flags before any interpreter exists. The struct is
not an API: its address comes from the library's symbol table (`nm`, binutils), and the run of flags
from `avx` to `avx512_4fmaps` is located by its values, which must match this CPU's /proc/cpuinfo and
occur exactly once; otherwise this raises rather than measure unknown kernels. A proxy, not an AVX2-only
machine: the cores, caches and clock stay this machine's.
"""
from __future__ import annotations

import ctypes
import os
import subprocess

import ai_edge_litert.interpreter as litert

#: cpuinfo's flags from `avx` on, in its struct's order, as /proc/cpuinfo names them.
FLAG_RUN = ("avx", "avx_vnni", "fma", "fma4", "xop", "f16c", "avx2", "avx512f", "avx512pf", "avx512er",
            "avx512cd", "avx512dq", "avx512bw", "avx512vl", "avx512ifma", "avx512vbmi", "avx512_vbmi2",
            "avx512_bitalg", "avx512_vpopcntdq", "avx512_vnni", "avx512_bf16", "avx512_fp16",
            "avx512_vp2intersect", "avx512_4vnniw", "avx512_4fmaps")
#: The flags cleared: all but avx, fma, fma4, xop, f16c and avx2.
CLEARED = {name for name in FLAG_RUN if name.startswith("avx512") or name == "avx_vnni"}
LIBRARY = "libpywrap_litert_common.so"


def _symbols(path: str, names: set[str]) -> dict[str, int]:
    listing = subprocess.run(["nm", path], capture_output=True, text=True, check=True).stdout
    found = {}
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] in names:
            found[parts[2]] = int(parts[0], 16)
    if set(found) != names:
        raise RuntimeError(f"{path}: symbols {sorted(names - set(found))} not found")
    return found


def _load_base(name: str) -> int:
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split()
            if len(fields) >= 6 and fields[5].endswith("/" + name) and int(fields[2], 16) == 0:
                return int(fields[0].split("-")[0], 16)
    raise RuntimeError(f"{name} is not loaded")


def _cpu_flags() -> set[str]:
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    return set()


def limit_to_avx2() -> int:
    """Clears the AVX-512 and AVX-VNNI flags of LiteRT's cpuinfo (see the module docstring); returns the
    address of the run of flags FLAG_RUN."""
    path = os.path.join(os.path.dirname(litert.__file__), LIBRARY)
    symbols = _symbols(path, {"cpuinfo_isa", "cpuinfo_initialize"})
    base = _load_base(LIBRARY)
    if not ctypes.CFUNCTYPE(ctypes.c_bool)(base + symbols["cpuinfo_initialize"])():
        raise RuntimeError("cpuinfo_initialize failed")
    flags = (ctypes.c_uint8 * 256).from_address(base + symbols["cpuinfo_isa"])
    cpu = _cpu_flags()
    expected = bytes(name in cpu for name in FLAG_RUN)
    found = bytes(flags)
    if "avx2" not in cpu or found.count(expected) != 1:
        raise RuntimeError(f"cpuinfo's flags in {path} do not show this CPU's run {expected.hex()} once")
    start = found.index(expected)
    for i, name in enumerate(FLAG_RUN):
        if name in CLEARED:
            flags[start + i] = 0
    return ctypes.addressof(flags) + start


#: Where FLAG_RUN lies in LiteRT's cpuinfo.
RUN_ADDRESS = limit_to_avx2()
