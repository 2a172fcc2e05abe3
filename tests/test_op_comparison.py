"""Comparisons, LOGICAL_AND/OR/NOT and SELECT_V2: bit-exact with TFLM (LiteRT where TFLM lacks a type or
its int16 GREATER is broken).

Inputs are drawn from small ranges so that equal values (and, for int8, values equal only after the
rescaling to a common scale) are frequent.
"""
from __future__ import annotations

import numpy as np
import pytest

from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from microinterp.ops.elementwise import broadcast_shape
from elementwise_cases import LiteRTReference
from opmodels import Case, Op, T, compare_cases_with_tflm, compare_with_tflm, prepare_op, single_op_model

COMPARISONS = ["EQUAL", "NOT_EQUAL", "LESS", "LESS_EQUAL", "GREATER", "GREATER_EQUAL"]
SHAPES = [((4, 5), (4, 5)), ((2, 3, 4), (4,)), ((1, 3, 1), (2, 1, 4)), ((), (6,)),
          ((2, 1, 2, 1, 3, 2), (1, 2, 1, 2, 1, 1)), ((3, 1), (1,))]
# (input1, input2) quantization: equal, scale ratio 2, different zero points, extreme zero points.
INT8_QUANTS = [((0.1, 0), (0.1, 0)), ((0.02, 0), (0.01, 0)), ((0.05, 3), (0.05, -2)), ((0.3, -128), (0.2, 127)),
               ((0.004, 10), (0.012, -30)), ((0.5, 0), (0.25, 1))]
INT16_QUANTS = [((0.001, 0), (0.001, 0)), ((0.002, 0), (0.001, 0)), ((0.01, 5), (0.01, -5)),
                ((0.0003, 0), (0.0009, 0)), ((0.5, 0), (0.25, 0)), ((0.001, 0), (0.004, 0))]


def close_values(rng: np.random.Generator, t: T) -> np.ndarray:
    """Values from a small range (ties are common); bool at random; floats include a NaN and infinities."""
    shape = tuple(t.shape)
    if t.type == "BOOL":
        return rng.random(shape) < 0.5
    values = rng.integers(-6, 7, size=shape)
    if t.type == "FLOAT32":
        values = (values / 2.0).astype(np.float32)
        if values.size > 3:
            values.reshape(-1)[:3] = [np.nan, np.inf, -np.inf]
        return values
    return values.astype(t.dtype)


def comparison_case(op: str, dtype: str, shape1, shape2, quants=((None, None), (None, None)), out_shape=None,
                    out_dtype: str = "BOOL") -> Case:
    out_shape = broadcast_shape(shape1, shape2) if out_shape is None else out_shape
    return Case(f"{op} {dtype} {list(shape1)} . {list(shape2)} quant {quants}", Op(op),
                [T(dtype, shape1, *quants[0]), T(dtype, shape2, *quants[1])], [T(out_dtype, out_shape)],
                close_values)


def _cases(ops, dtypes, quants=None) -> list[Case]:
    return [comparison_case(op, dtype, s1, s2, q if quants else ((None, None), (None, None)))
            for op in ops for dtype in dtypes for (s1, s2), q in zip(SHAPES, quants or [None] * len(SHAPES))]


def test_comparisons_match_tflm_for_int8_on_a_common_scale(oracle):
    compare_cases_with_tflm(oracle, _cases(COMPARISONS, ["INT8"], INT8_QUANTS))


def test_comparisons_match_tflm_for_int32_int64_float_and_bool(oracle):
    cases = _cases(COMPARISONS, ["INT32", "INT64", "FLOAT32"]) + _cases(["EQUAL", "NOT_EQUAL"], ["BOOL"])
    compare_cases_with_tflm(oracle, cases)


def test_int16_comparisons_match_litert(oracle):
    # TFLM has int16 GREATER only, and the wheel's returns false everywhere (its rescaling is left zero).
    compare_cases_with_tflm(LiteRTReference(oracle), _cases(COMPARISONS, ["INT16"], INT16_QUANTS))
    compare_cases_with_tflm(LiteRTReference(oracle), _cases(["EQUAL", "LESS"], ["INT16"]))


