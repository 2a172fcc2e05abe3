"""TRANSPOSE_CONV: bit-exact with TFLM for int8, 16x8 (int64, int16 or no bias) and float32, with TFLM's
scratch buffers in the planned head.

Cases use seeded random weights and quantization (tests/mac_layers.py) and run as independent ops of one
model, compared live with TFLM on seeded random inputs. Malformed and unsupported operators must be
rejected at allocate_tensors() with an error naming the op.
"""
from __future__ import annotations

import numpy as np
import pytest

from mac_layers import ACTIVATIONS, SAME, VALID, float_layer, int8_layer
from microinterp import InconsistentModelError, Interpreter, UnsupportedOperatorError
from opmodels import Case, Op, T, compare_cases_with_tflm, graph_model, single_op_model


def transposed_size(in_size: int, kernel: int, stride: int, padding: int) -> int:
    """The output size TF's converter gives a transpose convolution (the inverse of a conv's)."""
    return in_size * stride if padding == SAME else (in_size - 1) * stride + kernel


def transpose_conv_case(label: str, seed: int = 0, *, input_shape=(1, 5, 4, 3), out_channels=4, kernel=(3, 3),
                        strides=(2, 2), padding=SAME, activation="NONE", dtype="INT8", per_channel=True,
                        bias="given", bias_type=None, output_hw=None, quantized_bias_type=None) -> Case:
    """A TRANSPOSE_CONV with random weights; bias "given" or "absent"; output_hw overrides the size."""
    rng = np.random.default_rng(seed)
    n, h, w, c = input_shape
    out_h, out_w = output_hw or (transposed_size(h, kernel[0], strides[0], padding),
                                 transposed_size(w, kernel[1], strides[1], padding))
    out_shape = (n, out_h, out_w, out_channels)
    weight_shape = (out_channels, kernel[0], kernel[1], c)
    # Each output sums about in_channels * (kernel / stride)^2 products.
    taps = max(1, round(c * kernel[0] * kernel[1] / (strides[0] * strides[1])))
    if dtype == "FLOAT32":
        layer = float_layer(rng, input_shape, weight_shape, out_shape, 0)
    else:
        layer = int8_layer(rng, input_shape, weight_shape, out_shape, 0, taps, per_channel, 0, dtype,
                           bias_type or ("INT64" if dtype == "INT16" else "INT32"))
    options = dict(padding=padding, stride_h=strides[0], stride_w=strides[1],
                   fused_activation_function=ACTIVATIONS[activation])
    if quantized_bias_type is not None:
        options["quantized_bias_type"] = quantized_bias_type
    shape = T("INT32", (4,), data=np.array(out_shape, np.int32), name="output_shape")
    inputs = [shape, layer.filter, layer.input] + ([layer.bias] if bias == "given" else [])
    return Case(label, Op("TRANSPOSE_CONV", "TransposeConvOptions", options), inputs, [layer.output])


CASES = [
    transpose_conv_case("int8 per-channel SAME stride 2", 1),
    transpose_conv_case("int8 per-tensor VALID stride 2x1, 3x2 filter", 2, per_channel=False, padding=VALID,
                        strides=(2, 1), kernel=(3, 2), input_shape=(1, 4, 6, 5)),
    transpose_conv_case("int8 no bias, batch 2, stride 1, RELU", 3, bias="absent", strides=(1, 1),
                        input_shape=(2, 4, 4, 2), activation="RELU"),
    transpose_conv_case("int8 stride 3, 2x2 filter (gaps between windows), RELU6", 4, strides=(3, 3),
                        kernel=(2, 2), padding=VALID, activation="RELU6"),
    transpose_conv_case("int8 SAME with an odd output size", 5, output_hw=(9, 7), input_shape=(1, 5, 4, 3)),
    transpose_conv_case("16x8 int64 bias SAME stride 2, RELU_N1_TO_1", 6, dtype="INT16",
                        activation="RELU_N1_TO_1"),
    transpose_conv_case("16x8 int64 bias per-tensor VALID 1x1 channels 16", 7, dtype="INT16", per_channel=False,
                        padding=VALID, kernel=(1, 1), strides=(1, 1), input_shape=(1, 3, 3, 16)),
    transpose_conv_case("16x8 int16 bias (widened in scratch), VALID stride 2x1", 8, dtype="INT16",
                        bias_type="INT16", padding=VALID, strides=(2, 1), kernel=(3, 4)),
    transpose_conv_case("16x8 no bias (int64 accumulator even with quantized_bias_type INT32), RELU", 12,
                        dtype="INT16", bias="absent", quantized_bias_type=2, activation="RELU",
                        input_shape=(2, 3, 4, 6)),
    transpose_conv_case("float32 SAME stride 2", 9, dtype="FLOAT32"),
    transpose_conv_case("float32 no bias VALID 4x3 filter, RELU", 10, dtype="FLOAT32", bias="absent",
                        padding=VALID, kernel=(4, 3), strides=(2, 3), activation="RELU"),
]


