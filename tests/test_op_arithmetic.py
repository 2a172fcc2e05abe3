"""SUB, MUL, DIV, SQUARED_DIFFERENCE, MAXIMUM, MINIMUM, FLOOR_DIV, FLOOR_MOD (and ADD's int32 path): bit-exact
with TFLM.

Every op broadcasts up to 6-D through the shared template; each test puts all shapes, types,
quantizations and fused activations of one op into one model run by TFLM and by microinterp.
"""
from __future__ import annotations

import numpy as np
import pytest

from microinterp import Interpreter
from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from microinterp.errors import KernelDomainError
from microinterp.ops.elementwise import broadcast_shape
from opmodels import (Case, Op, T, compare_cases_with_tflm, compare_with_tflm, graph_model, prepare_op,
                      random_values, single_op_model)

NONE, RELU, RELU_N1_TO_1, RELU6 = 0, 1, 2, 3
_OPTIONS = {"ADD": "AddOptions", "SUB": "SubOptions", "MUL": "MulOptions", "DIV": "DivOptions"}

# (shape1, shape2): same shapes, trailing vector, two-sided broadcast, scalar, 6-D, size-1 axes.
SHAPES = [((4, 5), (4, 5)), ((2, 3, 4, 5), (5,)), ((1, 3, 1, 5), (2, 1, 4, 1)), ((), (3, 2)),
          ((2, 1, 3, 1, 2, 2), (1, 2, 1, 2, 1, 2)), ((3, 1, 1, 1, 1, 4), (1, 1)), ((1, 1, 7), (1,))]
ACTIVATIONS = [NONE, RELU, RELU6, NONE, RELU_N1_TO_1, NONE, RELU]
# (input1, input2, output) scale and zero point per shape; the 4th and 6th saturate at both ends.
INT8_QUANTS = [((0.05, 3), (0.03, -20), (0.08, -5)), ((0.02, 0), (0.02, 0), (0.03, 10)),
               ((0.1, -128), (0.007, 127), (0.05, -100)), ((0.5, 10), (0.01, -3), (0.002, 0)),
               ((0.01, -1), (0.02, 1), (0.008, 2)), ((0.25, 50), (0.004, -60), (0.001, -7)),
               ((0.003, -128), (0.003, -128), (0.004, -128))]
INT16_QUANTS = [((0.001, 0), (0.0007, 0), (0.0015, 0)), ((0.0002, 0), (0.0002, 0), (0.0003, 0)),
                ((0.01, 0), (0.00003, 0), (0.002, 0)), ((0.05, 0), (0.001, 0), (0.00004, 0)),
                ((0.0001, 0), (0.0002, 0), (0.00008, 0)), ((0.025, 0), (0.0004, 0), (0.00001, 0)),
                ((0.0003, 0), (0.0003, 0), (0.0004, 0))]
# ADD/SUB accept any int16 zero points (TFLM only debug-checks them).
INT16_OFFSET_QUANTS = [((0.001, 100), (0.0007, -300), (0.0015, 7))] + INT16_QUANTS[1:]

OP_TYPES = {"ADD": ("INT32",), "SUB": ("INT8", "INT16", "INT32", "FLOAT32"),
            "MUL": ("INT8", "INT16", "INT32", "FLOAT32"), "DIV": ("INT8", "INT32", "FLOAT32"),
            "SQUARED_DIFFERENCE": ("INT8", "INT16", "INT32", "FLOAT32"),
            "MAXIMUM": ("INT8", "INT16", "INT32", "INT64", "FLOAT32"),
            "MINIMUM": ("INT8", "INT16", "INT32", "INT64", "FLOAT32")}


def binary_case(op: str, dtype: str, shape1, shape2, activation: int = NONE, quants=INT8_QUANTS[0],
                out_shape=None, out_dtype=None, values=None) -> Case:
    """One binary op; quants (input1, input2, output) apply to int8/int16 only."""
    quantized = dtype in ("INT8", "INT16")
    q = [quant if quantized else (None, None) for quant in quants]
    out_shape = broadcast_shape(shape1, shape2) if out_shape is None else out_shape
    options = {"fused_activation_function": activation} if op in _OPTIONS else {}
    return Case(f"{op} {dtype} {list(shape1)} . {list(shape2)} act {activation} quant {q}",
                Op(op, _OPTIONS.get(op), options),
                [T(dtype, shape1, *q[0]), T(dtype, shape2, *q[1])], [T(out_dtype or dtype, out_shape, *q[2])],
                values)


def _nonzero_int32(rng: np.random.Generator, t: T) -> np.ndarray:
    values = random_values(rng, t)
    values[values == 0] = 7
    return values


