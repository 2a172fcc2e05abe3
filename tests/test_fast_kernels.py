"""The int8 fast kernels (microinterp/_kernels/steps) give the reference templates' bits: both the SIMD
and the portable inner products, on odd depths and channel counts, padding, strides, dilation, batches
and extreme zero points and weights; ADD/SUB on sizes around the vector widths, every activation range
and a spread of shifts; AVERAGE_POOL_2D with clipped windows. Their agreement with TFLM itself is checked
by the op and model conformance tests, which run them whenever a model has int8 CONV_2D /
DEPTHWISE_CONV_2D / FULLY_CONNECTED / AVERAGE_POOL_2D, or ADD / SUB without broadcasting.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

from microinterp._kernels import conv as conv_kernels
from microinterp._kernels import elementwise as elementwise_kernels
from microinterp._kernels import fully_connected as fc_kernels
from microinterp._kernels import pooling as pooling_kernels
from microinterp._kernels import steps
from microinterp.cli.runner import ready_interpreter
from microinterp.ops.elementwise import BinaryOp, binary_params, broadcast_geometry
from microinterp.planning.access import WindowAccess
from microinterp.quantization import quantize_multiplier_smaller_than_one_exp

INT8 = ("int8_t", "int8_t", "int32_t")
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
#: Every int8 conv / depthwise / FC path this CPU runs (always the portable one and the VNNI emulation).
INT8_PATHS = steps.int8_paths()


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
    ((1, 9, 9, 3), 16, (3, 3), (1, 1), (1, 2), (1, 2), 7),  # width dilation: one run per tap, odd depth
    ((3, 5, 6, 8), 24, (3, 3), (1, 1), (1, 1), (1, 1), -128),  # pixel count not a multiple of the GEMM rows
    ((1, 5, 7, 6), 70, (2, 2), (1, 1), (1, 1), (0, 1), 127),  # wide tiles of 64 and a tail of 6 channels
    ((1, 9, 8, 3), 8, (3, 3), (2, 2), (1, 1), (1, 1), -128),  # two pixels per vector (AVX-512), an odd last row
    ((2, 5, 6, 7), 5, (3, 3), (1, 1), (1, 1), (1, 1), 17),  # pairs of pixels, 5 of their 8 lanes stored
    ((1, 3, 5, 4), 1, (1, 1), (1, 1), (1, 1), (0, 0), 127),  # one channel, 15 pixels: 8 then 7 (pairs, one odd)
    # images written in bands of output rows (IMAGE_BAND_BYTES), the overlap rows twice; pixels pending in
    # the GEMM across a band's end (33 columns), two batches
    ((2, 30, 33, 64), 24, (3, 3), (1, 1), (1, 1), (1, 1), -128),
    ((1, 24, 41, 96), 16, (5, 3), (2, 3), (2, 1), (3, 1), 9),  # one band's rows beyond the band bytes
    ((1, 31, 31, 160), 8, (1, 1), (2, 2), (1, 1), (0, 0), 3),  # a band skips the rows between strides
    # windows 16, 32 or 64 bytes apart (AVX-512: a strip GEMM per output row of at least 8 pixels), rows
    # of 8 and tails (and 6 apart: an RGB image at stride 2)
    ((1, 6, 13, 16), 16, (3, 3), (1, 1), (1, 1), (1, 1), -128),
    ((2, 9, 17, 16), 32, (3, 3), (2, 2), (1, 1), (1, 1), 4),
    ((1, 5, 6, 32), 48, (1, 1), (2, 2), (1, 1), (0, 0), -3),
    ((1, 4, 20, 32), 20, (3, 3), (1, 1), (1, 1), (1, 1), 0),
    # weights in panels of 32 rows (quad paths), tail tiles of 8 blocks reading across three panels
    ((1, 5, 11, 12), 96, (3, 3), (1, 1), (1, 1), (1, 1), 3),
    ((1, 21, 19, 3), 32, (3, 3), (2, 2), (1, 1), (1, 1), -128),
    # output rows in whole tiles of 4 pixels (AVX2: a strip GEMM per row): 16 pixels, two batches; an RGB
    # image at stride 2, rows of 8 + 4; 20 pixels in image bands of a few rows, 8 channels
    ((2, 9, 16, 8), 24, (3, 3), (1, 1), (1, 1), (1, 1), -5),
    ((1, 11, 24, 3), 16, (3, 3), (2, 2), (1, 1), (1, 1), 9),
    ((1, 40, 20, 32), 8, (3, 3), (1, 1), (1, 1), (1, 1), 0),
]

#: CONV_CASES whose windows are a strip GEMM's step apart, with that step (on AVX-512 VNNI)
STRIP_CASES = {4: 3, 6: 6, 10: 64, 13: 16, 14: 32, 16: 32, 18: 6, 20: 6}


def strip_step(case: int, path: str) -> int:
    """The step (bytes) of the strip GEMM a CONV_CASES case binds on a path, 0 for none: AVX-512 VNNI's
    STRIP_CASES; on AVX2 every case whose GEMM writes all its channels (a multiple of 8) for output rows of
    at least 8 pixels in whole tiles of 4, read from the int16 image (a 1x1 conv of depth 32 or more loads
    pixels instead)."""
    if path == "avx512_vnni":
        return STRIP_CASES.get(case, 0)
    shape, out_c, (kh, kw), (sh, sw), (dh, dw), (pt, pl), _ = CONV_CASES[case]
    out_w = (shape[2] + 2 * pl - dw * (kw - 1) - 1) // sw + 1
    loads_pixels = kh == kw == 1 and pt == pl == 0 and shape[3] >= 32
    if path == "avx2" and out_c % 8 == 0 and out_w >= 8 and out_w % 4 == 0 and not loads_pixels:
        return sw * shape[3] * 2
    return 0


@pytest.mark.parametrize("path", INT8_PATHS)
@pytest.mark.parametrize("case", range(len(CONV_CASES)))
def test_conv_matches_template(case, path):
    """Channel 1, where there is one, has no weights, a bias near 2^30 and a right shift of 30, as the dead
    channels of real models have (the AVX-512 step writes such a channel's output as a constant)."""
    shape, out_c, (kh, kw), (sh, sw), (dh, dw), (pt, pl), zp = CONV_CASES[case]
    rng = np.random.default_rng(case)
    x, w = _int8(rng, shape), _int8(rng, (out_c, kh, kw, shape[3]))
    bias = rng.integers(-5000, 5000, out_c, dtype=np.int32)
    multiplier, shift = _requant(rng, out_c)
    if out_c > 1:
        w[1], bias[1], shift[1] = 0, -(1 << 30) + 64 * case, -30
    out_h, out_w = (shape[1] + 2 * pt - dh * (kh - 1) - 1) // sh + 1, (shape[2] + 2 * pl - dw * (kw - 1) - 1) // sw + 1
    expected, got = (np.zeros((shape[0], out_h, out_w, out_c), np.int8) for _ in range(2))
    args = (sh, sw, dh, dw, pt, pl, zp, -3, multiplier, shift, -120, 127)
    conv_kernels.conv_2d[INT8](x, w, bias, expected, *args)
    step = steps.Int8ConvStep(x, w, bias, got, *args, path=path)
    step()
    np.testing.assert_array_equal(got, expected)
    assert step.strip_step == strip_step(case, path)


@pytest.mark.parametrize("path", INT8_PATHS)
@pytest.mark.parametrize("shape,out_c", [((2, 5, 7, 32), 24), ((1, 3, 11, 64), 70), ((1, 24, 1, 128), 128)])
def test_pointwise_conv_reading_its_input_in_place_matches_template_and_restores_the_input(shape, out_c, path):
    """A 1x1 conv at stride 1 flips its input's sign bits in place on the quad paths (no image)."""
    rng = np.random.default_rng(out_c)
    x, w = _int8(rng, shape), _int8(rng, (out_c, 1, 1, shape[3]))
    bias = rng.integers(-5000, 5000, out_c, dtype=np.int32)
    multiplier, shift = _requant(rng, out_c)
    args = (1, 1, 1, 1, 0, 0, -7, 5, multiplier, shift, -128, 127)
    expected, got = (np.zeros(shape[:3] + (out_c,), np.int8) for _ in range(2))
    conv_kernels.conv_2d[INT8](x, w, bias, expected, *args)
    given = x.copy()
    step = steps.Int8ConvStep(x, w, bias, got, *args, path=path)
    step()
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(x, given)
    assert step.reads_input_in_place == step.gemm.quads


@pytest.mark.parametrize("path", INT8_PATHS)
@pytest.mark.parametrize("shape,out_c,stride", [
    ((2, 3, 5, 33), 16, (1, 1)),  # odd depth; runs of adjacent pixels across rows and batches
    ((1, 7, 9, 32), 24, (1, 2)),  # one pixel per load along a row
    ((1, 8, 6, 48), 40, (2, 1)),  # runs of a row's pixels, every other row
    ((1, 4, 4, 16), 8, (1, 1)),  # too few channels: a band's loads
])
def test_pointwise_conv_loading_its_pixels_matches_template(shape, out_c, stride, path):
    """A 1x1 conv without padding on a pair path loads each GEMM call's pixels (no 16-bit image) when
    they have PIXEL_LOADS_FROM channels or more."""
    rng = np.random.default_rng(shape[3])
    x, w = _int8(rng, shape), _int8(rng, (out_c, 1, 1, shape[3]))
    bias = rng.integers(-5000, 5000, out_c, dtype=np.int32)
    multiplier, shift = _requant(rng, out_c)
    args = (*stride, 1, 1, 0, 0, 9, -4, multiplier, shift, -128, 127)
    out_shape = (shape[0], (shape[1] - 1) // stride[0] + 1, (shape[2] - 1) // stride[1] + 1, out_c)
    expected, got = (np.zeros(out_shape, np.int8) for _ in range(2))
    conv_kernels.conv_2d[INT8](x, w, bias, expected, *args)
    step = steps.Int8ConvStep(x, w, bias, got, *args, path=path)
    step()
    np.testing.assert_array_equal(got, expected)
    assert step.loads_pixels == (not step.gemm.quads and shape[3] >= 32)


@pytest.mark.parametrize("path", INT8_PATHS)
@pytest.mark.parametrize("depth", [16, 32])
def test_pointwise_conv_copies_an_input_it_may_not_flip(depth, path):
    """Read-only, or sharing memory with the output: the input goes into an image as for any conv (or,
    on a pair path with 32 channels, each GEMM call's pixels into the workspace before their outputs)."""
    rng = np.random.default_rng(3)
    x, w = _int8(rng, (1, 4, 6, depth)), _int8(rng, (depth, 1, 1, depth))
    bias = rng.integers(-5000, 5000, depth, dtype=np.int32)
    multiplier, shift = _requant(rng, depth)
    args = (1, 1, 1, 1, 0, 0, 3, -2, multiplier, shift, -128, 127)
    expected = np.zeros((1, 4, 6, depth), np.int8)
    conv_kernels.conv_2d[INT8](x, w, bias, expected, *args)
    readonly = x.copy()
    readonly.flags.writeable = False
    got = np.zeros_like(expected)
    step = steps.Int8ConvStep(readonly, w, bias, got, *args, path=path)
    step()
    assert not step.reads_input_in_place
    np.testing.assert_array_equal(got, expected)
    shared = x.copy()  # the output written over the input, as an in-place plan places it
    step = steps.Int8ConvStep(shared, w, bias, shared, *args, path=path)
    step()
    assert not step.reads_input_in_place
    np.testing.assert_array_equal(shared, expected)


@pytest.mark.parametrize("path", INT8_PATHS)
@pytest.mark.parametrize("out_c,dead,skipped", [
    (70, range(10, 60), 50),  # dead channels across two blocks of 64, a live tail
    (24, list(range(16)) + [20, 22], 18),  # 6 live channels left: two pixels per vector on AVX-512
    (130, range(1, 130, 2), 65),  # every other channel, three blocks of 64
    (40, range(15), 0),  # fewer than 16 dead: computed, as constant channels
    (20, range(20), 0),  # no live channel: nothing to skip for
])
def test_conv_skipping_dead_channels_matches_template(out_c, dead, skipped, path):
    """Output channels without weights (a bias near +-2^30 and a right shift of 30, as in real models)
    are not computed when there are at least 16: each pixel gets their constants around the live
    channels' outputs, with the template's bits."""
    rng = np.random.default_rng(out_c)
    x, w = _int8(rng, (2, 6, 7, 5)), _int8(rng, (out_c, 3, 3, 5))
    bias = rng.integers(-5000, 5000, out_c, dtype=np.int32)
    multiplier, shift = _requant(rng, out_c)
    dead = list(dead)
    w[dead], shift[dead] = 0, -30
    bias[dead] = rng.choice([-1, 1], len(dead)) * (1 << 30) + rng.integers(-200, 200, len(dead))
    expected, got = (np.zeros((2, 6, 7, out_c), np.int8) for _ in range(2))
    args = (1, 1, 1, 1, 1, 1, -7, 3, multiplier, shift, -128, 127)
    conv_kernels.conv_2d[INT8](x, w, bias, expected, *args)
    step = steps.Int8ConvStep(x, w, bias, got, *args, path=path)
    step()
    assert step.dead_channels_skipped == skipped
    np.testing.assert_array_equal(got, expected)
    assert len(np.unique(got[..., dead[0]])) == 1


@pytest.mark.parametrize("path", INT8_PATHS)
@pytest.mark.parametrize("batches,depth,units,filter_zp", [(1, 1, 1, 0), (3, 33, 19, 0), (2, 256, 64, 0), (9, 40, 16, 3),
                                                          (11, 70, 45, 0),
                                                          # panels of 128 and 32 rows (a tail across 4)
                                                          (1, 64, 640, 0), (9, 48, 160, 0)])
def test_fully_connected_matches_template(batches, depth, units, filter_zp, path):
    rng = np.random.default_rng(depth)
    x, w = _int8(rng, (batches, depth)), _int8(rng, (units, depth))
    w = np.clip(w, max(-128, -128 + filter_zp), min(127, 127 + filter_zp))  # centered weights stay int8
    bias = rng.integers(-5000, 5000, units, dtype=np.int32)
    multiplier, shift = _requant(rng, units)
    expected, got = (np.zeros((batches, units), np.int8) for _ in range(2))
    fc_kernels.fully_connected[INT8](x, w, bias, expected, -128, filter_zp, 4, multiplier, shift, -128, 127)
    steps.Int8FullyConnectedStep(x, w, bias, got, -128, filter_zp, 4, multiplier, shift, -128, 127, path=path)()
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("path", INT8_PATHS)
def test_int8_weights_cut_into_panels_match_template(monkeypatch, path):
    """Weights above steps.PANELS_FROM bytes are packed in panels as wide as the main tile (vnni_gemm.h);
    with the threshold at 0 every GEMM of several blocks takes them: convs and FCs of 2-10 panels, tail
    tiles across panels, channel tails."""
    monkeypatch.setattr(steps, "PANELS_FROM", 0)
    for case in (1, 3, 6, 10, 17):
        test_conv_matches_template(case, path)
    for args in ((1, 64, 640, 0), (9, 48, 160, 0), (3, 33, 70, 0), (11, 70, 45, 0)):
        test_fully_connected_matches_template(*args, path)
    x, w = np.zeros((9, 48), np.int8), np.zeros((160, 48), np.int8)
    ones = np.ones(160, np.int32)
    step = steps.Int8FullyConnectedStep(x, w, ones, np.zeros((9, 160), np.int8), 0, 0, 0, ones << 30, -ones, -128,
                                        127, path=path)
    assert step.gemm.panel_rows == (32 if path in ("avx512_vnni", "avx_vnni", "vnni_emulated") else 16)


@pytest.mark.parametrize("path", INT8_PATHS)
@pytest.mark.parametrize("units,batches", [(8, 1), (5, 3), (3, 9), (40, 9), (16, 2)])
@pytest.mark.parametrize("multiplier,shift", [(1 << 30, 0), (1518500250, -23), (INT32_MAX, 3), (1 << 30, -31),
                                              (1234567890, -7)])
@pytest.mark.parametrize("output_zp,act_min,act_max", [(0, -128, 127), (-128, -128, 127), (17, -100, 90)])
def test_per_tensor_requantization_matches_template(units, batches, multiplier, shift, output_zp, act_min, act_max,
                                                    path):
    """One multiplier and shift for every channel (per-tensor quantization, most FC layers), which the
    AVX-512 step broadcasts instead of reading per-channel arrays; at most 8 units take its 8-row tile.
    A right shift of 31 is outside its domain: the tile then stores the sums for the scalar step."""
    rng = np.random.default_rng(units * batches - shift)
    x, w = _int8(rng, (batches, 24)), _int8(rng, (units, 24))
    bias = rng.integers(-(1 << 20), 1 << 20, units, dtype=np.int32)
    bias[0] = INT32_MIN  # a sum past the negative end, saturating
    multipliers, shifts = np.full(units, multiplier, np.int32), np.full(units, shift, np.int32)
    args = (3, 0, output_zp, multipliers, shifts, act_min, act_max)
    expected, got = (np.zeros((batches, units), np.int8) for _ in range(2))
    fc_kernels.fully_connected[INT8](x, w, bias, expected, *args)
    steps.Int8FullyConnectedStep(x, w, bias, got, *args, path=path)()
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("path", INT8_PATHS)
@pytest.mark.parametrize("out_c", [1, 5, 8])
def test_narrow_conv_outside_the_vector_requantization_matches_template(out_c, path):
    """At most 8 output channels with a right shift past 23 (outside the AVX-512 step's domain): no pair
    layout there, the 8-row tile stores its sums for the scalar step."""
    rng = np.random.default_rng(out_c)
    x, w = _int8(rng, (2, 6, 9, 12)), _int8(rng, (out_c, 3, 3, 12))
    bias = rng.integers(-(1 << 29), 1 << 29, out_c, dtype=np.int32)
    multiplier, shift = _requant(rng, out_c)
    shift[0] = -27
    expected, got = (np.zeros((2, 6, 9, out_c), np.int8) for _ in range(2))
    args = (1, 1, 1, 1, 1, 1, 5, -7, multiplier, shift, -128, 127)
    conv_kernels.conv_2d[INT8](x, w, bias, expected, *args)
    step = steps.Int8ConvStep(x, w, bias, got, *args, path=path)
    step()
    np.testing.assert_array_equal(got, expected)
    assert step.gemm.panel_rows == (16 if path == "vnni_emulated" else 8)  # one block of rows


@pytest.mark.parametrize("path", INT8_PATHS)
def test_requantization_saturating_multiplier_matches_template(path):
    # SRDHM(INT32_MIN, INT32_MIN) is its one saturating case: such a multiplier keeps the scalar step
    units = 16
    x, w = np.zeros((1, 4), np.int8), np.zeros((units, 4), np.int8)
    bias = np.full(units, -(1 << 31), np.int32)
    multiplier = np.full(units, -(1 << 31), np.int32)
    shift = np.zeros(units, np.int32)
    expected, got = (np.zeros((1, units), np.int8) for _ in range(2))
    fc_kernels.fully_connected[INT8](x, w, bias, expected, 0, 0, -3, multiplier, shift, -128, 127)
    steps.Int8FullyConnectedStep(x, w, bias, got, 0, 0, -3, multiplier, shift, -128, 127, path=path)()
    np.testing.assert_array_equal(got, expected)
    assert (got == 127).all()


def _full_range_requantization(rng, n, max_right_shift=31):
    """Sums, multipliers and shifts over the vector step's whole domain: half of them anywhere in int32
    (shifts -max_right_shift..31, saturating results, wrapping left shifts), half aimed at results inside
    int8, exact halves (ties of either rounding, either sign) among them."""
    acc = rng.integers(INT32_MIN, 1 << 31, n, dtype=np.int64)
    multiplier = rng.integers(INT32_MIN + 1, 1 << 31, n, dtype=np.int64)
    shift = rng.integers(-max_right_shift, 32, n)
    aimed = rng.random(n) < 0.5
    e = rng.integers(0, max_right_shift + 1, n)
    multiplier[aimed] = np.where(rng.random(n) < 0.3, 1 << 30, rng.integers(1 << 24, 1 << 31, n))[aimed]
    multiplier[aimed] *= rng.choice([-1, 1], n)[aimed]
    # x * multiplier / 2^(31 + e) lands near a target result, plus a small offset (0 at exact halves)
    target = rng.integers(-140, 141, n) + rng.choice([0.0, 0.5], n)
    x = np.round(target * 2.0 ** (31 + e) / multiplier) + rng.integers(-2, 3, n) * (rng.random(n) < 0.5)
    acc[aimed] = np.clip(x, INT32_MIN, INT32_MAX).astype(np.int64)[aimed]
    shift[aimed] = -e[aimed]
    corners = [(INT32_MIN, INT32_MAX, 0), (INT32_MAX, INT32_MAX, 0), (INT32_MIN, INT32_MIN + 1, 0),
               (INT32_MIN, INT32_MAX, -31), (INT32_MAX, INT32_MIN + 1, -31), (-1, 1 << 30, -1), (1, 1 << 30, -1)]
    for i, corner in enumerate(corners):
        acc[i], multiplier[i], shift[i] = corner
    return acc.astype(np.int32), multiplier.astype(np.int32), shift.astype(np.int32)


@pytest.mark.parametrize("path", INT8_PATHS)
@pytest.mark.parametrize("shifts", ["any", "up_to_23", "any_without_weights_past_23"])
@pytest.mark.parametrize("output_zp,act_min,act_max", [(0, -128, 127), (-128, -128, 127), (5, -100, 90),
                                                       (127, 0, 127)])
def test_requantization_over_the_int32_range_matches_template(output_zp, act_min, act_max, shifts, path):
    """The sums are the biases (zero inputs, weights 1 or 0): the GEMM's own output step (FC) and the
    depthwise one's, with a channel tail of 11. AVX-512 folds the zero point into its rounding offsets,
    which needs right shifts up to 23: any larger one sends the step to the scalar path, unless its
    channel has no weights (a constant channel, as real models have: its output goes in the offset)."""
    rng = np.random.default_rng(output_zp - act_min)
    n = 20011
    bias, multiplier, shift = _full_range_requantization(rng, n, 23 if shifts == "up_to_23" else 31)
    dead = (shift < -23) | (rng.random(n) < 0.1) if shifts == "any_without_weights_past_23" else np.zeros(n, bool)
    weights = np.where(dead, 0, 1).astype(np.int8)
    expected, got = (np.zeros((1, n), np.int8) for _ in range(2))
    args = (0, 0, output_zp, multiplier, shift, act_min, act_max)
    x, w = np.zeros((1, 4), np.int8), np.repeat(weights[:, None], 4, axis=1)
    fc_kernels.fully_connected[INT8](x, w, bias, expected, *args)
    steps.Int8FullyConnectedStep(x, w, bias, got, *args, path=path)()
    np.testing.assert_array_equal(got, expected)
    got = np.zeros((1, 1, 1, n), np.int8)
    args = (1, 1, 1, 1, 0, 0, 0, output_zp, multiplier, shift, act_min, act_max)
    steps.Int8DepthwiseStep(np.zeros(got.shape, np.int8), weights.reshape(1, 1, 1, n), bias, got, *args,
                            path=path)()
    np.testing.assert_array_equal(got.reshape(1, n), expected)


def test_int8_paths_follow_the_cpu_flags(monkeypatch):
    flags = set()
    try:
        flags = {f for line in open("/proc/cpuinfo") if line.startswith("flags") for f in line.split()[2:]}
    except OSError:
        pytest.skip("no /proc/cpuinfo")
    assert INT8_PATHS[-2:] == ("vnni_emulated", "portable")
    if steps.ISA_EMULATED:  # a build that emulates every extension (kernels/isa_emulation.h) runs them all
        assert INT8_PATHS == ("avx512_vnni", "avx_vnni", "avx2", "vnni_emulated", "portable")
        flags = {"avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx2"}
    assert ("avx512_vnni" in INT8_PATHS) == ({"avx512f", "avx512bw", "avx512vl", "avx512_vnni"} <= flags)
    assert ("avx2" in INT8_PATHS) == ("avx2" in flags)
    # the environment variable forces a path; one this CPU lacks or an unknown name is refused
    x, w, out = np.zeros((1, 4), np.int8), np.zeros((8, 4), np.int8), np.zeros((1, 8), np.int8)
    args = (np.zeros(8, np.int32), out, 0, 0, 0, np.ones(8, np.int32), np.zeros(8, np.int32), -128, 127)
    monkeypatch.setenv(steps.INT8_PATH_VARIABLE, "no_such_path")
    with pytest.raises(ValueError, match="unknown int8 path 'no_such_path'"):
        steps.Int8FullyConnectedStep(x, w, *args)
    steps.Int8FullyConnectedStep(x, w, *args, path="portable")  # an explicit path wins


def test_int8_steps_refuse_views_that_disagree_with_their_filter():
    x, w, out = np.zeros((1, 5, 5, 4), np.int8), np.zeros((8, 3, 3, 3), np.int8), np.zeros((1, 3, 3, 8), np.int8)
    per_channel = (np.zeros(8, np.int32), np.ones(8, np.int32), np.zeros(8, np.int32))
    with pytest.raises(ValueError, match="filter needs 3 input and 8 output channels"):
        steps.Int8ConvStep(x, w, per_channel[0], out, 1, 1, 1, 1, 0, 0, 0, 0, *per_channel[1:], -128, 127)
    with pytest.raises(ValueError, match="strides and dilations must be positive"):
        steps.Int8DepthwiseStep(x, np.zeros((1, 3, 3, 4), np.int8), per_channel[0][:4], np.zeros((1, 3, 3, 4), np.int8),
                                0, 1, 1, 1, 0, 0, 0, 0, per_channel[1][:4], per_channel[2][:4], -128, 127)
    # 20 output channels, 19 without weights: the dead-channel path checks before it picks channels out
    dead = np.zeros((20, 1, 1, 3), np.int8)
    dead[0] = 1
    with pytest.raises(ValueError, match="5 biases, 20 multipliers and 20 shifts for 20 channels"):
        steps.Int8ConvStep(np.zeros((1, 4, 4, 3), np.int8), dead, np.zeros(5, np.int32), np.zeros((1, 4, 4, 20), np.int8),
                           1, 1, 1, 1, 0, 0, 0, 0, np.ones(20, np.int32), np.zeros(20, np.int32), -128, 127)
    with pytest.raises(ValueError, match="2 biases, 8 multipliers and 8 shifts for 8 channels"):
        steps.Int8FullyConnectedStep(np.zeros((1, 4), np.int8), np.zeros((8, 4), np.int8), np.zeros(2, np.int32),
                                     np.zeros((1, 8), np.int8), 0, 0, 0, *per_channel[1:], -128, 127)
    with pytest.raises(ValueError, match="int8 fully connected step"):
        steps.Int8FullyConnectedStep(np.zeros((1, 5), np.int8), np.zeros((8, 4), np.int8), per_channel[0],
                                     np.zeros((1, 8), np.int8), 0, 0, 0, *per_channel[1:], -128, 127)


def test_fully_connected_weights_leaving_int8_once_centered_are_refused():
    weights = np.array([[-128, 5]], np.int8)
    assert steps.centered_weights(weights, 1) is None
    with pytest.raises(ValueError, match="leave int8"):
        steps.Int8FullyConnectedStep(np.zeros((1, 2), np.int8), weights, np.zeros(1, np.int32),
                                     np.zeros((1, 1), np.int8), 0, 1, 0, np.ones(1, np.int32),
                                     np.zeros(1, np.int32), -128, 127)


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
    ((1, 5, 6, 133), (3, 3), (1, 1), (1, 1), (1, 1), 9),  # two blocks of 64 and a masked tail of 5
    ((1, 6, 37, 4), (3, 3), (1, 1), (1, 1), (1, 1), -128),  # wide runs of 16 pixels, the last 3 in an overlapping one
    ((2, 4, 9, 32), (3, 3), (1, 1), (2, 1), (1, 1), 50),  # wide runs of 2 pixels, the one left in an overlapping one
    ((1, 7, 21, 16), (3, 3), (2, 2), (1, 1), (1, 1), -3),  # 9 interior pixels: two groups of four, then one
    ((1, 5, 12, 32), (3, 3), (2, 2), (1, 1), (0, 0), 0),  # groups of four pixels in two blocks of 16 channels
    ((2, 6, 19, 48), (3, 3), (1, 2), (1, 1), (1, 1), 77),  # three blocks of 16 channels per group
    ((1, 4, 11, 128), (3, 3), (1, 1), (1, 1), (1, 1), -20),  # four pixels by two blocks of 64, then one alone
    ((1, 3, 14, 72), (3, 3), (2, 1), (1, 1), (1, 1), 31),  # four pixels by a block of 64, each one's masked 8
    ((1, 5, 23, 8), (3, 3), (1, 1), (1, 1), (1, 1), -128),  # wide runs of 8 pixels: four of them at a time
    ((1, 9, 15, 96), (3, 3), (2, 2), (1, 1), (1, 1), 12),  # a block of 64, the last 32 channels four pixels at a time
    ((1, 5, 10, 144), (3, 3), (1, 1), (1, 1), (0, 1), -60),  # two blocks of 64 and 16 by groups of four, 2 left
    # rows longer than a span (DEPTHWISE_SPAN_VALUES sums, the output being smaller): summed and
    # requantized span by span
    ((1, 3, 50, 12), (3, 3), (1, 1), (1, 1), (1, 1), 7),  # chunks of 5 pixels, spans of 40
    ((1, 1, 9, 128), (1, 3), (1, 1), (1, 1), (0, 0), -128),  # spans of 4 pixels (a streaming column, transposed)
    ((1, 1, 30, 40), (5, 3), (2, 1), (1, 2), (2, 2), 3),  # spans of 12, the interior crossing them
    ((1, 1, 70, 16), (3, 3), (1, 1), (1, 1), (1, 1), -9),  # wide runs inside spans of 32
    ((1, 2, 150, 4), (3, 3), (1, 1), (1, 1), (1, 1), 60),  # chunks of 16, spans of 128
]


@pytest.mark.parametrize("path", INT8_PATHS)
@pytest.mark.parametrize("case", range(len(DEPTHWISE_CASES)))
@pytest.mark.parametrize("values", ["random", "extreme"])
def test_depthwise_matches_template(case, values, path):
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
    steps.Int8DepthwiseStep(x, w, bias, got, *args, path=path)()
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("path", INT8_PATHS)
def test_steps_sharing_the_workspace_requantize_with_their_own_parameters(path):
    """Convs and depthwise convs keep their requantization parameters as bytes and expand them into the
    shared workspace at each run (AVX-512): a step run after another must not read the other's."""
    rng = np.random.default_rng(5)
    runs = []
    for k, (depth, out_c, output_zp, shifts) in enumerate([(16, 48, -3, (-14, -8)), (48, 48, 20, (-9, -2))]):
        x, w = _int8(rng, (1, 6, 9, depth)), _int8(rng, (out_c, 3, 3, depth))
        bias = rng.integers(-5000, 5000, out_c, dtype=np.int32)
        multiplier = rng.integers(1 << 30, (1 << 31) - 1, out_c, dtype=np.int32)
        shift = rng.integers(*shifts, out_c).astype(np.int32)
        args = (1, 1, 1, 1, 1, 1, 3 * k, output_zp, multiplier, shift, -128, 127)
        expected, got = (np.zeros((1, 6, 9, out_c), np.int8) for _ in range(2))
        conv_kernels.conv_2d[INT8](x, w, bias, expected, *args)
        runs.append((steps.Int8ConvStep(x, w, bias, got, *args, path=path), got, expected))
        dw = np.ascontiguousarray(w[:, :, :, 0].transpose(1, 2, 0)[None]) if depth == out_c else None
        if dw is not None:
            expected, got = (np.zeros((1, 6, 9, out_c), np.int8) for _ in range(2))
            conv_kernels.depthwise_conv_2d[INT8](x, dw, bias, expected, np.zeros(out_c, np.int32), 1, *args)
            runs.append((steps.Int8DepthwiseStep(x, dw, bias, got, *args, path=path), got, expected))
    for step, got, expected in runs + runs[::-1] + runs:
        got[...] = 0
        step()
        np.testing.assert_array_equal(got, expected)


def _add_params(rng, zero_points, activation_range, left_shift=20):
    """ADD/SUB parameters as arithmetic.py derives them from random scales (shifts from 0 to about -25)."""
    s1, s2, s_out = 2.0 ** rng.uniform(-12, 2, 3)
    twice_max = 2 * max(s1, s2)
    (m1, e1), (m2, e2), (mo, eo) = (quantize_multiplier_smaller_than_one_exp(r) for r in
                                    (s1 / twice_max, s2 / twice_max, twice_max / ((1 << left_shift) * s_out)))
    return binary_params(input1_offset=-zero_points[0], input2_offset=-zero_points[1], output_offset=zero_points[2],
                         left_shift=left_shift, input1_multiplier=m1, input1_shift=e1, input2_multiplier=m2,
                         input2_shift=e2, output_multiplier=mo, output_shift=eo,
                         activation_min=activation_range[0], activation_max=activation_range[1])


def _check_add_sub(op, params, n, rng, path):
    x1, x2 = _int8(rng, n), _int8(rng, n)
    expected, got = np.zeros(n, np.int8), np.zeros(n, np.int8)
    kernel = elementwise_kernels.BinaryKernel(int(op), *broadcast_geometry((n,), (n,), (n,)), params)
    elementwise_kernels.binary["int8_t"](kernel, x1, x2, expected)
    steps.Int8AddStep(x1, x2, got, params, op == BinaryOp.SUB, path=path)()
    np.testing.assert_array_equal(got, expected)


ADD_ZERO_POINTS = [(0, 0, 0), (-128, 127, -128), (127, -128, 127), (-128, -128, 5)]
ACTIVATION_RANGES = [(-128, 127), (-30, 127), (-30, 20), (-1, 1), (100, 127)]


@pytest.mark.parametrize("path", INT8_PATHS)
@pytest.mark.parametrize("op", [BinaryOp.ADD, BinaryOp.SUB], ids=["add", "sub"])
@pytest.mark.parametrize("n", [1, 7, 8, 15, 16, 17, 31, 33, 40, 64, 65, 130, 1000])
def test_add_sub_matches_template(n, op, path):
    rng = np.random.default_rng(n + 1000 * int(op))
    for zero_points in ADD_ZERO_POINTS:
        for activation_range in ACTIVATION_RANGES:
            for _ in range(3):
                _check_add_sub(op, _add_params(rng, zero_points, activation_range), n, rng, path)


@pytest.mark.parametrize("path", INT8_PATHS)
@pytest.mark.parametrize("op", [BinaryOp.ADD, BinaryOp.SUB], ids=["add", "sub"])
def test_add_sub_matches_template_on_extreme_parameters(op, path):
    """Shifts at both ends of the vector range, any multiplier sign, sums that wrap, and a clamp range
    beyond int8 (which leaves every element to the scalar path)."""
    rng = np.random.default_rng(7)
    for left_shift in (0, 20, 31):
        for shift in (0, -1, -31):
            for multiplier in (0, 1, (1 << 30) + 12345, (1 << 31) - 1, -(1 << 31), -777):
                params = binary_params(input1_offset=128, input2_offset=-127, output_offset=-128,
                                       left_shift=left_shift, input1_multiplier=multiplier, input1_shift=shift,
                                       input2_multiplier=(1 << 31) - 1, input2_shift=-31 - shift,
                                       output_multiplier=multiplier, output_shift=-31 - shift,
                                       activation_min=-128, activation_max=127)
                _check_add_sub(op, params, 67, rng, path)
    _check_add_sub(op, _add_params(rng, (3, -4, 5), (-1000, 1000)), 67, rng, path)


@pytest.mark.parametrize("op", [BinaryOp.ADD, BinaryOp.SUB], ids=["add", "sub"])
def test_add_sub_tables_or_their_fallback_match_template_on_every_input_pair(op):
    """The separable tables are checked pair by pair at bind time and rejected on one mismatch: random
    parameters reach both outcomes (about 2% are rejected), and each step, whichever it chose, gives the
    template's bits on all 65,536 input pairs."""
    rng = np.random.default_rng(int(op))
    x1, x2 = np.repeat(np.arange(-128, 128, dtype=np.int8), 256), np.tile(np.arange(-128, 128, dtype=np.int8), 256)
    tables = []  # whether each draw's step took the tables (never, on CPUs without AVX-512 VBMI)
    while len(tables) < 20 or (True in tables and False not in tables and len(tables) < 400):
        params = _add_params(rng, ADD_ZERO_POINTS[len(tables) % 4], ACTIVATION_RANGES[len(tables) % 5])
        tables.append(steps.Int8AddStep(x1, x2, np.zeros_like(x1), params, op == BinaryOp.SUB).separable)
        _check_add_sub_pairs(op, params, x1, x2)
    assert False in tables


def _check_add_sub_pairs(op, params, x1, x2):
    expected, got = np.zeros_like(x1), np.zeros_like(x1)
    n = x1.shape[0]
    kernel = elementwise_kernels.BinaryKernel(int(op), *broadcast_geometry((n,), (n,), (n,)), params)
    elementwise_kernels.binary["int8_t"](kernel, x1, x2, expected)
    steps.Int8AddStep(x1, x2, got, params, op == BinaryOp.SUB)()
    np.testing.assert_array_equal(got, expected)


def test_add_step_rejects_mismatched_sizes():
    with pytest.raises(ValueError, match="equal counts"):
        steps.Int8AddStep(np.zeros(4, np.int8), np.zeros(3, np.int8), np.zeros(4, np.int8), binary_params(), False)


@pytest.mark.parametrize("portable", [False, True], ids=["simd", "portable"])
@pytest.mark.parametrize("shape,filter_size,strides,pads,activation_range", [
    ((1, 8, 8, 64), (8, 8), (8, 8), (0, 0), (-128, 127)),
    ((2, 9, 7, 19), (3, 3), (2, 2), (1, 1), (-20, 127)),
    ((1, 5, 6, 8), (4, 5), (1, 1), (3, 4), (-5, 6)),
    ((1, 4, 4, 3), (2, 2), (1, 2), (1, 0), (-128, 127)),
])
def test_average_pool_matches_template(shape, filter_size, strides, pads, activation_range, portable):
    """Windows clipped at every border (so counts vary), channel counts around 8, and sums of either sign
    that round halves away from zero: all -128s, all 127s and random values."""
    rng = np.random.default_rng(shape[3])
    (fh, fw), (sh, sw), (ph, pw) = filter_size, strides, pads
    out_h, out_w = (shape[1] + 2 * ph - fh) // sh + 1, (shape[2] + 2 * pw - fw) // sw + 1
    for x in (_int8(rng, shape), np.full(shape, -128, np.int8), np.full(shape, 127, np.int8)):
        expected, got = (np.zeros((shape[0], out_h, out_w, shape[3]), np.int8) for _ in range(2))
        args = (sh, sw, fh, fw, ph, pw)
        pooling_kernels.average_pool["int8_t"](x, expected, *args, *map(float, activation_range))
        steps.Int8AveragePoolStep(x, got, *args, *activation_range, portable=portable)()
        np.testing.assert_array_equal(got, expected)


FLOAT32 = ("float", "float", "float")
FLOAT_CLAMPS = [(-np.inf, np.inf), (0.0, np.inf), (-1.0, 1.0), (0.0, 6.0)]  # none, RELU, RELU_N1_TO_1, RELU6


def _float(rng, shape, specials=False):
    """Values over a wide range of magnitudes (so a different summation order would round differently),
    a tenth of them -0.0 and a tenth +0.0; with specials also infinities and NaNs."""
    x = (rng.standard_normal(shape) * 2.0 ** rng.integers(-12, 12, shape)).astype(np.float32)
    pick = rng.random(shape)
    x[pick < 0.1] = -0.0
    x[(pick >= 0.1) & (pick < 0.2)] = 0.0
    if specials:
        x[pick > 0.995] = np.inf
        x[(pick > 0.99) & (pick <= 0.995)] = -np.inf
        x[(pick > 0.985) & (pick <= 0.99)] = np.nan
    return x


def _assert_same_bits(got, expected):
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))


