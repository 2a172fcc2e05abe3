"""SPACE_TO_DEPTH and DEPTH_TO_SPACE bit-exact with TFLM for float32 and int8, several block sizes."""
from __future__ import annotations

import pytest

from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from movement_helpers import error_message, tensor, values
from opmodels import Case, Op, compare_cases_with_tflm


def s2d_case(dtype, shape, block) -> Case:
    n, h, w, c = shape
    return Case(f"SPACE_TO_DEPTH {dtype} {list(shape)} block {block}",
                Op("SPACE_TO_DEPTH", "SpaceToDepthOptions", {"block_size": block}),
                [tensor(dtype, shape)], [tensor(dtype, (n, h // block, w // block, c * block * block))])


def d2s_case(dtype, shape, block) -> Case:
    n, h, w, c = shape
    return Case(f"DEPTH_TO_SPACE {dtype} {list(shape)} block {block}",
                Op("DEPTH_TO_SPACE", "DepthToSpaceOptions", {"block_size": block}),
                [tensor(dtype, shape)], [tensor(dtype, (n, h * block, w * block, c // (block * block)))])


def test_space_to_depth_and_back_match_tflm(oracle):
    cases = []
    for dtype in ["FLOAT32", "INT8"]:
        cases += [s2d_case(dtype, (1, 4, 6, 2), 2), s2d_case(dtype, (2, 3, 3, 1), 3), s2d_case(dtype, (1, 2, 2, 3), 1),
                  d2s_case(dtype, (1, 2, 3, 8), 2), d2s_case(dtype, (2, 1, 2, 9), 3), d2s_case(dtype, (1, 1, 1, 4), 2)]
    compare_cases_with_tflm(oracle, cases, values=values)


def test_inconsistent_blocks_are_rejected():
    case = s2d_case("INT8", (1, 4, 6, 2), 2)
    case.op.options["block_size"] = 4
    message = error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    assert "op 0 (SPACE_TO_DEPTH)" in message and "multiples of block_size 4" in message
    case = d2s_case("FLOAT32", (1, 2, 3, 8), 2)
    case.outputs[0].shape = (1, 4, 6, 1)
    assert "op 0 (DEPTH_TO_SPACE)" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)


@pytest.mark.parametrize("case", [s2d_case("INT16", (1, 2, 2, 1), 2), d2s_case("INT32", (1, 1, 1, 4), 2)],
                         ids=["s2d int16", "d2s int32"])
def test_unsupported_types_are_reported(case):
    error_message(case.op, case.inputs, case.outputs, UnsupportedOperatorError)
