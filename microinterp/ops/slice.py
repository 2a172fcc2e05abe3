"""SLICE and STRIDED_SLICE (TFLM slice.cc, reference slice.h; strided_slice.cc, strided_slice_common.cc,
reference strided_slice.h, strided_slice_logic.h).

Pure copies of float32, int8, int16, int32 and bool through a basic-slicing view of the input.

SLICE (up to 5-D): begin and size are int32 or int64 vectors with one entry per input axis; size -1
means "to the end". Begin must lie in [0, dim], each size must fit after it, and the slice must hold as
many elements as the output (which receives them in order). Constant begin/size are checked once at
prepare (an inconsistent model). Runtime ones are checked on every invoke and raise IndexOutOfRangeError:
the tflite-micro wheel does not check them and reads outside the input (newer TFLM sources fail the
invoke instead), so there is no result to match.

STRIDED_SLICE (up to 4-D, TFLM's limit): begin, end and strides are constant int32 vectors with one
entry per input axis. Per axis, as TFLM's kernel does it: a negative index counts from the end; start is
clamped to [0, dim] ([-1, dim-1] for a negative stride), then begin_mask replaces it by the first
element in the stride's direction; end likewise with end_mask; a shrink_axis_mask bit takes the single
element at start and drops the axis. The output shape must be what these give. TFLM forces ellipsis_mask
and new_axis_mask to 0 and ignores offset, so models using them are unsupported rather than silently
misread; so is a shrunk axis TFLM's kernel copies nothing for (negative stride, or start past the end).
"""
from __future__ import annotations

import numpy as np

from ..errors import IndexOutOfRangeError
from .movement import (bind_view_copy, constant_ints, expect_max_rank, expect_same_type,
                       expect_shape)
from .registry import BindFn, OpContext, register

SLICE_TYPES = ("FLOAT32", "INT8", "INT16", "INT32", "BOOL")
SLICE_MAX_RANK = 5
STRIDED_SLICE_MAX_RANK = 4


def slice_bounds(begin: list[int], size: list[int], shape: tuple[int, ...]) -> tuple[tuple[slice, ...], int]:
    """SLICE's (per-axis slices, element count) for begin/size over shape; ValueError where TFLM's invoke fails."""
    slices, count = [], 1
    for axis, (b, s, n) in enumerate(zip(begin, size, shape)):
        if not 0 <= b <= n:
            raise ValueError(f"begin {b} of axis {axis} is outside [0, {n}]")
        length = n - b if s == -1 else s
        if not 0 <= length <= n - b:
            raise ValueError(f"size {s} of axis {axis} does not fit the {n - b} elements after begin {b}")
        slices.append(slice(b, b + length))
        count *= length
    return tuple(slices) + (Ellipsis,), count  # Ellipsis: a 0-d input still gives a view


@register("SLICE")
def prepare_slice(ctx: OpContext) -> BindFn:
    """Validate a SLICE; constant begin/size become a fixed view, runtime ones are checked on every invoke."""
    ctx.expect_io(3)
    src, begin_t, size_t, dst = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)
    expect_same_type(ctx, src, dst)
    ctx.expect_type(src, *SLICE_TYPES)
    expect_max_rank(ctx, src, SLICE_MAX_RANK)
    expect_same_type(ctx, begin_t, size_t)
    ctx.expect_type(begin_t, "INT32", "INT64")
    rank = len(src.shape)
    for t, what in ((begin_t, "begin"), (size_t, "size")):
        ctx.expect_rank(t, 1)
        if t.num_elements != rank:
            ctx.fail(f"{what} {t.describe()} must hold one value per input axis ({rank})")
    if begin_t.is_constant and size_t.is_constant:
        begin = constant_ints(ctx, begin_t, "begin", ("INT32", "INT64"))
        size = constant_ints(ctx, size_t, "size", ("INT32", "INT64"))
        try:
            slices, count = slice_bounds(begin, size, src.shape)
        except ValueError as e:
            ctx.fail(str(e))
        if count != dst.num_elements:
            ctx.fail(f"the slice holds {count} elements, {dst.describe()} {dst.num_elements}")
        return bind_view_copy(lambda x: x[slices])

    where = ctx.op.describe()

    def bind(inputs, outputs, scratch):
        source, begin_view, size_view, out = inputs[0], inputs[1], inputs[2], outputs[0]

        def step() -> None:
            try:
                slices, count = slice_bounds(begin_view.tolist(), size_view.tolist(), source.shape)
                if count != out.size:
                    raise ValueError(f"the slice holds {count} elements, the output {out.size}")
            except ValueError as e:
                raise IndexOutOfRangeError(f"{where}: {e}") from None
            view = source[slices]
            np.copyto(out.reshape(view.shape), view)
        return step
    return bind


