"""Soak: memory stays flat over a long run. 10^6 invokes of one interpreter (set_tensor, invoke,
get_tensor each time) and 10^4 interpreters created, allocated, invoked once and dropped, interleaved
in 100 equal chunks; the resident set size (RSS) is sampled after every chunk.

Passes when RSS grows less than 5% between 10% and 100% of the run (the first 10% is warm-up:
allocator pools, caches, lazily imported modules). Prints the curve.

    PYTHONPATH=. python benchmarks/soak.py [MODEL] [--invokes 1000000] [--interpreters 10000]
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from microinterp import Interpreter  # noqa: E402

SHARED = Path(os.environ.get("MICROINTERP_SHARED_MODELS", ROOT.parent / "shared" / "models"))
DEFAULT_MODEL = SHARED / "tflm_examples" / "hello_world_int8.tflite"
CHUNKS = 100
MAX_GROWTH = 0.05


def rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def ready(content: bytes) -> tuple[Interpreter, int, int, np.ndarray]:
    interp = Interpreter(model_content=content)
    interp.allocate_tensors()
    detail = interp.get_input_details()[0]
    value = np.zeros(detail["shape"], detail["dtype"])
    return interp, detail["index"], interp.get_output_details()[0]["index"], value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--invokes", type=int, default=1_000_000)
    parser.add_argument("--interpreters", type=int, default=10_000)
    args = parser.parse_args()
    content = args.model.read_bytes()
    interp, input_index, output_index, value = ready(content)
    rng = np.random.default_rng(0)
    inputs = [rng.integers(-128, 128, value.shape).astype(value.dtype) if value.dtype.kind == "i"
              else rng.standard_normal(value.shape).astype(value.dtype) for _ in range(16)]
    curve = []
    start = time.perf_counter()
    for chunk in range(1, CHUNKS + 1):
        for k in range(args.invokes // CHUNKS):
            interp.set_tensor(input_index, inputs[k % 16])
            interp.invoke()
            interp.get_tensor(output_index)
        for _ in range(args.interpreters // CHUNKS):
            other, i, o, v = ready(content)
            other.set_tensor(i, v)
            other.invoke()
            other.get_tensor(o)
            del other
        gc.collect()
        curve.append(rss_bytes())
        if chunk % 10 == 0:
            print(f"{chunk:3d}%  {chunk * args.invokes // CHUNKS:>9} invokes  "
                  f"{chunk * args.interpreters // CHUNKS:>6} interpreters  RSS {curve[-1] / 2 ** 20:7.2f} MiB  "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
    base, end = curve[CHUNKS // 10 - 1], curve[-1]
    growth = (end - base) / base
    print(f"\nRSS at 10%: {base / 2 ** 20:.2f} MiB, at 100%: {end / 2 ** 20:.2f} MiB, growth {growth:+.2%} "
          f"(limit {MAX_GROWTH:.0%}); max {max(curve) / 2 ** 20:.2f} MiB, min after warm-up "
          f"{min(curve[CHUNKS // 10 - 1:]) / 2 ** 20:.2f} MiB")
    print("PASS" if growth < MAX_GROWTH else "FAIL")
    return 0 if growth < MAX_GROWTH else 1


if __name__ == "__main__":
    sys.exit(main())
