"""UNIDIRECTIONAL_SEQUENCE_LSTM: TFLM's own kernel (8x8->16, 16x8->16, float32), bit-exact across invocations
and resets (float32: within the float32 rule, its activations being polynomials), batch-major and time-major;
the int8 and float32 paths as compiled steps (SIMD and portable, which give the same bits)."""
from __future__ import annotations

import functools
import math

import numpy as np
import pytest

from microinterp import Interpreter
from microinterp._kernels import steps
from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from opmodels import Case, Op, T, compare_cases_with_tflm, prepare_op, single_op_model

# TFLM's input indices (lstm_shared.h).
INPUT_WEIGHTS, RECURRENT_WEIGHTS, BIASES = (1, 2, 3, 4), (5, 6, 7, 8), (12, 13, 14, 15)
HIDDEN, CELL = 18, 19
ACT_TANH = 4
#: Standard deviations of uniform full-range int8 / int16 values.
INT8_STD, INT16_STD = 74.0, 18918.0


def lstm_case(path: str, batch: int, steps: int, input_size: int, state: int, time_major: bool = False,
              cell_scale: float = 2.0 ** -11, cell_clip: float = 0.0, input_zp: int = 0, hidden_zp: int = 0,
              weight_zp: int = 0, gain: float = 1.0, seed: int = 0) -> Case:
    """An LSTM whose gate pre-activations spread over about +-1.5 x gain (real units): gains above ~3
    saturate the Q3.12 gates and the cell state."""
    rng = np.random.default_rng(seed)
    seq_shape = (steps, batch) if time_major else (batch, steps)
    options = {"fused_activation_function": ACT_TANH, "cell_clip": cell_clip, "proj_clip": 0.0,
               "time_major": time_major}
    inputs: list[T | None] = [None] * 24
    if path == "FLOAT32":
        inputs[0] = T("FLOAT32", (*seq_shape, input_size))
        for i in INPUT_WEIGHTS + RECURRENT_WEIGHTS:
            depth = input_size if i in INPUT_WEIGHTS else state
            w = rng.uniform(-1, 1, (state, depth)) * gain / math.sqrt(depth)
            inputs[i] = T("FLOAT32", (state, depth), data=w.astype(np.float32))
        for i in BIASES:
            inputs[i] = T("FLOAT32", (state,), data=rng.uniform(-0.5, 0.5, state).astype(np.float32))
        inputs[HIDDEN] = T("FLOAT32", (batch, state), is_variable=True)
        inputs[CELL] = T("FLOAT32", (batch, state), is_variable=True)
        output = T("FLOAT32", (*seq_shape, state))
    else:
        act, bias_type, act_std = ("INT8", "INT32", INT8_STD) if path == "INT8" else ("INT16", "INT64", INT16_STD)
        s_in = 1 / 64 if path == "INT8" else 1 / 4096
        s_hidden = 1 / 128 if path == "INT8" else 2.0 ** -15
        hidden_std = act_std / 2  # |h| < 1: tanh x sigmoid
        inputs[0] = T(act, (*seq_shape, input_size), s_in, input_zp)
        for i in INPUT_WEIGHTS + RECURRENT_WEIGHTS:
            depth, s_x, x_std = (input_size, s_in, act_std) if i in INPUT_WEIGHTS else (state, s_hidden, hidden_std)
            s_w = 1.5 * gain / (s_x * math.sqrt(depth) * INT8_STD * x_std)
            w = rng.integers(-127, 128, (state, depth)).astype(np.int8)
            inputs[i] = T("INT8", (state, depth), s_w, weight_zp, w)
        for i, w_index in zip(BIASES, INPUT_WEIGHTS):
            s_bias = s_in * inputs[w_index].scale
            values = np.round(rng.uniform(-0.5, 0.5, state) / s_bias)
            inputs[i] = T(bias_type, (state,), s_bias, 0, values.astype(np.int32 if path == "INT8" else np.int64))
        inputs[HIDDEN] = T(act, (batch, state), s_hidden, hidden_zp, is_variable=True)
        inputs[CELL] = T("INT16", (batch, state), cell_scale, 0, is_variable=True)
        output = T(act, (*seq_shape, state), s_hidden, hidden_zp)
    label = (f"LSTM {path} batch {batch} steps {steps} in {input_size} state {state} time_major {time_major} "
             f"cell scale {cell_scale} clip {cell_clip} zps {input_zp}/{hidden_zp}/{weight_zp} gain {gain}")
    return Case(label, Op("UNIDIRECTIONAL_SEQUENCE_LSTM", "UnidirectionalSequenceLSTMOptions", options),
                inputs, [output])


