"""RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR (TFLM resize_nearest_neighbor.cc, resize_bilinear.cc and
their reference kernels), NHWC, with a constant int32 size input [height, width] equal to the output's.

Source positions are computed once, per output row and column, in TFLM's own arithmetic:
* nearest (float32, int8, int16): scale = in/out (align_corners: (in-1)/(out-1)) in float32, position
  floor((i + 0.5 if half_pixel_centers) * scale) (align_corners: roundf), at most in-1, at least 0 with
  half_pixel_centers. Each invoke gathers through the resulting index map.
* bilinear float32: the same float32 scale, y = (i + 0.5) * scale - 0.5 with half_pixel_centers, rows
  floor(y) (at least 0) and ceil(y) (at most in-1), blended in float32 in TFLM's order
  (kernels/resize.pyx).
* bilinear int8: TFLM's integer variant, no float at all: scale with 10 fractional bits rounded to
  nearest, y = i * scale (+ scale/2 - 512 with half_pixel_centers), int64 blend rounded half away from
  zero by a truncating division by 2^20, no clamp.
TFLM rejects align_corners together with half_pixel_centers for bilinear only.
"""
from __future__ import annotations

import functools

import numpy as np

from .._kernels import resize as resize_kernels
from ..quantization import tflite_round
from .movement import bind_take, constant_ints, element_numbers, expect_same_type, expect_shape
from .registry import BindFn, OpContext, register

NEAREST_TYPES = ("FLOAT32", "INT8", "INT16")
BILINEAR_TYPES = ("FLOAT32", "INT8")


def _prepare_resize(ctx: OpContext, types: tuple[str, ...]) -> tuple[int, int, int, int, bool, bool]:
    """(input height, input width, output height, output width, align_corners, half_pixel_centers)."""
    ctx.expect_io(2)
    src, size, dst = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.expect_type(src, *types)
    expect_same_type(ctx, src, dst)
    ctx.expect_rank(src, 4)
    ctx.expect_rank(size, 1)
    out_h, out_w = constant_ints(ctx, size, "size", count=2)
    n, in_h, in_w, c = src.shape
    expect_shape(ctx, dst, (n, out_h, out_w, c), f"{src.describe()} resized to the size input {[out_h, out_w]}")
    return in_h, in_w, out_h, out_w, bool(ctx.options.get("align_corners")), bool(ctx.options.get("half_pixel_centers"))


def _float_scale(in_size: int, out_size: int, align_corners: bool) -> np.float32:
    if align_corners and out_size > 1:
        return np.float32(in_size - 1) / np.float32(out_size - 1)
    return np.float32(in_size) / np.float32(out_size)


def nearest_positions(in_size: int, out_size: int, align_corners: bool, half_pixel_centers: bool) -> np.ndarray:
    """TFLM's GetNearestNeighbor for every output coordinate."""
    if out_size == 0:
        return np.zeros(0, np.intp)
    scaled = (np.arange(out_size, dtype=np.float32) + np.float32(0.5 if half_pixel_centers else 0.0)) \
        * _float_scale(in_size, out_size, align_corners)
    if align_corners:
        picked = np.array([tflite_round(float(v)) for v in scaled], np.intp)
    else:
        picked = np.floor(scaled).astype(np.intp)
    picked = np.minimum(picked, in_size - 1)
    return np.maximum(picked, 0) if half_pixel_centers else picked


@register("RESIZE_NEAREST_NEIGHBOR")
def prepare_resize_nearest_neighbor(ctx: OpContext) -> BindFn:
    """Validate and bind a gather through the nearest-neighbour index map."""
    in_h, in_w, out_h, out_w, align, half = _prepare_resize(ctx, NEAREST_TYPES)
    rows = nearest_positions(in_h, out_h, align, half)
    cols = nearest_positions(in_w, out_w, align, half)
    if (rows < 0).any() or (cols < 0).any():
        ctx.fail(f"an empty {in_h}x{in_w} input cannot be resized to {out_h}x{out_w}")
    return bind_take(element_numbers(ctx.input(0).shape)[:, rows][:, :, cols])


def _bilinear_float_axis(in_size: int, out_size: int, align: bool, half: bool):
    if out_size == 0:
        return np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.float32)
    scale = _float_scale(in_size, out_size, align)
    coords = np.arange(out_size, dtype=np.float32)
    scaled = (coords + np.float32(0.5)) * scale - np.float32(0.5) if half else coords * scale
    lo = np.maximum(np.floor(scaled).astype(np.int32), 0)
    hi = np.minimum(np.ceil(scaled).astype(np.int32), in_size - 1)
    return lo, hi, scaled.astype(np.float32)


def _c_div(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _bilinear_int_axis(in_size: int, out_size: int, align: bool, half: bool):
    if out_size == 0:
        return np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0, np.int32)
    if align and out_size > 1:
        scale = _c_div((1 << 10) * (in_size - 1) + _c_div(out_size - 1, 2), out_size - 1)
    else:
        scale = _c_div((1 << 10) * in_size + _c_div(out_size, 2), out_size)
    scaled = [i * scale + _c_div(scale, 2) - (1 << 9) if half else i * scale for i in range(out_size)]
    lo = [max(_c_div(v, 1 << 10), 0) for v in scaled]
    hi = [min(_c_div(v + (1 << 10) - 1, 1 << 10), in_size - 1) for v in scaled]
    return np.array(lo, np.int32), np.array(hi, np.int32), np.array(scaled, np.int32)


@register("RESIZE_BILINEAR")
def prepare_resize_bilinear(ctx: OpContext) -> BindFn:
    """Validate, precompute the source rows/columns and their fractions, and bind the blending kernel."""
    in_h, in_w, out_h, out_w, align, half = _prepare_resize(ctx, BILINEAR_TYPES)
    if align and half:
        ctx.fail("half_pixel_centers requires align_corners to be false")
    if (in_h == 0 and out_h) or (in_w == 0 and out_w):
        ctx.fail(f"an empty {in_h}x{in_w} input cannot be resized to {out_h}x{out_w}")
    if ctx.input(0).type_name == "FLOAT32":
        axis, kernel = _bilinear_float_axis, resize_kernels.resize_bilinear_float
    else:
        axis, kernel = _bilinear_int_axis, resize_kernels.resize_bilinear_int8
    positions = (*axis(in_h, out_h, align, half), *axis(in_w, out_w, align, half))

    def bind(inputs, outputs, scratch):
        return functools.partial(kernel, inputs[0], outputs[0], *positions)
    return bind
