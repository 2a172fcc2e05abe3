"""Bisect, live, the smallest arena_size with which the pinned tflite-micro package allocates and invokes
each shared and bundled reference model, and record the table tests compare planning/arena_size.py with.

    python tools/measure_tflm_arena.py                 # writes tests/data/tflm_arena_sizes.json
    python tools/measure_tflm_arena.py --only hello    # re-measure the models whose path contains "hello"

Re-run it whenever the tflite-micro pin in pyproject.toml moves. A model TFLM cannot load at any size
(unsupported op) is recorded with its error instead of a size. Each probe runs in the oracle worker:
TFLM may abort on a too-small arena.
"""
from __future__ import annotations

import argparse
import json
import sys
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import REFERENCE_MODELS, shared_models_dir  # noqa: E402
from microinterp.oracles import OracleWorker  # noqa: E402

TABLE = ROOT / "tests" / "data" / "tflm_arena_sizes.json"
#: Larger than any model here needs; a model failing at this size is recorded as not loadable.
CEILING = 64 << 20
#: How far below the bisected size to look for a smaller one that passes (fitting is not monotonic).
SCAN_BELOW = 512


def minimal_arena(worker: OracleWorker, model: Path) -> tuple[int | None, str]:
    """The smallest arena_size that allocates and invokes (None if even CEILING fails), and the reason
    TFLM gave one byte below it. Sizes above it may still fail (see below)."""
    top = worker.tflm_fits(model, CEILING)
    if not top.ok:
        return None, top.log.splitlines()[-1] if top.log else "failed"
    low, high = 0, CEILING  # low fails (or is 0), high passes
    while high - low > 1:
        mid = (low + high) // 2
        if worker.tflm_fits(model, mid).ok:
            high = mid
        else:
            low = mid
    # Success is not monotonic in arena_size: the tail aligns down from the arena end, an Init buffer a
    # kernel never reads may be skipped when it does not fit (float ELU passes at 952 bytes, fails from 953
    # to 1207), a Prepare buffer may land on a temp field still read (int8 BATCH_MATMUL fails 16 bytes
    # above its minimum). Look below the bisected size, in 16-byte steps and then to the byte.
    while (lower := next((n for n in range(high - 16, max(high - SCAN_BELOW, 0), -16)
                          if worker.tflm_fits(model, n).ok), None)) is not None:
        high = lower
    for below in range(high - 1, max(high - 32, 0), -1):
        if worker.tflm_fits(model, below).ok:
            high = below
    reason = worker.tflm_fits(model, high - 1).log if high > 1 else ""
    # Crash reports name the model by path; the table keeps only its file name.
    return high, reason.replace(str(model), model.name).splitlines()[-1] if reason else ""


def model_paths() -> dict[str, Path]:
    """Every shared model (key shared/<folder>/<file>) and bundled reference model (reference/<path>)."""
    found = {}
    shared = shared_models_dir()
    for path in sorted(shared.glob("*/*.tflite")):
        found[f"shared/{path.relative_to(shared)}"] = path
    for path in sorted(REFERENCE_MODELS.rglob("*.tflite")):
        found[f"reference/{path.relative_to(REFERENCE_MODELS)}"] = path
    return found


def main(argv: list[str] | None = None) -> int:
    """Measure the models (all, or those matching --only) and merge them into the recorded table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="measure only the models whose key contains this")
    parser.add_argument("--output", type=Path, default=TABLE)
    args = parser.parse_args(argv)
    table = json.loads(args.output.read_text()) if args.output.exists() else {}
    package = version("tflite-micro")
    if table.get("tflite_micro") != package:
        table = {}
    table["tflite_micro"] = package
    table.setdefault("about", "Smallest arena_size (bytes) with which the tflite-micro Python package "
                              "(RecordingMicroAllocator, 64-bit host) allocates and invokes each model; "
                              "measured by tools/measure_tflm_arena.py.")
    sizes = table.setdefault("models", {})
    with OracleWorker(max_models=50) as worker:
        for key, path in model_paths().items():
            if args.only not in key:
                continue
            size, reason = minimal_arena(worker, path)
            sizes[key] = {"min_arena": size, "below_min": reason}
            print(f"{key}: {size} ({reason})", flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
