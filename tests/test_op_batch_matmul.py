"""BATCH_MATMUL bit-exact with TFLM: float32, int8 and int16, adj_x / adj_y, ranks 2 to 5 with broadcast
batch dimensions, constant and runtime operands."""
from __future__ import annotations

import numpy as np
import pytest

from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from opmodels import Case, Op, T, compare_cases_with_tflm, prepare_op, random_values, single_op_model

# (lhs shape, rhs shape, adj_x, adj_y): shapes as stored (before any transposition).
GEOMETRIES = [((3, 4), (4, 5), False, False), ((2, 3, 4), (2, 5, 4), False, True), ((2, 4, 3), (1, 4, 5), True, False),
              ((1, 2, 3, 4, 6), (2, 1, 3, 5, 4), True, True), ((2, 1, 3, 7), (4, 7, 2), False, False),
              ((5, 1), (1, 6), False, False)]
QUANTS = {"INT8": [((0.05, 3), (0.02, -7), (0.3, 10)), ((0.1, -128), (0.01, 127), (0.5, -5)),
                   ((0.02, 0), (0.02, 0), (0.004, 0))],
          "INT16": [((0.001, 0), (0.002, 0), (0.05, 0)), ((0.0003, 0), (0.0001, 0), (0.00002, 0)),
                    ((0.01, 0), (0.01, 0), (2.0, 0))]}


def out_shape(lhs, rhs, adj_x, adj_y):
    rows = lhs[-1] if adj_x else lhs[-2]
    cols = rhs[-2] if adj_y else rhs[-1]
    return (*np.broadcast_shapes(lhs[:-2], rhs[:-2]), rows, cols)


def matmul_case(dtype: str, lhs, rhs, adj_x: bool, adj_y: bool, quants=None, constant_rhs=False) -> Case:
    q = quants if dtype != "FLOAT32" else ((None, None),) * 3
    rhs_tensor = T(dtype, rhs, *q[1])
    if constant_rhs:
        rhs_tensor.data = random_values(np.random.default_rng(7), rhs_tensor)
    return Case(f"BATCH_MATMUL {dtype} {list(lhs)} x {list(rhs)} adj {adj_x} {adj_y} {q}",
                Op("BATCH_MATMUL", "BatchMatMulOptions", {"adj_x": adj_x, "adj_y": adj_y}),
                [T(dtype, lhs, *q[0]), rhs_tensor], [T(dtype, out_shape(lhs, rhs, adj_x, adj_y), *q[2])])


@pytest.mark.parametrize("dtype", ["FLOAT32", "INT8", "INT16"])
def test_batch_matmul_matches_tflm(oracle, dtype):
    cases = [matmul_case(dtype, *g, quants=QUANTS.get(dtype, [None] * 3)[i % 3]) for i, g in enumerate(GEOMETRIES)]
    cases.append(matmul_case(dtype, (2, 3, 8), (8, 4), False, False, QUANTS.get(dtype, [None])[0], constant_rhs=True))
    compare_cases_with_tflm(oracle, cases)


def _error(case: Case, error: type) -> str:
    with pytest.raises(error) as info:
        prepare_op(single_op_model(case.op, case.inputs, case.outputs))
    return str(info.value)


def test_batch_matmul_refuses_what_tflm_refuses():
    assert "inner dimensions" in _error(matmul_case("FLOAT32", (3, 4), (5, 6), False, False), InconsistentModelError)
    assert "rank 6" in _error(matmul_case("FLOAT32", (1, 1, 1, 1, 3, 4), (4, 5), False, False),
                              UnsupportedOperatorError)
    assert "zero point 0" in _error(matmul_case("INT16", (3, 4), (4, 5), False, False,
                                                ((0.01, 3), (0.01, 0), (0.01, 0))), InconsistentModelError)
    case = matmul_case("INT8", (3, 4), (4, 5), False, False, QUANTS["INT8"][0])
    case.inputs[1] = T("INT16", (4, 5), 0.01, 0)
    assert "op 0 (BATCH_MATMUL)" in _error(case, UnsupportedOperatorError)
