"""Prepare: check the graph's data flow, then run every op's prepare (validation + precomputation).

Unsupported operators are collected over the whole graph and reported in one error.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InconsistentModelError, UnsupportedOperatorError
from .model import Model, Operator
from .ops import OpContext, find_prepare
from .ops.registry import BindFn


@dataclass(frozen=True)
class PreparedOp:
    """An operator with its validated kernel binding, its scratch requests (bytes, like_tflm) and the
    (output, input) positions it declared byte copies of each other (OpContext.declare_alias)."""
    op: Operator
    bind: BindFn
    scratch: tuple[tuple[int, bool], ...]
    aliases: tuple[tuple[int, int], ...] = ()
    #: Arrays the op keeps across invokes, with their reset values (OpContext.persistent).
    state: tuple[tuple[np.ndarray, int], ...] = ()


def check_data_flow(model: Model, subgraph: int = 0) -> None:
    """Every tensor an op reads is a constant, a variable, a graph input or written by an earlier op."""
    sg = model.subgraphs[subgraph]
    available = set(sg.inputs)
    available.update(t.index for t in sg.tensors if t.is_constant or t.is_variable)
    for op in sg.operators:
        for i, t in enumerate(op.inputs):
            if t >= 0 and t not in available:
                raise InconsistentModelError(
                    f"{op.describe()}: input {i} ({sg.tensors[t].describe()}) is read before any op "
                    f"writes it and is not a graph input, constant or variable")
        for i, t in enumerate(op.outputs):
            # Constants are read-only views of the model bytes (flash, on a microcontroller).
            if sg.tensors[t].is_constant:
                raise InconsistentModelError(f"{op.describe()}: output {i} ({sg.tensors[t].describe()}) "
                                             f"is a constant, expected a tensor without a data buffer")
        available.update(op.outputs)
    for t in sg.outputs:
        if t not in available:
            raise InconsistentModelError(f"subgraph {subgraph} output {sg.tensors[t].describe()} is never written")


def prepare_model(model: Model) -> list[PreparedOp]:
    """Prepare every operator of the main subgraph; raise one error listing all unsupported ones."""
    check_data_flow(model)
    prepared: list[PreparedOp] = []
    problems: list[str] = []
    for op in model.main.operators:
        prepare = find_prepare(op)
        if prepare is None:
            problems.append(f"{op.describe()}: no kernel for this operator")
            continue
        ctx = OpContext(model, op)
        try:
            bind = prepare(ctx)
        except UnsupportedOperatorError as e:
            problems.extend(e.problems)
            continue
        except InconsistentModelError as e:
            # Shared helpers (quantization.py) cannot name the op; ctx.fail's messages already do.
            if str(e).startswith(op.describe()):
                raise
            raise InconsistentModelError(f"{op.describe()}: {e}") from e
        prepared.append(PreparedOp(op, bind, tuple(ctx.scratch), tuple(ctx.aliases), tuple(ctx.state)))
    if problems:
        raise UnsupportedOperatorError(problems)
    return prepared