def test_logical_and_or_not_match_tflm(oracle):
    cases = _cases(["LOGICAL_AND", "LOGICAL_OR"], ["BOOL"])
    cases += [Case(f"LOGICAL_NOT {list(shape)}", Op("LOGICAL_NOT"), [T("BOOL", shape)], [T("BOOL", shape)],
                   close_values) for shape, _ in SHAPES]
    compare_cases_with_tflm(oracle, cases)


def select_case(dtype: str, cond_shape, x_shape, y_shape, quant=(None, None), out_shape=None) -> Case:
    shape = out_shape or broadcast_shape(broadcast_shape(cond_shape, x_shape), y_shape)
    return Case(f"SELECT_V2 {dtype} {list(cond_shape)} ? {list(x_shape)} : {list(y_shape)}", Op("SELECT_V2"),
                [T("BOOL", cond_shape), T(dtype, x_shape, *quant), T(dtype, y_shape, *quant)],
                [T(dtype, shape, *quant)], close_values)


SELECT_SHAPES = [((4, 5), (4, 5), (4, 5)), ((2, 1, 3), (4, 1), (3,)), ((), (2, 3), (1, 3)), ((5,), (2, 5), ()),
                 ((1, 2, 1, 3, 1, 2), (2, 1, 2, 1, 1, 1), (1, 1, 1, 3, 2, 1)), ((1,), (1, 1), (1,))]


def test_select_v2_matches_tflm_for_its_types_and_litert_for_the_others(oracle):
    quants = {"INT8": (0.1, 3), "INT16": (0.01, 0)}
    tflm = [select_case(dtype, *shapes, quant=quants.get(dtype, (None, None)))
            for dtype in ("FLOAT32", "INT8", "INT16") for shapes in SELECT_SHAPES]
    compare_cases_with_tflm(oracle, tflm)
    litert = [select_case(dtype, *shapes) for dtype in ("INT32", "BOOL") for shapes in SELECT_SHAPES]
    compare_cases_with_tflm(LiteRTReference(oracle), litert)


def test_select_v2_keeps_the_model_output_shape_for_mixed_scalars(oracle):
    case = select_case("FLOAT32", (1, 1), (1,), (), out_shape=(1, 1, 1))
    model = single_op_model(case.op, case.inputs, case.outputs)
    for condition in (True, False):
        compare_with_tflm(oracle, model, [[np.array([[condition]]), np.array([2.5], np.float32),
                                           np.array(-1.0, np.float32)]], f"mixed scalars {condition}")


def _error(case: Case, error: type) -> str:
    with pytest.raises(error) as info:
        prepare_op(single_op_model(case.op, case.inputs, case.outputs))
    return str(info.value)


def test_inconsistent_comparison_and_select_models_are_rejected():
    message = _error(comparison_case("LESS", "FLOAT32", (2, 3), (3,), out_shape=(3, 3)), InconsistentModelError)
    assert "op 0 (LESS)" in message and "[2, 3]" in message
    message = _error(comparison_case("GREATER", "INT8", (2,), (2,), ((1.5, 0), (0.1, 0))), InconsistentModelError)
    assert "op 0 (GREATER)" in message and "TFLM aborts" in message
    message = _error(comparison_case("EQUAL", "INT32", (2,), (2,), out_dtype="INT32"), InconsistentModelError)
    assert "op 0 (EQUAL)" in message and "BOOL" in message
    message = _error(select_case("FLOAT32", (2, 3), (2,), (3,), out_shape=(2, 3)), InconsistentModelError)
    assert "op 0 (SELECT_V2)" in message and "cannot be broadcast" in message


def test_unsupported_comparison_types_are_reported():
    assert "BOOL" in _error(comparison_case("LESS", "BOOL", (2,), (2,)), UnsupportedOperatorError)
    assert "unquantized int16" in _error(comparison_case("NOT_EQUAL", "INT16", (2,), (2,)), UnsupportedOperatorError)
    assert "op 0 (LOGICAL_AND)" in _error(comparison_case("LOGICAL_AND", "INT8", (2,), (2,), ((0.1, 0), (0.1, 0))),
                                          UnsupportedOperatorError)
