"""Seeded random model inputs, the same for microinterp, the CLI, the tests and the oracles."""
from __future__ import annotations

from typing import Any

import numpy as np


def random_input(shape: tuple[int, ...], dtype: np.dtype, rng: np.random.Generator) -> np.ndarray:
    """Integers uniform over the dtype's whole range; floats standard normal; bools fair coins."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    return rng.standard_normal(size=shape).astype(dtype)


def random_inputs(input_details: list[dict[str, Any]], seed: int) -> list[np.ndarray]:
    """One random array per input (tf.lite input details), from one seeded generator."""
    rng = np.random.default_rng(seed)
    return [random_input(tuple(d["shape"]), d["dtype"], rng) for d in input_details]
