"""SPLIT, SPLIT_V and UNPACK: cut the input along one axis into several outputs (TFLM split.cc,
split_v.cc, unpack.cc).

Pure copies of float32, int8, int16 and int32. Each output is bound to a basic-slicing view of the input,
so an invoke is one np.copyto per output. The pieces' sizes come from the output shapes, as in TFLM:
SPLIT's num_splits option and SPLIT_V's size_splits input are not read by TFLM's kernels and are not
read here either. The axis (SPLIT, SPLIT_V) must be a constant int32.
"""
from __future__ import annotations

import numpy as np

from ..model import Tensor
from .movement import constant_ints, expect_same_type, expect_shape, normalize_axis
from .registry import BindFn, OpContext, register

SPLIT_TYPES = ("FLOAT32", "INT8", "INT16", "INT32")


def _constant_axis(ctx: OpContext, axis_tensor: Tensor, rank: int) -> int:
    (axis,) = constant_ints(ctx, axis_tensor, "axis", count=1)
    return normalize_axis(ctx, axis, rank)


def _bind_pieces(source: int, axis: int, starts: list[int], sizes: list[int]) -> BindFn:
    """Output i gets input `source`'s slab [starts[i], starts[i] + sizes[i]) along axis, in the slab's layout."""
    lead = (slice(None),) * axis

    def bind(inputs, outputs, scratch):
        pieces = [inputs[source][lead + (slice(start, start + size),)] for start, size in zip(starts, sizes)]
        pairs = [(out.reshape(piece.shape), piece) for out, piece in zip(outputs, pieces)]

        def step() -> None:
            for out, piece in pairs:
                np.copyto(out, piece)
        return step
    return bind


def _prepare_split(ctx: OpContext, input_count: int, source: int, axis_input: int, equal: bool) -> BindFn:
    if not ctx.op.outputs:
        ctx.fail(f"{ctx.op.name} needs at least one output")
    ctx.expect_io(input_count, len(ctx.op.outputs))
    src = ctx.input(source)
    axis = _constant_axis(ctx, ctx.input(axis_input), len(src.shape))
    outputs = [ctx.output(i) for i in range(len(ctx.op.outputs))]
    ctx.expect_type(src, *SPLIT_TYPES)
    expect_same_type(ctx, src, *outputs)
    sizes = []
    for out in outputs:
        if len(out.shape) != len(src.shape):
            ctx.fail(f"{out.describe()} must have the rank {len(src.shape)} of {src.describe()}")
        sizes.append(out.shape[axis])
        expect_shape(ctx, out, src.shape[:axis] + (sizes[-1],) + src.shape[axis + 1:],
                     f"{src.describe()} cut along axis {axis}")
    if equal and len(set(sizes)) > 1:
        ctx.fail(f"SPLIT outputs must be equal along axis {axis}, found sizes {sizes}")
    if sum(sizes) != src.shape[axis]:
        ctx.fail(f"output sizes {sizes} along axis {axis} do not add up to {src.describe()}'s {src.shape[axis]}")
    return _bind_pieces(source, axis, [int(s) for s in np.cumsum([0] + sizes[:-1])], sizes)


@register("SPLIT")
def prepare_split(ctx: OpContext) -> BindFn:
    """Inputs (axis, input): equal pieces, one per output."""
    return _prepare_split(ctx, 2, source=1, axis_input=0, equal=True)


@register("SPLIT_V")
def prepare_split_v(ctx: OpContext) -> BindFn:
    """Inputs (input, size_splits, axis): pieces sized like the outputs."""
    return _prepare_split(ctx, 3, source=0, axis_input=2, equal=False)


@register("UNPACK")
def prepare_unpack(ctx: OpContext) -> BindFn:
    """One output per index along axis, that axis removed; num must equal the output count and the axis size."""
    num = ctx.options.get("num", 0)
    if num < 1:
        ctx.fail(f"num must be positive, found {num}")
    ctx.expect_io(1, num)
    src = ctx.input(0)
    outputs = [ctx.output(i) for i in range(num)]
    ctx.expect_type(src, *SPLIT_TYPES)
    expect_same_type(ctx, src, *outputs)
    axis = normalize_axis(ctx, ctx.options.get("axis", 0), len(src.shape))
    if src.shape[axis] != num:
        ctx.fail(f"{src.describe()} must have num={num} elements along axis {axis}")
    for out in outputs:
        expect_shape(ctx, out, src.shape[:axis] + src.shape[axis + 1:], f"{src.describe()} without axis {axis}")
    return _bind_pieces(0, axis, list(range(num)), [1] * num)
