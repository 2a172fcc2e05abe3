"""EXP, LOG, SQRT, SIN, COS, SQUARE, FLOOR, CEIL, ROUND, RSQRT, ABS, NEG bit-exact with TFLM; NEG's integer
types (absent from TFLM) against LiteRT."""
from __future__ import annotations

import numpy as np
import pytest

from microinterp import Interpreter
from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from microinterp.errors import KernelDomainError
from elementwise_cases import LiteRTReference, unary_case
from opmodels import Case, T, compare_cases_with_tflm, prepare_op, single_op_model

SHAPES = [(2, 3, 4, 5), (7,), (1, 1, 3, 1, 2, 4)]


def floats(rng: np.random.Generator, t: T) -> np.ndarray:
    """Floats over [-30, 30) and tiny positives, with 0, -0, +-inf and NaN at the start."""
    values = rng.uniform(-30, 30, size=tuple(t.shape)).astype(np.float32)
    flat = values.reshape(-1)
    flat[flat.size // 2:] = rng.uniform(0, 1e-3, size=flat.size - flat.size // 2)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 88.8, -104.0, 1.0], np.float32)
    flat[:min(flat.size, specials.size)] = specials[:flat.size]
    return values


FLOAT_OPS = ("EXP", "LOG", "SQRT", "RSQRT", "ABS", "NEG", "SIN", "COS", "SQUARE", "FLOOR", "CEIL", "ROUND")


def test_float_math_matches_tflm(oracle):
    cases = [unary_case(op, "FLOAT32", shape, values=floats) for op in FLOAT_OPS for shape in SHAPES]
    compare_cases_with_tflm(oracle, cases)


def halves_and_large(rng: np.random.Generator, t: T) -> np.ndarray:
    """Ties (k + 0.5, both signs), their neighbours, values beyond 2^23 and 2^31, and the largest floats."""
    ties = rng.integers(-1000, 1000, size=tuple(t.shape)).astype(np.float32) + np.float32(0.5)
    flat = ties.reshape(-1)
    flat[1::4] = np.nextafter(flat[1::4], np.float32(np.inf))
    flat[2::4] = np.nextafter(flat[2::4], np.float32(-np.inf))
    specials = np.array([0.5, -0.5, 1.5, -2.5, 8388609.0, -3e9, 3.4e38, -0.0], np.float32)
    flat[:min(flat.size, specials.size)] = specials[:flat.size]
    return ties


def test_round_floor_ceil_match_tflm_on_ties_and_large_values(oracle):
    cases = [unary_case(op, "FLOAT32", shape, values=halves_and_large) for op in ("ROUND", "FLOOR", "CEIL")
             for shape in SHAPES]
    compare_cases_with_tflm(oracle, cases)


def test_quantized_abs_matches_tflm(oracle):
    int8 = [((0.05, 0), (0.05, 0)), ((0.1, -10), (0.03, 20)), ((0.02, 5), (0.3, -100)), ((0.07, -128), (0.06, 127)),
            ((0.05, 127), (0.05, -128))]
    int16 = [((0.001, 0), (0.001, 0)), ((0.002, 0), (0.0005, 0)), ((0.0001, 0), (0.003, 0))]
    cases = [unary_case("ABS", "INT8", SHAPES[i % 3], q_in, q_out) for i, (q_in, q_out) in enumerate(int8)]
    cases += [unary_case("ABS", "INT16", SHAPES[i % 3], q_in, q_out) for i, (q_in, q_out) in enumerate(int16)]
    # Unquantized int16: C abs, so -32768 stays -32768.
    cases += [unary_case("ABS", "INT16", shape) for shape in SHAPES]
    compare_cases_with_tflm(oracle, cases)


def at_or_above_zero_point(rng: np.random.Generator, t: T) -> np.ndarray:
    """int8 values >= the input zero point (TFLM's int8 RSQRT fails the invoke below it)."""
    return rng.integers(t.zero_point, 128, size=tuple(t.shape), dtype=np.int8)


def test_int8_rsqrt_matches_tflm(oracle):
    quants = [((0.05, 0), (0.05, 0)), ((0.1, -10), (0.03, 20)), ((0.002, -128), (0.3, -100)),
              ((0.5, 100), (0.01, -128)), ((1.5, -20), (0.004, 0))]
    cases = [unary_case("RSQRT", "INT8", SHAPES[i % 3], q_in, q_out, values=at_or_above_zero_point)
             for i, (q_in, q_out) in enumerate(quants)]
    compare_cases_with_tflm(oracle, cases)


def test_int8_rsqrt_below_the_zero_point_raises_where_tflm_fails():
    case = unary_case("RSQRT", "INT8", (3,), (0.1, 5), (0.1, 0))
    interp = Interpreter(model_content=single_op_model(case.op, case.inputs, case.outputs))
    interp.allocate_tensors()
    interp.set_tensor(0, np.array([5, 9, 4], np.int8))
    with pytest.raises(KernelDomainError, match=r"op 0 \(RSQRT\).*zero point.*index 2"):
        interp.invoke()


def test_integer_neg_matches_litert(oracle):
    cases = [unary_case("NEG", dtype, shape, quant) for dtype, quant in (("INT8", (0.1, 3)), ("INT16", (0.01, 0)),
                                                                         ("INT32", (None, None)))
             for shape in SHAPES]
    compare_cases_with_tflm(LiteRTReference(oracle), cases)


def _error(case: Case, error: type) -> str:
    with pytest.raises(error) as info:
        prepare_op(single_op_model(case.op, case.inputs, case.outputs))
    return str(info.value)


def test_inconsistent_math_models_are_rejected():
    message = _error(unary_case("ABS", "INT16", (4,), (0.01, 3), (0.01, 0)), InconsistentModelError)
    assert "op 0 (ABS)" in message and "zero point 0" in message
    message = _error(unary_case("SQRT", "FLOAT32", (4,), out_shape=(5,)), InconsistentModelError)
    assert "op 0 (SQRT)" in message and "shape" in message
    message = _error(unary_case("RSQRT", "INT8", (4,), (0.1, 0)), InconsistentModelError)
    assert "op 0 (RSQRT)" in message and "quantization" in message


def test_unsupported_math_types_are_reported():
    assert "INT8" in _error(unary_case("EXP", "INT8", (4,), (0.1, 0), (0.1, 0)), UnsupportedOperatorError)
    for op in ("SIN", "COS", "SQUARE", "FLOOR", "CEIL", "ROUND"):
        assert f"op 0 ({op})" in _error(unary_case(op, "INT8", (4,), (0.1, 0), (0.1, 0)), UnsupportedOperatorError)
    assert "INT16" in _error(unary_case("RSQRT", "INT16", (4,), (0.1, 0), (0.1, 0)), UnsupportedOperatorError)
    assert "op 0 (NEG)" in _error(unary_case("NEG", "INT64", (4,)), UnsupportedOperatorError)
