"""FILL and ZEROS_LIKE bit-exact with TFLM: constant and runtime fill values, every supported type."""
from __future__ import annotations

import pytest

from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from movement_helpers import const, error_message, tensor, values
from opmodels import Case, Op, T, compare_cases_with_tflm


def fill_case(dtype, shape, value=None, dims_type="INT32", runtime_dims=False) -> Case:
    """value None: a runtime scalar input."""
    dims = T(dims_type, (len(shape),)) if runtime_dims else const(list(shape), dims_type)
    fill_value = tensor(dtype, ()) if value is None else const(value, dtype)
    return Case(f"FILL {dtype} {list(shape)} value {value} dims {dims_type}", Op("FILL"), [dims, fill_value],
                [tensor(dtype, shape)])


def zeros_like_case(dtype, shape) -> Case:
    return Case(f"ZEROS_LIKE {dtype} {list(shape)}", Op("ZEROS_LIKE"), [tensor(dtype, shape)], [tensor(dtype, shape)])


def test_fill_and_zeros_like_match_tflm(oracle):
    cases = []
    for dtype in ["FLOAT32", "INT8", "INT32"]:
        cases += [fill_case(dtype, (2, 3)), fill_case(dtype, (4,), value=-7, dims_type="INT64"),
                  fill_case(dtype, (1, 2, 1, 2), dims_type="INT8")]
    cases += [fill_case("FLOAT32", (3,), value=float("-inf")), fill_case("FLOAT32", (2, 2), value=-0.0)]
    for dtype in ["FLOAT32", "INT8", "INT32", "INT64"]:
        cases += [zeros_like_case(dtype, (2, 3)), zeros_like_case(dtype, (1,))]
    compare_cases_with_tflm(oracle, cases, values=values)


def test_inconsistent_fills_are_rejected():
    case = fill_case("INT8", (2, 3), value=1)
    case.inputs[0] = const([3, 2])
    assert "op 0 (FILL)" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    case = fill_case("INT8", (2, 3), value=1)
    case.inputs[1] = const([1], "INT8")
    assert "rank 0" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    case = zeros_like_case("INT8", (2, 3))
    case.outputs[0].shape = (3, 2)
    assert "op 0 (ZEROS_LIKE)" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)


@pytest.mark.parametrize("case", [fill_case("INT16", (2,), value=1), fill_case("BOOL", (2,)),
                                  fill_case("INT8", (2,), runtime_dims=True),
                                  zeros_like_case("INT16", (2,)), zeros_like_case("BOOL", (2,))],
                         ids=["fill int16", "fill bool", "runtime dims", "zeros int16", "zeros bool"])
def test_unsupported_fill_types_are_reported(case):
    error_message(case.op, case.inputs, case.outputs, UnsupportedOperatorError)
