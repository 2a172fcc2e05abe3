"""The `microinterp` command line. Each command is a thin layer over a Python API that returns data.

Exit codes: 0 success, 1 a check failed, 2 usage or input error (one line, no traceback unless --debug).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import MicrointerpError
from .runner import RunResult, TensorValue, run_model

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE = 0, 1, 2


def _array_summary(a: np.ndarray, limit: int = 12) -> str:
    flat = a.reshape(-1)
    shown = np.array2string(flat[:limit], separator=", ", max_line_width=10_000,
                            formatter={"float_kind": lambda v: f"{v:.6g}"})
    return shown[:-1] + (", ...]" if flat.size > limit else "]")


def _tensor_json(t: TensorValue) -> dict:
    out = {"name": t.name, "index": t.index, "dtype": t.value.dtype.name, "shape": list(t.value.shape),
           "values": t.value.tolist()}
    if t.dequantized is not None:
        out.update(scale=t.scale, zero_point=t.zero_point, dequantized=t.dequantized.tolist())
    return out


def _print_run(result: RunResult) -> None:
    print(f"model: {result.model}")
    print(f"arena: {result.arena_bytes} bytes (head {result.head_bytes})")
    print(f"invoke: {result.median_latency * 1e3:.3f} ms (median of {len(result.latencies)})")
    for title, tensors in (("inputs", result.inputs), ("outputs", result.outputs)):
        print(f"{title}:")
        for t in tensors:
            print(f"  [{t.index}] {t.name} {t.value.dtype.name}{list(t.value.shape)}: {_array_summary(t.value)}")
            if t.dequantized is not None:
                print(f"      dequantized (scale {t.scale:.6g}, zero point {t.zero_point}): "
                      f"{_array_summary(t.dequantized)}")


def cmd_run(args: argparse.Namespace) -> int:
    inputs = [np.load(p) for p in args.input] if args.input else None
    result = run_model(args.model, inputs=inputs, seed=args.seed, repeats=args.repeats)
    if args.output:
        np.savez(args.output, **{f"output_{i}": t.value for i, t in enumerate(result.outputs)})
    if args.json:
        print(json.dumps({"model": result.model, "arena_bytes": result.arena_bytes, "head_bytes": result.head_bytes,
                          "latency_median_s": result.median_latency,
                          "inputs": [_tensor_json(t) for t in result.inputs],
                          "outputs": [_tensor_json(t) for t in result.outputs]}))
    else:
        _print_run(result)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="microinterp", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a model on given or seeded random inputs")
    run.add_argument("model", type=Path)
    run.add_argument("--input", action="append", type=Path, help=".npy file per model input, in order")
    run.add_argument("--output", type=Path, help="write the outputs to this .npz file")
    run.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    run.add_argument("--repeats", type=int, default=1, help="invoke this many times (latency median)")
    run.add_argument("--json", action="store_true", help="machine-readable output")
    run.set_defaults(func=cmd_run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `microinterp` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (MicrointerpError, OSError, ValueError) as e:
        if args.debug:
            raise
        message = str(e).replace("\n", " ")
        print(f"microinterp {args.command}: error: {message}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
