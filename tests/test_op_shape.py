"""SHAPE bit-exact with TFLM: int32 output for inputs of any type and rank."""
from __future__ import annotations

from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from movement_helpers import error_message, tensor, values
from opmodels import Case, Op, compare_cases_with_tflm


def shape_case(dtype, shape, out_type="INT32") -> Case:
    return Case(f"SHAPE {dtype} {list(shape)}", Op("SHAPE", "ShapeOptions", {"out_type": 2}), [tensor(dtype, shape)],
                [tensor(out_type, (len(shape),))])


def test_shape_matches_tflm(oracle):
    cases = [shape_case(dtype, shape) for dtype in ["FLOAT32", "INT8", "INT16", "INT32", "BOOL", "INT64"]
             for shape in [(2, 3), (1, 4, 1, 2, 3), (7,)]]
    compare_cases_with_tflm(oracle, cases, values=values)


def test_wrong_output_length_and_int64_output_are_rejected():
    case = shape_case("INT8", (2, 3))
    case.outputs[0].shape = (3,)
    assert "op 0 (SHAPE)" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    case = shape_case("INT8", (2, 3), out_type="INT64")
    assert "INT64" in error_message(case.op, case.inputs, case.outputs, UnsupportedOperatorError)
