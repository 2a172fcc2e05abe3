"""CONV_2D: bit-exact with TFLM for int8 (per-channel / per-tensor filters), 16x8 (int64 or int32 bias)
and float32, every option.

Cases use seeded random weights and quantization (tests/mac_layers.py) and run as independent ops of
one model, compared live with TFLM on seeded random inputs. Malformed and unsupported operators must
be rejected at allocate_tensors() with an error naming the op.
"""
from __future__ import annotations

import numpy as np
import pytest

from mac_layers import (ACTIVATIONS, SAME, VALID, bias_inputs, float_layer, int8_layer,
                        multiplier_probe_layer)
from microinterp import InconsistentModelError, Interpreter, UnsupportedOperatorError
from microinterp.quantization import computed_out_size
from opmodels import (Case, Op, T, check_ops_on_tflm_intermediates, compare_cases_with_tflm, compare_with_tflm,
                      single_op_model)

REAL_MODELS = ("mlperf_tiny/kws_ref_model", "mlperf_tiny/vww_96_int8", "mlperf_tiny/vww_96_float",
               "mlperf_tiny/pretrainedResnet_quant", "tflm_examples/person_detect")


def conv_case(label: str, seed: int = 0, *, input_shape=(1, 9, 9, 4), out_channels=6, kernel=(3, 3),
              strides=(1, 1), dilation=(1, 1), padding=SAME, activation="NONE", dtype="INT8", per_channel=True,
              bias="given", filter_zp=0, groups=1, bias_type=None, quantized_bias_type=None) -> Case:
    """A CONV_2D with random weights; bias is "given", "absent" or "omitted" (index -1).

    dtype is the activation type (INT16 = 16x8); bias_type defaults to INT64 for 16x8, INT32 for int8.
    """
    rng = np.random.default_rng(seed)
    n, h, w, c = input_shape
    depth = c // groups
    weight_shape = (out_channels, kernel[0], kernel[1], depth)
    out_shape = (n, computed_out_size(h, kernel[0], strides[0], dilation[0], padding),
                 computed_out_size(w, kernel[1], strides[1], dilation[1], padding), out_channels)
    if dtype == "FLOAT32":
        layer = float_layer(rng, input_shape, weight_shape, out_shape, 0)
    else:
        layer = int8_layer(rng, input_shape, weight_shape, out_shape, 0, kernel[0] * kernel[1] * depth,
                           per_channel, filter_zp, dtype, bias_type or ("INT64" if dtype == "INT16" else "INT32"))
    options = dict(padding=padding, stride_h=strides[0], stride_w=strides[1], dilation_h_factor=dilation[0],
                   dilation_w_factor=dilation[1], fused_activation_function=ACTIVATIONS[activation])
    if quantized_bias_type is not None:
        options["quantized_bias_type"] = quantized_bias_type
    return Case(label, Op("CONV_2D", "Conv2DOptions", options), bias_inputs(layer, bias), [layer.output])


CASES = [
    conv_case("int8 per-channel SAME RELU", 1, activation="RELU"),
    conv_case("int8 per-tensor VALID stride 2, filter zero point ignored", 2, per_channel=False, padding=VALID,
              strides=(2, 2), filter_zp=5),
    conv_case("int8 dilation 2 RELU6", 3, dilation=(2, 2), activation="RELU6", input_shape=(1, 11, 10, 3)),
    conv_case("int8 uneven strides, odd padding, RELU_N1_TO_1", 4, kernel=(3, 2), strides=(2, 1),
              activation="RELU_N1_TO_1", input_shape=(1, 8, 7, 5)),
    conv_case("int8 2 groups", 5, input_shape=(1, 6, 6, 8), groups=2, out_channels=6, kernel=(2, 2)),
    conv_case("int8 no bias input, batch 2", 6, bias="absent", input_shape=(2, 7, 5, 3), kernel=(1, 3),
              padding=VALID),
    conv_case("int8 bias index -1, 1x1", 7, bias="omitted", kernel=(1, 1), input_shape=(1, 4, 4, 16),
              out_channels=8),
    conv_case("int8 one-pixel-wide image, 5x1 window, stride 2, dilation 2 (run as one row)", 18,
              input_shape=(2, 23, 1, 12), kernel=(5, 1), strides=(2, 3), dilation=(2, 1), out_channels=20),
    conv_case("int8 one-pixel-wide image, 1x1 (run as one row)", 19, input_shape=(1, 28, 1, 40), kernel=(1, 1),
              out_channels=32, activation="RELU"),
    conv_case("16x8 int64 bias SAME RELU", 11, dtype="INT16", activation="RELU"),
    conv_case("16x8 int64 bias per-tensor VALID stride 2, RELU6", 12, dtype="INT16", per_channel=False,
              padding=VALID, strides=(2, 2), activation="RELU6"),
    conv_case("16x8 int32 bias, dilation 2, RELU_N1_TO_1", 13, dtype="INT16", bias_type="INT32",
              dilation=(2, 2), input_shape=(1, 11, 10, 3), activation="RELU_N1_TO_1"),
    conv_case("16x8 no bias input (int64 accumulator), 2 groups", 14, dtype="INT16", bias="absent",
              input_shape=(1, 6, 6, 8), groups=2, kernel=(2, 2)),
    conv_case("16x8 bias index -1, quantized_bias_type INT32 (int32 accumulator), batch 2", 15, dtype="INT16",
              bias="omitted", quantized_bias_type=2, input_shape=(2, 7, 5, 3), kernel=(1, 3), padding=VALID),
    conv_case("16x8 no bias input, quantized_bias_type INT64", 17, dtype="INT16", bias="absent",
              quantized_bias_type=4, input_shape=(1, 5, 5, 6)),
    conv_case("16x8 deep 5x5 accumulation", 16, dtype="INT16", kernel=(5, 5), input_shape=(1, 8, 8, 32),
              out_channels=4),
    conv_case("float32 one-pixel-wide image, 3x1 window, SAME (run as one row)", 20, dtype="FLOAT32",
              input_shape=(1, 17, 1, 9), kernel=(3, 1), out_channels=10),
    conv_case("float32 bias RELU stride 2", 8, dtype="FLOAT32", activation="RELU", strides=(2, 2)),
    conv_case("float32 bias index -1, dilation, 2 groups, VALID, batch 2", 9, dtype="FLOAT32", bias="omitted",
              dilation=(1, 2), padding=VALID, groups=2, input_shape=(2, 8, 9, 6), out_channels=4),
    conv_case("float32 no bias input, 5x5 RELU6", 10, dtype="FLOAT32", bias="absent", activation="RELU6",
              kernel=(5, 5)),
]


