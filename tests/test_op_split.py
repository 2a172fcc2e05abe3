"""SPLIT, SPLIT_V and UNPACK bit-exact with TFLM for float32, int8, int16 and int32, all axes."""
from __future__ import annotations

import pytest

from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from movement_helpers import const, error_message, tensor, values
from opmodels import Case, Op, T, compare_cases_with_tflm

SPLIT_TYPES = ["FLOAT32", "INT8", "INT16", "INT32"]


def _cut(shape, axis, size):
    out = list(shape)
    out[axis] = size
    return out


def split_case(dtype, shape, axis, count) -> Case:
    positive = axis + len(shape) if axis < 0 else axis
    return Case(f"SPLIT {dtype} {list(shape)} axis {axis} into {count}",
                Op("SPLIT", "SplitOptions", {"num_splits": count}),
                [const(axis), tensor(dtype, shape)],
                [tensor(dtype, _cut(shape, positive, shape[positive] // count)) for _ in range(count)])


def split_v_case(dtype, shape, axis, sizes) -> Case:
    positive = axis + len(shape) if axis < 0 else axis
    return Case(f"SPLIT_V {dtype} {list(shape)} axis {axis} sizes {sizes}",
                Op("SPLIT_V", "SplitVOptions", {"num_splits": len(sizes)}),
                [tensor(dtype, shape), const(sizes), const([axis])],
                [tensor(dtype, _cut(shape, positive, s)) for s in sizes])


def unpack_case(dtype, shape, axis) -> Case:
    positive = axis + len(shape) if axis < 0 else axis
    rest = list(shape[:positive]) + list(shape[positive + 1:])
    return Case(f"UNPACK {dtype} {list(shape)} axis {axis}",
                Op("UNPACK", "UnpackOptions", {"num": shape[positive], "axis": axis}),
                [tensor(dtype, shape)], [tensor(dtype, rest) for _ in range(shape[positive])])


def test_split_split_v_and_unpack_match_tflm(oracle):
    cases = []
    for dtype in SPLIT_TYPES:
        cases += [
            split_case(dtype, (2, 6), 1, 3),
            split_case(dtype, (4, 1, 3), -3, 2),
            split_v_case(dtype, (2, 3, 5), 2, [1, 3, 1]),
            split_v_case(dtype, (6, 2), -2, [6]),
            unpack_case(dtype, (3, 2, 2), 0),
            unpack_case(dtype, (2, 1, 4), -1),
        ]
    cases += [split_case("INT8", (1, 2, 1, 2, 4), 4, 4), split_v_case("FLOAT32", (3, 4), 1, [1, 3]),
              unpack_case("INT16", (2,), 0)]
    compare_cases_with_tflm(oracle, cases, values=values)


def test_pieces_that_do_not_tile_the_input_are_rejected():
    case = split_case("FLOAT32", (2, 6), 1, 3)
    case.outputs[2].shape = (2, 3)
    assert "op 0 (SPLIT)" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    case = split_v_case("INT8", (2, 5), 1, [2, 2])
    assert "do not add up" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    case = unpack_case("INT8", (3, 2), 0)
    case.op.options["num"] = 2
    assert "op 0 (UNPACK)" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    case = split_case("INT8", (2, 6), 1, 1)
    case.inputs[0] = const(2)
    assert "out of range" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)


@pytest.mark.parametrize("case", [
    split_case("BOOL", (2, 2), 0, 2),
    unpack_case("INT64", (2, 2), 0),
    Case("runtime axis", Op("SPLIT", "SplitOptions", {"num_splits": 1}), [T("INT32", ()), tensor("INT8", (2,))],
         [tensor("INT8", (2,))]),
], ids=["bool", "unpack int64", "runtime axis"])
def test_unsupported_splits_are_reported(case):
    error_message(case.op, case.inputs, case.outputs, UnsupportedOperatorError)
