"""microinterp against an official interpreter on the same inputs: the Python API behind `microinterp compare`.

Both run the same seeded random inputs, one invocation per seed, on one interpreter each (stateful models
carry their state from seed to seed in both). Per output: the largest absolute difference and whether
the values match exactly. With layers=True every op's output is compared as well, so the first op
whose result diverges can be named: microinterp then keeps every intermediate
(`experimental_preserve_all_tensors=True`, its linear planner), as do LiteRT (the same keyword) and TFLM
(`InterpreterConfig.kPreserveAllTensors`, TFLM's linear planner).
"""
from __future__ import annotations

import argparse
import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..inputs import random_inputs
from ..model import Subgraph
from ..oracles import OracleWorker
from .command import EXIT_CHECK_FAILED, EXIT_OK, Command, add_oracle_arguments, oracle_backend
from .render import Column, Output, name_text, shape_text
from .runner import ready_interpreter, set_inputs


@dataclass(frozen=True)
class TensorDiff:
    """How one tensor differs over all invocations. max_abs_diff is None when the values cannot be
    compared (missing on one side, shapes differ: see note); mismatches counts differing elements."""
    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("exact",)
    index: int
    name: str
    op: int
    op_name: str
    dtype: str
    shape: tuple[int, ...]
    max_abs_diff: float | None
    mismatches: int
    elements: int
    note: str = ""

    @property
    def exact(self) -> bool:
        """Every element equal in every invocation."""
        return self.max_abs_diff == 0.0

    def within(self, atol: float) -> bool:
        """Comparable, and no element differs by more than atol."""
        return self.max_abs_diff is not None and self.max_abs_diff <= atol


@dataclass(frozen=True)
class CompareReport:
    """The comparison of one model: outputs, and with layers every op output in op order (else None).

    Intermediates the official interpreter does not keep are listed with a note and do not count
    against `ok`; outputs always do.
    """
    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("ok", "first_divergence")
    model: str
    backend: str
    seeds: list[int]
    atol: float
    outputs: list[TensorDiff]
    layers: list[TensorDiff] | None

    @property
    def first_divergence(self) -> TensorDiff | None:
        """The first tensor, in op order, that differs beyond atol (outputs alone without layers)."""
        candidates = self.layers if self.layers is not None else self.outputs
        return next((t for t in candidates if t.max_abs_diff is not None and not t.within(self.atol)), None)

    @property
    def ok(self) -> bool:
        """Every output (and every kept intermediate) within atol."""
        return all(t.within(self.atol) for t in self.outputs) and self.first_divergence is None


def diff_arrays(ours: list[np.ndarray], theirs: list[np.ndarray | None]) -> tuple[float | None, int, int, str]:
    """(max abs difference, differing elements, elements, note) of a tensor over invocations; NaN equals
    NaN, NaN against a number is an infinite difference."""
    worst, mismatches, elements = 0.0, 0, 0
    for a, b in zip(ours, theirs):
        if b is None:
            return None, 0, 0, "not kept by the official interpreter"
        if a.shape != b.shape:
            return None, 0, 0, f"shape {shape_text(a.shape)} vs {shape_text(b.shape)}"
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        d = np.abs(a64 - b64)
        d[np.isnan(a64) & np.isnan(b64)] = 0.0
        d[np.isnan(d)] = np.inf
        worst = max(worst, float(d.max(initial=0.0)))
        mismatches += int(np.count_nonzero(d))
        elements += d.size
    return worst, mismatches, elements, ""


def _producers(sg: Subgraph) -> dict[int, tuple[int, str]]:
    """tensor index -> (index, name) of the op writing it; graph inputs map to (-1, "input")."""
    found = {t: (-1, "input") for t in sg.inputs}
    for op in sg.operators:
        for t in op.outputs:
            found.setdefault(t, (op.index, op.name))
    return found


