"""BROADCAST_TO bit-exact with TFLM for every fixed-size type, up to 5-D, int32 and int64 shapes."""
from __future__ import annotations

import pytest

from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from movement_helpers import const, error_message, tensor, values
from opmodels import Case, Op, T, compare_cases_with_tflm


def broadcast_case(dtype, shape, target, shape_type="INT32") -> Case:
    return Case(f"BROADCAST_TO {dtype} {list(shape)} -> {list(target)}", Op("BROADCAST_TO"),
                [tensor(dtype, shape), const(list(target), shape_type)], [tensor(dtype, target)])


def test_broadcast_to_matches_tflm(oracle):
    cases = []
    for dtype in ["FLOAT32", "INT8", "INT16", "INT32", "INT64", "BOOL", "UINT8"]:
        cases += [broadcast_case(dtype, (1, 3), (2, 4, 3)), broadcast_case(dtype, (2, 1, 1), (2, 3, 2), "INT64"),
                  broadcast_case(dtype, (), (2, 2))]
    cases += [broadcast_case("FLOAT32", (3, 1, 2, 1, 1), (3, 2, 2, 1, 4)), broadcast_case("INT8", (4,), (4,))]
    compare_cases_with_tflm(oracle, cases, values=values)


def test_incompatible_targets_are_rejected():
    case = broadcast_case("INT8", (2, 3), (2, 3))
    case.inputs[1] = const([4, 3])
    assert "op 0 (BROADCAST_TO)" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    case = broadcast_case("INT8", (2, 3), (4, 3))
    assert "cannot be broadcast" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)


@pytest.mark.parametrize("case", [
    broadcast_case("FLOAT32", (1,), (1, 1, 1, 1, 1, 2)),
    Case("runtime shape", Op("BROADCAST_TO"), [tensor("INT8", (1,)), T("INT32", (1,))], [tensor("INT8", (3,))]),
], ids=["rank 6", "runtime shape"])
def test_unsupported_broadcasts_are_reported(case):
    error_message(case.op, case.inputs, case.outputs, UnsupportedOperatorError)
