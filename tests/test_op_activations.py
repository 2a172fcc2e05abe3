"""Activations bit-exact with TFLM: RELU, RELU6, LEAKY_RELU, PRELU, LOGISTIC, TANH, HARD_SWISH, ELU
(int8, int16 where TFLM has it, float32); RELU_N1_TO_1, absent from TFLM, against LiteRT's reference kernels.
"""
from __future__ import annotations

import numpy as np
import pytest

from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from elementwise_cases import LiteRTReference, unary_case
from opmodels import Case, Op, T, compare_cases_with_tflm, prepare_op, single_op_model

SHAPES = [(2, 3, 4, 5), (7,), (1, 1, 3, 1, 2, 4)]
# (input, output) scale and zero point: equal, rescaled down, rescaled up (saturating), extreme zero points.
INT8_QUANTS = [((0.05, 0), (0.05, 0)), ((0.1, -10), (0.03, 20)), ((0.02, 5), (0.3, -100)), ((0.07, -128), (0.06, 127))]
INT16_QUANTS = [((0.001, 0), (0.001, 0)), ((0.002, 0), (0.0005, 0)), ((0.0001, 0), (0.003, 0))]


def wide_floats(rng: np.random.Generator, t: T) -> np.ndarray:
    """Floats over [-20, 20) (past LOGISTIC's cut-offs), with 0, +-inf and NaN at the start."""
    values = rng.uniform(-20, 20, size=tuple(t.shape)).astype(np.float32)
    flat = values.reshape(-1)
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 16.62, -9.0, 6.0, -1.0], np.float32)
    flat[:min(flat.size, specials.size)] = specials[:flat.size]
    return values


def quantized_cases(op: str, dtypes=("INT8", "INT16"), options_type=None, options=None) -> list[Case]:
    quants = {"INT8": INT8_QUANTS, "INT16": INT16_QUANTS}
    return [unary_case(op, dtype, shape, q_in, q_out, options_type, options)
            for dtype in dtypes for shape in SHAPES for q_in, q_out in quants[dtype]]


def float_cases(op: str, options_type=None, options=None) -> list[Case]:
    return [unary_case(op, "FLOAT32", shape, options_type=options_type, options=options, values=wide_floats)
            for shape in SHAPES]


def test_relu_and_relu6_match_tflm(oracle):
    cases = [c for op in ("RELU", "RELU6") for c in quantized_cases(op) + float_cases(op)]
    # RELU6 clamps the stored values to [zp_in, Q_in(6)]; a scale where 6 is beyond the int8 range.
    cases.append(unary_case("RELU6", "INT8", (9,), (0.01, 3), (0.01, 3)))
    compare_cases_with_tflm(oracle, cases)


def test_relu_n1_to_1_matches_litert(oracle):
    cases = quantized_cases("RELU_N1_TO_1", ("INT8",)) + [unary_case("RELU_N1_TO_1", "FLOAT32", shape)
                                                          for shape in SHAPES]
    compare_cases_with_tflm(LiteRTReference(oracle), cases)


@pytest.mark.parametrize("alpha", [0.3, 0.0, -0.5, 1.7])
def test_leaky_relu_matches_tflm_for_any_alpha(oracle, alpha):
    options = {"alpha": alpha}
    compare_cases_with_tflm(oracle, quantized_cases("LEAKY_RELU", options_type="LeakyReluOptions", options=options)
                            + float_cases("LEAKY_RELU", "LeakyReluOptions", options))


def prelu_case(dtype: str, shape, alpha_shape, quants=((0.05, 2), (0.01, -3), (0.04, 1)), alpha_data=None) -> Case:
    """int16 PRELU takes an int8 alpha, as TFLM requires; alpha_data makes alpha a constant."""
    q = quants if dtype in ("INT8", "INT16") else ((None, None),) * 3
    alpha_type = "INT8" if dtype == "INT16" else dtype
    return Case(f"PRELU {dtype} {list(shape)} alpha {list(alpha_shape)} quant {q}", Op("PRELU"),
                [T(dtype, shape, *q[0]), T(alpha_type, alpha_shape, *q[1], data=alpha_data)],
                [T(dtype, shape, *q[2])])


def test_prelu_broadcasts_alpha_like_tflm(oracle):
    shapes = [((1, 4, 4, 3), (3,)), ((1, 4, 4, 3), (1, 1, 3)), ((2, 4, 5, 3), (4, 1, 3)), ((3, 5), (3, 5)),
              ((2, 2, 3, 1, 2), (1, 1, 2)), ((6,), (1,))]
    quants = [((0.05, 2), (0.01, -3), (0.04, 1)), ((0.1, -128), (0.002, 127), (0.02, 0)),
              ((0.02, 0), (0.05, 0), (0.2, -50))]
    cases = [prelu_case("INT8", s, a, quants[i % len(quants)]) for i, (s, a) in enumerate(shapes)]
    cases += [prelu_case("FLOAT32", s, a) for s, a in shapes if len(s) <= 4]
    compare_cases_with_tflm(oracle, cases)


