"""REVERSE_V2, CUMSUM, DYNAMIC_UPDATE_SLICE, EMBEDDING_LOOKUP and BROADCAST_ARGS bit-exact with TFLM, with the
types TFLM supports for each, and the models and runtime values TFLM refuses refused clearly."""
from __future__ import annotations

import numpy as np
import pytest

from microinterp import Interpreter
from microinterp.errors import (IndexOutOfRangeError, InconsistentModelError, KernelDomainError,
                                UnsupportedOperatorError)
from opmodels import Case, Op, T, compare_cases_with_tflm, compare_with_tflm, prepare_op, single_op_model


def ints(values, dtype="INT32") -> T:
    return T(dtype, (len(values),), data=np.array(values, T(dtype, ()).dtype))


def reverse_case(dtype: str, shape, axes) -> Case:
    q = (0.1, 3) if dtype in ("INT8", "INT16", "UINT8") else (None, None)
    return Case(f"REVERSE_V2 {dtype} {list(shape)} axes {axes}", Op("REVERSE_V2"),
                [T(dtype, shape, *q), ints(axes)], [T(dtype, shape, *q)])


def test_reverse_v2_matches_tflm_for_every_type_and_contiguous_axes(oracle):
    geometries = [((2, 3, 4), [1]), ((2, 3, 4), [0, 1, 2]), ((2, 3, 4, 5), [-1, -2]), ((5,), [0]),
                  ((2, 1, 3, 2, 2, 3), [2, 3, 1]), ((3, 4), [0])]
    cases = [reverse_case(dtype, shape, axes) for dtype in ("FLOAT32", "INT32", "INT16", "INT8", "UINT8", "INT64",
                                                            "BOOL")
             for shape, axes in geometries]
    compare_cases_with_tflm(oracle, cases, seeds=(0,))


def cumsum_case(dtype: str, shape, axis: int, exclusive: bool, reverse: bool, quants=((0.05, 3), (0.3, -5))) -> Case:
    q = quants if dtype == "INT8" else ((None, None),) * 2
    return Case(f"CUMSUM {dtype} {list(shape)} axis {axis} exclusive {exclusive} reverse {reverse} {q}",
                Op("CUMSUM", "CumsumOptions", {"exclusive": exclusive, "reverse": reverse}),
                [T(dtype, shape, *q[0]), T("INT32", (), data=np.array(axis, np.int32))], [T(dtype, shape, *q[1])])


def test_cumsum_matches_tflm_for_every_axis_and_option(oracle):
    shapes = [((3, 4, 5), 1), ((3, 4, 5), -1), ((6,), 0), ((2, 3, 2, 4), 0)]
    quants = [((0.05, 3), (0.3, -5)), ((0.1, -128), (0.1, 127)), ((0.02, 0), (1.0, 0)), ((0.5, 20), (0.01, 0))]
    cases = [cumsum_case(dtype, shape, axis, exclusive, reverse, quants[i])
             for dtype in ("FLOAT32", "INT8") for i, (shape, axis) in enumerate(shapes)
             for exclusive in (False, True) for reverse in (False, True)]
    compare_cases_with_tflm(oracle, cases)


def dus_case(dtype: str, shape, update_shape, index_type="INT32") -> Case:
    return Case(f"DYNAMIC_UPDATE_SLICE {dtype} {list(shape)} update {list(update_shape)} {index_type}",
                Op("DYNAMIC_UPDATE_SLICE"),
                [T(dtype, shape), T(dtype, update_shape), T(index_type, (len(shape),), name="start")],
                [T(dtype, shape)])


def start_indices(rng: np.random.Generator, t: T) -> np.ndarray:
    """Operands and updates over the full range; start indices from -3 to 9 (clamped by the op)."""
    if t.name == "start":
        return rng.integers(-3, 10, size=tuple(t.shape)).astype(t.dtype)
    info = np.iinfo(t.dtype) if np.issubdtype(t.dtype, np.integer) else None
    if info is None:
        return rng.uniform(-4, 4, size=tuple(t.shape)).astype(t.dtype)
    return rng.integers(info.min, info.max, size=tuple(t.shape), endpoint=True, dtype=t.dtype)


def test_dynamic_update_slice_clamps_start_indices_like_tflm(oracle):
    geometries = [((4, 5), (2, 3)), ((3, 4, 5), (1, 4, 2)), ((6,), (6,)), ((2, 3, 2, 2, 2, 3), (1, 2, 1, 2, 1, 2))]
    cases = [dus_case(dtype, shape, update, index_type) for dtype in ("FLOAT32", "INT8", "INT16")
             for shape, update in geometries for index_type in ("INT32", "INT64")]
    cases += [dus_case("INT32", (7, 3), (2, 2))]
    compare_cases_with_tflm(oracle, cases, seeds=(0, 1, 2, 3), values=start_indices)


