"""RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR bit-exact with TFLM: up- and down-scaling by integer and
fractional ratios, align_corners and half_pixel_centers, float32 and int8 (int16 for nearest)."""
from __future__ import annotations

import pytest

from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from movement_helpers import const, error_message, tensor, values
from opmodels import Case, Op, T, compare_cases_with_tflm

OPTIONS = {"RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighborOptions", "RESIZE_BILINEAR": "ResizeBilinearOptions"}


def resize_case(name, dtype, shape, size, align=False, half=False) -> Case:
    n, _, _, c = shape
    return Case(f"{name} {dtype} {list(shape)} -> {size} align {align} half {half}",
                Op(name, OPTIONS[name], {"align_corners": align, "half_pixel_centers": half}),
                [tensor(dtype, shape), const(size)], [tensor(dtype, (n, *size, c))])


GEOMETRIES = [((1, 4, 4, 2), [6, 3]), ((2, 3, 5, 1), [7, 10]), ((1, 5, 2, 3), [2, 5]), ((1, 1, 3, 2), [3, 1]),
              ((1, 3, 3, 1), [3, 3]), ((1, 7, 6, 2), [3, 4])]
FLAGS = [(False, False), (True, False), (False, True)]


def test_nearest_neighbor_matches_tflm(oracle):
    cases = [resize_case("RESIZE_NEAREST_NEIGHBOR", dtype, shape, size, align, half)
             for dtype in ["FLOAT32", "INT8", "INT16"] for shape, size in GEOMETRIES
             for align, half in FLAGS + [(True, True)]]
    compare_cases_with_tflm(oracle, cases, values=values)


def test_bilinear_matches_tflm_in_float_and_integer_arithmetic(oracle):
    cases = [resize_case("RESIZE_BILINEAR", dtype, shape, size, align, half)
             for dtype in ["FLOAT32", "INT8"] for shape, size in GEOMETRIES for align, half in FLAGS]
    compare_cases_with_tflm(oracle, cases, values=values)


def test_inconsistent_resizes_are_rejected():
    case = resize_case("RESIZE_BILINEAR", "INT8", (1, 4, 4, 2), [6, 3])
    case.outputs[0].shape = (1, 6, 4, 2)
    assert "op 0 (RESIZE_BILINEAR)" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    case = resize_case("RESIZE_BILINEAR", "FLOAT32", (1, 4, 4, 2), [6, 3], align=True, half=True)
    assert "half_pixel_centers" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    case = resize_case("RESIZE_NEAREST_NEIGHBOR", "INT8", (1, 4, 4, 2), [6, 3])
    case.inputs[1] = const([6, 3, 1])
    assert "op 0 (RESIZE_NEAREST_NEIGHBOR)" in error_message(case.op, case.inputs, case.outputs,
                                                             InconsistentModelError)


@pytest.mark.parametrize("case", [
    resize_case("RESIZE_BILINEAR", "INT16", (1, 2, 2, 1), [4, 4]),
    resize_case("RESIZE_NEAREST_NEIGHBOR", "INT32", (1, 2, 2, 1), [4, 4]),
    Case("runtime size", Op("RESIZE_BILINEAR", "ResizeBilinearOptions", {}), [tensor("INT8", (1, 2, 2, 1)),
         T("INT32", (2,))], [tensor("INT8", (1, 4, 4, 1))]),
], ids=["bilinear int16", "nearest int32", "runtime size"])
def test_unsupported_resizes_are_reported(case):
    error_message(case.op, case.inputs, case.outputs, UnsupportedOperatorError)
