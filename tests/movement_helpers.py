"""Helpers shared by the data-movement op tests: typed tensors, input values for every type, error checks."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pytest

from microinterp import Interpreter
from opmodels import Op, T, prepare_op, random_values, single_op_model

#: Quantization given to int8/int16 tensors of pure copies (copies never read it; PAD/CONCAT check it).
QUANT = {"INT8": (0.05, 3), "INT16": (0.002, 0)}


def tensor(dtype: str, shape: Sequence[int], quant: tuple[float, int] | None = None) -> T:
    """A non-constant tensor; int8/int16 get `quant` or the default QUANT."""
    scale, zero_point = quant or QUANT.get(dtype, (None, None))
    return T(dtype, tuple(shape), scale, zero_point)


def const(values, dtype: str = "INT32") -> T:
    """A constant tensor holding `values` (shape from the array)."""
    data = np.asarray(values, T(dtype, ()).dtype)
    return T(dtype, data.shape, data=data)


def values(rng: np.random.Generator, t: T) -> np.ndarray:
    """random_values, plus bools that are really mixed (random_values is for numbers)."""
    if t.type == "BOOL":
        return rng.integers(0, 2, size=tuple(t.shape)).astype(bool)
    return random_values(rng, t)


def error_message(op: Op, inputs: Sequence[T | None], outputs: Sequence[T], error: type) -> str:
    """Prepare a one-op model that must raise `error`; returns the message."""
    with pytest.raises(error) as info:
        prepare_op(single_op_model(op, inputs, outputs))
    return str(info.value)


def assert_invoke_fails(model: bytes, inputs: Sequence[np.ndarray], error: type, match: str) -> None:
    """Invoking the model's Interpreter on `inputs` raises `error` with a message matching the regex `match`."""
    interp = Interpreter(model_content=model)
    interp.allocate_tensors()
    for detail, value in zip(interp.get_input_details(), inputs):
        interp.set_tensor(detail["index"], value)
    with pytest.raises(error, match=match):
        interp.invoke()
