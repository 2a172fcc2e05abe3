"""CAST bit-exact with TFLM between every pair of int8, int16, int32, uint32, float32 and bool, including
wrap-around between integer widths and saturation (NaN -> 0) from float."""
from __future__ import annotations

import numpy as np
import pytest

from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from movement_helpers import error_message, values
from opmodels import Case, Op, T, compare_cases_with_tflm

TYPES = ["INT8", "INT16", "INT32", "UINT32", "FLOAT32", "BOOL"]
SPECIAL_FLOATS = np.array([np.nan, np.inf, -np.inf, -0.0, 0.5, -0.5, -0.9, 1.5, -2.5, 127.9, -128.9, 300.5,
                           -300.5, 32767.5, -32769.0, 65535.7, 2147483520.0, -2147483648.0, 3e9, 4294967295.0,
                           1e10, -1e10, 1e-40], np.float32)


def cast_case(source, target, shape=(4, 6)) -> Case:
    return Case(f"CAST {source} -> {target}", Op("CAST"), [T(source, shape)], [T(target, shape)])


def cast_values(rng, t):
    """Whole integer ranges; floats spread over every integer range plus NaN, infinities and edges."""
    if t.type != "FLOAT32":
        return values(rng, t)
    spread = rng.uniform(-1, 1, size=t.shape) * 10.0 ** rng.integers(0, 11, size=t.shape)
    flat = spread.astype(np.float32).reshape(-1)
    flat[:SPECIAL_FLOATS.size] = rng.permutation(SPECIAL_FLOATS)[:flat.size]
    return flat.reshape(t.shape)


def test_cast_matches_tflm_for_every_type_pair(oracle):
    cases = [cast_case(a, b) for a in TYPES for b in TYPES]
    compare_cases_with_tflm(oracle, cases, values=cast_values)


def test_mismatched_shapes_are_rejected():
    message = error_message(Op("CAST"), [T("INT8", (2, 3))], [T("INT32", (3, 2))], InconsistentModelError)
    assert "op 0 (CAST)" in message


@pytest.mark.parametrize("source, target", [("INT64", "INT32"), ("INT8", "UINT8"), ("FLOAT16", "FLOAT32")])
def test_unsupported_type_pairs_are_reported(source, target):
    error_message(Op("CAST"), [T(source, (2,))], [T(target, (2,))], UnsupportedOperatorError)
