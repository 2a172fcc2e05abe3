"""GATHER (axis, batch_dims) and GATHER_ND bit-exact with TFLM for float32 and int8, including TFLM's
index checks: GATHER rejects any position outside the axis, GATHER_ND only offsets outside params."""
from __future__ import annotations

import numpy as np
import pytest

from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from microinterp.errors import IndexOutOfRangeError
from microinterp.oracles import OracleError
from movement_helpers import assert_invoke_fails, error_message, tensor, values
from opmodels import Case, Op, compare_cases_with_tflm, single_op_model


def gather_case(dtype, shape, index_shape, axis, batch_dims=0) -> Case:
    rank = len(shape)
    positive = axis + rank if axis < 0 else axis
    batch = batch_dims + len(index_shape) if batch_dims < 0 else batch_dims
    out_shape = list(shape[:positive]) + list(index_shape[batch:]) + list(shape[positive + 1:])
    positions = tensor("INT32", index_shape)
    case = Case(f"GATHER {dtype} {list(shape)} by {list(index_shape)} axis {axis} batch_dims {batch_dims}",
                Op("GATHER", "GatherOptions", {"axis": axis, "batch_dims": batch_dims}),
                [tensor(dtype, shape), positions], [tensor(dtype, out_shape)])
    case.values = lambda rng, t: (rng.integers(0, shape[positive], size=index_shape).astype(np.int32)
                                  if t is positions else values(rng, t))
    return case


def gather_nd_case(dtype, shape, index_shape, loose=False) -> Case:
    """loose: index components may pass their own axis while the flat offset stays inside params."""
    depth = index_shape[-1]
    indices = tensor("INT32", index_shape)
    out_shape = list(index_shape[:-1]) + list(shape[depth:])
    case = Case(f"GATHER_ND {dtype} {list(shape)} by {list(index_shape)}{' loose' if loose else ''}", Op("GATHER_ND"),
                [tensor(dtype, shape), indices], [tensor(dtype, out_shape)])

    def index_values(rng, t):
        if t is not indices:
            return values(rng, t)
        picked = np.stack([rng.integers(0, n, size=index_shape[:-1]) for n in shape[:depth]], axis=-1)
        if loose:  # move one unit from the first axis into the last: same flat offset, component out of range
            rows = picked[..., 0] > 0
            picked[..., 0] -= rows
            picked[..., depth - 1] += rows * int(np.prod(shape[depth - 1:depth]))
        return picked.astype(np.int32)
    case.values = index_values
    return case


def test_gather_matches_tflm_over_axes_and_batch_dims(oracle):
    cases = []
    for dtype in ["FLOAT32", "INT8"]:
        cases += [
            gather_case(dtype, (5, 3), (4,), 0),
            gather_case(dtype, (2, 5, 3), (2, 3), 1),
            gather_case(dtype, (2, 3, 4), (), -1),
            gather_case(dtype, (2, 3, 4), (2, 5), 2, batch_dims=1),
            gather_case(dtype, (2, 3, 4, 2), (2, 3, 2), 2, batch_dims=-1),
            gather_case(dtype, (1, 4, 1, 3), (1, 1), 3, batch_dims=0),
        ]
    compare_cases_with_tflm(oracle, cases)


def test_gather_nd_matches_tflm_including_offsets_tflm_accepts(oracle):
    cases = []
    for dtype in ["FLOAT32", "INT8"]:
        cases += [
            gather_nd_case(dtype, (4, 3), (5, 2)),
            gather_nd_case(dtype, (4, 3), (2, 1)),
            gather_nd_case(dtype, (2, 3, 4), (2, 2, 2)),
            gather_nd_case(dtype, (3, 2, 2, 2, 2), (3, 5)),
            gather_nd_case(dtype, (4, 3), (6, 2), loose=True),
        ]
    compare_cases_with_tflm(oracle, cases)


@pytest.mark.parametrize("op, positions", [
    (Op("GATHER", "GatherOptions", {"axis": 0}), [[0, 3]]),
    (Op("GATHER", "GatherOptions", {"axis": 0}), [[-1, 0]]),
    (Op("GATHER_ND"), [[2, 2]]),
    (Op("GATHER_ND"), [[0, -1]]),
], ids=["gather past the end", "gather negative", "gather_nd past the end", "gather_nd negative"])
def test_out_of_range_indices_fail_the_invoke_like_tflm(oracle, op, positions):
    out_shape = (1, 2, 2) if op.name == "GATHER" else (1,)
    model = single_op_model(op, [tensor("FLOAT32", (3, 2)), tensor("INT32", (1, 2))], [tensor("FLOAT32", out_shape)])
    inputs = [np.arange(6, dtype=np.float32).reshape(3, 2), np.array(positions, np.int32)]
    with pytest.raises(OracleError, match="failed to invoke"):
        oracle.run(model, [inputs])
    assert_invoke_fails(model, inputs, IndexOutOfRangeError, rf"op 0 \({op.name}\)")


def test_inconsistent_gathers_are_rejected():
    case = gather_case("FLOAT32", (5, 3), (4,), 0)
    case.outputs[0].shape = (4, 4)
    assert "op 0 (GATHER)" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    case = gather_case("FLOAT32", (2, 3, 4), (3, 5), 2, batch_dims=1)
    assert "share their first 1 dims" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    case = gather_nd_case("INT8", (4, 3), (2, 3))
    message = error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    assert "op 0 (GATHER_ND)" in message and "index depth 3" in message


@pytest.mark.parametrize("case", [
    gather_case("INT16", (5,), (2,), 0),
    Case("int64 positions", Op("GATHER", "GatherOptions", {}), [tensor("INT8", (3,)), tensor("INT64", (2,))],
         [tensor("INT8", (2,))]),
    gather_nd_case("INT32", (4,), (2, 1)),
    gather_nd_case("FLOAT32", (1,) * 6, (1, 6)),
], ids=["gather int16", "int64 positions", "gather_nd int32", "depth 6"])
def test_unsupported_gathers_are_reported(case):
    error_message(case.op, case.inputs, case.outputs, UnsupportedOperatorError)