def _off_zero_point(rng: np.random.Generator, t: T) -> np.ndarray:
    """int8 values that avoid the zero point (int8 DIV by a divisor at its zero point is undefined in TFLM)."""
    values = random_values(rng, t)
    values[values == t.zero_point] = t.zero_point + (1 if t.zero_point < 127 else -1)
    return values


_DIVISOR_VALUES = {("DIV", "INT32"): _nonzero_int32, ("DIV", "INT8"): _off_zero_point}


def op_cases(op: str) -> list[Case]:
    """Every shape of SHAPES for every type of the op, with its activations and quantizations."""
    cases = []
    for dtype in OP_TYPES[op]:
        quants = {"INT8": INT8_QUANTS,
                  "INT16": INT16_OFFSET_QUANTS if op in ("ADD", "SUB", "MAXIMUM", "MINIMUM") else INT16_QUANTS
                  }.get(dtype, INT8_QUANTS)
        values = _DIVISOR_VALUES.get((op, dtype))
        for (shape1, shape2), activation, quant in zip(SHAPES, ACTIVATIONS, quants):
            cases.append(binary_case(op, dtype, shape1, shape2, activation, quant, values=values))
    return cases


@pytest.mark.parametrize("op", sorted(OP_TYPES))
def test_op_matches_tflm_over_types_shapes_activations_and_quantizations(oracle, op):
    compare_cases_with_tflm(oracle, op_cases(op), seeds=(0, 1, 2))


def test_int8_add_sub_without_broadcasting_match_tflm(oracle):
    """The compiled int8 ADD/SUB step: sizes around its vector widths, every activation, extreme zero points
    and saturating quantizations."""
    shapes = [(1,), (7,), (33,), (5, 200), (2, 3, 4, 5)]
    activations = [NONE, RELU, RELU6, RELU_N1_TO_1, NONE]
    cases = [binary_case(op, "INT8", shape, shape, activation, quant) for op in ("ADD", "SUB")
             for shape, activation, quant in zip(shapes, activations, INT8_QUANTS[2:])]
    compare_cases_with_tflm(oracle, cases, seeds=(0, 1, 2))


def shared_input_model(ops: list[tuple[str, int]], dtype: str, size: int) -> bytes:
    """One node per (op, activation), all reading the same two graph inputs of `size` elements."""
    a, b = T(dtype, (size,)), T(dtype, (size,))
    return graph_model([(Op(op, _OPTIONS.get(op), {"fused_activation_function": act} if op in _OPTIONS else {}),
                         [a, b], [T(dtype, (size,))]) for op, act in ops])


def test_float_ops_handle_infinities_nans_and_overflow_like_tflm(oracle):
    # Clamped ops turn +-inf into +-FLT_MAX; SQUARED_DIFFERENCE, MAXIMUM and MINIMUM keep them;
    # MAXIMUM/MINIMUM with a NaN return the second operand unless it is the NaN.
    a = np.array([np.inf, -np.inf, np.nan, 3e38, -3e38, 0.0, 1.0, np.nan, 2.0, -0.0], np.float32)
    b = np.array([1.0, 1.0, 1.0, 3e38, 3e38, 0.0, np.nan, np.nan, -0.0, 0.0], np.float32)
    ops = [(op, NONE) for op in OP_TYPES] + [("DIV", RELU6), ("MUL", RELU_N1_TO_1), ("FLOOR_MOD", NONE)]
    compare_with_tflm(oracle, shared_input_model(ops, "FLOAT32", a.size), [[a, b], [b, a]], "float specials")


def test_int32_ops_wrap_and_divide_toward_zero_like_tflm(oracle):
    a = np.array([2147483647, -2147483648, -7, 7, 123456789, -99, 0, 46341, -7, 100], np.int32)
    b = np.array([1, 3, 2, -2, 1000, 7, 5, 46341, -2, -7], np.int32)
    ops = [(op, act) for op in ("ADD", "SUB", "MUL", "SQUARED_DIFFERENCE", "MAXIMUM", "MINIMUM")
           for act in (NONE, RELU6)] + [("DIV", NONE), ("DIV", RELU)]
    # a / b has no zero divisor and no INT32_MIN / -1 (TFLM fails the invoke, or traps).
    compare_with_tflm(oracle, shared_input_model(ops, "INT32", a.size), [[a, b]], "int32 specials")