INT8_CASES = [
    dict(batch=1, steps=4, input_size=6, state=5),
    dict(batch=3, steps=2, input_size=3, state=4, time_major=True, cell_scale=2.0 ** -12, cell_clip=0.8,
         input_zp=-5, hidden_zp=7),
    dict(batch=2, steps=3, input_size=8, state=2, cell_scale=2.0 ** -15, cell_clip=0.5, input_zp=-128,
         hidden_zp=-3, gain=4.0),
    dict(batch=2, steps=1, input_size=1, state=1, time_major=True, cell_scale=2.0 ** -10),
    # A cell scale that is no power of two: TFLM rounds its log2 (-11.7 -> -12) and goes on.
    dict(batch=1, steps=5, input_size=4, state=6, cell_scale=3e-4, cell_clip=10.0),
    dict(batch=4, steps=2, input_size=5, state=3, cell_scale=2.0 ** -9, weight_zp=2),
    dict(batch=2, steps=6, input_size=7, state=8, time_major=True, gain=8.0),
]


def test_int8_lstm_matches_tflm_across_invocations_and_reset(oracle):
    cases = [lstm_case("INT8", seed=n, **params) for n, params in enumerate(INT8_CASES)]
    compare_cases_with_tflm(oracle, cases, seeds=(0, 1, 2), reset_and_repeat=True)


def test_16x8_lstm_matches_tflm_across_invocations_and_reset(oracle):
    cases = [lstm_case("INT16", 2, 3, 4, 3, seed=10),
             lstm_case("INT16", 1, 2, 2, 5, time_major=True, cell_scale=2.0 ** -12, cell_clip=0.3, seed=11),
             lstm_case("INT16", 3, 2, 3, 2, gain=6.0, seed=12)]
    compare_cases_with_tflm(oracle, cases, seeds=(0, 1, 2), reset_and_repeat=True)


def test_float_lstm_matches_tflm_across_invocations_and_reset(oracle):
    cases = [lstm_case("FLOAT32", 2, 3, 4, 3, seed=20),
             lstm_case("FLOAT32", 3, 2, 2, 4, time_major=True, cell_clip=0.7, seed=21),
             lstm_case("FLOAT32", 1, 5, 6, 2, gain=5.0, seed=22)]
    # The float cell update uses polynomial exp and tanh (float_lstm_cells.h): the float32 rule, not bits.
    compare_cases_with_tflm(oracle, cases, seeds=(0, 1, 2), reset_and_repeat=True, float_rule=True)


#: Sizes beyond one SIMD block of the int8 dot products (16) and of the float gate FCs (8 units), so
#: that whole blocks, zero-padded tails and several batches stepped together are all exercised.
WIDE_CASES = [
    dict(batch=2, steps=3, input_size=70, state=37, input_zp=-128, hidden_zp=5),
    dict(batch=3, steps=2, input_size=33, state=9, time_major=True, cell_clip=0.6, weight_zp=-3, gain=3.0),
]


@pytest.mark.parametrize("portable", [False, True], ids=["simd", "portable"])
@pytest.mark.parametrize("path", ["INT8", "FLOAT32"])
def test_compiled_lstm_wider_than_a_simd_block_matches_tflm(oracle, monkeypatch, path, portable):
    step = "Int8LstmStep" if path == "INT8" else "FloatLstmStep"
    monkeypatch.setattr(steps, step, functools.partial(getattr(steps, step), portable=portable))
    cases = [lstm_case(path, seed=30 + n, **params) for n, params in enumerate(WIDE_CASES)]
    compare_cases_with_tflm(oracle, cases, seeds=(0, 1), reset_and_repeat=True, float_rule=path == "FLOAT32")


def test_float_lstm_simd_and_portable_paths_give_the_same_bits(monkeypatch):
    # Gain 6 drives the gates past both of TFLM's logistic shortcuts (below -9, above 16.6) and tanh to +-1.
    case = lstm_case("FLOAT32", 3, 7, 19, 21, cell_clip=2.5, gain=6.0, seed=40)
    model = single_op_model(case.op, case.inputs, case.outputs)
    x = np.random.default_rng(0).uniform(-4, 4, (3, 7, 19)).astype(np.float32)
    outputs, step = [], steps.FloatLstmStep
    for portable in (False, True):
        monkeypatch.setattr(steps, "FloatLstmStep", functools.partial(step, portable=portable))
        interp = Interpreter(model_content=model)
        interp.allocate_tensors()
        interp.set_tensor(interp.get_input_details()[0]["index"], x)
        interp.invoke()
        outputs.append(interp.get_tensor(interp.get_output_details()[0]["index"]))
    assert np.isfinite(outputs[0]).all() and outputs[0].view(np.uint32).tolist() == outputs[1].view(np.uint32).tolist()