def _clamp(v: int, lo: int, hi: int) -> int:
    return hi if v > hi else (lo if v < lo else v)


def strided_axis(n: int, begin: int, end: int, stride: int, begin_masked: bool, end_masked: bool,
                 shrink: bool) -> tuple[int, int, int]:
    """(start, stop, element count) of one axis as TFLM's kernel computes them (StridedSliceStartForAxis,
    StridedSliceEndForAxis, then its loop `for (i = start; stride > 0 ? i < stop : i > stop; i += stride)`)."""
    lo, hi = (0, n) if stride > 0 else (-1, n - 1)
    start = _clamp(begin + n if begin < 0 else begin, lo, hi)
    if begin_masked:
        start = 0 if stride > 0 else n - 1
    if shrink:
        stop = start if start >= n else start + 1
    else:
        stop = _clamp(end + n if end < 0 else end, lo, hi)
        if end_masked:
            stop = n if stride > 0 else -1
    count = -((start - stop) // stride) if stride > 0 else -((stop - start) // -stride)  # ceil division
    return start, stop, max(count, 0)


@register("STRIDED_SLICE")
def prepare_strided_slice(ctx: OpContext) -> BindFn:
    """Resolve begin/end/strides and the masks once; bind a copy of the resulting strided view."""
    ctx.expect_io(4)
    src, dst = ctx.input(0), ctx.output(0)
    expect_same_type(ctx, src, dst)
    ctx.expect_type(src, *SLICE_TYPES)
    expect_max_rank(ctx, src, STRIDED_SLICE_MAX_RANK)
    opts = ctx.options
    for key in ("ellipsis_mask", "new_axis_mask"):
        if opts.get(key, 0):
            ctx.unsupported(f"{key} {opts[key]} (TFLM ignores it)")
    if opts.get("offset", False):
        ctx.unsupported("offset=true (TFLM ignores it)")
    rank = len(src.shape)
    begin, end, strides = (constant_ints(ctx, ctx.input(i), what, count=rank)
                           for i, what in ((1, "begin"), (2, "end"), (3, "strides")))
    slices, out_shape = [], []
    for axis in range(rank):
        n, stride = src.shape[axis], strides[axis]
        if stride == 0:
            ctx.fail(f"stride of axis {axis} is 0")
        bit = 1 << axis
        shrink = bool(opts.get("shrink_axis_mask", 0) & bit)
        start, stop, count = strided_axis(n, begin[axis], end[axis], stride, bool(opts.get("begin_mask", 0) & bit),
                                          bool(opts.get("end_mask", 0) & bit), shrink)
        if shrink:
            if count != 1:
                ctx.unsupported(f"shrinking axis {axis} from start {start} with stride {stride}: TFLM's kernel "
                                f"copies no element there")
        else:
            out_shape.append(count)
        if count == 0:
            slices.append(slice(0, 0))
        else:
            slices.append(slice(start, stop if stop >= 0 else None, stride))
    expect_shape(ctx, dst, out_shape, f"{src.describe()} sliced by begin {begin}, end {end}, strides {strides}")
    view = tuple(slices) + (Ellipsis,)  # Ellipsis: a 0-d input still gives a view
    return bind_view_copy(lambda x: x[view])