def test_transpose_conv_matches_tflm_bit_for_bit_across_options(oracle):
    compare_cases_with_tflm(oracle, CASES, seeds=(0, 1, 2))


@pytest.mark.parametrize("case", [CASES[0], CASES[3], CASES[5], CASES[7], CASES[8]], ids=lambda c: c.label)
def test_planned_head_with_scratch_buffers_equals_tflm(oracle, case):
    model = single_op_model(case.op, case.inputs, case.outputs)
    interp = Interpreter(model_content=model)
    interp.allocate_tensors()
    assert interp.memory_plan.head == oracle.tflm_arena(model).head


def test_two_transpose_convs_in_one_graph_plan_like_tflm(oracle):
    first = transpose_conv_case("first", 11, input_shape=(1, 3, 3, 4), out_channels=8)
    second = transpose_conv_case("second", 12, input_shape=(1, 6, 6, 8), out_channels=2)
    second.inputs[2] = first.outputs[0]
    model = graph_model([(c.op, c.inputs, c.outputs) for c in (first, second)], outputs=second.outputs)
    interp = Interpreter(model_content=model)
    interp.allocate_tensors()
    assert interp.memory_plan.head == oracle.tflm_arena(model).head


def _allocate(case: Case) -> None:
    Interpreter(model_content=single_op_model(case.op, case.inputs, case.outputs)).allocate_tensors()


def test_output_shape_tensor_disagreeing_with_output_is_inconsistent():
    case = transpose_conv_case("bad output_shape")
    case.inputs[0] = T("INT32", (4,), data=np.array([1, 10, 8, 5], np.int32))
    with pytest.raises(InconsistentModelError, match=r"op 0 \(TRANSPOSE_CONV\).*output_shape .* holds"):
        _allocate(case)


def test_input_size_not_matching_output_and_strides_is_inconsistent():
    case = transpose_conv_case("bad input size")
    case.inputs[2].shape = (1, 4, 4, 3)
    with pytest.raises(InconsistentModelError, match=r"op 0 \(TRANSPOSE_CONV\).*needs 5 x 4"):
        _allocate(case)


def test_filter_depth_not_matching_input_channels_is_inconsistent():
    case = transpose_conv_case("bad depth")
    case.inputs[2].shape = (1, 5, 4, 2)
    with pytest.raises(InconsistentModelError, match=r"op 0 \(TRANSPOSE_CONV\).*input depth 3"):
        _allocate(case)


def test_wrong_bias_length_is_inconsistent():
    case = transpose_conv_case("bad bias")
    case.inputs[3] = T("INT32", (3,), 1e-4, 0, np.zeros(3, np.int32))
    with pytest.raises(InconsistentModelError, match=r"op 0 \(TRANSPOSE_CONV\).*3 elements, expected 4"):
        _allocate(case)


def test_int16_nonzero_zero_point_is_inconsistent():
    case = transpose_conv_case("int16 zero point", dtype="INT16")
    case.outputs[0].zero_point = 2
    with pytest.raises(InconsistentModelError, match=r"op 0 \(TRANSPOSE_CONV\).*zero point 2, expected 0"):
        _allocate(case)


def test_hybrid_and_unsupported_bias_types_are_unsupported():
    # TFLM's 16x8 kernel reads an int32 bias as int64 (garbage), so that combination is refused.
    hybrid = transpose_conv_case("hybrid", dtype="FLOAT32")
    hybrid.inputs[1] = transpose_conv_case("int8").inputs[1]
    with pytest.raises(UnsupportedOperatorError, match=r"op 0 \(TRANSPOSE_CONV\).*FLOAT32 with filter type INT8"):
        _allocate(hybrid)
    int32_bias = transpose_conv_case("16x8 int32 bias", dtype="INT16", bias_type="INT32")
    with pytest.raises(UnsupportedOperatorError, match=r"op 0 \(TRANSPOSE_CONV\).*INT32; 16x8 supports INT64"):
        _allocate(int32_bias)
    int8_bias = transpose_conv_case("int8 bias")
    int8_bias.inputs[3] = T("INT8", (4,), 0.01, 0, np.zeros(4, np.int8))
    with pytest.raises(UnsupportedOperatorError, match=r"op 0 \(TRANSPOSE_CONV\).*INT8.*expected INT32"):
        _allocate(int8_bias)
