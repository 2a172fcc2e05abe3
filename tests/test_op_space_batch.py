"""SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND bit-exact with TFLM for float32 and int8, 3-D and 4-D, with
paddings and crops (TFLM pads with zero bytes, even for int8 with a non-zero zero point)."""
from __future__ import annotations

import math

import pytest

from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from movement_helpers import const, error_message, tensor, values
from opmodels import Case, Op, compare_cases_with_tflm


def s2b_case(dtype, shape, block, pads, quant=None) -> Case:
    spatial = [(n + a + b) // k for n, k, (a, b) in zip(shape[1:-1], block, pads)]
    out_shape = [shape[0] * math.prod(block)] + spatial + [shape[-1]]
    return Case(f"SPACE_TO_BATCH_ND {dtype} {list(shape)} block {block} pads {pads}", Op("SPACE_TO_BATCH_ND"),
                [tensor(dtype, shape, quant), const(block), const(pads)], [tensor(dtype, out_shape, quant)])


def b2s_case(dtype, shape, block, crops) -> Case:
    spatial = [n * k - a - b for n, k, (a, b) in zip(shape[1:-1], block, crops)]
    out_shape = [shape[0] // math.prod(block)] + spatial + [shape[-1]]
    return Case(f"BATCH_TO_SPACE_ND {dtype} {list(shape)} block {block} crops {crops}", Op("BATCH_TO_SPACE_ND"),
                [tensor(dtype, shape), const(block), const(crops)], [tensor(dtype, out_shape)])


def test_space_to_batch_and_back_match_tflm(oracle):
    cases = []
    for dtype in ["FLOAT32", "INT8"]:
        cases += [
            s2b_case(dtype, (1, 4, 4, 2), [2, 2], [[0, 0], [0, 0]]),
            s2b_case(dtype, (2, 3, 5, 1), [2, 3], [[1, 0], [0, 1]], quant=(0.1, 7)),
            s2b_case(dtype, (1, 5, 3), [3], [[2, 2]]),
            b2s_case(dtype, (4, 2, 2, 2), [2, 2], [[0, 0], [0, 0]]),
            b2s_case(dtype, (12, 2, 3, 1), [2, 3], [[1, 0], [2, 1]]),
            b2s_case(dtype, (3, 2, 2), [3], [[1, 2]]),
        ]
    compare_cases_with_tflm(oracle, cases, values=values)


def test_inconsistent_blocks_and_crops_are_rejected():
    case = s2b_case("INT8", (1, 4, 4, 2), [3, 2], [[0, 0], [0, 0]])
    message = error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    assert "op 0 (SPACE_TO_BATCH_ND)" in message and "not a multiple" in message
    case = b2s_case("FLOAT32", (4, 2, 2, 2), [2, 2], [[0, 0], [0, 0]])
    case.inputs[2] = const([[3, 3], [0, 0]])
    assert "op 0 (BATCH_TO_SPACE_ND)" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    case = b2s_case("FLOAT32", (4, 2, 2, 2), [2, 2], [[0, 0], [0, 0]])
    case.inputs[1] = const([0, 2])
    assert "must be positive" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)


@pytest.mark.parametrize("case", [
    s2b_case("INT16", (1, 2, 2, 1), [2, 2], [[0, 0], [0, 0]]),
    b2s_case("FLOAT32", (4, 1, 1, 1, 1), [2, 2, 1], [[0, 0], [0, 0], [0, 0]]),
], ids=["int16", "5-D"])
def test_unsupported_space_batch_ops_are_reported(case):
    error_message(case.op, case.inputs, case.outputs, UnsupportedOperatorError)
