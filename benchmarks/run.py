"""Side-by-side invoke latency of microinterp, TFLite Micro and LiteRT (one thread) on the benchmark models,
printed as the Markdown table recorded in BENCHMARKS.md.

Every interpreter runs the same model on the same seeded random inputs in the same run (the official
ones in microinterp's oracle worker process), in alternating rounds, so a busy machine slows them all
alike and the ratios stay meaningful where the absolute times do not. The header names the processor,
its SIMD flags and the int8 path the kernels take; the table adds microinterp's GMAC/s and their share of
one core's int8 peak on that path.

    PYTHONPATH=. python benchmarks/run.py [--budget SECONDS] [--isa avx2] [MODEL ...]

Without MODEL: the models of issue 13's table (MLPerf Tiny, vww_96_float, and the larger ones in
../shared/models/bench/); any other .tflite can be passed. `--isa avx2` runs both sides as a CPU with
AVX2 but without AVX-512 or AVX-VNNI would: microinterp's int8 steps on their AVX2 path, and LiteRT with
cpuinfo's AVX-512 and AVX-VNNI flags cleared (xnnpack_avx2.py), a proxy for an AVX2-only machine.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from microinterp._kernels.steps import INT8_PATH_VARIABLE  # noqa: E402
from microinterp._oracle_worker import PRELOAD_VARIABLE  # noqa: E402
from microinterp.oracles import OracleCrash, OracleError, OracleWorker  # noqa: E402
from microinterp.cli.cpu import SIMD_FLAGS, cpu_flags, cpu_name, int8_peak  # noqa: E402
from microinterp.cli.inspection import op_macs  # noqa: E402
from microinterp.cli.runner import ready_interpreter, time_invokes  # noqa: E402

SHARED = ROOT.parent / "shared" / "models"
#: The MLPerf Tiny int8 models: the geometric means of the targets are taken over these.
MLPERF_INT8 = [SHARED / "mlperf_tiny" / name for name in
               ("ad01_int8.tflite", "kws_ref_model.tflite", "pretrainedResnet_quant.tflite", "vww_96_int8.tflite")]
#: The rest of the default table: the float MLPerf model and the larger models.
OTHER_MODELS = [SHARED / "mlperf_tiny" / "vww_96_float.tflite", *sorted((SHARED / "bench").glob("*.tflite"))]
#: Oracle backends timed beside microinterp, and their column names.
BACKENDS = {"tflm": "TFLM", "litert": "LiteRT (XNNPACK)", "litert_builtin": "LiteRT BUILTIN"}


#: Seconds per interpreter per round, at most (one invoke of a slower interpreter is a round of its own).
#: The budget is spent in full, in short rounds, so that every interpreter samples the same load: the
#: load on this shared machine changes within a second. Before (five rounds, at most 5,000 invokes in
#: all), a fast model's 2 s budget was 40 ms of invokes per interpreter, five windows of 8-10 ms 0.4 s
#: apart, and ad01's ratio to XNNPACK read 1.10 to 1.69 in four runs within minutes (now 1.13 to 1.19).
ROUND_SECONDS = 0.1
#: Rounds per model, at least (a model whose budget is under five rounds of ROUND_SECONDS still alternates).
MIN_ROUNDS = 5
#: Invokes per interpreter and model, at least, however slow (TFLM on the larger models).
MIN_INVOKES = 20


def rounds_for(budget: float) -> int:
    """Rounds of at most ROUND_SECONDS per interpreter that together fill `budget` seconds."""
    return max(MIN_ROUNDS, math.ceil(budget / ROUND_SECONDS))


def repeats_for(seconds_per_invoke: float, budget: float, rounds: int) -> int:
    """Invokes per round that fill `budget` seconds over `rounds` rounds, and at least MIN_INVOKES in all."""
    total = max(MIN_INVOKES, int(budget / max(seconds_per_invoke, 1e-7)))
    return max(1, math.ceil(total / rounds))


def bench_model(path: Path, worker: OracleWorker, budget: float) -> dict[str, float | None]:
    """Median invoke seconds per interpreter over alternating rounds (None where an official interpreter
    cannot run the model), and the model's MACs under "macs". Each interpreter's repeat count comes from
    its own probe invoke, so that each spends about `budget` seconds (TFLM, hundreds of times slower on
    the larger models, at least MIN_INVOKES invokes)."""
    interp, inputs = ready_interpreter(path)
    main = interp.model.main
    rounds = rounds_for(budget)
    repeats = {"microinterp": repeats_for(min(time_invokes(interp, 5, warmup=1)), budget, rounds)}
    samples: dict[str, list[float] | None] = {"microinterp": [], **{b: [] for b in BACKENDS}}
    for backend in BACKENDS:
        try:
            probe = min(worker.time_invoke(str(path), inputs, backend, 2).times)
            repeats[backend] = repeats_for(probe, budget, rounds)
        except (OracleError, OracleCrash):
            samples[backend] = None
    for _ in range(rounds):
        samples["microinterp"] += time_invokes(interp, repeats["microinterp"])
        for backend in BACKENDS:
            if samples[backend] is None:
                continue
            try:
                samples[backend] += worker.time_invoke(str(path), inputs, backend, repeats[backend]).times
            except (OracleError, OracleCrash):
                samples[backend] = None
    medians = {name: None if times is None else statistics.median(times) for name, times in samples.items()}
    return {**medians, "macs": float(sum(op_macs(main, op) for op in main.operators))}


def geomean(values: list[float]) -> float:
    """Geometric mean of positive numbers."""
    return math.exp(sum(math.log(v) for v in values) / len(values))


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1e3:.4g}"


def _ratio(ours: float, theirs: float | None) -> str:
    return "n/a" if theirs is None else f"{theirs / ours:.3g}"


def markdown(results: dict[Path, dict[str, float | None]], peak: float | None) -> str:
    """The table: medians in ms, then each official interpreter's time over microinterp's (above 1:
    microinterp is faster), microinterp's GMAC/s and their share of the int8 peak (MAC/s), and the
    geometric means over the MLPerf Tiny int8 models."""
    head = ["model", "microinterp ms", *(f"{name} ms" for name in BACKENDS.values()),
            *(f"{name} / microinterp" for name in BACKENDS.values()), "GMAC/s", "of int8 peak"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for path, m in results.items():
        ours = m["microinterp"]
        rate = m["macs"] / ours
        lines.append("| " + " | ".join([path.name, _ms(ours), *(_ms(m[b]) for b in BACKENDS),
                                         *(_ratio(ours, m[b]) for b in BACKENDS), f"{rate / 1e9:.3g}",
                                         f"{rate / peak:.1%}" if peak else "n/a"]) + " |")
    mlperf = [results[p] for p in MLPERF_INT8 if p in results]
    if mlperf:
        means = []
        for b in BACKENDS:
            ratios = [m[b] / m["microinterp"] for m in mlperf if m[b] is not None]
            means.append(f"{geomean(ratios):.3g}" if len(ratios) == len(mlperf) else "n/a")
        lines.append("| **geomean, MLPerf Tiny int8** | | | | | " + " | ".join(f"**{v}**" for v in means) + " | | |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """Time the given models (default: issue 13's table, MLPERF_INT8 and OTHER_MODELS)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", type=Path)
    parser.add_argument("--budget", type=float, default=1.0,
                        help="seconds of invokes per interpreter and model, which set each one's repeat count")
    parser.add_argument("--cpu", type=int,
                        help="the logical CPU that this process and the official interpreters' worker share "
                             "(default: the lowest one this process may use)")
    parser.add_argument("--unpinned", action="store_true",
                        help="let the scheduler move both processes between CPUs (on a shared machine one vCPU "
                             "can be slower than the other for minutes, and the two interpreters may land apart)")
    parser.add_argument("--isa", choices=["avx2"],
                        help="run both sides with the instructions of an AVX2-only CPU (module docstring)")
    args = parser.parse_args(argv)
    if args.isa == "avx2":  # before any step is bound and before the worker starts (it inherits these)
        os.environ[INT8_PATH_VARIABLE] = "avx2"
        os.environ[PRELOAD_VARIABLE] = "xnnpack_avx2"
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "benchmarks"),
                                                                 os.environ.get("PYTHONPATH")]))
    # Every interpreter runs on one thread and they take turns, so one CPU serves them all: each is timed
    # on the same core, whatever the other cores' load.
    cpu = None if args.unpinned else min(os.sched_getaffinity(0)) if args.cpu is None else args.cpu
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})  # before the worker starts: it inherits the affinity
    models = args.models or [*MLPERF_INT8, *OTHER_MODELS]
    results = {}
    with OracleWorker(timeout=600.0) as worker:
        for path in models:
            results[path] = bench_model(path, worker, args.budget)
            print(f"{path.name}: " + ", ".join(f"{k} {_ms(v)} ms" for k, v in results[path].items() if k != "macs"),
                  file=sys.stderr, flush=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                            text=True).stdout.strip()
    peak = int8_peak()
    print(f"{cpu_name()}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, commit {commit}\n")
    flags = " ".join(cpu_flags()) or "none of " + " ".join(SIMD_FLAGS)
    path = (f"{peak.path}, int8 peak {peak.macs_per_second / 1e9:.0f} GMAC/s ({peak.macs_per_cycle} MAC/cycle "
            f"at {peak.hz / 1e9:.2f} GHz, {peak.clock})" if peak else "clock unknown")
    pinning = "unpinned" if cpu is None else f"every interpreter on logical CPU {cpu}"
    limited = "; LiteRT limited to AVX2 (--isa avx2)" if args.isa else ""
    print(f"CPU flags: {flags}; int8 path {path}; {pinning}{limited}\n")
    print(markdown(results, peak.macs_per_second if peak else None))


if __name__ == "__main__":
    main()