def _assert_within_fma_rounding(got, expected, magnitude, taps):
    """The fused multiply-adds of the float conv and depthwise steps against the template's separate
    roundings (float_mac.h): where the template's output is finite, within 2 (taps + 1) 2^-24 of
    `magnitude` (the template run on |x|, |w| and |bias| without a clamp, which moves no output apart:
    it is 1-Lipschitz); infinities and NaNs as the template's."""
    finite = np.isfinite(expected)
    np.testing.assert_array_equal(got[~finite], expected[~finite])
    bound = 2 * (taps + 1) * 2.0 ** -24 * magnitude[finite].astype(np.float64)
    error = np.abs(got[finite].astype(np.float64) - expected[finite])
    assert (error <= bound).all(), f"{int((error > bound).sum())} outputs beyond the rounding bound"


FLOAT_CONV_CASES = [  # (input shape, out channels, kernel, strides, dilation, pads)
    ((1, 7, 9, 3), 8, (3, 3), (2, 2), (1, 1), (1, 1)),
    ((2, 6, 5, 17), 33, (1, 1), (1, 1), (1, 1), (0, 0)),
    ((1, 8, 8, 1), 7, (3, 2), (1, 2), (2, 1), (2, 0)),
    ((1, 4, 4, 9), 40, (2, 2), (1, 1), (1, 1), (1, 1)),
    ((1, 9, 9, 3), 16, (3, 3), (1, 1), (1, 2), (1, 2)),
    ((3, 5, 6, 7), 24, (3, 3), (1, 1), (1, 1), (1, 1)),
    # runs of 27 interior columns: 12 + 12, then the last 12 again (rewriting 9 outputs, masked in the partial block)
    ((1, 13, 29, 5), 9, (3, 3), (1, 1), (1, 1), (1, 1)),
    ((1, 3, 4, 2), 1, (5, 5), (3, 3), (1, 1), (4, 4)),  # some pixels have no in-image tap at all
]