@pytest.mark.parametrize("path", ["INT8", "FLOAT32"])
def test_int8_and_float_lstm_run_as_compiled_steps(path):
    case = lstm_case(path, 2, 3, 4, 5)
    interp = Interpreter(model_content=single_op_model(case.op, case.inputs, case.outputs))
    interp.allocate_tensors()
    assert isinstance(interp._exec.steps[0], steps.Step)


@pytest.mark.parametrize("path", ["INT8", "FLOAT32"])
def test_head_equals_tflm_with_its_four_scratch_buffers(oracle, path):
    case = lstm_case(path, 3, 2, 5, 7, time_major=True)
    model = single_op_model(case.op, case.inputs, case.outputs)
    interp = Interpreter(model_content=model)
    interp.allocate_tensors()
    assert interp.memory_plan.head == oracle.tflm_arena(model).head


def _error(case: Case, error: type) -> str:
    with pytest.raises(error) as info:
        prepare_op(single_op_model(case.op, case.inputs, case.outputs))
    message = str(info.value)
    assert "op 0 (UNIDIRECTIONAL_SEQUENCE_LSTM)" in message
    return message


def test_recurrent_weights_of_the_wrong_shape_are_inconsistent():
    case = lstm_case("INT8", 1, 2, 3, 4)
    case.inputs[6] = T("INT8", (4, 3), 0.01, 0, np.zeros((4, 3), np.int8))
    assert "[4, 4]" in _error(case, InconsistentModelError)


def test_hidden_state_that_is_not_a_variable_is_inconsistent():
    case = lstm_case("FLOAT32", 1, 2, 3, 4)
    case.inputs[HIDDEN] = T("FLOAT32", (1, 4), data=np.zeros((1, 4), np.float32))
    assert "variable" in _error(case, InconsistentModelError)


def test_peephole_weights_are_unsupported():
    case = lstm_case("FLOAT32", 1, 2, 3, 4)
    case.inputs[10] = T("FLOAT32", (4,), data=np.zeros(4, np.float32))
    assert "peephole" in _error(case, UnsupportedOperatorError)


def test_hybrid_float_input_with_int8_weights_is_unsupported():
    case = lstm_case("INT8", 1, 2, 3, 4)
    for i in (0, HIDDEN):
        case.inputs[i] = T("FLOAT32", case.inputs[i].shape, is_variable=case.inputs[i].is_variable)
    case.outputs = [T("FLOAT32", case.outputs[0].shape)]
    assert "INT8 weights" in _error(case, UnsupportedOperatorError)


def test_cell_gate_activation_other_than_tanh_is_unsupported():
    case = lstm_case("INT8", 1, 2, 3, 4)
    case.op.options["fused_activation_function"] = 1
    assert "TANH" in _error(case, UnsupportedOperatorError)


def test_int16_gate_scale_beyond_the_int64_requantization_shift_is_unsupported():
    case = lstm_case("INT16", 1, 2, 3, 4)
    w = case.inputs[INPUT_WEIGHTS[0]]
    # s_in * s_w / 2^-12 = 2^20: shift 21, where TFLM's int64 rounding shift 1 << (14 - shift) is undefined
    case.inputs[INPUT_WEIGHTS[0]] = T("INT8", w.shape, 2.0 ** 20, 0, w.data)
    assert "shift 21" in _error(case, UnsupportedOperatorError)


@pytest.mark.parametrize("path", ["INT8", "FLOAT32"])
def test_a_nan_cell_clip_is_refused_at_prepare_naming_the_op(path):
    # Found by the long fuzz run: TFLM casts cell_clip / cell scale to int16, undefined for NaN.
    case = lstm_case(path, batch=1, steps=2, input_size=3, state=4, cell_clip=float("nan"))
    with pytest.raises(InconsistentModelError, match=r"op 0 \(UNIDIRECTIONAL_SEQUENCE_LSTM\): cell_clip is NaN"):
        prepare_op(single_op_model(case.op, case.inputs, case.outputs))
