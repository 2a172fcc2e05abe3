"""SOFTMAX: int8 -> int8/int16 (gemmlowp fixed point), int16 (LUTs) and float32, bit-exact with TFLM over
the last axis of any rank."""
from __future__ import annotations

import numpy as np
import pytest

from microinterp import Interpreter
from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from microinterp.oracles import OracleCrash
from microinterp.errors import SoftmaxOverflowError
from opmodels import Case, Op, T, check_ops_on_tflm_intermediates, compare_cases_with_tflm, prepare_op, single_op_model

OUT_QUANT = {"INT8": (1 / 256, -128), "INT16": (1 / 32768, 0), "INT8->INT16": (1 / 65536, -32768)}


def softmax_case(dtype: str, shape, beta: float, in_quant=(0.1, 0), out_quant=None, out_dtype=None) -> Case:
    out_dtype = out_dtype or dtype
    quant = in_quant if dtype != "FLOAT32" else (None, None)
    if dtype == "FLOAT32":
        out_q = (None, None)
    else:
        out_q = out_quant or OUT_QUANT[dtype if out_dtype == dtype else f"{dtype}->{out_dtype}"]
    return Case(f"SOFTMAX {dtype}->{out_dtype} {list(shape)} beta {beta} quant {quant}",
                Op("SOFTMAX", "SoftmaxOptions", {"beta": beta}),
                [T(dtype, shape, *quant)], [T(out_dtype, shape, *out_q)])


