"""Dataset evaluation throughput (samples per second) of `microinterp.evaluation.evaluate`: in this process
(1 worker), in 2 worker processes, and on 2 actors of a local Ray instance, printed as the Markdown table
recorded in BENCHMARKS.md.

Each configuration runs the same float samples (quantized by the engine) `--rounds` times, alternating,
and the best round counts: a shared machine slows some rounds, never speeds one up. Worker processes are
started inside each timed round (as `microinterp eval` does); Ray's start-up (ray.init) is timed apart,
since a cluster is started once and reused, while its actors are created inside each round.

    PYTHONPATH=. python benchmarks/eval_throughput.py [--samples N] [--rounds R] [MODEL ...]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from microinterp.evaluation import evaluate  # noqa: E402
from microinterp.interpreter import Interpreter  # noqa: E402

MODELS = [ROOT / "reference_models" / name for name in
          ("kws_ds_cnn_int8.tflite", "ic_resnet8_int8.tflite", "hello_world_sine_int8.tflite")]
CONFIGS = {"1 worker (in process)": dict(workers=1), "2 worker processes": dict(workers=2),
           "Ray local, 2 actors": dict(workers=2, ray_address="auto")}


def float_samples(model: Path, n: int) -> dict[str, np.ndarray]:
    """n standard normal float samples per input, scaled to a few quantization steps."""
    interp = Interpreter(model_path=model)
    interp.allocate_tensors()
    rng = np.random.default_rng(0)
    data = {}
    for k, d in enumerate(interp.get_input_details()):
        scale = d["quantization"][0] or 1.0
        data[f"input_{k}"] = (rng.standard_normal((n, *d["shape"])) * 30 * scale).astype(np.float32)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, default=MODELS)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import ray
    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray_start = time.perf_counter() - start
    best: dict[tuple[Path, str], float] = {}
    try:
        for model in args.models:
            data = float_samples(model, args.samples)
            for _ in range(args.rounds):
                for name, options in CONFIGS.items():
                    rate = evaluate(model, data, **options).samples_per_second
                    best[model, name] = max(best.get((model, name), 0.0), rate)
    finally:
        ray.shutdown()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}; {args.samples} samples, best of {args.rounds} rounds; "
          f"ray.init took {ray_start:.1f} s (not counted)\n")
    print("| model | " + " | ".join(CONFIGS) + " |")
    print("|---|" + "---:|" * len(CONFIGS))
    for model in args.models:
        print(f"| {model.name} | " + " | ".join(f"{best[model, name]:,.0f}" for name in CONFIGS) + " |")


if __name__ == "__main__":
    main()
