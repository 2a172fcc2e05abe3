"""BROADCAST_ARGS (TFLM broadcast_args.cc, reference broadcast_args.h): the broadcast of two shape vectors.

int32 or int64 shape vectors (one type for both inputs and the output). TFLM fills the declared output
length from the back, taking a missing dimension as 1, each dimension through a C int (an int64
dimension is truncated to 32 bits, as there); two dimensions that differ and are not 1 abort TFLM
(TFLITE_CHECK) and raise KernelDomainError here. The values are read on every invoke.
"""
from __future__ import annotations

import numpy as np

from ..errors import KernelDomainError
from .movement import expect_same_type
from .registry import BindFn, OpContext, register


@register("BROADCAST_ARGS")
def prepare_broadcast_args(ctx: OpContext) -> BindFn:
    """Broadcast two 1-D shape tensors (int32 or int64)."""
    ctx.expect_io(2)
    shape1, shape2, output = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.expect_type(shape1, "INT32", "INT64")
    expect_same_type(ctx, shape1, shape2, output)
    for t in (shape1, shape2, output):
        ctx.expect_rank(t, 1)
    where = ctx.op.describe()

    def bind(inputs, outputs, scratch):
        a, b, out = inputs[0], inputs[1], outputs[0]

        def step() -> None:
            n = out.size
            for i in range(n):  # i counts from the back
                d1 = int(a[a.size - 1 - i].astype(np.int32)) if i < a.size else 1
                d2 = int(b[b.size - 1 - i].astype(np.int32)) if i < b.size else 1
                if d1 != 1 and d2 != 1 and d1 != d2:
                    raise KernelDomainError(f"{where}: dimensions {d1} and {d2} cannot be broadcast "
                                            f"(TFLM aborts)")
                out[n - 1 - i] = d2 if d1 == 1 else d1
        return step
    return bind