def test_int16_prelu_with_int8_alpha_matches_tflm(oracle):
    quants = [((0.001, 0), (0.01, -3), (0.002, 0)), ((0.0005, 0), (0.002, 127), (0.0001, 0)),
              ((0.01, 0), (0.05, -128), (0.03, 0))]
    shapes = [((1, 4, 4, 3), (3,)), ((2, 4, 5, 3), (4, 1, 3)), ((3, 5), (3, 5))]
    cases = [prelu_case("INT16", s, a, quants[i]) for i, (s, a) in enumerate(shapes)]
    cases.append(prelu_case("INT16", (2, 3, 4), (4,), quants[1], alpha_data=np.array([-128, -1, 0, 127], np.int8)))
    compare_cases_with_tflm(oracle, cases)


# int16 LOGISTIC/TANH: output scale 2^-15; input scales 2^-12 and 2^-11 (TFLM's power-of-two paths) and general.
INT16_SIGMOID_INPUT_SCALES = [2.0 ** -12, 2.0 ** -11, 2.0 ** -10, 0.001, 0.0003, 0.00002]


@pytest.mark.parametrize("op, int8_out", [("LOGISTIC", (1 / 256, -128)), ("TANH", (1 / 128, 0))])
def test_logistic_and_tanh_match_tflm(oracle, op, int8_out):
    int8_inputs = [(0.1, 0), (0.0625, -12), (0.02, 100), (0.5, -128), (0.004, 3), (1.2, 0)]
    cases = [unary_case(op, "INT8", SHAPES[i % 2], q, int8_out) for i, q in enumerate(int8_inputs)]
    cases += [unary_case(op, "INT16", SHAPES[i % 2], (s, 0), (2.0 ** -15, 0))
              for i, s in enumerate(INT16_SIGMOID_INPUT_SCALES)]
    compare_cases_with_tflm(oracle, cases + float_cases(op))


def test_hard_swish_and_elu_match_tflm(oracle):
    hard_swish = [((0.05, 0), (0.05, 0)), ((0.1, -10), (0.03, 20)), ((0.02, 5), (0.01, -100)),
                  ((0.03, -128), (0.02, -90)), ((0.2, 30), (0.1, -20))]
    cases = [unary_case("HARD_SWISH", "INT8", SHAPES[i % 2], q_in, q_out) for i, (q_in, q_out) in enumerate(hard_swish)]
    cases += quantized_cases("ELU", ("INT8",)) + [unary_case("ELU", "INT8", (9,), (0.5, 0), (1e-3, 0))]
    compare_cases_with_tflm(oracle, cases + float_cases("HARD_SWISH") + float_cases("ELU"))


def _error(case: Case, error: type) -> str:
    with pytest.raises(error) as info:
        prepare_op(single_op_model(case.op, case.inputs, case.outputs))
    return str(info.value)


def test_inconsistent_activation_models_are_rejected():
    message = _error(unary_case("LOGISTIC", "INT8", (4,), (0.1, 0), (1 / 256, 0)), InconsistentModelError)
    assert "op 0 (LOGISTIC)" in message and "-128" in message
    message = _error(unary_case("TANH", "INT16", (4,), (0.001, 0), (0.001, 0)), InconsistentModelError)
    assert "op 0 (TANH)" in message and "2^-15" in message
    message = _error(unary_case("RELU", "INT16", (4,), (0.001, 2), (0.001, 0)), InconsistentModelError)
    assert "op 0 (RELU)" in message and "zero point 0" in message
    message = _error(unary_case("ELU", "FLOAT32", (4,), out_shape=(2, 2)), InconsistentModelError)
    assert "op 0 (ELU)" in message and "shape" in message
    case = prelu_case("INT8", (2, 3), (2,))
    assert "cannot be broadcast" in _error(case, InconsistentModelError)


def test_unsupported_activation_types_are_reported():
    assert "INT16" in _error(unary_case("HARD_SWISH", "INT16", (4,), (0.001, 0), (0.001, 0)), UnsupportedOperatorError)
    assert "INT16" in _error(unary_case("RELU_N1_TO_1", "INT16", (4,), (0.001, 0), (0.001, 0)),
                             UnsupportedOperatorError)
    assert "op 0 (ELU)" in _error(unary_case("ELU", "INT8", (4,), (0.1, 0), out_dtype="FLOAT32"),
                                  UnsupportedOperatorError)
    assert "rank 5" in _error(prelu_case("FLOAT32", (1, 1, 1, 2, 3), (3,)), UnsupportedOperatorError)
    case = prelu_case("INT16", (2, 3), (3,), ((0.001, 0), (0.01, 0), (0.002, 0)))
    case.inputs[1] = T("INT16", (3,), 0.01, 0)
    assert "INT8 alpha" in _error(case, UnsupportedOperatorError)
