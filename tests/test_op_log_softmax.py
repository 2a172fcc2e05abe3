"""LOG_SOFTMAX bit-exact with TFLM: float32 and int8 (gemmlowp fixed point, output Q4 around 127)."""
from __future__ import annotations

import numpy as np
import pytest

from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from opmodels import Case, Op, T, compare_cases_with_tflm, prepare_op, single_op_model
from test_op_softmax import int8_rows

SHAPES = [(1, 10), (4, 7), (2, 3, 33), (300,), (2, 1, 1, 2)]


def log_softmax_case(dtype: str, shape, in_quant=(0.1, 0), out_quant=(16 / 256, 127)) -> Case:
    q_in, q_out = (in_quant, out_quant) if dtype == "INT8" else ((None, None), (None, None))
    return Case(f"LOG_SOFTMAX {dtype} {list(shape)} {q_in}", Op("LOG_SOFTMAX"), [T(dtype, shape, *q_in)],
                [T(dtype, shape, *q_out)])


def test_float_log_softmax_matches_tflm(oracle):
    compare_cases_with_tflm(oracle, [log_softmax_case("FLOAT32", shape) for shape in SHAPES])


def test_int8_log_softmax_matches_tflm_over_input_scales_and_stressed_rows(oracle):
    quants = [(0.1, 0), (0.0039, -128), (1.0, 20), (0.02, 127), (0.5, -3)]
    cases = [log_softmax_case("INT8", shape, q) for shape, q in zip(SHAPES, quants)]
    cases += [log_softmax_case("INT8", (8, 16), q) for q in ((0.25, 0), (0.004, 5), (3.0, 0))]
    compare_cases_with_tflm(oracle, cases, values=int8_rows)


def _error(case: Case, error: type) -> str:
    with pytest.raises(error) as info:
        prepare_op(single_op_model(case.op, case.inputs, case.outputs))
    return str(info.value)


def test_log_softmax_refuses_what_tflm_refuses():
    assert "16/256" in _error(log_softmax_case("INT8", (4,), out_quant=(1 / 256, -128)), InconsistentModelError)
    assert "op 0 (LOG_SOFTMAX)" in _error(log_softmax_case("INT16", (4,)), UnsupportedOperatorError)
    assert "rank >= 1" in _error(log_softmax_case("FLOAT32", ()), InconsistentModelError)