@pytest.mark.parametrize("case, divisors, message", [
    (binary_case("DIV", "INT32", (3,), (3,)), [1, 0, 3], r"op 0 \(DIV\).*division by zero.*index 1"),
    (binary_case("FLOOR_DIV", "FLOAT32", (3,), (3,)), [1, -0.0, 3], r"op 0 \(FLOOR_DIV\).*by zero.*index 1"),
    (binary_case("DIV", "INT8", (3,), (3,), quants=((0.1, 0), (0.1, 5), (0.1, 0))), [1, 5, 3],
     r"op 0 \(DIV\).*zero point.*index 1")])
def test_division_by_zero_raises_where_tflm_fails_or_traps(case, divisors, message):
    """int32 DIV (TFLM fails or traps), FLOAT32 FLOOR_DIV (TFLM fails), int8 DIV by the divisor's zero point
    (undefined in TFLM)."""
    interp = Interpreter(model_content=single_op_model(case.op, case.inputs, case.outputs))
    interp.allocate_tensors()
    dtype = case.inputs[0].dtype
    interp.set_tensor(0, np.array([1, 2, 3], dtype))
    interp.set_tensor(1, np.array(divisors, dtype))
    with pytest.raises(KernelDomainError, match=message):
        interp.invoke()


def test_int64_maximum_minimum_compare_the_full_range_like_tflm(oracle):
    a = np.array([2**63 - 1, -2**63, 0, -1, 2**40, -2**40 - 1], np.int64)
    b = np.array([-2**63, 2**63 - 1, -1, 0, 2**40 + 1, -2**40], np.int64)
    ops = [("MAXIMUM", NONE), ("MINIMUM", NONE)]
    compare_with_tflm(oracle, shared_input_model(ops, "INT64", a.size), [[a, b], [b, a]], "int64 extremes")


def _nonzero_floats(rng: np.random.Generator, t: T) -> np.ndarray:
    """Floats over [-6, 6) with exact multiples and negative zeros of the dividend, no zero divisor."""
    values = rng.uniform(-6, 6, size=tuple(t.shape)).astype(np.float32)
    flat = values.reshape(-1)
    flat[::3] = np.round(flat[::3])
    flat[flat == 0] = 0.5
    flat[1::7] = -flat[1::7]
    return values


def test_floor_div_and_floor_mod_match_tflm(oracle):
    """float32 (TFLM's only type), same shapes at any rank, broadcasting up to TFLM's 4-D loop."""
    shapes = [((4, 5), (4, 5)), ((2, 3, 4, 5), (5,)), ((1, 3, 1, 5), (2, 1, 4, 1)), ((), (3, 2)),
              ((2, 1, 3, 1, 2, 2), (2, 1, 3, 1, 2, 2)), ((7,), (1,))]
    cases = [binary_case(op, "FLOAT32", s1, s2, values=_nonzero_floats) for op in ("FLOOR_DIV", "FLOOR_MOD")
             for s1, s2 in shapes]
    compare_cases_with_tflm(oracle, cases)


def _error(case: Case, error: type) -> str:
    with pytest.raises(error) as info:
        prepare_op(single_op_model(case.op, case.inputs, case.outputs))
    return str(info.value)


def test_inconsistent_arithmetic_models_are_rejected():
    message = _error(binary_case("SUB", "INT8", (2, 3), (3,), out_shape=(2, 4)), InconsistentModelError)
    assert "op 0 (SUB)" in message and "[2, 3]" in message
    message = _error(binary_case("MUL", "INT16", (2,), (2,), quants=((0.01, 3), (0.01, 0), (0.01, 0))),
                     InconsistentModelError)
    assert "op 0 (MUL)" in message and "zero point 0" in message
    message = _error(binary_case("SQUARED_DIFFERENCE", "FLOAT32", (2, 3), (2,), out_shape=(2, 3)),
                     InconsistentModelError)
    assert "op 0 (SQUARED_DIFFERENCE)" in message and "cannot be broadcast" in message


def test_unsupported_arithmetic_types_are_reported():
    assert "INT16" in _error(binary_case("DIV", "INT16", (2,), (2,)), UnsupportedOperatorError)
    assert "op 0 (MAXIMUM)" in _error(binary_case("MAXIMUM", "BOOL", (2,), (2,)), UnsupportedOperatorError)
    assert "INT32" in _error(binary_case("FLOOR_DIV", "INT32", (2,), (2,)), UnsupportedOperatorError)
    assert "INT8" in _error(binary_case("FLOOR_MOD", "INT8", (2,), (2,)), UnsupportedOperatorError)
    assert "rank 5" in _error(binary_case("FLOOR_MOD", "FLOAT32", (2, 1, 1, 1, 3), (3,)), UnsupportedOperatorError)
    assert "FLOAT32" in _error(binary_case("MUL", "INT8", (2,), (2,), out_dtype="FLOAT32"), UnsupportedOperatorError)
