"""int4 packed filters of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED: outputs bit-exact with TFLM and the
planned arena head equal to TFLM's (TFLM unpacks the filter into a scratch buffer of one byte per element)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from microinterp.errors import UnsupportedOperatorError
from mac_layers import VALID
from microinterp.ops.int4 import unpack_int4
from opmodels import assert_head_matches_tflm, Case, T, compare_cases_with_tflm, pack_int4, prepare_op, single_op_model
from test_op_conv import conv_case
from test_op_depthwise_conv import depthwise_case
from test_op_fully_connected import fc_case


def with_int4_filter(case: Case) -> Case:
    """The case with its int8 filter squeezed to int4 values (-8..7) and its filter and bias scales x16."""
    filter = case.inputs[1]
    scales = np.asarray(filter.scale, np.float64) * 16
    values = np.clip(np.asarray(filter.data, np.int16) // 16, -8, 7).astype(np.int8)
    int4 = dataclasses.replace(filter, type="INT4", data=values, scale=list(scales))
    rest = [t if t is None or t.scale is None else dataclasses.replace(t, scale=list(np.asarray(t.scale) * 16))
            for t in case.inputs[2:]]  # the bias scale stays s_in x s_filter
    return dataclasses.replace(case, label=f"{case.label} (int4 filter)", inputs=[case.inputs[0], int4, *rest])


CASES = [
    with_int4_filter(conv_case("int8 per-channel SAME RELU", 1, activation="RELU")),
    with_int4_filter(conv_case("int8 per-tensor VALID stride 2, odd filter size", 2, per_channel=False, padding=VALID,
                               strides=(2, 2), kernel=(3, 3), input_shape=(1, 9, 9, 3), out_channels=5)),
    with_int4_filter(depthwise_case("int8 per-channel SAME RELU6", 1, activation="RELU6")),
    with_int4_filter(depthwise_case("int8 multiplier 3, odd filter size", 3, multiplier=3, input_shape=(1, 8, 8, 1))),
    with_int4_filter(fc_case("int8 per-tensor RELU", 1, activation="RELU")),
    with_int4_filter(fc_case("int8 batch 3, odd filter size", 3, input_shape=(3, 7), units=5)),
]


def test_unpacking_matches_tflm_nibble_order():
    values = np.array([-8, 7, -1, 0, 3, -5, 6], np.int8)
    packed = np.frombuffer(pack_int4(values), np.uint8)
    assert packed.size == 4 and packed[0] == 0x78
    assert (unpack_int4(packed, values.size) == values).all()


def test_int4_filters_match_tflm(oracle):
    compare_cases_with_tflm(oracle, CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.label)
def test_int4_scratch_gives_tflm_arena_head(oracle, case):
    model = single_op_model(case.op, case.inputs, case.outputs)
    assert_head_matches_tflm(oracle, model)


@pytest.mark.parametrize("case, why", [(with_int4_filter(fc_case("16x8", 4, dtype="INT16")), "INT16 input"),
                                       (with_int4_filter(fc_case("per-channel", 5, per_channel=True)), "per channel")])
def test_int4_filters_tflm_refuses_are_unsupported(case, why):
    with pytest.raises(UnsupportedOperatorError, match=rf"op 0 \(FULLY_CONNECTED\).*int4.*{why}"):
        prepare_op(single_op_model(case.op, case.inputs, case.outputs))