def int8_rows(rng: np.random.Generator, t: T) -> np.ndarray:
    """Random rows, then rows that stress the fixed point: all lowest, all highest, half the row equal to
    its maximum, values crowded near the top, and a single highest value among lowest ones (int8 or int16)."""
    lo, hi = np.iinfo(t.dtype).min, np.iinfo(t.dtype).max
    values = rng.integers(lo, hi, size=tuple(t.shape), endpoint=True, dtype=t.dtype)
    rows = values.reshape(-1, t.shape[-1])
    depth = rows.shape[1]
    first_half = np.arange(depth) <= depth // 2
    specials = [np.full(depth, lo), np.full(depth, hi), np.where(first_half, rows[min(3, len(rows) - 1)].max(), 0),
                rng.integers(hi - (hi + 1) // 13, hi, depth, endpoint=True),
                np.where(np.arange(depth) == depth // 3, hi, lo)]
    for r, special in zip(range(1, rows.shape[0]), specials):
        rows[r] = special
    return values


# (shape, beta, input scale, input zero point): scales and betas from saturating to nearly flat.
INT8_CASES = [
    ((6, 10), 1.0, 0.1, 0),
    ((6, 37), 1.0, 0.0625, -12),
    ((1, 3, 6, 5), 0.5, 0.25, 40),
    ((7, 255), 1.0, 0.02, -128),
    ((6, 2), 2.0, 0.7, 5),
    ((6, 64), 0.3, 0.004, 100),
    ((6, 500), 1.0, 0.05, 0),
    ((6,), 1.5, 0.1, 0),
]


def test_int8_softmax_matches_tflm_on_random_and_extreme_rows(oracle):
    cases = [softmax_case("INT8", shape, beta, (scale, zp)) for shape, beta, scale, zp in INT8_CASES]
    compare_cases_with_tflm(oracle, cases, seeds=(0, 1, 2), values=int8_rows)


def test_int8_to_int16_softmax_matches_tflm(oracle):
    cases = [softmax_case("INT8", shape, beta, (scale, zp), out_dtype="INT16") for shape, beta, scale, zp in INT8_CASES]
    compare_cases_with_tflm(oracle, cases, seeds=(0, 1, 2), values=int8_rows)


# (shape, beta, input scale): from saturating (differences of a few steps reach exp(-10)) to nearly flat.
INT16_CASES = [
    ((6, 10), 1.0, 3e-4),
    ((6, 37), 1.0, 1e-3),
    ((1, 3, 6, 5), 0.5, 2e-4),
    ((7, 255), 1.0, 5e-5),
    ((6, 2), 2.0, 0.01),
    ((6, 64), 0.3, 1e-5),
    ((6, 1000), 1.0, 1.5e-4),
    ((6,), 1.5, 4e-4),
    ((6, 3), 1.0, 10.0 / 65535),
]


def test_int16_softmax_matches_tflm_on_random_and_extreme_rows(oracle):
    cases = [softmax_case("INT16", shape, beta, (scale, 0)) for shape, beta, scale in INT16_CASES]
    # Output scale within TFLM's 0.1% tolerance of 1/32768.
    cases.append(softmax_case("INT16", (6, 9), 1.0, (2e-4, 0), out_quant=(1.0005 / 32768, 0)))
    compare_cases_with_tflm(oracle, cases, seeds=(0, 1, 2), values=int8_rows)


def test_float_softmax_matches_tflm(oracle):
    cases = [softmax_case("FLOAT32", shape, beta) for shape, beta, _, _ in INT8_CASES]

    def values(rng, t):
        scale = np.float32(rng.choice([0.5, 4.0, 30.0]))
        return (rng.standard_normal(tuple(t.shape)) * scale).astype(np.float32)
    compare_cases_with_tflm(oracle, cases, seeds=(0, 1, 2), values=values)


def test_row_with_511_equal_maxima_matches_and_512_fails_clearly_where_tflm_aborts(oracle):
    for depth in (511, 512):
        case = softmax_case("INT8", (1, depth), 1.0)
        model = single_op_model(case.op, case.inputs, case.outputs)
        interp = Interpreter(model_content=model)
        interp.allocate_tensors()
        interp.set_tensor(0, np.full((1, depth), 7, np.int8))
        if depth == 511:
            interp.invoke()
            theirs = oracle.run(model, [[np.full((1, depth), 7, np.int8)]]).outputs[0][0]
            np.testing.assert_array_equal(interp.get_tensor(1), theirs)
        else:
            with pytest.raises(SoftmaxOverflowError, match=r"op 0 \(SOFTMAX\): row 0"):
                interp.invoke()
            with pytest.raises(OracleCrash):
                oracle.run(model, [[np.full((1, depth), 7, np.int8)]])


@pytest.mark.parametrize("relative", ["mlperf_tiny/pretrainedResnet_quant.tflite", "mlperf_tiny/kws_ref_model.tflite",
                                      "mlperf_tiny/vww_96_float.tflite", "tflm_examples/micro_speech_quantized.tflite"])
def test_softmax_in_real_models_matches_tflm_on_its_own_inputs(oracle, shared_models, relative):
    assert check_ops_on_tflm_intermediates(oracle, shared_models / relative, {"SOFTMAX"}) > 0


def _error(case: Case, error: type) -> str:
    with pytest.raises(error) as info:
        prepare_op(single_op_model(case.op, case.inputs, case.outputs))
    return str(info.value)


@pytest.mark.parametrize("out_quant", [(1 / 256, -127), (1 / 255, -128), (np.nextafter(np.float32(1 / 256), 1), -128)])
def test_int8_output_quantization_other_than_minus_128_and_1_over_256_is_rejected(out_quant):
    message = _error(softmax_case("INT8", (1, 4), 1.0, out_quant=out_quant), InconsistentModelError)
    assert "op 0 (SOFTMAX)" in message and "-128" in message and "1/256" in message


def test_beta_times_scale_too_small_for_the_fixed_point_is_rejected():
    # beta * s_in * 2^26 <= 1: QuantizeMultiplierGreaterThanOne would abort TFLM.
    message = _error(softmax_case("INT8", (1, 4), 1.0, in_quant=(1e-8, 0)), InconsistentModelError)
    assert "op 0 (SOFTMAX)" in message and "beta" in message


def test_shape_mismatch_is_rejected():
    case = softmax_case("FLOAT32", (2, 4), 1.0)
    case.outputs = [T("FLOAT32", (2, 5))]
    assert "op 0 (SOFTMAX)" in _error(case, InconsistentModelError)


@pytest.mark.parametrize("dtype, out_dtype, out_quant", [("INT16", "INT16", (1 / 32768, 1)),
                                                          ("INT16", "INT16", (1.002 / 32768, 0)),
                                                          ("INT8", "INT16", (1 / 65536, 0)),
                                                          ("INT8", "INT16", (1 / 65000, -32768))])
def test_int16_output_quantization_other_than_tflms_is_rejected(dtype, out_dtype, out_quant):
    message = _error(softmax_case(dtype, (1, 4), 1.0, (0.001, 0), out_quant, out_dtype), InconsistentModelError)
    assert "op 0 (SOFTMAX)" in message and "TFLM assumes it" in message


def test_int16_input_zero_point_other_than_0_is_rejected_like_tflm():
    message = _error(softmax_case("INT16", (1, 4), 1.0, (0.001, 120)), InconsistentModelError)
    assert "op 0 (SOFTMAX)" in message and "zero point 120, expected 0" in message


def test_int16_to_int8_and_int32_are_unsupported():
    assert "INT8" in _error(softmax_case("INT16", (1, 4), 1.0, (0.001, 0), OUT_QUANT["INT8"], "INT8"),
                            UnsupportedOperatorError)
    int32 = Case("int32", Op("SOFTMAX", "SoftmaxOptions", {"beta": 1.0}), [T("INT32", (1, 4), 0.001, 0)],
                 [T("INT32", (1, 4), 1 / 32768, 0)])
    assert "INT32" in _error(int32, UnsupportedOperatorError)
