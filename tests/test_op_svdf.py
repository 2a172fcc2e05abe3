"""SVDF: int8 with int8 or int16 state, and float32, bit-exact with TFLM across invocations and resets."""
from __future__ import annotations

import math

import numpy as np
import pytest

from microinterp import Interpreter
from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from opmodels import (Case, Op, T, assert_bit_exact, compare_cases_with_tflm, prepare_op, random_values,
                      single_op_model)

#: Standard deviation of a uniform full-range int8 value, for scales that keep sums mostly in range.
INT8_STD = 74.0


def svdf_int8_case(batch: int, input_size: int, filters: int, memory: int, rank: int, state_type: str = "INT8",
                   input_zp: int = 0, state_zp: int = 0, output_zp: int = 0, gain: float = 1.0,
                   seed: int = 0) -> Case:
    """An int8 SVDF whose scales put the state and the output around +-50 LSB (times `gain`: large
    gains saturate the state and the output)."""
    rng = np.random.default_rng(seed)
    units = filters // rank
    state_target = 50.0 if state_type == "INT8" else 5000.0  # state LSB spread at gain 1
    time_lim = 127 if state_type == "INT8" else 2000
    s_in, s_feature, s_time = 0.05, 0.01, 0.02 if state_type == "INT8" else 0.0002
    s_state = s_in * s_feature * math.sqrt(input_size) * INT8_STD ** 2 / (state_target * gain)
    s_out = s_state * s_time * math.sqrt(memory * rank) * time_lim / math.sqrt(3) * state_target / (50.0 * gain)
    bias_scale = float(np.float32(s_state) * np.float32(s_time))
    time_dtype = np.int8 if state_type == "INT8" else np.int16
    tensors = [
        T("INT8", (batch, input_size), s_in, input_zp),
        T("INT8", (filters, input_size), s_feature, 0, rng.integers(-127, 128, (filters, input_size), dtype=np.int8)),
        T(state_type, (filters, memory), s_time, 0, rng.integers(-time_lim, time_lim + 1, (filters, memory),
                                                                 dtype=time_dtype)),
        T("INT32", (units,), bias_scale, 0, rng.integers(-3000, 3001, units, dtype=np.int32)),
        T(state_type, (batch, memory * filters), s_state, state_zp, is_variable=True),
    ]
    op = Op("SVDF", "SVDFOptions", {"rank": rank, "fused_activation_function": 1})
    label = (f"SVDF int8/{state_type} batch {batch} in {input_size} filters {filters} memory {memory} rank {rank} "
             f"zps {input_zp}/{state_zp}/{output_zp} gain {gain}")
    return Case(label, op, tensors, [T("INT8", (batch, units), s_out, output_zp)])


def svdf_float_case(batch: int, input_size: int, filters: int, memory: int, rank: int, activation: int,
                    seed: int = 0) -> Case:
    rng = np.random.default_rng(seed)
    units = filters // rank
    tensors = [
        T("FLOAT32", (batch, input_size)),
        T("FLOAT32", (filters, input_size), data=rng.uniform(-0.5, 0.5, (filters, input_size)).astype(np.float32)),
        T("FLOAT32", (filters, memory), data=rng.uniform(-0.5, 0.5, (filters, memory)).astype(np.float32)),
        T("FLOAT32", (units,), data=rng.uniform(-1, 1, units).astype(np.float32)),
        T("FLOAT32", (batch, memory * filters), is_variable=True),
    ]
    op = Op("SVDF", "SVDFOptions", {"rank": rank, "fused_activation_function": activation})
    label = f"SVDF float batch {batch} in {input_size} filters {filters} memory {memory} rank {rank} act {activation}"
    return Case(label, op, tensors, [T("FLOAT32", (batch, units))])


INT8_CASES = [
    # batch, input size, filters, memory, rank, state type, zero points (input, state, output), gain
    (1, 16, 8, 4, 1, "INT8", -128, -50, -128, 1.0),
    (2, 5, 6, 3, 2, "INT8", 3, 37, 10, 1.0),
    (3, 1, 6, 1, 3, "INT8", 0, 0, 0, 1.0),
    (1, 12, 4, 8, 1, "INT8", -7, -13, -2, 20.0),  # saturating state and output (state zp wraps, as in TFLM)
    (2, 9, 8, 5, 2, "INT16", 0, 0, 5, 1.0),
    (1, 24, 3, 10, 3, "INT16", -20, 100, -128, 1.0),  # int16 state zero point: TFLM resets int16 state to 0
    (2, 7, 4, 2, 1, "INT16", 12, 0, 0, 30.0),
]


