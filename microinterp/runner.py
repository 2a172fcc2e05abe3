"""Running a model once from files or seeded inputs: the Python API behind `microinterp run`."""
from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass, field

import numpy as np

from .interpreter import Interpreter
from .inputs import random_inputs


@dataclass
class TensorValue:
    """One input or output of a run, with its dequantized values when the tensor is quantized."""
    name: str
    index: int
    value: np.ndarray
    scale: float = 0.0
    zero_point: int = 0

    @property
    def dequantized(self) -> np.ndarray | None:
        if self.scale == 0.0 or not np.issubdtype(self.value.dtype, np.integer):
            return None
        return ((self.value.astype(np.float64) - self.zero_point) * self.scale).astype(np.float32)


@dataclass
class RunResult:
    """Inputs, outputs, invoke latencies (seconds) and arena figures of one `run`."""
    model: str
    inputs: list[TensorValue]
    outputs: list[TensorValue]
    latencies: list[float] = field(default_factory=list)
    arena_bytes: int = 0
    head_bytes: int = 0

    @property
    def median_latency(self) -> float:
        return statistics.median(self.latencies) if self.latencies else 0.0


def _values(interp: Interpreter, details: list[dict]) -> list[TensorValue]:
    return [TensorValue(d["name"], d["index"], interp.get_tensor(d["index"]), *d["quantization"])
            for d in details]


def run_model(model_path: str | os.PathLike, inputs: list[np.ndarray] | None = None, seed: int = 0,
              repeats: int = 1) -> RunResult:
    """Run a model on the given inputs (or seeded random ones), invoking it `repeats` times."""
    interp = Interpreter(model_path=model_path)
    interp.allocate_tensors()
    details = interp.get_input_details()
    if inputs is None:
        inputs = random_inputs(details, seed)
    if len(inputs) != len(details):
        raise ValueError(f"the model takes {len(details)} inputs, {len(inputs)} were given")
    latencies = []
    for _ in range(max(repeats, 1)):
        for d, value in zip(details, inputs):
            interp.set_tensor(d["index"], value)
        start = time.perf_counter()
        interp.invoke()
        latencies.append(time.perf_counter() - start)
    plan = interp.memory_plan
    return RunResult(str(model_path), _values(interp, details), _values(interp, interp.get_output_details()),
                     latencies, plan.arena_size, plan.head)
