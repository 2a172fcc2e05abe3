"""AVERAGE_POOL_2D and MAX_POOL_2D: bit-exact with TFLM (int8, int16, float32) across padding, strides,
filters and activations; L2_POOL_2D (float32, TFLM's only type) likewise."""
from __future__ import annotations

import numpy as np
import pytest

from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from microinterp.quantization import computed_out_size
from opmodels import (Case, Op, T, check_ops_on_tflm_intermediates, compare_cases_with_tflm, compare_with_tflm,
                      prepare_op, single_op_model)

SAME, VALID = 0, 1
NONE, RELU, RELU_N1_TO_1, RELU6 = 0, 1, 2, 3
POOLS = ("AVERAGE_POOL_2D", "MAX_POOL_2D")


def pool_case(kind: str, dtype: str, in_shape, filter_hw, stride_hw, padding: int, activation: int = NONE,
              in_quant=(0.05, -7), out_quant=None, out_shape=None) -> Case:
    n, h, w, c = in_shape
    if out_shape is None:
        out_shape = (n, computed_out_size(h, filter_hw[0], stride_hw[0], 1, padding),
                     computed_out_size(w, filter_hw[1], stride_hw[1], 1, padding), c)
    quant = in_quant if dtype != "FLOAT32" else (None, None)
    out_q = out_quant if out_quant is not None else quant
    options = dict(padding=padding, stride_h=stride_hw[0], stride_w=stride_hw[1], filter_height=filter_hw[0],
                   filter_width=filter_hw[1], fused_activation_function=activation)
    label = (f"{kind} {dtype} in {list(in_shape)} filter {filter_hw} stride {stride_hw} "
             f"{'SAME' if padding == SAME else 'VALID'} act {activation} quant {quant}")
    return Case(label, Op(kind, "Pool2DOptions", options), [T(dtype, in_shape, *quant)], [T(dtype, out_shape, *out_q)])


def pool_model(*args, **kwargs) -> tuple[bytes, T]:
    case = pool_case(*args, **kwargs)
    return single_op_model(case.op, case.inputs, case.outputs), case.inputs[0]


# (input NHWC, filter HxW, stride HxW, padding, activation, input scale and zero point)
CASES = [
    ((1, 8, 8, 3), (2, 2), (2, 2), VALID, NONE, (0.05, -7)),
    ((2, 9, 7, 4), (3, 4), (2, 2), SAME, NONE, (0.02, 13)),
    ((1, 10, 6, 2), (5, 3), (1, 2), SAME, RELU, (0.1, -128)),
    ((1, 7, 7, 5), (3, 3), (3, 1), VALID, RELU6, (0.04, 20)),
    ((1, 5, 11, 1), (4, 5), (2, 3), SAME, RELU_N1_TO_1, (0.01, 0)),
    ((1, 6, 6, 8), (6, 6), (1, 1), VALID, NONE, (0.3, 127)),
    ((1, 3, 3, 2), (5, 5), (1, 1), SAME, NONE, (0.05, -1)),
    ((1, 9, 9, 19), (3, 3), (2, 2), SAME, RELU6, (0.02, -128)),  # 8-channel blocks and a tail (int8 fast path)
]


def test_pooling_matches_tflm_across_padding_strides_filters_and_activations(oracle):
    cases = [pool_case(kind, dtype, *case) for kind in POOLS for dtype in ("INT8", "FLOAT32") for case in CASES]
    compare_cases_with_tflm(oracle, cases, seeds=(0, 1, 2))


def test_int16_pooling_matches_tflm(oracle):
    # Same cases on the int16 range: zero point 0 as int16 is symmetric, except one case showing TFLM pools
    # raw values with any shared zero point; RELU6 / RELU_N1_TO_1 clamp well inside the range.
    quants = [(0.002, 0), (0.0004, 0), (0.003, 0), (0.0002, 0), (3e-5, 0), (0.01, 0), (0.001, -40)]
    cases = [pool_case(kind, "INT16", *case[:5], in_quant=quant) for kind in POOLS
             for case, quant in zip(CASES, quants)]
    compare_cases_with_tflm(oracle, cases, seeds=(0, 1, 2))


def test_l2_pool_matches_tflm_across_padding_strides_filters_and_activations(oracle):
    cases = [pool_case("L2_POOL_2D", "FLOAT32", *case[:5]) for case in CASES]
    compare_cases_with_tflm(oracle, cases, seeds=(0, 1))
    model, x = pool_model("L2_POOL_2D", "FLOAT32", (1, 4, 4, 1), (2, 2), (2, 2), VALID, NONE)
    values = np.zeros(x.shape, np.float32)
    values[0, 0, 0, 0], values[0, 0, 2, 0], values[0, 2, 0, 0] = np.inf, 3e30, np.nan
    compare_with_tflm(oracle, model, [[values]], "L2_POOL_2D float specials")