@pytest.mark.parametrize("portable", [False, True], ids=["simd", "portable"])
@pytest.mark.parametrize("clamp", range(len(FLOAT_CLAMPS)))
@pytest.mark.parametrize("case", range(len(FLOAT_CONV_CASES)))
def test_float_conv_matches_template(case, clamp, portable):
    shape, out_c, (kh, kw), (sh, sw), (dh, dw), (pt, pl) = FLOAT_CONV_CASES[case]
    rng = np.random.default_rng(case)
    x, w, bias = _float(rng, shape), _float(rng, (out_c, kh, kw, shape[3])), _float(rng, out_c)
    out_h, out_w = (shape[1] + 2 * pt - dh * (kh - 1) - 1) // sh + 1, (shape[2] + 2 * pl - dw * (kw - 1) - 1) // sw + 1
    expected, got = (np.full((shape[0], out_h, out_w, out_c), 7, np.float32) for _ in range(2))
    lo, hi = FLOAT_CLAMPS[clamp]
    zeros = np.zeros(out_c, np.int32)
    conv_kernels.conv_2d[FLOAT32](x, w, bias, expected, sh, sw, dh, dw, pt, pl, 0, 0, zeros, zeros, lo, hi)
    magnitude = np.zeros_like(expected)
    conv_kernels.conv_2d[FLOAT32](np.abs(x), np.abs(w), np.abs(bias), magnitude, sh, sw, dh, dw, pt, pl, 0, 0, zeros,
                                  zeros, -np.inf, np.inf)
    steps.FloatConvStep(x, w, bias, got, sh, sw, dh, dw, pt, pl, lo, hi, portable=portable)()
    _assert_within_fma_rounding(got, expected, magnitude, kh * kw * shape[3])


