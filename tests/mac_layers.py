"""Random layers for the multiply-accumulate op tests (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED).

int8_layer/float_layer make weights, bias and quantization whose outputs mostly stay inside the int8
range, so comparisons exercise requantization rather than saturation. MULTIPLIER_PROBE holds scales
for which two plausible ways of computing the requantization multiplier disagree.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from opmodels import T

SAME, VALID = 0, 1
ACTIVATIONS = {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3}


@dataclass
class Layer:
    """The tensors of one quantized or float layer, ready to become an op's inputs and output."""
    input: T
    filter: T
    bias: T
    output: T


#: Standard deviation of a uniform int8 / int16 value, and the output std a layer aims at (in steps).
_VALUE_STD = {"INT8": 74.0, "INT16": 18918.0}
_OUTPUT_STD = {"INT8": 40.0, "INT16": 9000.0}


def int8_layer(rng: np.random.Generator, input_shape: Sequence[int], weight_shape: Sequence[int],
               output_shape: Sequence[int], channel_axis: int, taps: int, per_channel: bool,
               filter_zp: int = 0, activation: str = "INT8", bias: str = "INT32") -> Layer:
    """Random int8 weights (per-channel scales along channel_axis, or one scale), a bias of type `bias`
    with scale s_in * s_w, random input/output quantization; taps = products summed per output.

    activation "INT16" makes a 16x8 layer: int16 input/output with zero point 0 (the same draws as
    int8, so the weights of a case do not depend on its activation type).
    """
    channels = weight_shape[channel_axis]
    s_in, zp_in = float(rng.uniform(0.01, 0.1)), int(rng.integers(-128, 128))
    scales = rng.uniform(0.002, 0.02, channels if per_channel else 1)
    # A uniform int8 weight has a std of ~74.
    acc_std = 74.0 * _VALUE_STD[activation] * np.sqrt(taps)
    s_out = float(s_in * scales.mean() * acc_std / _OUTPUT_STD[activation])
    weights = rng.integers(-127, 128, weight_shape).astype(np.int8)
    bias_values = rng.integers(-acc_std, acc_std, channels).astype(T(bias, ()).dtype)
    zp_out = int(rng.integers(-20, 20))
    if activation == "INT16":
        zp_in = zp_out = 0
    return Layer(
        T(activation, input_shape, s_in, zp_in, name="input"),
        T("INT8", weight_shape, list(scales), [filter_zp] * scales.size, weights, channel_axis, "filter"),
        T(bias, (channels,), list(s_in * np.broadcast_to(scales, (channels,))), 0, bias_values, name="bias"),
        T(activation, output_shape, s_out, zp_out, name="output"))


def float_layer(rng: np.random.Generator, input_shape: Sequence[int], weight_shape: Sequence[int],
                output_shape: Sequence[int], channel_axis: int) -> Layer:
    """Random float32 weights and bias (standard normal)."""
    channels = weight_shape[channel_axis]
    return Layer(T("FLOAT32", input_shape, name="input"),
                 T("FLOAT32", weight_shape, data=rng.standard_normal(weight_shape).astype(np.float32),
                   name="filter"),
                 T("FLOAT32", (channels,), data=rng.standard_normal(channels).astype(np.float32), name="bias"),
                 T("FLOAT32", output_shape, name="output"))


def bias_inputs(layer: Layer, bias: str) -> list[T | None]:
    """The op inputs for a bias mode: "given", "absent" (two inputs) or "omitted" (index -1)."""
    return {"given": [layer.input, layer.filter, layer.bias], "absent": [layer.input, layer.filter],
            "omitted": [layer.input, layer.filter, None]}[bias]


#: Scales whose multiplier differs between double(s_in) * double(s_w) / double(s_out) (1313193261,
#: shift -16) and float32(s_in * s_w) / s_out (1313193234): an accumulator of 2840056 requantizes to
#: 27 with the first and 26 with the second. Found by a search over random scales.
MULTIPLIER_PROBE = dict(s_in=0.07965604215860367, s_w=0.009899811819195747, s_out=84.51364135742188,
                        accumulator=2840056)


def multiplier_probe_layer(input_shape: Sequence[int], weight_shape: Sequence[int],
                           output_shape: Sequence[int]) -> tuple[Layer, np.ndarray]:
    """A one-weight layer (weight 1, zero points 0, bias MULTIPLIER_PROBE's accumulator) and an input
    holding all 256 int8 values, so the outputs cover the accumulators around the telling one."""
    p = MULTIPLIER_PROBE
    layer = Layer(T("INT8", input_shape, p["s_in"], 0, name="input"),
                  T("INT8", weight_shape, p["s_w"], 0, np.ones(weight_shape, np.int8), name="filter"),
                  T("INT32", (1,), p["s_in"] * p["s_w"], 0, np.array([p["accumulator"]], np.int32), name="bias"),
                  T("INT8", output_shape, p["s_out"], 0, name="output"))
    return layer, np.arange(-128, 128, dtype=np.int8).reshape(input_shape)
