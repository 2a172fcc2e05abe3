"""RESHAPE, SQUEEZE and EXPAND_DIMS: a byte copy into the output's shape (TFLM reshape.cc, squeeze.cc,
expand_dims.cc).

The three differ only in how the output shape is checked; the copy is the same flat memcpy, and each
declares its output an alias of its input so an in-place memory plan skips the copy. TFLM copies
any type for RESHAPE and SQUEEZE, but only int8, int16 and float32 for EXPAND_DIMS.
"""
from __future__ import annotations

from .._kernels import steps
from .movement import constant_ints, expect_shape
from .registry import BindFn, OpContext, register

EXPAND_DIMS_TYPES = ("INT8", "INT16", "FLOAT32")
#: TFLM's squeeze.cc sizes its should-squeeze table for 8 dimensions.
SQUEEZE_MAX_RANK = 8


def _bind_flat_copy(inputs, outputs, scratch):
    return steps.ByteCopyStep(inputs[0], outputs[0])


def _check_copy(ctx: OpContext) -> None:
    """Same type and element count, then the output is declared a byte copy of the input."""
    src, dst = ctx.input(0), ctx.output(0)
    if src.type_code != dst.type_code:
        ctx.fail(f"input type {src.type_name} differs from output type {dst.type_name}")
    if src.num_elements != dst.num_elements:
        ctx.fail(f"input has {src.num_elements} elements, output {list(dst.shape)} has {dst.num_elements}")
    if src.dtype is None:
        ctx.unsupported(f"type {src.type_name}")
    ctx.declare_alias()


@register("RESHAPE")
def prepare_reshape(ctx: OpContext) -> BindFn:
    """The output shape comes from the model's output tensor; the optional shape input is ignored, as in TFLM."""
    ctx.expect_io((1, 2))
    _check_copy(ctx)
    return _bind_flat_copy


@register("SQUEEZE")
def prepare_squeeze(ctx: OpContext) -> BindFn:
    """Drop the size-1 axes listed in squeeze_dims (all size-1 axes when it is empty)."""
    ctx.expect_io(1)
    src, dst = ctx.input(0), ctx.output(0)
    rank = len(src.shape)
    if rank > SQUEEZE_MAX_RANK:
        ctx.unsupported(f"{src.describe()} has rank {rank}; TFLM supports up to {SQUEEZE_MAX_RANK}")
    dims = ctx.options.get("squeeze_dims", ())
    if dims:
        squeezed = set()
        for d in dims:
            axis = d + rank if d < 0 else d
            if not 0 <= axis < rank or src.shape[axis] != 1:
                ctx.fail(f"squeeze_dims entry {d} does not name a size-1 axis of {src.describe()}")
            squeezed.add(axis)
    else:
        squeezed = {axis for axis, n in enumerate(src.shape) if n == 1}
    expect_shape(ctx, dst, [n for axis, n in enumerate(src.shape) if axis not in squeezed],
                 f"{src.describe()} without axes {sorted(squeezed)}")
    _check_copy(ctx)
    return _bind_flat_copy


@register("EXPAND_DIMS")
def prepare_expand_dims(ctx: OpContext) -> BindFn:
    """Insert a size-1 axis at the constant int32 axis input (negative: counted from rank + 1)."""
    ctx.expect_io(2)
    src, axis_tensor, dst = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.expect_type(src, *EXPAND_DIMS_TYPES)
    if len(axis_tensor.shape) > 1:
        ctx.fail(f"axis {axis_tensor.describe()} must be a scalar or a 1-element vector")
    (axis,) = constant_ints(ctx, axis_tensor, "axis", count=1)
    rank = len(src.shape)
    if not -rank - 1 <= axis <= rank:
        ctx.fail(f"axis {axis} is out of range for inserting into rank {rank}")
    axis = axis + rank + 1 if axis < 0 else axis
    expect_shape(ctx, dst, src.shape[:axis] + (1,) + src.shape[axis:], f"{src.describe()} with a 1 at axis {axis}")
    _check_copy(ctx)
    return _bind_flat_copy