def embedding_case(value_type: str, out_type: str, rows: int, row_shape, count: int) -> Case:
    value_q = (0.05, 0) if value_type == "INT8" else (None, None)
    out_q = value_q if out_type == "INT8" else (None, None)
    return Case(f"EMBEDDING_LOOKUP {value_type} -> {out_type} rows {rows} {list(row_shape)} x{count}",
                Op("EMBEDDING_LOOKUP"), [T("INT32", (count,)), T(value_type, (rows, *row_shape), *value_q)],
                [T(out_type, (count, *row_shape), *out_q)])


def test_embedding_lookup_matches_tflm_including_hybrid_dequantization(oracle):
    cases = [embedding_case("FLOAT32", "FLOAT32", 5, (3,), 4), embedding_case("INT8", "INT8", 7, (2, 3), 9),
             embedding_case("INT8", "FLOAT32", 6, (4,), 3)]

    def values(rng, t):
        if t.type == "INT32":
            return rng.integers(0, 5, size=tuple(t.shape)).astype(np.int32)
        return (rng.uniform(-4, 4, tuple(t.shape)).astype(np.float32) if t.type == "FLOAT32"
                else rng.integers(-128, 128, tuple(t.shape)).astype(np.int8))
    compare_cases_with_tflm(oracle, cases, values=values)


def test_embedding_lookup_of_no_indices_writes_nothing():
    case = embedding_case("FLOAT32", "FLOAT32", 5, (3,), 0)
    case.inputs[1].data = np.ones((5, 3), np.float32)
    interp = Interpreter(model_content=single_op_model(case.op, case.inputs, case.outputs))
    interp.allocate_tensors()
    interp.set_tensor(0, np.zeros(0, np.int32))
    interp.invoke()
    assert interp.get_tensor(interp.get_output_details()[0]["index"]).shape == (0, 3)


def test_embedding_lookup_index_out_of_range_raises_where_tflm_fails():
    case = embedding_case("FLOAT32", "FLOAT32", 5, (3,), 2)
    interp = Interpreter(model_content=single_op_model(case.op, case.inputs, case.outputs))
    interp.allocate_tensors()
    interp.set_tensor(0, np.array([1, 5], np.int32))
    interp.set_tensor(1, np.zeros((5, 3), np.float32))
    with pytest.raises(IndexOutOfRangeError, match=r"op 0 \(EMBEDDING_LOOKUP\).*index 5 at position 1"):
        interp.invoke()


def broadcast_args_model(dtype: str, n1: int, n2: int, n_out: int) -> bytes:
    return single_op_model(Op("BROADCAST_ARGS"), [T(dtype, (n1,)), T(dtype, (n2,))], [T(dtype, (n_out,))])


@pytest.mark.parametrize("dtype", ["INT32", "INT64"])
def test_broadcast_args_matches_tflm(oracle, dtype):
    np_type = np.int32 if dtype == "INT32" else np.int64
    pairs = [([2, 1, 3], [4, 1]), ([1], [5, 6, 7]), ([3, 4], [3, 4]), ([1, 1], [1])]
    for a, b in pairs:
        model = broadcast_args_model(dtype, len(a), len(b), max(len(a), len(b)))
        compare_with_tflm(oracle, model, [[np.array(a, np_type), np.array(b, np_type)]], f"BROADCAST_ARGS {a} {b}")


def test_broadcast_args_of_incompatible_shapes_raises_where_tflm_aborts():
    interp = Interpreter(model_content=broadcast_args_model("INT32", 2, 2, 2))
    interp.allocate_tensors()
    interp.set_tensor(0, np.array([2, 3], np.int32))
    interp.set_tensor(1, np.array([2, 4], np.int32))
    with pytest.raises(KernelDomainError, match=r"op 0 \(BROADCAST_ARGS\).*3 and 4"):
        interp.invoke()


def _error(case: Case, error: type) -> str:
    with pytest.raises(error) as info:
        prepare_op(single_op_model(case.op, case.inputs, case.outputs))
    return str(info.value)


def test_models_tflm_refuses_are_refused_at_prepare():
    assert "not contiguous" in _error(reverse_case("FLOAT32", (2, 3, 4), [0, 2]), UnsupportedOperatorError)
    assert "not contiguous" in _error(reverse_case("FLOAT32", (2, 3, 4), [1, 1]), UnsupportedOperatorError)
    assert "op 0 (REVERSE_V2)" in _error(reverse_case("FLOAT16", (2, 3), [0]), UnsupportedOperatorError)
    assert "INT32" in _error(cumsum_case("INT32", (3,), 0, False, False), UnsupportedOperatorError)
    assert "out of range" in _error(cumsum_case("FLOAT32", (3,), 1, False, False), InconsistentModelError)
    assert "INT64" in _error(dus_case("INT64", (3,), (2,)), UnsupportedOperatorError)
    assert "larger" in _error(dus_case("FLOAT32", (3, 2), (2, 3)), InconsistentModelError)
    case = embedding_case("INT8", "FLOAT32", 4, (2,), 2)
    case.inputs[1] = T("INT8", (4, 2), 0.05, 3)
    assert "zero point 0" in _error(case, InconsistentModelError)
    assert "INT16" in _error(Case("x", Op("BROADCAST_ARGS"), [T("INT16", (2,)), T("INT16", (2,))], [T("INT16", (2,))]),
                             UnsupportedOperatorError)
