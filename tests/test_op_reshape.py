"""RESHAPE, SQUEEZE and EXPAND_DIMS: byte copies bit-exact with TFLM for every type each one supports."""
from __future__ import annotations

import pytest

from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from movement_helpers import const, error_message, tensor, values
from opmodels import Case, Op, T, compare_cases_with_tflm


def reshape_case(dtype, shape, out_shape) -> Case:
    return Case(f"RESHAPE {dtype} {list(shape)} -> {list(out_shape)}", Op("RESHAPE"),
                [tensor(dtype, shape), const(out_shape)], [tensor(dtype, out_shape)])


def squeeze_case(dtype, shape, dims, out_shape) -> Case:
    return Case(f"SQUEEZE {dtype} {list(shape)} dims {dims}", Op("SQUEEZE", "SqueezeOptions", {"squeeze_dims": dims}),
                [tensor(dtype, shape)], [tensor(dtype, out_shape)])


def expand_case(dtype, shape, axis, out_shape) -> Case:
    return Case(f"EXPAND_DIMS {dtype} {list(shape)} axis {axis}", Op("EXPAND_DIMS"),
                [tensor(dtype, shape), const(axis)], [tensor(dtype, out_shape)])


def test_reshape_squeeze_and_expand_dims_copy_bytes_like_tflm(oracle):
    cases = []
    for dtype in ["INT8", "INT16", "INT32", "FLOAT32", "BOOL", "INT64", "UINT8"]:
        cases += [reshape_case(dtype, (2, 3), (3, 2)), squeeze_case(dtype, (1, 2, 1, 3), [], (2, 3)),
                  squeeze_case(dtype, (1, 2, 1, 3), [-2], (1, 2, 3))]
    for dtype in ["INT8", "INT16", "FLOAT32"]:
        cases += [expand_case(dtype, (2, 3), 0, (1, 2, 3)), expand_case(dtype, (2, 3), -1, (2, 3, 1)),
                  expand_case(dtype, (2, 3), [1], (2, 1, 3)), expand_case(dtype, (), 0, (1,))]
    cases += [squeeze_case("FLOAT32", (1, 1, 1, 1, 1, 1, 1, 4), [0, 2, 4], (1, 1, 1, 1, 4))]
    compare_cases_with_tflm(oracle, cases, values=values)


def test_shapes_that_contradict_the_op_are_rejected():
    case = squeeze_case("INT8", (1, 2, 1), [1], (1, 1))
    message = error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    assert "op 0 (SQUEEZE)" in message and "size-1 axis" in message
    case = squeeze_case("INT8", (1, 2, 1), [0], (2,))
    assert "must have shape [2, 1]" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    case = expand_case("FLOAT32", (2, 3), 3, (2, 3, 1))
    message = error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    assert "op 0 (EXPAND_DIMS)" in message and "out of range" in message
    case = expand_case("FLOAT32", (2, 3), 1, (2, 3, 1))
    assert "[2, 1, 3]" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)


@pytest.mark.parametrize("case", [
    expand_case("INT32", (2,), 0, (1, 2)),
    expand_case("BOOL", (2,), 0, (1, 2)),
    Case("runtime axis", Op("EXPAND_DIMS"), [tensor("INT8", (2,)), T("INT32", ())], [tensor("INT8", (1, 2))]),
    squeeze_case("FLOAT32", (1,) * 9, [], ()),
], ids=["expand int32", "expand bool", "runtime axis", "squeeze rank 9"])
def test_unsupported_shape_ops_are_reported(case):
    error_message(case.op, case.inputs, case.outputs, UnsupportedOperatorError)