def test_conv_matches_tflm_across_options(oracle):
    """int8 and int16 bit for bit; float32 within the float rule (the float kernel fuses its multiply-adds)."""
    compare_cases_with_tflm(oracle, CASES, seeds=(0, 1, 2), float_rule=True)


def test_multiplier_comes_from_double_scale_products(oracle):
    # Spec §1.3: PopulateConvolutionQuantizationParams promotes each scale to double first; the
    # probe's scales give another multiplier when s_in * s_w is rounded to float32.
    layer, values = multiplier_probe_layer((1, 16, 16, 1), (1, 1, 1, 1), (1, 16, 16, 1))
    op = Op("CONV_2D", "Conv2DOptions", dict(padding=VALID, stride_h=1, stride_w=1))
    model = single_op_model(op, [layer.input, layer.filter, layer.bias], [layer.output])
    compare_with_tflm(oracle, model, [[values]], "conv multiplier probe")


@pytest.mark.parametrize("name", REAL_MODELS)
def test_every_conv_of_real_models_matches_tflm_on_tflm_inputs(shared_models, oracle, name):
    assert check_ops_on_tflm_intermediates(oracle, shared_models / f"{name}.tflite", {"CONV_2D"}, seeds=(0,), float_rule=True) > 0


def _allocate(case: Case) -> None:
    Interpreter(model_content=single_op_model(case.op, case.inputs, case.outputs)).allocate_tensors()


def test_wrong_bias_length_is_inconsistent():
    case = conv_case("bad bias")
    case.inputs[2] = T("INT32", (5,), 1e-4, 0, np.zeros(5, np.int32))
    with pytest.raises(InconsistentModelError, match=r"op 0 \(CONV_2D\).*5 elements, expected 6"):
        _allocate(case)


def test_input_channels_not_a_multiple_of_filter_depth_are_inconsistent():
    case = conv_case("bad depth")
    case.inputs[0].shape = (1, 9, 9, 5)
    with pytest.raises(InconsistentModelError, match=r"op 0 \(CONV_2D\).*5 channels, not a positive multiple"):
        _allocate(case)


def test_output_size_disagreeing_with_padding_is_inconsistent():
    case = conv_case("bad output", padding=VALID)
    case.outputs[0].shape = (1, 9, 9, 6)
    with pytest.raises(InconsistentModelError, match=r"op 0 \(CONV_2D\).*gives 7 x 7"):
        _allocate(case)


def test_filter_scale_count_not_matching_channels_is_inconsistent():
    case = conv_case("bad scales")
    case.inputs[1].scale, case.inputs[1].zero_point = [0.01, 0.02], [0, 0]
    with pytest.raises(InconsistentModelError, match=r"op 0 \(CONV_2D\).*2 quantization scales, expected 1 or 6"):
        _allocate(case)


def test_zero_stride_is_inconsistent():
    case = conv_case("bad stride")
    case.op.options["stride_w"] = 0
    with pytest.raises(InconsistentModelError, match=r"op 0 \(CONV_2D\).*stride_w must be positive"):
        _allocate(case)


@pytest.mark.parametrize("tensor", [0, "output"])
def test_int16_nonzero_zero_point_is_inconsistent(tensor):
    # TFLM's 16x8 kernel silently ignores activation zero points; LiteRT rejects them, as we do.
    case = conv_case("int16 zero point", dtype="INT16")
    (case.outputs[0] if tensor == "output" else case.inputs[0]).zero_point = 3
    with pytest.raises(InconsistentModelError, match=r"op 0 \(CONV_2D\).*zero point 3, expected 0"):
        _allocate(case)


def test_int16_with_int8_bias_is_unsupported():
    case = conv_case("int16 int8 bias", dtype="INT16")
    case.inputs[2] = T("INT8", (6,), 0.01, 0, np.zeros(6, np.int8))
    with pytest.raises(UnsupportedOperatorError, match=r"op 0 \(CONV_2D\).*bias .* INT8"):
        _allocate(case)


def test_int16_filter_is_unsupported():
    case = conv_case("int16 filter", dtype="INT16")
    case.inputs[1].type, case.inputs[1].data = "INT16", case.inputs[1].data.astype(np.int16)
    with pytest.raises(UnsupportedOperatorError, match=r"op 0 \(CONV_2D\).*INT16 with filter type INT16"):
        _allocate(case)


def test_hybrid_float_input_int8_filter_is_unsupported():
    case = conv_case("hybrid", dtype="FLOAT32")
    case.inputs[1] = conv_case("int8").inputs[1]
    with pytest.raises(UnsupportedOperatorError, match=r"op 0 \(CONV_2D\).*FLOAT32 with filter type INT8"):
        _allocate(case)
