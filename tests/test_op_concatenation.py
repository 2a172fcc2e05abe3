"""CONCATENATION and PACK bit-exact with TFLM for every type it supports, all axes (negative too), up to 6-D."""
from __future__ import annotations

import pytest

from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from movement_helpers import error_message, tensor, values
from opmodels import Case, Op, compare_cases_with_tflm


def concat_case(dtype, shapes, axis, quant=None, activation=0) -> Case:
    rank = len(shapes[0])
    positive = axis + rank if axis < 0 else axis
    out_shape = list(shapes[0])
    out_shape[positive] = sum(s[positive] for s in shapes)
    return Case(f"CONCATENATION {dtype} {shapes} axis {axis}",
                Op("CONCATENATION", "ConcatenationOptions", {"axis": axis, "fused_activation_function": activation}),
                [tensor(dtype, s, quant) for s in shapes], [tensor(dtype, out_shape, quant)])


def pack_case(dtype, shape, count, axis) -> Case:
    rank = len(shape) + 1
    positive = axis + rank if axis < 0 else axis
    out_shape = list(shape[:positive]) + [count] + list(shape[positive:])
    return Case(f"PACK {dtype} {count} x {list(shape)} axis {axis}",
                Op("PACK", "PackOptions", {"values_count": count, "axis": axis}),
                [tensor(dtype, shape) for _ in range(count)], [tensor(dtype, out_shape)])


CONCAT_TYPES = ["INT8", "INT16", "INT32", "INT64", "FLOAT32", "BOOL"]


def test_concatenation_matches_tflm_for_every_type_axis_and_rank(oracle):
    cases = []
    for dtype in CONCAT_TYPES:
        cases += [
            concat_case(dtype, [(2, 3), (2, 1), (2, 4)], 1),
            concat_case(dtype, [(1, 2, 2, 3), (2, 2, 2, 3)], 0),
            concat_case(dtype, [(1, 2, 1, 3), (1, 2, 2, 3)], -2),
        ]
    cases += [
        concat_case("INT8", [(2, 1, 3, 1, 2, 2)] * 3, -1, quant=(0.25, -128)),
        concat_case("FLOAT32", [(4,)], 0),
        concat_case("INT16", [(1, 1), (1, 1)] * 5, 1),  # ten inputs, TFLM's maximum
        concat_case("FLOAT32", [(2, 0, 3), (2, 2, 3)], 1),
    ]
    compare_cases_with_tflm(oracle, cases, values=values)


def test_pack_matches_tflm_for_every_type_and_axis(oracle):
    cases = []
    for dtype in ["INT8", "INT16", "INT32", "INT64", "FLOAT32"]:
        cases += [pack_case(dtype, (2, 3), 3, 0), pack_case(dtype, (2, 3), 2, -1), pack_case(dtype, (4,), 2, 1)]
    cases += [pack_case("FLOAT32", (), 4, 0), pack_case("INT8", (1, 2, 1, 3), 1, 2)]
    compare_cases_with_tflm(oracle, cases, values=values)


def test_int8_inputs_with_other_quantization_and_wrong_shapes_are_rejected():
    case = concat_case("INT8", [(2, 3), (2, 3)], 1)
    case.inputs[1].zero_point = 4
    message = error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    assert "op 0 (CONCATENATION)" in message and "scale and zero point" in message
    case = concat_case("INT16", [(2, 3), (2, 3)], 1, quant=(0.01, 2))
    assert "zero point 0" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    case = concat_case("FLOAT32", [(2, 3), (3, 3)], 1)
    assert "every axis but 1" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    case = pack_case("INT8", (2, 3), 2, 0)
    case.op.options["values_count"] = 3
    assert "op 0 (PACK)" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)


@pytest.mark.parametrize("case", [
    concat_case("UINT8", [(2,), (2,)], 0),
    concat_case("FLOAT32", [(1,)] * 11, 0),
    concat_case("FLOAT32", [(1,) * 7] * 2, 0),
    concat_case("FLOAT32", [(2,), (2,)], 0, activation=1),
    pack_case("BOOL", (2,), 2, 0),
], ids=["uint8", "11 inputs", "rank 7", "relu", "pack bool"])
def test_unsupported_joins_are_reported(case):
    error_message(case.op, case.inputs, case.outputs, UnsupportedOperatorError)
