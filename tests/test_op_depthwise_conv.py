"""DEPTHWISE_CONV_2D: bit-exact with TFLM for int8 (per-channel / per-tensor filters), 16x8 and float32.

Cases use seeded random weights and quantization (tests/mac_layers.py) and run as independent ops of
one model, compared live with TFLM on seeded random inputs. Malformed and unsupported operators must
be rejected at allocate_tensors() with an error naming the op.
"""
from __future__ import annotations

import numpy as np
import pytest

from mac_layers import ACTIVATIONS, SAME, VALID, bias_inputs, float_layer, int8_layer
from microinterp import InconsistentModelError, Interpreter, UnsupportedOperatorError
from microinterp.quantization import computed_out_size
from opmodels import (Case, Op, T, check_ops_on_tflm_intermediates, compare_cases_with_tflm, compare_with_tflm,
                      random_values, run_op, single_op_model)

REAL_MODELS = ("mlperf_tiny/kws_ref_model", "mlperf_tiny/vww_96_int8", "mlperf_tiny/vww_96_float",
               "tflm_examples/person_detect", "tflm_examples/micro_speech_quantized")


def depthwise_case(label: str, seed: int = 0, *, input_shape=(1, 9, 9, 4), multiplier=1, kernel=(3, 3),
                   strides=(1, 1), dilation=(1, 1), padding=SAME, activation="NONE", dtype="INT8",
                   per_channel=True, bias="given") -> Case:
    """A DEPTHWISE_CONV_2D with random weights; bias is "given", "absent" or "omitted" (index -1)."""
    rng = np.random.default_rng(seed)
    n, h, w, c = input_shape
    weight_shape = (1, kernel[0], kernel[1], c * multiplier)
    out_shape = (n, computed_out_size(h, kernel[0], strides[0], dilation[0], padding),
                 computed_out_size(w, kernel[1], strides[1], dilation[1], padding), c * multiplier)
    if dtype == "FLOAT32":
        layer = float_layer(rng, input_shape, weight_shape, out_shape, 3)
    else:
        layer = int8_layer(rng, input_shape, weight_shape, out_shape, 3, kernel[0] * kernel[1], per_channel,
                           activation=dtype, bias="INT64" if dtype == "INT16" else "INT32")
    options = dict(padding=padding, stride_h=strides[0], stride_w=strides[1], depth_multiplier=multiplier,
                   dilation_h_factor=dilation[0], dilation_w_factor=dilation[1],
                   fused_activation_function=ACTIVATIONS[activation])
    return Case(label, Op("DEPTHWISE_CONV_2D", "DepthwiseConv2DOptions", options), bias_inputs(layer, bias),
                [layer.output])


CASES = [
    depthwise_case("int8 per-channel SAME RELU6", 1, activation="RELU6"),
    depthwise_case("int8 per-tensor, multiplier 2, VALID stride 2", 2, per_channel=False, multiplier=2,
                   padding=VALID, strides=(2, 2), input_shape=(1, 10, 9, 3)),
    depthwise_case("int8 one channel, multiplier 8, dilation 2, RELU", 3, multiplier=8,
                   input_shape=(1, 12, 12, 1), strides=(2, 2), dilation=(2, 2), activation="RELU"),
    depthwise_case("int8 one channel, multiplier 3, SAME stride 2, batch 2 (run as a conv)", 10, multiplier=3,
                   input_shape=(2, 11, 10, 1), strides=(2, 2)),
    depthwise_case("int8 no bias input, batch 2, 2x3 window, RELU_N1_TO_1", 4, bias="absent",
                   input_shape=(2, 7, 8, 5), kernel=(2, 3), strides=(1, 2), activation="RELU_N1_TO_1"),
    depthwise_case("int8 5x5, 32 channels", 5, kernel=(5, 5), input_shape=(1, 8, 8, 32)),
    depthwise_case("int8 one-pixel-wide image, 5x1 window, VALID (run as one row)", 12, kernel=(5, 1),
                   padding=VALID, input_shape=(1, 28, 1, 128)),
    depthwise_case("int8 one-pixel-wide image, 3x1 window, SAME stride 2, dilation 3, batch 2 (run as one row)", 13,
                   kernel=(3, 1), strides=(2, 1), dilation=(3, 1), input_shape=(2, 30, 1, 40), activation="RELU6"),
    depthwise_case("int8 one-pixel-wide image, window nearly as tall as it (run as one row)", 14, kernel=(15, 1),
                   padding=VALID, input_shape=(1, 17, 1, 24)),
    depthwise_case("16x8 per-channel SAME RELU", 8, dtype="INT16", activation="RELU"),
    depthwise_case("16x8 per-tensor, multiplier 3, VALID stride 2, RELU6", 9, dtype="INT16", per_channel=False,
                   multiplier=3, padding=VALID, strides=(2, 2), input_shape=(1, 10, 9, 2), activation="RELU6"),
    depthwise_case("16x8 no bias input (int64 accumulator), batch 2, dilation 2", 10, dtype="INT16",
                   bias="absent", input_shape=(2, 9, 8, 5), dilation=(2, 2)),
    depthwise_case("16x8 5x5, 24 channels, RELU_N1_TO_1", 11, dtype="INT16", kernel=(5, 5),
                   input_shape=(1, 8, 8, 24), activation="RELU_N1_TO_1"),
    depthwise_case("float32 one-pixel-wide image, 4x1 window, SAME stride 3 (run as one row)", 15, dtype="FLOAT32",
                   kernel=(4, 1), strides=(3, 2), input_shape=(1, 19, 1, 13)),
    depthwise_case("float32 multiplier 2, bias, RELU", 6, dtype="FLOAT32", multiplier=2, activation="RELU"),
    depthwise_case("float32 no bias input, dilation, VALID, batch 2", 7, dtype="FLOAT32", bias="absent",
                   dilation=(2, 1), padding=VALID, input_shape=(2, 9, 8, 6)),
]


