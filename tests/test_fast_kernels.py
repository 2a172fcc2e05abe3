"""The int8 fast kernels (microinterp/_kernels/steps) give the reference templates' bits: both the SIMD
and the portable inner products, on odd depths and channel counts, padding, strides, dilation, batches
and extreme zero points and weights. Their agreement with TFLM itself is checked by the op and model
conformance tests, which run them whenever a model has int8 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED.
"""
from __future__ import annotations

import numpy as np
import pytest

from microinterp._kernels import conv as conv_kernels
from microinterp._kernels import fully_connected as fc_kernels
from microinterp._kernels import steps

INT8 = ("int8_t", "int8_t", "int32_t")


def _requant(rng, channels):
    multiplier = rng.integers(1 << 30, (1 << 31) - 1, channels, dtype=np.int32)
    shift = rng.integers(-14, -8, channels).astype(np.int32)
    return multiplier, shift


def _int8(rng, shape):
    return rng.integers(-128, 128, shape, dtype=np.int8)


CONV_CASES = [  # (input shape, out channels, kernel, strides, dilation, pads, input zp)
    ((1, 7, 9, 3), 8, (3, 3), (2, 2), (1, 1), (1, 1), -128),
    ((2, 6, 5, 17), 37, (1, 1), (1, 1), (1, 1), (0, 0), 127),
    ((1, 8, 8, 5), 3, (3, 2), (1, 2), (2, 1), (2, 0), 5),
    ((1, 4, 4, 64), 40, (2, 2), (1, 1), (1, 1), (1, 1), 0),
]


@pytest.mark.parametrize("portable", [False, True], ids=["simd", "portable"])
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_conv_matches_template(case, portable):
    shape, out_c, (kh, kw), (sh, sw), (dh, dw), (pt, pl), zp = CONV_CASES[case]
    rng = np.random.default_rng(case)
    x, w = _int8(rng, shape), _int8(rng, (out_c, kh, kw, shape[3]))
    bias = rng.integers(-5000, 5000, out_c, dtype=np.int32)
    multiplier, shift = _requant(rng, out_c)
    out_h, out_w = (shape[1] + 2 * pt - dh * (kh - 1) - 1) // sh + 1, (shape[2] + 2 * pl - dw * (kw - 1) - 1) // sw + 1
    expected, got = (np.zeros((shape[0], out_h, out_w, out_c), np.int8) for _ in range(2))
    args = (sh, sw, dh, dw, pt, pl, zp, -3, multiplier, shift, -120, 127)
    conv_kernels.conv_2d[INT8](x, w, bias, expected, *args)
    steps.Int8ConvStep(x, w, bias, got, *args, portable=portable)()
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("portable", [False, True], ids=["simd", "portable"])
@pytest.mark.parametrize("batches,depth,units,filter_zp", [(1, 1, 1, 0), (3, 33, 19, -7), (2, 256, 64, 0)])
def test_fully_connected_matches_template(batches, depth, units, filter_zp, portable):
    rng = np.random.default_rng(depth)
    x, w = _int8(rng, (batches, depth)), _int8(rng, (units, depth))
    bias = rng.integers(-5000, 5000, units, dtype=np.int32)
    multiplier, shift = _requant(rng, units)
    expected, got = (np.zeros((batches, units), np.int8) for _ in range(2))
    fc_kernels.fully_connected[INT8](x, w, bias, expected, -128, filter_zp, 4, multiplier, shift, -128, 127)
    steps.Int8FullyConnectedStep(x, w, bias, got, -128, filter_zp, 4, multiplier, shift, -128, 127,
                                 portable=portable)()
    np.testing.assert_array_equal(got, expected)


DEPTHWISE_CASES = [  # (input shape, kernel, strides, dilation, pads, input zp)
    ((1, 9, 7, 3), (3, 3), (1, 1), (1, 1), (1, 1), -128),
    ((2, 10, 10, 37), (3, 3), (2, 2), (1, 1), (0, 1), 127),
    ((1, 8, 8, 16), (3, 3), (1, 2), (2, 2), (2, 2), 3),
    ((1, 6, 5, 1), (3, 3), (1, 1), (1, 1), (1, 1), 127),
    ((1, 12, 12, 8), (3, 3), (1, 1), (1, 1), (1, 1), -128),
    ((1, 11, 9, 15), (5, 5), (2, 1), (1, 1), (2, 2), 127),
    ((2, 7, 6, 16), (1, 3), (1, 1), (1, 2), (0, 2), -128),
    ((1, 5, 8, 24), (2, 2), (1, 1), (1, 1), (0, 0), 0),
    ((1, 9, 10, 40), (3, 3), (2, 2), (1, 1), (1, 1), -7),
    ((1, 25, 5, 64), (3, 3), (1, 1), (1, 1), (1, 1), 127),
    ((1, 6, 7, 47), (3, 3), (1, 1), (1, 1), (1, 1), -128),  # blocks of 32, 8 and an overlapping 8
    ((2, 5, 5, 112), (3, 2), (2, 1), (1, 2), (1, 1), 100),  # blocks of 32 and 16
    ((1, 4, 3, 64), (5, 5), (1, 1), (2, 1), (4, 3), -128),  # pads wider than the image: no interior
    ((1, 3, 4, 8), (2, 2), (3, 3), (1, 1), (3, 3), 5),  # some pixels have no in-image tap at all
]


@pytest.mark.parametrize("portable", [False, True], ids=["simd", "portable"])
@pytest.mark.parametrize("case", range(len(DEPTHWISE_CASES)))
@pytest.mark.parametrize("values", ["random", "extreme"])
def test_depthwise_matches_template(case, values, portable):
    shape, (kh, kw), (sh, sw), (dh, dw), (pt, pl), zp = DEPTHWISE_CASES[case]
    rng = np.random.default_rng(case)
    channels = shape[3]
    if values == "random":
        x, w = _int8(rng, shape), _int8(rng, (1, kh, kw, channels))
    else:  # the largest products and sums, of either sign
        x = rng.choice(np.array([-128, 127], np.int8), shape)
        w = np.full((1, kh, kw, channels), -128, np.int8)
    bias = rng.integers(-5000, 5000, channels, dtype=np.int32)
    multiplier, shift = _requant(rng, channels)
    out_h, out_w = (shape[1] + 2 * pt - dh * (kh - 1) - 1) // sh + 1, (shape[2] + 2 * pl - dw * (kw - 1) - 1) // sw + 1
    expected, got = (np.zeros((shape[0], out_h, out_w, channels), np.int8) for _ in range(2))
    args = (sh, sw, dh, dw, pt, pl, zp, 6, multiplier, shift, -128, 100)
    conv_kernels.depthwise_conv_2d[INT8](x, w, bias, expected, np.zeros(channels, np.int32), 1, *args)
    steps.Int8DepthwiseStep(x, w, bias, got, *args, portable=portable)()
    np.testing.assert_array_equal(got, expected)