def compare_model(model_path: str | os.PathLike, backend: str = "tflm", seeds: int = 3, layers: bool = False,
                  atol: float = 0.0, worker: OracleWorker | None = None) -> CompareReport:
    """Compare microinterp with an oracle backend ("tflm", "litert_ref", "litert_builtin", "litert") on
    seeds 0..seeds-1. worker: an OracleWorker to reuse (a fresh one is started and stopped otherwise)."""
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    interp, _ = ready_interpreter(model_path, experimental_preserve_all_tensors=layers)
    main = interp.model.main
    producers = _producers(main)
    op_outputs = [t for op in main.operators for t in op.outputs] if layers else []
    watched = list(dict.fromkeys([*op_outputs, *main.outputs]))
    invocations = [random_inputs(interp.get_input_details(), seed) for seed in range(seeds)]
    ours: dict[int, list[np.ndarray]] = {t: [] for t in watched}
    for arrays in invocations:
        set_inputs(interp, arrays)
        interp.invoke()
        for t in watched:
            ours[t].append(interp.get_tensor(t))
    with contextlib.nullcontext(worker) if worker is not None else OracleWorker() as oracle:
        result = oracle.run(model_path, invocations, backend, preserve_all_tensors=layers)
    if layers:  # a tensor the official interpreter does not keep is missing from its dict
        theirs = {t: [kept.get(t) for kept in result.tensors] for t in watched}
    else:
        position = {t: i for i, t in enumerate(main.outputs)}
        theirs = {t: [outputs[position[t]] for outputs in result.outputs] for t in watched}

    def tensor_diff(t: int) -> TensorDiff:
        tensor = main.tensors[t]
        op, op_name = producers.get(t, (-1, "input"))
        return TensorDiff(t, tensor.name, op, op_name, tensor.type_name, tensor.shape,
                          *diff_arrays(ours[t], theirs[t]))

    diffs = {t: tensor_diff(t) for t in watched}
    return CompareReport(str(model_path), backend, list(range(len(invocations))), atol,
                         [diffs[t] for t in main.outputs], list(diffs.values()) if layers else None)


# -- command line -----------------------------------------------------------------------------------

def _diff_text(t: TensorDiff) -> str:
    return "n/a" if t.max_abs_diff is None else f"{t.max_abs_diff:.6g}"


def _rows(report: CompareReport, tensors: list[TensorDiff]) -> list[list[str]]:
    def result(t: TensorDiff) -> str:
        if t.max_abs_diff is None:
            return t.note
        return "exact" if t.exact else ("within atol" if t.within(report.atol) else "DIFFERS")
    return [[str(t.index), name_text(t.name), "" if t.op < 0 else f"{t.op} {t.op_name}",
             f"{t.dtype}[{shape_text(t.shape)}]", _diff_text(t), f"{t.mismatches:,}/{t.elements:,}", result(t)]
            for t in tensors]


def print_report(report: CompareReport, out: Output) -> None:
    """The text report of `microinterp compare`."""
    seeds = f"seed {report.seeds[0]}" if len(report.seeds) == 1 else f"seeds {report.seeds[0]}..{report.seeds[-1]}"
    out.fields([("model", report.model), ("against", f"{report.backend}, {seeds}, atol {report.atol:g}")],
               indent=0)
    columns = [Column("tensor", True), Column("name"), Column("op"), Column("type"), Column("max |diff|", True),
               Column("mismatches", True), Column("result")]
    out.table(columns, _rows(report, report.outputs), title="outputs")
    if report.layers is not None:
        out.table(columns, _rows(report, report.layers), title="every op output, in op order")
    first = report.first_divergence
    if first is not None:
        out.verdict(False, f"first divergence: tensor {first.index} '{name_text(first.name)}' written by "
                           f"op {first.op} ({first.op_name}): max |diff| {_diff_text(first)}, {first.mismatches:,} of "
                           f"{first.elements:,} elements differ")
    elif not report.ok:
        out.verdict(False, "outputs cannot be compared: " + "; ".join(t.note for t in report.outputs if t.note))
    else:
        exact = all(t.exact for t in report.outputs)
        out.verdict(True, f"outputs match {report.backend} " + ("exactly" if exact else f"within {report.atol:g}"))


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help=".tflite file")
    add_oracle_arguments(parser, multiple=False)
    parser.add_argument("--seeds", type=int, default=3,
                        help="invocations, on seeded random inputs 0..N-1 (default 3)")
    parser.add_argument("--layers", action="store_true",
                        help="compare every op's output too, and show the first op that diverges")
    parser.add_argument("--atol", type=float, default=0.0,
                        help="largest absolute difference that still counts as a match (default 0: exact)")


def _run(args: argparse.Namespace, out: Output) -> int:
    report = compare_model(args.model, oracle_backend(args.against, args.litert), args.seeds, args.layers,
                           args.atol)
    if args.json:
        out.json(report)
    else:
        print_report(report, out)
    return EXIT_OK if report.ok else EXIT_CHECK_FAILED


COMMAND = Command("compare", "run microinterp and an official interpreter on the same inputs; per output "
                             "(--layers: per op) max difference and exact match", _add_arguments, _run)
