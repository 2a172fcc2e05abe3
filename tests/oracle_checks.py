"""Helpers for tests that compare microinterp with the official interpreters on the same inputs."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from microinterp import Interpreter
from microinterp.inputs import random_inputs

SEEDS = (0, 1, 2)


def seeded_sequence(interp: Interpreter, seeds=SEEDS) -> list[list[np.ndarray]]:
    """One list of inputs per seed, in input order."""
    return [random_inputs(interp.get_input_details(), s) for s in seeds]


def run_sequence(interp: Interpreter, sequence: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    """Invoke once per entry of the sequence without resetting state; outputs per invocation."""
    outs = []
    for inputs in sequence:
        for d, x in zip(interp.get_input_details(), inputs):
            interp.set_tensor(d["index"], x)
        interp.invoke()
        outs.append([interp.get_tensor(d["index"]) for d in interp.get_output_details()])
    return outs


def outside_float_rule(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """The elements of a float output outside |a-b| <= 1e-5*|b| + 1e-6*max|b| of the oracle's."""
    theirs = np.asarray(theirs)
    tol = 1e-5 * np.abs(theirs) + 1e-6 * (np.abs(theirs).max() if theirs.size else 0)
    return np.abs(ours.astype(np.float64) - theirs) > tol


def assert_same_outputs(ours: list[list[np.ndarray]], theirs: list[list[np.ndarray]], what: str) -> None:
    """Integers bit for bit; floats within |a-b| <= 1e-5*|b| + 1e-6*max|b|."""
    assert len(ours) == len(theirs)
    for k, (a_list, b_list) in enumerate(zip(ours, theirs)):
        assert len(a_list) == len(b_list), f"{what}: output count differs"
        for i, (a, b) in enumerate(zip(a_list, b_list)):
            b = np.asarray(b)
            assert a.shape == b.shape, f"{what} invocation {k} output {i}: shape {a.shape} vs {b.shape}"
            assert a.dtype == b.dtype, f"{what} invocation {k} output {i}: dtype {a.dtype} vs {b.dtype}"
            bad = outside_float_rule(a, b) if np.issubdtype(a.dtype, np.floating) else a != b
            assert not bad.any(), (f"{what} invocation {k} output {i}: {int(bad.sum())} of {a.size} elements "
                                   f"differ, max |diff| {np.abs(a.astype(np.float64) - b).max()}")


def lsb_differences(ours: list[list[np.ndarray]], theirs: list[list[np.ndarray]]) -> tuple[int, int]:
    """(max |diff|, count of differing elements) over all invocations and outputs."""
    worst, count = 0, 0
    for a_list, b_list in zip(ours, theirs):
        for a, b in zip(a_list, b_list):
            d = np.abs(a.astype(np.int64) - np.asarray(b).astype(np.int64))
            worst, count = max(worst, int(d.max(initial=0))), count + int((d != 0).sum())
    return worst, count


def single_op_model_names(folder: Path, patterns: list[str]) -> list[str]:
    """The single_op models in the shared models `folder` matching any of the glob `patterns`, sorted
    (one placeholder name when the folder is missing, so that the shared_models fixture reports it)."""
    folder = folder / "single_op"
    if not folder.is_dir():
        return ["(shared models missing)"]
    return sorted(p.name for pattern in patterns for p in folder.glob(pattern))


def assert_single_op_model_matches_tflm(shared_models: Path, oracle, name: str) -> None:
    """3 seeded inputs run in sequence through the Interpreter and TFLM give the same outputs, bit for bit
    (integers), and the planned arena head equals TFLM's."""
    content = (shared_models / "single_op" / name).read_bytes()
    interp = Interpreter(model_content=content)
    interp.allocate_tensors()
    sequence = seeded_sequence(interp)
    theirs = oracle.run(content, sequence, backend="tflm").outputs
    assert_same_outputs(run_sequence(interp, sequence), theirs, name)
    assert interp.memory_plan.head == oracle.tflm_arena(content).head


def model_bytes(path: Path) -> bytes:
    return Path(path).read_bytes()