FLOAT_DEPTHWISE_CASES = [  # (input shape, kernel, strides, dilation, pads)
    ((1, 9, 7, 3), (3, 3), (1, 1), (1, 1), (1, 1)),
    ((2, 10, 10, 37), (3, 3), (2, 2), (1, 1), (0, 1)),
    ((1, 8, 8, 16), (3, 3), (1, 2), (2, 2), (2, 2)),
    ((1, 6, 5, 1), (3, 3), (1, 1), (1, 1), (1, 1)),
    ((1, 11, 9, 33), (5, 5), (2, 1), (1, 1), (2, 2)),
    ((2, 7, 6, 17), (1, 3), (1, 1), (1, 2), (0, 2)),
    ((1, 5, 30, 24), (2, 2), (1, 1), (1, 1), (0, 0)),
    ((1, 4, 3, 9), (5, 5), (1, 1), (2, 1), (4, 3)),  # pads wider than the image
    ((1, 3, 4, 8), (2, 2), (3, 3), (1, 1), (3, 3)),  # some pixels have no in-image tap at all
    # 3-column runs sliding along the row, at stride 1 and 2 (27 interior pixels: 8 x 3 + 3)
    ((1, 6, 29, 24), (3, 3), (1, 1), (1, 1), (1, 1)),
    ((1, 7, 40, 13), (3, 3), (2, 2), (1, 1), (1, 1)),
    # border pixels: 2 in-image filter columns slide too (here every pixel), 1 takes the tap loop
    ((2, 4, 2, 16), (3, 3), (1, 1), (1, 1), (1, 1)),
    ((1, 3, 1, 12), (3, 3), (1, 1), (1, 1), (1, 1)),
]


