"""benchmarks/xnnpack_avx2.py: LiteRT's cpuinfo told that the CPU has AVX2 but no AVX-512 or AVX-VNNI."""
from __future__ import annotations

import platform
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"

CHECK = """
import ctypes, xnnpack_avx2 as m
found = bytes((ctypes.c_uint8 * len(m.FLAG_RUN)).from_address(m.RUN_ADDRESS))
print(" ".join(name for name, value in zip(m.FLAG_RUN, found) if value))
"""


def _cpu_has(flag: str) -> bool:
    try:
        return any(flag in line.split() for line in open("/proc/cpuinfo") if line.startswith("flags"))
    except OSError:
        return False


@pytest.mark.skipif(find_spec("ai_edge_litert") is None, reason="ai_edge_litert is not installed")
@pytest.mark.skipif(platform.machine() != "x86_64" or not _cpu_has("avx2"), reason="needs an x86-64 CPU with AVX2")
def test_importing_it_leaves_cpuinfo_with_avx2_and_without_avx512():
    result = subprocess.run([sys.executable, "-c", CHECK], cwd=BENCHMARKS, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    left = set(result.stdout.split())
    assert "avx2" in left and "avx" in left
    assert not any(name.startswith("avx512") or name == "avx_vnni" for name in left)
    assert left == {name for name in ("avx", "fma", "fma4", "xop", "f16c", "avx2") if _cpu_has(name)}
