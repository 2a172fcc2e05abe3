"""RESHAPE (and the shape-only ops that share it): a byte copy into the output's shape (TFLM reshape.cc)."""
from __future__ import annotations

import functools

import numpy as np

from .registry import OpContext, register


@register("RESHAPE")
def prepare_reshape(ctx: OpContext):
    """The output shape comes from the model's output tensor; the optional shape input is ignored, as in TFLM."""
    ctx.expect_io((1, 2))
    src, dst = ctx.input(0), ctx.output(0)
    if src.type_code != dst.type_code:
        ctx.fail(f"input type {src.type_name} differs from output type {dst.type_name}")
    if src.num_elements != dst.num_elements:
        ctx.fail(f"input has {src.num_elements} elements, output {list(dst.shape)} has {dst.num_elements}")
    if src.dtype is None:
        ctx.unsupported(f"type {src.type_name}")

    def bind(inputs, outputs, scratch):
        return functools.partial(np.copyto, outputs[0].reshape(-1), inputs[0].reshape(-1))
    return bind
