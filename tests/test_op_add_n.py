"""ADD_N bit-exact with TFLM (float32 and int8), its pointer scratch planned as TFLM plans it, and its checks."""
from __future__ import annotations

import numpy as np
import pytest

from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from opmodels import assert_head_matches_tflm, Case, Op, T, compare_cases_with_tflm, prepare_op, single_op_model


def add_n_case(dtype: str, shape, count: int, quant=(None, None), out_quant=(None, None)) -> Case:
    return Case(f"ADD_N {dtype} {list(shape)} x{count} {quant} -> {out_quant}", Op("ADD_N"),
                [T(dtype, shape, *quant) for _ in range(count)], [T(dtype, shape, *out_quant)])


def test_float_add_n_matches_tflm(oracle):
    cases = [add_n_case("FLOAT32", shape, count) for shape, count in (((2, 3), 2), ((4, 1, 5), 3), ((7,), 9))]
    compare_cases_with_tflm(oracle, cases)


def test_int8_add_n_matches_tflm_over_quantizations_and_input_counts(oracle):
    quants = [((0.05, 3), (0.08, -5)), ((0.1, -128), (0.02, 127)), ((0.01, 20), (0.3, 0)), ((0.02, 0), (0.02, 0))]
    counts = [2, 3, 5, 17]
    cases = [add_n_case("INT8", (3, 4), count, q_in, q_out) for (q_in, q_out), count in zip(quants, counts)]
    compare_cases_with_tflm(oracle, cases)


@pytest.mark.parametrize("dtype, quant", [("FLOAT32", (None, None)), ("INT8", (0.1, 2))])
def test_add_n_scratch_gives_tflm_arena_head(oracle, dtype, quant):
    model = single_op_model(*(lambda c: (c.op, c.inputs, c.outputs))(add_n_case(dtype, (3,), 5, quant, quant)))
    assert_head_matches_tflm(oracle, model)


def _error(case: Case, error: type) -> str:
    with pytest.raises(error) as info:
        prepare_op(single_op_model(case.op, case.inputs, case.outputs))
    return str(info.value)


def test_add_n_refuses_what_tflm_refuses():
    assert "INT32" in _error(add_n_case("INT32", (3,), 2), UnsupportedOperatorError)
    case = add_n_case("INT8", (3,), 2, (0.1, 0), (0.1, 0))
    case.inputs[1] = T("INT8", (3,), 0.2, 0)
    assert "op 0 (ADD_N)" in _error(case, InconsistentModelError)
    case = add_n_case("FLOAT32", (3,), 2)
    case.inputs[1] = T("FLOAT32", (4,))
    assert "shape" in _error(case, InconsistentModelError)
    assert "at least 2 inputs" in _error(add_n_case("FLOAT32", (3,), 1), InconsistentModelError)