def test_int8_svdf_matches_tflm_across_invocations_and_reset(oracle):
    cases = [svdf_int8_case(b, i, f, m, r, st, zi, zs, zo, g, seed=n)
             for n, (b, i, f, m, r, st, zi, zs, zo, g) in enumerate(INT8_CASES)]
    compare_cases_with_tflm(oracle, cases, seeds=(0, 1, 2), reset_and_repeat=True)


def test_float_svdf_matches_tflm_with_every_fused_activation(oracle):
    cases = [svdf_float_case(2, 6, 4, 3, 1, act, seed=act) for act in range(6)]
    cases += [svdf_float_case(1, 1, 6, 1, 3, 0, seed=7), svdf_float_case(3, 10, 8, 6, 2, 1, seed=8)]
    compare_cases_with_tflm(oracle, cases, seeds=(0, 1, 2), reset_and_repeat=True)


def test_head_equals_tflm_with_its_scratch_requests(oracle):
    for case in (svdf_int8_case(2, 5, 6, 3, 2), svdf_float_case(3, 4, 6, 2, 2, 0)):
        model = single_op_model(case.op, case.inputs, case.outputs)
        interp = Interpreter(model_content=model)
        interp.allocate_tensors()
        assert interp.memory_plan.head == oracle.tflm_arena(model).head, case.label


def _error(case: Case, error: type) -> str:
    with pytest.raises(error) as info:
        prepare_op(single_op_model(case.op, case.inputs, case.outputs))
    message = str(info.value)
    assert "op 0 (SVDF)" in message
    return message


def test_state_of_the_wrong_size_is_inconsistent():
    case = svdf_int8_case(1, 4, 4, 3, 1)
    case.inputs[4] = T("INT8", (1, 11), 0.1, 0, is_variable=True)
    assert "[1, 12]" in _error(case, InconsistentModelError)


def test_rank_that_does_not_divide_the_filters_is_inconsistent():
    case = svdf_int8_case(1, 4, 6, 3, 1)
    case.op.options["rank"] = 4
    assert "rank 4" in _error(case, InconsistentModelError)


def test_state_type_other_than_the_time_weights_type_is_inconsistent():
    case = svdf_int8_case(1, 4, 4, 3, 1, state_type="INT16")
    case.inputs[4] = T("INT8", (1, 12), 0.1, 0, is_variable=True)
    assert "weights_time" in _error(case, InconsistentModelError)


def test_int16_input_is_unsupported():
    case = svdf_int8_case(1, 4, 4, 3, 1)
    case.inputs[0] = T("INT16", (1, 4), 0.001, 0)
    assert "INT16" in _error(case, UnsupportedOperatorError)


@pytest.mark.parametrize("make", [lambda: svdf_int8_case(2, 5, 6, 3, 2, "INT8", 3, 37, 10),
                                  lambda: svdf_float_case(2, 5, 6, 3, 2, 3)])
def test_omitted_bias_computes_as_a_zero_bias_where_tflm_crashes(oracle, make):
    """TFLM dereferences the missing bias (its TODO #1751) and crashes; microinterp sums from zero, which is
    what TFLM computes for an all-zero bias."""
    with_zero_bias, without_bias = make(), make()
    bias = with_zero_bias.inputs[3]
    with_zero_bias.inputs[3] = T(bias.type, bias.shape, bias.scale, 0, np.zeros(bias.shape, bias.dtype))
    without_bias.inputs[3] = None
    rng = np.random.default_rng(0)
    sequence = [[random_values(rng, with_zero_bias.inputs[0])] for _ in range(3)]
    theirs = oracle.run(single_op_model(with_zero_bias.op, with_zero_bias.inputs, with_zero_bias.outputs),
                        sequence).outputs
    interp = Interpreter(model_content=single_op_model(without_bias.op, without_bias.inputs, without_bias.outputs))
    interp.allocate_tensors()
    for k, (x,) in enumerate(sequence):
        interp.set_tensor(0, x)
        interp.invoke()
        assert_bit_exact(interp.get_tensor(interp.get_output_details()[0]["index"]), theirs[k][0],
                         f"invocation {k}")
