"""Running a model on files or seeded inputs: the Python API behind `microinterp run`, and the helpers
the other commands share (an interpreter ready to invoke, timed invokes)."""
from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from ..inputs import dequantize, quantize_input, random_inputs
from ..interpreter import Interpreter
from .command import EXIT_OK, Command
from .render import Output, array_summary, nbytes_text, seconds_text, shape_text


@dataclass
class TensorValue:
    """One input or output of a run, with its dequantized values when the tensor is quantized."""
    name: str
    index: int
    value: np.ndarray
    scale: float = 0.0
    zero_point: int = 0
    dequantized: np.ndarray | None = field(init=False)

    def __post_init__(self) -> None:
        real = dequantize(self.value, self.scale, self.zero_point)
        self.dequantized = None if real is self.value else real


@dataclass
class RunResult:
    """Inputs, outputs, invoke latencies (seconds) and arena figures of one `run`."""
    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("median_latency",)
    model: str
    inputs: list[TensorValue]
    outputs: list[TensorValue]
    latencies: list[float] = field(default_factory=list)
    arena_bytes: int = 0
    head_bytes: int = 0

    @property
    def median_latency(self) -> float:
        """Median invoke time in seconds."""
        return statistics.median(self.latencies) if self.latencies else 0.0


def set_inputs(interp: Interpreter, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Set every graph input, in order (the count must match); a float array given for a quantized
    int8/int16 input is quantized with the input's scale and zero point, as TFLM's QUANTIZE would.
    Returns the arrays set."""
    details = interp.get_input_details()
    if len(inputs) != len(details):
        raise ValueError(f"the model takes {len(details)} inputs, {len(inputs)} were given")
    values = [quantize_input(value, d) for d, value in zip(details, inputs)]
    for d, value in zip(details, values):
        interp.set_tensor(d["index"], value)
    return values


def ready_interpreter(model_path: str | os.PathLike, inputs: Sequence[np.ndarray] | None = None, seed: int = 0,
                      **options: Any) -> tuple[Interpreter, list[np.ndarray]]:
    """An allocated Interpreter (options: Interpreter keywords) with its inputs set to `inputs`, or to
    seeded random values; returns it with the input arrays."""
    interp = Interpreter(model_path=model_path, **options)
    interp.allocate_tensors()
    inputs = list(inputs) if inputs is not None else random_inputs(interp.get_input_details(), seed)
    return interp, set_inputs(interp, inputs)


def time_invokes(interp: Interpreter, repeats: int, warmup: int = 0) -> list[float]:
    """Wall times in seconds of `repeats` invokes, after `warmup` untimed ones, on the inputs already set."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    for _ in range(warmup):
        interp.invoke()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        interp.invoke()
        times.append(time.perf_counter() - start)
    return times


def _values(interp: Interpreter, details: list[dict]) -> list[TensorValue]:
    return [TensorValue(d["name"], d["index"], interp.get_tensor(d["index"]), *d["quantization"])
            for d in details]


def run_model(model_path: str | os.PathLike, inputs: list[np.ndarray] | None = None, seed: int = 0,
              repeats: int = 1) -> RunResult:
    """Run a model on the given inputs (or seeded random ones; float arrays for quantized inputs are
    quantized as set_inputs says), invoking it `repeats` times."""
    interp, _ = ready_interpreter(model_path, inputs, seed)
    latencies = time_invokes(interp, repeats)
    plan = interp.memory_plan
    return RunResult(str(model_path), _values(interp, interp.get_input_details()),
                     _values(interp, interp.get_output_details()), latencies, plan.arena_size, plan.head)


# -- command line ---------------------------------------------------------------------------------

def _written(t: TensorValue, dequantized: bool) -> np.ndarray:
    return t.dequantized if dequantized and t.dequantized is not None else t.value


def _print_tensors(out: Output, title: str, tensors: list[TensorValue], dequantized_only: bool = False) -> None:
    out.heading(f"{title}:")
    for t in tensors:
        if dequantized_only and t.dequantized is not None:
            out.line(f"  [{t.index}] {t.name} float32[{shape_text(t.value.shape)}] (dequantized, scale "
                     f"{t.scale:.6g}, zero point {t.zero_point}): {array_summary(t.dequantized)}")
            continue
        out.line(f"  [{t.index}] {t.name} {t.value.dtype.name}[{shape_text(t.value.shape)}]: "
                 f"{array_summary(t.value)}")
        if t.dequantized is not None:
            out.line(f"      dequantized (scale {t.scale:.6g}, zero point {t.zero_point}): "
                     f"{array_summary(t.dequantized)}")


def print_run(result: RunResult, out: Output, dequantized_only: bool = False) -> None:
    """The text report of `microinterp run` (dequantized_only: quantized outputs by their real values)."""
    out.fields([("model", result.model),
                ("arena", f"{nbytes_text(result.arena_bytes)} bytes (TFLM head {nbytes_text(result.head_bytes)})"),
                ("invoke", f"{seconds_text(result.median_latency)} (median of {len(result.latencies)})")],
               indent=0)
    _print_tensors(out, "inputs", result.inputs)
    _print_tensors(out, "outputs", result.outputs, dequantized_only)


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help=".tflite file")
    parser.add_argument("--input", action="append", type=Path,
                        help=".npy file per model input, in order (float arrays for a quantized input are "
                             "quantized with its scale and zero point)")
    parser.add_argument("--output", type=Path, help="write the outputs to this .npz file (output_0, ...)")
    parser.add_argument("--dequantize", action="store_true",
                        help="write quantized outputs dequantized (float32) to --output, and print only "
                             "their dequantized values")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    parser.add_argument("--repeats", type=int, default=1, help="invoke this many times (latency median)")


def _run(args: argparse.Namespace, out: Output) -> int:
    inputs = [np.load(p, allow_pickle=False) for p in args.input] if args.input else None
    result = run_model(args.model, inputs=inputs, seed=args.seed, repeats=args.repeats)
    if args.output:
        np.savez(args.output, **{f"output_{i}": _written(t, args.dequantize) for i, t in enumerate(result.outputs)})
    if args.json:
        out.json(result)
    else:
        print_run(result, out, dequantized_only=args.dequantize)
    return EXIT_OK


COMMAND = Command("run", "run a model on given or seeded random inputs: outputs (dequantized) and latency",
                  _add_arguments, _run)
