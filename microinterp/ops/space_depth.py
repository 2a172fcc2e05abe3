"""SPACE_TO_DEPTH and DEPTH_TO_SPACE (TFLM space_to_depth.cc, depth_to_space.cc and their reference
kernels): move block_size x block_size spatial blocks into channels and back, NHWC, float32 and int8.

Channel order within a block is (block row, block column, channel), as in TFLM. Both are a reshape and a
transpose of the input, so each invoke copies one strided view.
"""
from __future__ import annotations

from .movement import bind_view_copy, expect_same_type, expect_shape
from .registry import BindFn, OpContext, register

SPACE_DEPTH_TYPES = ("FLOAT32", "INT8")


def _check(ctx: OpContext) -> tuple[tuple[int, int, int, int], int]:
    ctx.expect_io(1)
    src, dst = ctx.input(0), ctx.output(0)
    ctx.expect_type(src, *SPACE_DEPTH_TYPES)
    expect_same_type(ctx, src, dst)
    ctx.expect_rank(src, 4)
    block = ctx.options.get("block_size", 0)
    if block < 1:
        ctx.fail(f"block_size must be positive, found {block}")
    return src.shape, block


@register("SPACE_TO_DEPTH")
def prepare_space_to_depth(ctx: OpContext) -> BindFn:
    """[N, H, W, C] -> [N, H/b, W/b, b*b*C]; H and W must be multiples of b."""
    (n, h, w, c), b = _check(ctx)
    if h % b or w % b:
        ctx.fail(f"input height {h} and width {w} must be multiples of block_size {b}")
    expect_shape(ctx, ctx.output(0), (n, h // b, w // b, c * b * b), f"SPACE_TO_DEPTH of {list((n, h, w, c))} by {b}")
    return bind_view_copy(lambda x: x.reshape(n, h // b, b, w // b, b, c).transpose(0, 1, 3, 2, 4, 5))


@register("DEPTH_TO_SPACE")
def prepare_depth_to_space(ctx: OpContext) -> BindFn:
    """[N, H, W, C] -> [N, H*b, W*b, C/(b*b)]; C must be a multiple of b*b."""
    (n, h, w, c), b = _check(ctx)
    if c % (b * b):
        ctx.fail(f"input depth {c} must be a multiple of block_size^2 = {b * b}")
    depth = c // (b * b)
    expect_shape(ctx, ctx.output(0), (n, h * b, w * b, depth), f"DEPTH_TO_SPACE of {list((n, h, w, c))} by {b}")
    return bind_view_copy(lambda x: x.reshape(n, h, w, b, b, depth).transpose(0, 1, 3, 2, 4, 5))
