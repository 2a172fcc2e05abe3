"""Requantization multipliers at the ends of the shift range: a scale ratio so small that the right
shift exceeds 31 flushes to multiplier 0 (TFLM's QuantizeMultiplier, compared live), and one so large
that the left shift exceeds 30 (an overflowing C shift TFLM only DCHECKs) is refused at prepare."""
from __future__ import annotations

import numpy as np
import pytest

from opmodels import Op, T, compare_with_tflm, graph_model, single_op_model
from microinterp import Interpreter
from microinterp.errors import InconsistentModelError


def requantize(scale_in: float, scale_out: float, zero_in: int = 3, zero_out: int = -7) -> bytes:
    return single_op_model(Op("QUANTIZE"), [T("INT8", (1, 64), scale_in, zero_in)],
                           [T("INT8", (1, 64), scale_out, zero_out)])


@pytest.mark.parametrize("exponent", [-33, -40, -60])
def test_scale_ratio_needing_a_right_shift_beyond_31_gives_tflms_outputs(oracle, exponent):
    # s_in / s_out = 2^exponent * 1.3: frexp's exponent is below -31.
    model = requantize(1.3 * 2.0 ** exponent, 1.0)
    values = np.arange(-128, 128, 4, dtype=np.int8).reshape(1, 64)
    compare_with_tflm(oracle, model, [[values]], f"QUANTIZE int8 ratio 2^{exponent}")


def test_scale_ratio_at_the_last_usable_right_shift_gives_tflms_outputs(oracle):
    model = requantize(0.75 * 2.0 ** -31, 1.0)  # frexp exponent -31: still a real multiplier
    values = np.arange(-128, 128, 4, dtype=np.int8).reshape(1, 64)
    compare_with_tflm(oracle, model, [[values]], "QUANTIZE int8 ratio 0.75 * 2^-31")


@pytest.mark.parametrize("ratio_exponent", [31, 40])
def test_scale_ratio_needing_a_left_shift_above_30_is_refused_naming_op_and_ratio(ratio_exponent):
    model = requantize(1.0, 2.0 ** -ratio_exponent)
    interp = Interpreter(model_content=model)
    with pytest.raises(InconsistentModelError,
                       match=rf"op 0 \(QUANTIZE\): requantization scale ratio {float(2 ** ratio_exponent)!r} "
                             rf"needs a left shift of {ratio_exponent + 1}, above 30"):
        interp.allocate_tensors()


def test_left_shift_of_exactly_30_is_accepted_and_matches_tflm(oracle):
    model = requantize(1.0, 2.0 ** -29 / 1.5)  # ratio 1.5 * 2^29: frexp exponent 30
    values = np.array([[0, 3, 4, 2] * 16], dtype=np.int8)
    compare_with_tflm(oracle, model, [[values]], "QUANTIZE int8 left shift 30")


def test_per_channel_conv_with_one_extreme_channel_is_refused_naming_the_op():
    filters = np.ones((2, 1, 1, 1), np.int8)
    nodes = [(Op("CONV_2D", "Conv2DOptions", {"padding": 1, "stride_w": 1, "stride_h": 1}),
              [T("INT8", (1, 2, 2, 1), 1.0, 0), T("INT8", (2, 1, 1, 1), [1.0, 2.0 ** 35], 0, data=filters),
               T("INT32", (2,), [1.0, 2.0 ** 35], 0, data=np.zeros(2, np.int32))],
              [T("INT8", (1, 2, 2, 2), 1.0, 0)])]
    with pytest.raises(InconsistentModelError, match=r"op 0 \(CONV_2D\): .*scale ratio .* left shift of 36"):
        Interpreter(model_content=graph_model(nodes)).allocate_tensors()