def test_depthwise_conv_matches_tflm_across_options(oracle):
    """int8 and int16 bit for bit; float32 within the float rule (the float kernel fuses its multiply-adds)."""
    compare_cases_with_tflm(oracle, CASES, seeds=(0, 1, 2), float_rule=True)


def test_bias_index_minus_one_computes_like_no_bias_input():
    # TFLM crashes on a -1 bias index (its prepare releases the missing tensor) and LiteRT rejects
    # it; microinterp runs it exactly like the two-input form, which TFLM runs.
    absent = depthwise_case("absent", 8, bias="absent")
    omitted = depthwise_case("omitted", 8, bias="omitted")
    x = random_values(np.random.default_rng(0), absent.inputs[0])
    expected = run_op(single_op_model(absent.op, absent.inputs, absent.outputs), {0: x})[0]
    actual = run_op(single_op_model(omitted.op, omitted.inputs, omitted.outputs), {0: x})[0]
    np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize("name", REAL_MODELS)
def test_every_depthwise_conv_of_real_models_matches_tflm_on_tflm_inputs(shared_models, oracle, name):
    path = shared_models / f"{name}.tflite"
    assert check_ops_on_tflm_intermediates(oracle, path, {"DEPTHWISE_CONV_2D"}, seeds=(0,), float_rule=True) > 0


def _allocate(case: Case) -> None:
    Interpreter(model_content=single_op_model(case.op, case.inputs, case.outputs)).allocate_tensors()


def test_depth_multiplier_disagreeing_with_shapes_is_inconsistent():
    case = depthwise_case("bad multiplier", multiplier=2)
    case.op.options["depth_multiplier"] = 3
    with pytest.raises(InconsistentModelError, match=r"op 0 \(DEPTHWISE_CONV_2D\).*depth_multiplier 3"):
        _allocate(case)


def test_wrong_bias_length_is_inconsistent():
    case = depthwise_case("bad bias")
    case.inputs[2] = T("INT32", (3,), 1e-4, 0, np.zeros(3, np.int32))
    with pytest.raises(InconsistentModelError, match=r"op 0 \(DEPTHWISE_CONV_2D\).*3 elements, expected 4"):
        _allocate(case)


def test_per_channel_scales_along_the_wrong_dimension_are_inconsistent():
    case = depthwise_case("bad quantized dimension")
    case.inputs[1].quantized_dimension = 0
    with pytest.raises(InconsistentModelError, match=r"op 0 \(DEPTHWISE_CONV_2D\).*quantized_dimension 0"):
        _allocate(case)


def test_output_channels_not_matching_filter_are_inconsistent():
    case = depthwise_case("bad output")
    case.outputs[0].shape = (1, 9, 9, 8)
    with pytest.raises(InconsistentModelError, match=r"op 0 \(DEPTHWISE_CONV_2D\).*8 channels, filter has 4"):
        _allocate(case)


def test_int16_with_int32_bias_is_unsupported():
    # TFLM's 16x8 depthwise kernel reads any bias as int64: an int32 bias gives garbage there.
    case = depthwise_case("int16 int32 bias", dtype="INT16")
    case.inputs[2] = T("INT32", (4,), 1e-4, 0, np.zeros(4, np.int32))
    with pytest.raises(UnsupportedOperatorError, match=r"op 0 \(DEPTHWISE_CONV_2D\).*INT32.*INT64 bias"):
        _allocate(case)


def test_int16_nonzero_zero_point_is_inconsistent():
    case = depthwise_case("int16 zero point", dtype="INT16")
    case.inputs[0].zero_point = -1
    with pytest.raises(InconsistentModelError, match=r"op 0 \(DEPTHWISE_CONV_2D\).*zero point -1, expected 0"):
        _allocate(case)


def test_float_activations_with_int32_bias_are_unsupported():
    case = depthwise_case("float with int bias", dtype="FLOAT32")
    case.inputs[2] = T("INT32", (4,), data=np.zeros(4, np.int32))
    with pytest.raises(UnsupportedOperatorError,
                       match=r"op 0 \(DEPTHWISE_CONV_2D\).*type INT32, expected FLOAT32"):
        _allocate(case)


def test_a_filter_with_more_than_one_slice_along_dim_0_reads_the_first_as_tflm_does(oracle):
    # Found by the long fuzz run: the compiled float step reshaped the whole filter (a raw ValueError).
    rng = np.random.default_rng(3)
    filt = T("FLOAT32", (2, 3, 3, 4), data=rng.standard_normal((2, 3, 3, 4)).astype(np.float32))
    bias = T("FLOAT32", (4,), data=rng.standard_normal(4).astype(np.float32))
    op = Op("DEPTHWISE_CONV_2D", "DepthwiseConv2DOptions",
            {"padding": 0, "stride_w": 1, "stride_h": 1, "depth_multiplier": 1, "fused_activation_function": 0,
             "dilation_w_factor": 1, "dilation_h_factor": 1})
    model = single_op_model(op, [T("FLOAT32", (1, 5, 5, 4)), filt, bias], [T("FLOAT32", (1, 5, 5, 4))])
    compare_with_tflm(oracle, model, [[rng.standard_normal((1, 5, 5, 4)).astype(np.float32)]], "2-slice filter", float_rule=True)
