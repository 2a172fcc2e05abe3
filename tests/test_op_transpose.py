"""TRANSPOSE bit-exact with TFLM: int8, int16 and float32, every rank from 1 to 5."""
from __future__ import annotations

import pytest

from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from movement_helpers import const, error_message, tensor, values
from opmodels import Case, Op, T, compare_cases_with_tflm


def transpose_case(dtype, shape, perm) -> Case:
    return Case(f"TRANSPOSE {dtype} {list(shape)} perm {perm}", Op("TRANSPOSE"), [tensor(dtype, shape), const(perm)],
                [tensor(dtype, [shape[p] for p in perm])])


PERMS = [((5,), [0]), ((2, 3), [1, 0]), ((2, 3, 4), [2, 0, 1]), ((1, 2, 3, 4), [0, 3, 1, 2]),
         ((2, 1, 3, 2, 2), [4, 2, 0, 3, 1]), ((3, 1, 2), [0, 1, 2])]


def test_transpose_matches_tflm_for_every_rank(oracle):
    cases = [transpose_case(dtype, shape, perm) for dtype in ["INT8", "INT16", "FLOAT32"] for shape, perm in PERMS]
    compare_cases_with_tflm(oracle, cases, values=values)


def test_nchw_images_of_two_to_five_channels_transpose_to_nhwc_like_tflm(oracle):
    # 2-4 int8 planes of 150 pixels: two 64-pixel blocks of interleave.h's byte permutes and a tail of 22
    # where the CPU has AVX-512 VBMI, nine 16-pixel blocks of its AVX2 shuffles and a tail of 6 where it
    # has AVX2; 5 planes take the byte loop; int16 never takes the SIMD loops.
    cases = [transpose_case("INT8", (1, c, 10, 15), [0, 2, 3, 1]) for c in (2, 3, 4, 5)]
    cases += [transpose_case("INT8", (2, 3, 8, 8), [0, 2, 3, 1]), transpose_case("INT16", (1, 3, 10, 15), [0, 2, 3, 1])]
    compare_cases_with_tflm(oracle, cases, values=values)


def test_bad_permutations_are_rejected():
    case = transpose_case("INT8", (2, 3), [1, 0])
    case.inputs[1] = const([1, 1])
    message = error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    assert "op 0 (TRANSPOSE)" in message and "not a permutation" in message
    case = transpose_case("INT8", (2, 3), [1, 0])
    case.outputs[0].shape = (2, 3)
    assert "must have shape [3, 2]" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)


@pytest.mark.parametrize("case", [
    transpose_case("INT32", (2, 3), [1, 0]),
    transpose_case("FLOAT32", (1, 1, 1, 1, 1, 2), [5, 4, 3, 2, 1, 0]),
    Case("runtime perm", Op("TRANSPOSE"), [tensor("INT8", (2, 3)), T("INT32", (2,))], [tensor("INT8", (3, 2))]),
], ids=["int32", "rank 6", "runtime perm"])
def test_unsupported_transposes_are_reported(case):
    error_message(case.op, case.inputs, case.outputs, UnsupportedOperatorError)