def test_average_pool_rounds_halves_of_raw_values_away_from_zero(oracle):
    # 2x2 windows whose raw sums are odd multiples of 2 give exact halves, positive and negative; with a
    # non-zero zero point, rounding (q - zp) instead of q would land on the other side.
    model, x = pool_model("AVERAGE_POOL_2D", "INT8", (1, 2, 8, 1), (2, 2), (2, 2), VALID, in_quant=(0.1, 3))
    rows = np.array([[1, 2, -1, -2, 5, 6, -7, -6], [0, 1, 0, -1, 0, 0, 1, 1]], np.int8).reshape(x.shape)
    compare_with_tflm(oracle, model, [[rows]], "average pool ties")


def test_float_pooling_clamps_infinities_and_propagates_nan_like_tflm(oracle):
    for kind in POOLS:
        model, x = pool_model(kind, "FLOAT32", (1, 4, 4, 1), (2, 2), (2, 2), VALID, NONE)
        values = np.zeros(x.shape, np.float32)
        values[0, 0, 0, 0] = np.inf
        values[0, 0, 2, 0] = -np.inf
        values[0, 2, 0, 0] = np.nan
        compare_with_tflm(oracle, model, [[values]], f"{kind} float specials")


@pytest.mark.parametrize("relative", ["mlperf_tiny/pretrainedResnet_quant.tflite", "mlperf_tiny/kws_ref_model.tflite",
                                      "mlperf_tiny/vww_96_float.tflite", "mlperf_tiny/vww_96_int8.tflite"])
def test_pooling_in_real_models_matches_tflm_on_its_own_inputs(oracle, shared_models, relative):
    assert check_ops_on_tflm_intermediates(oracle, shared_models / relative, set(POOLS)) > 0


def _error(model: bytes, error: type) -> str:
    with pytest.raises(error) as info:
        prepare_op(model)
    return str(info.value)


def test_output_size_that_contradicts_padding_is_rejected():
    model, _ = pool_model("AVERAGE_POOL_2D", "INT8", (1, 8, 8, 3), (2, 2), (2, 2), VALID, out_shape=(1, 5, 4, 3))
    message = _error(model, InconsistentModelError)
    assert "op 0 (AVERAGE_POOL_2D)" in message and "5 x 4" in message and "4 x 4" in message


def test_channel_or_batch_mismatch_is_rejected():
    model, _ = pool_model("MAX_POOL_2D", "INT8", (1, 8, 8, 3), (2, 2), (2, 2), VALID, out_shape=(1, 4, 4, 2))
    assert "op 0 (MAX_POOL_2D)" in _error(model, InconsistentModelError)


def test_requantizing_int8_pool_is_rejected_like_tflm():
    for out_quant in [(0.06, -7), (0.05, -6)]:
        model, _ = pool_model("AVERAGE_POOL_2D", "INT8", (1, 4, 4, 1), (2, 2), (2, 2), VALID, out_quant=out_quant)
        assert "must match" in _error(model, InconsistentModelError)


def test_non_positive_stride_or_filter_is_rejected():
    model, _ = pool_model("MAX_POOL_2D", "INT8", (1, 4, 4, 1), (2, 2), (0, 1), VALID, out_shape=(1, 1, 3, 1))
    assert "stride_h must be positive" in _error(model, InconsistentModelError)
    model, _ = pool_model("MAX_POOL_2D", "INT8", (1, 4, 4, 1), (0, 2), (1, 1), VALID, out_shape=(1, 4, 3, 1))
    assert "filter size" in _error(model, InconsistentModelError)


def test_int32_and_mixed_types_are_unsupported():
    model, _ = pool_model("AVERAGE_POOL_2D", "INT32", (1, 4, 4, 1), (2, 2), (2, 2), VALID, in_quant=(0.01, 0))
    assert "INT32" in _error(model, UnsupportedOperatorError)
    x = T("INT8", (1, 4, 4, 1), 0.1, 0)
    options = dict(padding=VALID, stride_h=2, stride_w=2, filter_height=2, filter_width=2)
    model = single_op_model(Op("MAX_POOL_2D", "Pool2DOptions", options), [x], [T("FLOAT32", (1, 2, 2, 1))])
    assert "FLOAT32" in _error(model, UnsupportedOperatorError)


def test_quantized_l2_pool_is_unsupported_as_in_tflm():
    model, _ = pool_model("L2_POOL_2D", "INT8", (1, 4, 4, 1), (2, 2), (2, 2), VALID)
    assert "op 0 (L2_POOL_2D)" in _error(model, UnsupportedOperatorError)
