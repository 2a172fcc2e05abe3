"""SPACE_TO_BATCH_ND and BATCH_TO_SPACE_ND (TFLM space_to_batch_nd.cc, batch_to_space_nd.cc and their
reference kernels): float32 and int8, NHWC 4-D or NHC 3-D (W = 1) tensors.

block_shape (one entry per spatial axis) and paddings/crops ([spatial axes, 2]) must be constant int32.
Output batch b * N + n holds block offset b = (row, column) of input batch n, as in TFLM. Each invoke
gathers through an index map built at prepare time.

Padding value: TFLM's SPACE_TO_BATCH_ND memsets padded pixels with its params.output_offset, which its
Prepare never sets (fresh persistent arena memory, zero in practice); so padding is zero bytes here for
int8 too, not the output zero point (checked against TFLM with a non-zero zero point).
"""
from __future__ import annotations

import numpy as np

from ..model import Tensor
from .movement import bind_take, constant_ints, element_numbers, expect_same_type, expect_shape
from .registry import BindFn, OpContext, register

SPACE_BATCH_TYPES = ("FLOAT32", "INT8")


def _geometry(ctx: OpContext, what: str) -> tuple[tuple[int, int, int, int], list[int], list[int]]:
    """(input as NHWC, [block_h, block_w], [before_h, after_h, before_w, after_w]); W, block_w = 1 for 3-D."""
    ctx.expect_io(3)
    src, block_t, pads_t, dst = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)
    ctx.expect_type(src, *SPACE_BATCH_TYPES)
    expect_same_type(ctx, src, dst)
    rank = len(src.shape)
    if rank not in (3, 4):
        ctx.unsupported(f"{src.describe()} has rank {rank}; TFLM supports 3-D and 4-D")
    if len(dst.shape) != rank:
        ctx.fail(f"{dst.describe()} must have the rank {rank} of {src.describe()}")
    spatial = rank - 2
    block = constant_ints(ctx, block_t, "block_shape", count=spatial)
    pads = constant_ints(ctx, pads_t, what, count=2 * spatial)
    if min(block) < 1 or min(pads) < 0:
        ctx.fail(f"block_shape {block} must be positive and {what} {pads} non-negative")
    if rank == 3:
        return (src.shape[0], src.shape[1], 1, src.shape[2]), block + [1], pads + [0, 0]
    return src.shape, block, pads


def _expect_output(ctx: OpContext, nhwc: tuple[int, int, int, int], why: str) -> None:
    dst: Tensor = ctx.output(0)
    n, h, w, c = nhwc
    expect_shape(ctx, dst, (n, h, w, c) if len(dst.shape) == 4 else (n, h, c), why)


@register("SPACE_TO_BATCH_ND")
def prepare_space_to_batch_nd(ctx: OpContext) -> BindFn:
    """Zero-pad the spatial axes, then move each block offset into its own batch slab."""
    (n, h, w, c), (bh, bw), (top, bottom, left, right) = _geometry(ctx, "paddings")
    padded_h, padded_w = h + top + bottom, w + left + right
    if padded_h % bh or padded_w % bw:
        ctx.fail(f"padded spatial size {padded_h}x{padded_w} is not a multiple of block_shape {bh}x{bw}")
    out_h, out_w = padded_h // bh, padded_w // bw
    _expect_output(ctx, (n * bh * bw, out_h, out_w, c), f"SPACE_TO_BATCH_ND of {list(ctx.input(0).shape)}")
    padded = np.full((n, padded_h, padded_w, c), -1, np.intp)
    padded[:, top:top + h, left:left + w, :] = element_numbers((n, h, w, c))
    return bind_take(padded.reshape(n, out_h, bh, out_w, bw, c).transpose(2, 4, 0, 1, 3, 5))


@register("BATCH_TO_SPACE_ND")
def prepare_batch_to_space_nd(ctx: OpContext) -> BindFn:
    """Interleave the batch slabs back into the spatial axes, then crop."""
    (n, h, w, c), (bh, bw), (top, bottom, left, right) = _geometry(ctx, "crops")
    if n % (bh * bw):
        ctx.fail(f"input batch {n} is not a multiple of the block size {bh}x{bw}")
    out_n, out_h, out_w = n // (bh * bw), h * bh - top - bottom, w * bw - left - right
    if out_h < 0 or out_w < 0:
        ctx.fail(f"crops {[top, bottom, left, right]} exceed the {h * bh}x{w * bw} uncropped output")
    _expect_output(ctx, (out_n, out_h, out_w, c), f"BATCH_TO_SPACE_ND of {list(ctx.input(0).shape)}")
    full = element_numbers((n, h, w, c)).reshape(bh, bw, out_n, h, w, c).transpose(2, 3, 0, 4, 1, 5)
    return bind_take(full.reshape(out_n, h * bh, w * bw, c)[:, top:top + out_h, left:left + out_w, :])