@pytest.mark.parametrize("channels", [13, 61])
@pytest.mark.parametrize("stride", [1, 2])
def test_float_depthwise_runs_of_every_length_give_the_portable_bits(stride, channels):
    """Rows of 1 to 19 pixels: 8-pixel slide tiles, then the rest as one tile of its own size (1 to 7); runs of
    one or two pixels (borders, narrow rows) over 6 blocks of 8 channels at a time where there are 2 or more
    (61: 6 + 1 blocks and a partial one)."""
    rng = np.random.default_rng(stride)
    for width in range(1, 20 * stride):
        x, w, bias = _float(rng, (1, 3, width, channels)), _float(rng, (1, 3, 3, channels)), _float(rng, channels)
        out_w = (width - 1) // stride + 1
        simd, portable = (np.zeros((1, (3 - 1) // stride + 1, out_w, channels), np.float32) for _ in range(2))
        for out, flag in ((simd, False), (portable, True)):
            steps.FloatDepthwiseStep(x, w, bias, out, stride, stride, 1, 1, 1, 1, -np.inf, np.inf, portable=flag)()
        _assert_same_bits(simd, portable)


@pytest.mark.parametrize("portable", [False, True], ids=["simd", "portable"])
@pytest.mark.parametrize("clamp", range(len(FLOAT_CLAMPS)))
@pytest.mark.parametrize("case", range(len(FLOAT_DEPTHWISE_CASES)))
def test_float_depthwise_matches_template(case, clamp, portable):
    shape, (kh, kw), (sh, sw), (dh, dw), (pt, pl) = FLOAT_DEPTHWISE_CASES[case]
    rng = np.random.default_rng(case)
    channels = shape[3]
    x, w, bias = _float(rng, shape), _float(rng, (1, kh, kw, channels)), _float(rng, channels)
    out_h, out_w = (shape[1] + 2 * pt - dh * (kh - 1) - 1) // sh + 1, (shape[2] + 2 * pl - dw * (kw - 1) - 1) // sw + 1
    expected, got = (np.full((shape[0], out_h, out_w, channels), 7, np.float32) for _ in range(2))
    lo, hi = FLOAT_CLAMPS[clamp]
    zeros = np.zeros(channels, np.int32)
    conv_kernels.depthwise_conv_2d[FLOAT32](x, w, bias, expected, np.zeros(channels, np.float32), 1, sh, sw, dh, dw,
                                            pt, pl, 0, 0, zeros, zeros, lo, hi)
    magnitude = np.zeros_like(expected)
    conv_kernels.depthwise_conv_2d[FLOAT32](np.abs(x), np.abs(w), np.abs(bias), magnitude,
                                            np.zeros(channels, np.float32), 1, sh, sw, dh, dw, pt, pl, 0, 0, zeros,
                                            zeros, -np.inf, np.inf)
    steps.FloatDepthwiseStep(x, w, bias, got, sh, sw, dh, dw, pt, pl, lo, hi, portable=portable)()
    _assert_within_fma_rounding(got, expected, magnitude, kh * kw)


@pytest.mark.parametrize("kind,case", [("conv", k) for k in range(len(FLOAT_CONV_CASES))]
                         + [("depthwise", k) for k in range(len(FLOAT_DEPTHWISE_CASES))])
def test_float_simd_steps_give_the_portable_bits(kind, case):
    """The AVX2 kernels fuse each product where the portable ones call fmaf, in the same order: same bits."""
    rng = np.random.default_rng(case)
    if kind == "conv":
        shape, out_c, (kh, kw), (sh, sw), (dh, dw), (pt, pl) = FLOAT_CONV_CASES[case]
        w = _float(rng, (out_c, kh, kw, shape[3]))
    else:
        shape, (kh, kw), (sh, sw), (dh, dw), (pt, pl) = FLOAT_DEPTHWISE_CASES[case]
        out_c = shape[3]
        w = _float(rng, (1, kh, kw, out_c))
    x, bias = _float(rng, shape), _float(rng, out_c)
    out_h, out_w = (shape[1] + 2 * pt - dh * (kh - 1) - 1) // sh + 1, (shape[2] + 2 * pl - dw * (kw - 1) - 1) // sw + 1
    simd, portable = (np.zeros((shape[0], out_h, out_w, out_c), np.float32) for _ in range(2))
    step = steps.FloatConvStep if kind == "conv" else steps.FloatDepthwiseStep
    for out, flag in ((simd, False), (portable, True)):
        step(x, w, bias, out, sh, sw, dh, dw, pt, pl, -np.inf, np.inf, portable=flag)()
    _assert_same_bits(simd, portable)


@pytest.mark.parametrize("portable", [False, True], ids=["simd", "portable"])
@pytest.mark.parametrize("clamp", range(len(FLOAT_CLAMPS)))
@pytest.mark.parametrize("batches,depth,units", [(1, 1, 1), (1, 1, 16), (3, 33, 19), (2, 256, 64), (13, 40, 9),
                                                 (1, 7, 3)])
def test_float_fully_connected_matches_template(batches, depth, units, clamp, portable):
    rng = np.random.default_rng(depth)
    x, w, bias = _float(rng, (batches, depth)), _float(rng, (units, depth)), _float(rng, units)
    expected, got = (np.full((batches, units), 7, np.float32) for _ in range(2))
    lo, hi = FLOAT_CLAMPS[clamp]
    zeros = np.zeros(units, np.int32)
    fc_kernels.fully_connected[FLOAT32](x, w, bias, expected, 0, 0, 0, zeros, zeros, lo, hi)
    steps.FloatFullyConnectedStep(x, w, bias, got, lo, hi, portable=portable)()
    _assert_same_bits(got, expected)


@pytest.mark.parametrize("portable", [False, True], ids=["simd", "portable"])
def test_float_steps_propagate_infinities_and_nans_as_the_template(portable):
    """inf * 0 and NaN inputs give NaNs, which the clamp lets through; a NaN's sign and payload may depend
    on the order the compiler gives commutative operands, so NaNs are compared as NaNs. The finite outputs
    within the fused multiply-adds' rounding of the template's."""
    rng = np.random.default_rng(3)
    x, w, bias = _float(rng, (1, 9, 11, 13), True), _float(rng, (17, 3, 3, 13), True), _float(rng, 17, True)
    dw_w = _float(rng, (1, 3, 3, 13), True)
    zeros = np.zeros(17, np.int32)
    for lo, hi in FLOAT_CLAMPS:
        expected, got = (np.zeros((1, 9, 11, 17), np.float32) for _ in range(2))
        magnitude = np.zeros_like(expected)
        conv_kernels.conv_2d[FLOAT32](x, w, bias, expected, 1, 1, 1, 1, 1, 1, 0, 0, zeros, zeros, lo, hi)
        conv_kernels.conv_2d[FLOAT32](np.abs(x), np.abs(w), np.abs(bias), magnitude, 1, 1, 1, 1, 1, 1, 0, 0, zeros,
                                      zeros, -np.inf, np.inf)
        steps.FloatConvStep(x, w, bias, got, 1, 1, 1, 1, 1, 1, lo, hi, portable=portable)()
        _assert_within_fma_rounding(got, expected, magnitude, 3 * 3 * 13)
        expected, got, magnitude = (np.zeros((1, 9, 11, 13), np.float32) for _ in range(3))
        conv_kernels.depthwise_conv_2d[FLOAT32](x, dw_w, bias[:13], expected, np.zeros(13, np.float32), 1, 1, 1, 1,
                                                1, 1, 1, 0, 0, zeros[:13], zeros[:13], lo, hi)
        conv_kernels.depthwise_conv_2d[FLOAT32](np.abs(x), np.abs(dw_w), np.abs(bias[:13]), magnitude,
                                                np.zeros(13, np.float32), 1, 1, 1, 1, 1, 1, 1, 0, 0, zeros[:13],
                                                zeros[:13], -np.inf, np.inf)
        steps.FloatDepthwiseStep(x, dw_w, bias[:13], got, 1, 1, 1, 1, 1, 1, lo, hi, portable=portable)()
        _assert_within_fma_rounding(got, expected, magnitude, 3 * 3)


def test_float_steps_reject_what_they_do_not_handle():
    x, bias = np.zeros((1, 4, 4, 6), np.float32), np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="grouped"):
        steps.FloatConvStep(x, np.zeros((4, 1, 1, 3), np.float32), bias, np.zeros((1, 4, 4, 4), np.float32),
                            1, 1, 1, 1, 0, 0, -np.inf, np.inf)
    with pytest.raises(ValueError, match="depth multiplier"):
        steps.FloatDepthwiseStep(x, np.zeros((1, 1, 1, 12), np.float32), np.zeros(12, np.float32),
                                 np.zeros((1, 4, 4, 12), np.float32), 1, 1, 1, 1, 0, 0, -np.inf, np.inf)


@pytest.mark.parametrize("portable", [False, True], ids=["simd", "portable"])
@pytest.mark.parametrize("kind,in_shape,out_c,kernel,stride,pad", [
    ("conv", (1, 7, 9, 5), 5, (3, 3), (1, 1), (1, 1)),
    ("conv", (2, 6, 6, 16), 8, (1, 1), (1, 1), (0, 0)),
    ("conv", (1, 6, 6, 8), 24, (1, 1), (1, 1), (0, 0)),
    ("conv", (1, 9, 9, 3), 16, (3, 3), (2, 2), (0, 0)),
    ("depthwise", (1, 8, 7, 19), 19, (3, 3), (1, 1), (1, 1)),
    ("depthwise", (2, 9, 9, 8), 8, (3, 3), (2, 2), (1, 1)),
    # rows of 27 interior pixels: the conv's last tile rewrites 9 outputs, the depthwise's border pixels
    # take 4 blocks and a partial one per tile
    ("conv", (1, 5, 29, 3), 9, (3, 3), (1, 1), (1, 1)),
    ("depthwise", (1, 5, 29, 37), 37, (3, 3), (1, 1), (1, 1)),
])
def test_float_window_steps_allow_the_inplace_overlap(kind, in_shape, out_c, kernel, stride, pad, portable):
    """With the output placed as far into its dying input as the planner's access pattern allows, the
    steps give the bits they give into a separate output: they never write an output before the
    reference does relative to the input it still reads."""
    rng = np.random.default_rng(len(kind) + in_shape[3])
    batches, in_h, in_w, in_c = in_shape
    (kh, kw), (sh, sw), (pt, pl) = kernel, stride, pad
    out_shape = (batches, (in_h + 2 * pt - kh) // sh + 1, (in_w + 2 * pl - kw) // sw + 1, out_c)
    access = WindowAccess(kind, in_shape, out_shape, kernel, stride, (1, 1), pad, 4, 4)
    shift = access.max_shift()
    shift = -(int(np.prod(out_shape)) * 4) if shift is None else shift // 4 * 4  # bytes, output before input
    x = _float(rng, in_shape)
    w = _float(rng, (out_c, kh, kw, in_c) if kind == "conv" else (1, kh, kw, out_c))
    bias = _float(rng, out_c)
    zeros = np.zeros(out_c, np.int32)
    expected = np.zeros(out_shape, np.float32)
    step = steps.FloatConvStep if kind == "conv" else steps.FloatDepthwiseStep
    step(x, w, bias, expected, sh, sw, 1, 1, pt, pl, -6.0, 6.0, portable=portable)()
    in_start = max(0, -shift) // 4
    arena = np.zeros(in_start + max(x.size, shift // 4 + expected.size) + 16, np.float32)
    arena_in = arena[in_start:in_start + x.size].reshape(in_shape)
    arena_out = arena[in_start + shift // 4:in_start + shift // 4 + expected.size].reshape(out_shape)
    assert np.shares_memory(arena_in, arena_out)
    arena_in[...] = x
    step(arena_in, w, bias, arena_out, sh, sw, 1, 1, pt, pl, -6.0, 6.0, portable=portable)()
    _assert_same_bits(arena_out, expected)


@pytest.mark.parametrize("path", INT8_PATHS)
@pytest.mark.parametrize("in_shape,stride", [((1, 8, 7, 64), (1, 1)), ((2, 9, 9, 8), (2, 2)), ((1, 6, 9, 19), (1, 1)),
                                             ((1, 7, 11, 96), (2, 2))])
def test_int8_depthwise_allows_the_inplace_overlap(in_shape, stride, path):
    """Output placed as far into the dying input as the planner allows: the step gives the template's bits."""
    rng = np.random.default_rng(in_shape[3])
    channels, (sh, sw) = in_shape[3], stride
    out_shape = (in_shape[0], (in_shape[1] + 2 - 3) // sh + 1, (in_shape[2] + 2 - 3) // sw + 1, channels)
    access = WindowAccess("depthwise", in_shape, out_shape, (3, 3), stride, (1, 1), (1, 1), 1, 1)
    shift = access.max_shift()
    shift = -int(np.prod(out_shape)) if shift is None else shift
    x, w = _int8(rng, in_shape), _int8(rng, (1, 3, 3, channels))
    bias = rng.integers(-5000, 5000, channels, dtype=np.int32)
    multiplier, shifts = _requant(rng, channels)
    args = (sh, sw, 1, 1, 1, 1, -3, 6, multiplier, shifts, -128, 100)
    expected = np.zeros(out_shape, np.int8)
    conv_kernels.depthwise_conv_2d[INT8](x, w, bias, expected, np.zeros(channels, np.int32), 1, *args)
    in_start = max(0, -shift)
    arena = np.zeros(in_start + max(x.size, shift + expected.size) + 16, np.int8)
    arena_in = arena[in_start:in_start + x.size].reshape(in_shape)
    arena_out = arena[in_start + shift:in_start + shift + expected.size].reshape(out_shape)
    assert np.shares_memory(arena_in, arena_out)
    arena_in[...] = x
    steps.Int8DepthwiseStep(arena_in, w, bias, arena_out, *args, path=path)()
    np.testing.assert_array_equal(arena_out, expected)


@pytest.mark.parametrize("path", INT8_PATHS)
@pytest.mark.parametrize("in_shape,stride,pad", [((1, 6, 5, 16), 1, 1), ((1, 7, 7, 8), 2, 0), ((2, 5, 4, 24), 1, 1),
                                                 ((1, 9, 6, 32), 2, 1)])
def test_int8_depthwise_gives_the_template_bits_wherever_its_output_overlaps_its_input(in_shape, stride, pad, path):
    """Any placement of the output over the input (a PAD's input read through by its depthwise consumer
    whose output the plan puts there): rows an output row overwrites while later rows still read them are
    saved first, so every placement, from wholly before the input to wholly after it, gives the template's
    bits, or, where that needs more saved rows than the step keeps (an output several rows ahead of the
    input), is refused at bind time."""
    rng = np.random.default_rng(in_shape[3] + stride)
    channels = in_shape[3]
    out_shape = (in_shape[0], (in_shape[1] + 2 * pad - 3) // stride + 1, (in_shape[2] + 2 * pad - 3) // stride + 1,
                 channels)
    x, w = _int8(rng, in_shape), _int8(rng, (1, 3, 3, channels))
    bias = rng.integers(-5000, 5000, channels, dtype=np.int32)
    multiplier, shifts = _requant(rng, channels)
    args = (stride, stride, 1, 1, pad, pad, -3, 6, multiplier, shifts, -128, 100)
    expected = np.zeros(out_shape, np.int8)
    conv_kernels.depthwise_conv_2d[INT8](x, w, bias, expected, np.zeros(channels, np.int32), 1, *args)
    row = in_shape[2] * channels
    refused = set()
    for shift in sorted({0, *range(-expected.size, x.size + 1, max(1, row // 3))}):
        in_start = max(0, -shift)
        arena = np.zeros(in_start + max(x.size, shift + expected.size) + 16, np.int8)
        arena_in = arena[in_start:in_start + x.size].reshape(in_shape)
        arena_out = arena[in_start + shift:in_start + shift + expected.size].reshape(out_shape)
        arena_in[...] = x
        if steps.depthwise_row_saves(arena_in, arena_out, 3, stride, 1, pad) is None:
            refused.add(shift)
            with pytest.raises(ValueError, match="input rows that later output rows still read"):
                steps.Int8DepthwiseStep(arena_in, w, bias, arena_out, *args, path=path)
            continue
        step = steps.Int8DepthwiseStep(arena_in, w, bias, arena_out, *args, path=path)
        step()
        np.testing.assert_array_equal(arena_out, expected, err_msg=f"output {shift} bytes after the input")
        assert step.buffer_bytes() >= x.shape[1] * np.dtype(np.uintp).itemsize  # its row table counted
    # an output over the input's own bytes (what TFLM's plan does with a PAD's input) is never refused; only
    # one far enough ahead of the rows still to be read is
    assert 0 not in refused and all(shift > 2 * row for shift in refused)


MEMORY_MODELS = ["mlperf_tiny/pretrainedResnet_quant.tflite", "bench/pretrainedResnet_large_int8.tflite",
                 "mlperf_tiny/kws_ref_model.tflite", "bench/str_ww_ref_model.tflite",
                 # nearly all weights: its bound leaves 1,280 bytes beyond them (8-row tiles for its 8-unit
                 # layer on the VNNI paths, per-tensor parameters as scalars)
                 "mlperf_tiny/ad01_int8.tflite"]
# where the bound is not met (kernels / bound): the plain-C VNNI layout, which no x86 CPU with AVX2 takes,
# stores every sum for the scalar requantization (1.009)
MEMORY_EXCEEDED = {("mlperf_tiny/ad01_int8.tflite", "vnni_emulated")}


@pytest.mark.parametrize("model,int8_path", [
    pytest.param(model, path, marks=[pytest.mark.xfail(strict=True, reason="bound exceeded")]
                 if (model, path) in MEMORY_EXCEEDED else [])
    for model in MEMORY_MODELS for path in INT8_PATHS])
def test_kernel_buffers_stay_below_weights_and_two_activations(model, int8_path, shared_models, monkeypatch):
    # the compiled kernels' memory outside the arena: their own buffers plus the largest workspace need
    path = shared_models / model
    if not path.is_file():
        pytest.skip(f"{path} not present")
    monkeypatch.setenv(steps.INT8_PATH_VARIABLE, int8_path)
    interp, _ = ready_interpreter(path)
    bound = [s for s in interp._exec.steps if isinstance(s, steps.Step)]
    assert any(isinstance(s, (steps.Int8ConvStep, steps.Int8FullyConnectedStep)) for s in bound)
    kernels = sum(s.buffer_bytes() for s in bound) + max(s.workspace_need for s in bound)
    tensors = interp.model.main.tensors
    weights = sum(t.nbytes for t in tensors if t.data is not None and not t.is_variable)
    largest_activation = max(t.nbytes for t in tensors if t.data is None and t.dtype is not None)
    assert kernels < weights + 2 * largest_activation
