"""TRANSPOSE (TFLM transpose.cc, transpose_common.cc, reference transpose.h).

int8, int16 and float32, rank 1 to 5, with a constant int32 permutation. Each invoke copies the
permuted view of the input into the output.
"""
from __future__ import annotations

from .movement import bind_view_copy, constant_ints, expect_max_rank, expect_same_type, expect_shape
from .registry import BindFn, OpContext, register

TRANSPOSE_TYPES = ("INT8", "INT16", "FLOAT32")
TRANSPOSE_MAX_RANK = 5


@register("TRANSPOSE")
def prepare_transpose(ctx: OpContext) -> BindFn:
    """Validate the permutation and the output shape it implies; bind a copy of the transposed view."""
    ctx.expect_io(2)
    src, perm_tensor, dst = ctx.input(0), ctx.input(1), ctx.output(0)
    expect_same_type(ctx, src, dst)
    ctx.expect_type(src, *TRANSPOSE_TYPES)
    expect_max_rank(ctx, src, TRANSPOSE_MAX_RANK)
    rank = len(src.shape)
    if rank == 0:
        ctx.unsupported(f"{src.describe()} is a scalar; TFLM transposes rank 1 to {TRANSPOSE_MAX_RANK}")
    ctx.expect_rank(perm_tensor, 1)
    perm = constant_ints(ctx, perm_tensor, "perm", count=rank)
    if sorted(perm) != list(range(rank)):
        ctx.fail(f"perm {perm} is not a permutation of 0..{rank - 1}")
    expect_shape(ctx, dst, [src.shape[p] for p in perm], f"{src.describe()} permuted by {perm}")
    return bind_view_copy(lambda x: x.transpose(perm))
