"""FULLY_CONNECTED: bit-exact with TFLM for int8 and 16x8 (per-tensor / per-channel filters) and float32.

Cases use seeded random weights and quantization (tests/mac_layers.py) and run as independent ops of
one model, compared live with TFLM on seeded random inputs. Malformed and unsupported operators must
be rejected at allocate_tensors() with an error naming the op.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from mac_layers import ACTIVATIONS, bias_inputs, float_layer, int8_layer, multiplier_probe_layer
from microinterp import InconsistentModelError, Interpreter, UnsupportedOperatorError
from opmodels import (Case, Op, T, check_ops_on_tflm_intermediates, compare_cases_with_tflm, compare_with_tflm,
                      single_op_model)

REAL_MODELS = ("mlperf_tiny/ad01_int8", "mlperf_tiny/kws_ref_model", "mlperf_tiny/vww_96_int8",
               "mlperf_tiny/vww_96_float", "mlperf_tiny/pretrainedResnet_quant",
               "tflm_examples/micro_speech_quantized", "tflm_examples/hello_world_int8",
               "tflm_examples/hello_world_float")


def fc_case(label: str, seed: int = 0, *, input_shape=(1, 16), units=8, keep_num_dims=False, activation="NONE",
            dtype="INT8", per_channel=False, bias="given", filter_zp=0, bias_type=None,
            quantized_bias_type=None) -> Case:
    """A FULLY_CONNECTED whose filter depth is the input's last dim; bias "given", "absent" or "omitted".

    dtype is the activation type (INT16 = 16x8); bias_type defaults to INT64 for 16x8, INT32 for int8.
    """
    rng = np.random.default_rng(seed)
    accum = input_shape[-1]
    out_shape = (*input_shape[:-1], units) if keep_num_dims else (math.prod(input_shape) // accum, units)
    if dtype == "FLOAT32":
        layer = float_layer(rng, input_shape, (units, accum), out_shape, 0)
    else:
        layer = int8_layer(rng, input_shape, (units, accum), out_shape, 0, accum, per_channel, filter_zp, dtype,
                           bias_type or ("INT64" if dtype == "INT16" else "INT32"))
    options = dict(keep_num_dims=keep_num_dims, fused_activation_function=ACTIVATIONS[activation])
    if quantized_bias_type is not None:
        options["quantized_bias_type"] = quantized_bias_type
    return Case(label, Op("FULLY_CONNECTED", "FullyConnectedOptions", options), bias_inputs(layer, bias),
                [layer.output])


CASES = [
    fc_case("int8 per-tensor RELU", 1, activation="RELU"),
    fc_case("int8 per-tensor, filter zero point subtracted, batch 2", 2, filter_zp=9, input_shape=(2, 12)),
    fc_case("int8 per-channel, batch 3, no bias input, RELU6", 3, per_channel=True, bias="absent",
            input_shape=(3, 20), activation="RELU6"),
    fc_case("int8 per-channel, keep_num_dims, rank 3", 4, per_channel=True, keep_num_dims=True,
            input_shape=(2, 3, 8)),
    fc_case("int8 rank-4 input read flat, RELU_N1_TO_1", 5, input_shape=(1, 2, 2, 4), units=5,
            activation="RELU_N1_TO_1"),
    fc_case("int8 flat input split into batches", 6, input_shape=(4, 6), units=3),
    fc_case("int8 bias index -1", 7, bias="omitted", units=4),
    fc_case("int8 640-deep accumulation", 8, input_shape=(1, 640), units=32),
    fc_case("16x8 int64 bias per-tensor RELU, filter zero point subtracted", 11, dtype="INT16", activation="RELU",
            filter_zp=3),
    fc_case("16x8 int64 bias per-channel batch 3 RELU6", 12, dtype="INT16", per_channel=True,
            input_shape=(3, 20), activation="RELU6"),
    fc_case("16x8 int32 bias per-tensor keep_num_dims rank 3", 13, dtype="INT16", bias_type="INT32",
            keep_num_dims=True, input_shape=(2, 3, 8)),
    fc_case("16x8 int32 bias per-channel, RELU_N1_TO_1", 14, dtype="INT16", bias_type="INT32", per_channel=True,
            activation="RELU_N1_TO_1"),
    fc_case("16x8 no bias input (int64 accumulator), 640-deep", 15, dtype="INT16", bias="absent",
            input_shape=(2, 640), units=16),
    fc_case("16x8 bias index -1, quantized_bias_type INT32 (int32 accumulator)", 16, dtype="INT16",
            bias="omitted", quantized_bias_type=2, input_shape=(4, 64)),
    fc_case("float32 bias RELU batch 2", 9, dtype="FLOAT32", activation="RELU", input_shape=(2, 16)),
    fc_case("float32 no bias input, keep_num_dims", 10, dtype="FLOAT32", bias="absent", keep_num_dims=True,
            input_shape=(2, 3, 10)),
]


def test_fully_connected_matches_tflm_bit_for_bit_across_options(oracle):
    compare_cases_with_tflm(oracle, CASES, seeds=(0, 1, 2))


def test_per_tensor_multiplier_comes_from_double_scale_products(oracle):
    # Spec §1.3 says float32(s_in * s_w) / s_out; the TFLM build used as oracle computes it in double.
    layer, values = multiplier_probe_layer((256, 1), (1, 1), (256, 1))
    op = Op("FULLY_CONNECTED", "FullyConnectedOptions", {})
    model = single_op_model(op, [layer.input, layer.filter, layer.bias], [layer.output])
    compare_with_tflm(oracle, model, [[values]], "fully connected multiplier probe")


def test_float_overflow_is_clamped_to_float_max_like_tflm(oracle):
    # TFLM's "no activation" float bounds are +-FLT_MAX, so an infinite sum comes out as +-FLT_MAX.
    case = fc_case("overflow", dtype="FLOAT32", input_shape=(64, 1), units=2)
    case.inputs[1].data = np.array([[3e38], [-3e38]], np.float32)
    compare_cases_with_tflm(oracle, [case], seeds=(0,))


@pytest.mark.parametrize("name", REAL_MODELS)
def test_every_fully_connected_of_real_models_matches_tflm_on_tflm_inputs(shared_models, oracle, name):
    path = shared_models / f"{name}.tflite"
    assert check_ops_on_tflm_intermediates(oracle, path, {"FULLY_CONNECTED"}, seeds=(0,)) > 0


def _allocate(case: Case) -> None:
    Interpreter(model_content=single_op_model(case.op, case.inputs, case.outputs)).allocate_tensors()


def test_wrong_bias_length_is_inconsistent():
    case = fc_case("bad bias")
    case.inputs[2] = T("INT32", (7,), case.inputs[2].scale[0], 0, np.zeros(7, np.int32))
    with pytest.raises(InconsistentModelError, match=r"op 0 \(FULLY_CONNECTED\).*7 elements, expected 8"):
        _allocate(case)


def test_input_size_not_batches_times_depth_is_inconsistent():
    case = fc_case("bad input", input_shape=(2, 16))
    case.inputs[0].shape = (2, 15)
    with pytest.raises(InconsistentModelError, match=r"op 0 \(FULLY_CONNECTED\).*30 elements, expected 2 batches"):
        _allocate(case)


def test_output_units_not_matching_filter_are_inconsistent():
    case = fc_case("bad output")
    case.outputs[0].shape = (1, 9)
    with pytest.raises(InconsistentModelError, match=r"op 0 \(FULLY_CONNECTED\).*9 units"):
        _allocate(case)


def test_bias_scale_far_from_input_times_filter_scale_is_inconsistent():
    # TFLM's GetQuantizedConvolutionMultipler refuses |s_in * s_w - s_bias| / s_out > 0.02.
    case = fc_case("bad bias scale")
    case.inputs[2].scale = [s * 1000 for s in case.inputs[2].scale]
    with pytest.raises(InconsistentModelError, match=r"op 0 \(FULLY_CONNECTED\).*bias .* scale"):
        _allocate(case)


def test_int16_nonzero_zero_point_is_inconsistent():
    case = fc_case("int16 zero point", dtype="INT16")
    case.outputs[0].zero_point = 7
    with pytest.raises(InconsistentModelError, match=r"op 0 \(FULLY_CONNECTED\).*zero point 7, expected 0"):
        _allocate(case)


def test_int16_with_float_bias_is_unsupported():
    case = fc_case("int16 float bias", dtype="INT16")
    case.inputs[2] = T("FLOAT32", (8,), data=np.zeros(8, np.float32))
    with pytest.raises(UnsupportedOperatorError, match=r"op 0 \(FULLY_CONNECTED\).*bias .* FLOAT32"):
        _allocate(case)


def test_hybrid_float_input_int8_filter_is_unsupported():
    case = fc_case("hybrid", dtype="FLOAT32")
    case.inputs[1] = fc_case("int8").inputs[1]
    with pytest.raises(UnsupportedOperatorError,
                       match=r"op 0 \(FULLY_CONNECTED\).*FLOAT32 with filter type INT8"):
        _allocate(case)
