"""PAD, PADV2 and MIRROR_PAD (TFLM pad.cc, pad_common.cc, reference pad.h; mirror_pad.cc).

PAD/PADV2: int8, int16, int32 and float32, up to 5-D. The paddings (int32, constant, one non-negative
(before, after) pair per axis) place the input inside the output; the rest is the pad value:
* with a third input (constant_values, one element of the input's type, read on every invoke): that
  value; TFLM requires int8 constant_values to share the output's scale and zero point;
* without it: the output zero point for int8, and 0 for int16 (TFLM ignores an int16 zero point
  here), int32 and float32.
An int8 PAD of an NHWC image's height and width with the zero point (mobilenet_v2's, before each
strided or VALID depthwise conv) declares so: the execution plan may then leave it out and have its one
reader, an int8 CONV_2D or DEPTHWISE_CONV_2D, read the unpadded image with the padding added to its own
(out-of-image taps read the zero point, the same bits), which saves a copy of the image.
MIRROR_PAD: int8 and float32, any rank, constant int32 or int64 paddings (TFLM would also read runtime
ones on every invoke; those are unsupported here), at most dim - 1 per side for REFLECT (mirrors around
the edge element) and dim for SYMMETRIC (repeats it), beyond which TFLM reads outside the input. Each
invoke gathers through an index map made from TFLM's GetInputDimension. TFLM's kernel asks for
two scratch buffers of 4 * rank bytes (its stride tables), requested here identically so the planned
arena head stays TFLM's; microinterp does not use them.
"""
from __future__ import annotations

import numpy as np

from .._kernels import steps
from .movement import (bind_take, constant_ints, element_numbers, expect_max_rank, expect_same_type, expect_shape,
                       tensor_params)
from .registry import BindFn, OpContext, register

PAD_TYPES = ("INT8", "INT16", "INT32", "FLOAT32")
PAD_MAX_RANK = 5
MIRROR_PAD_TYPES = ("INT8", "FLOAT32")
REFLECT, SYMMETRIC = 0, 1


def _paddings(ctx: OpContext, types: tuple[str, ...] = ("INT32",)) -> list[tuple[int, int]]:
    """The (before, after) pairs of a constant [rank, 2] paddings input; fails unless the output fits them."""
    src, paddings, dst = ctx.input(0), ctx.input(1), ctx.output(0)
    rank = len(src.shape)
    if len(dst.shape) != rank:
        ctx.fail(f"{dst.describe()} must have the rank {rank} of {src.describe()}")
    values = constant_ints(ctx, paddings, "paddings", types, count=2 * rank)
    pairs = [(values[2 * i], values[2 * i + 1]) for i in range(rank)]
    if any(before < 0 or after < 0 for before, after in pairs):
        # TFLM's loops do not crop: negative paddings would give neither TF's result nor a defined one.
        ctx.unsupported(f"negative paddings {pairs}")
    expect_shape(ctx, dst, [n + before + after for n, (before, after) in zip(src.shape, pairs)],
                 f"{src.describe()} padded by {pairs}")
    return pairs


@register("PAD", "PADV2")
def prepare_pad(ctx: OpContext) -> BindFn:
    """Validate a PAD/PADV2 and bind a compiled PadStep: the pad value around the input, in output order."""
    ctx.expect_io((2, 3))
    src, dst = ctx.input(0), ctx.output(0)
    expect_same_type(ctx, src, dst)
    ctx.expect_type(src, *PAD_TYPES)
    expect_max_rank(ctx, src, PAD_MAX_RANK)
    pairs = _paddings(ctx)
    constant_values = ctx.optional_input(2)
    if constant_values is not None:
        expect_same_type(ctx, src, constant_values)
        if constant_values.num_elements != 1:
            ctx.fail(f"constant_values {constant_values.describe()} must hold one value")
        if src.type_name == "INT8" and tensor_params(constant_values) != tensor_params(dst):
            ctx.fail(f"constant_values {constant_values.describe()} must have the output's scale and zero "
                     f"point {tensor_params(dst)}, found {tensor_params(constant_values)}")
        default_value = None
    elif src.type_name == "INT8":
        default_value = tensor_params(dst)[1]
        if not -128 <= default_value <= 127:
            ctx.fail(f"output zero point {default_value} is outside the int8 range")
    else:
        default_value = 0
    if (src.type_name == "INT8" and constant_values is None and len(pairs) == 4 and pairs[0] == pairs[3] == (0, 0)
            and src.num_elements > 0):
        ctx.declare_image_pad(pairs[1][0], pairs[2][0])

    def bind(inputs, outputs, scratch):
        value = np.asarray([default_value], outputs[0].dtype) if constant_values is None else inputs[2]
        return steps.PadStep(inputs[0], outputs[0], value, pairs)
    return bind


def _mirror_indices(out_size: int, size: int, before: int, offset: int) -> np.ndarray:
    """Input coordinate of every output coordinate along one axis (TFLM's GetInputDimension)."""
    coords = np.arange(out_size) - before
    left = before - 1 + offset - np.arange(out_size)  # mirrored back from the first element
    right = size - 1 - offset - (coords - size)  # mirrored back from the last element
    return np.where(coords < 0, left, np.where(coords >= size, right, coords))


@register("MIRROR_PAD")
def prepare_mirror_pad(ctx: OpContext) -> BindFn:
    """Validate a MIRROR_PAD (pads within what the mode can mirror) and bind a gather through its index map."""
    ctx.expect_io(2)
    src, dst = ctx.input(0), ctx.output(0)
    expect_same_type(ctx, src, dst)
    ctx.expect_type(src, *MIRROR_PAD_TYPES)
    mode = ctx.options.get("mode", REFLECT)
    if mode not in (REFLECT, SYMMETRIC):
        ctx.fail(f"unknown mirror padding mode {mode}")
    offset = 1 if mode == REFLECT else 0
    pairs = _paddings(ctx, ("INT32", "INT64"))
    for axis, (n, (before, after)) in enumerate(zip(src.shape, pairs)):
        if max(before, after) > n - offset:
            ctx.fail(f"paddings {(before, after)} of axis {axis} exceed the {n - offset} elements "
                     f"{'REFLECT' if mode == REFLECT else 'SYMMETRIC'} can mirror from {src.describe()}")
    per_axis = [_mirror_indices(m, n, before, offset) for m, n, (before, _) in zip(dst.shape, src.shape, pairs)]
    index_map = element_numbers(src.shape)[np.ix_(*per_axis)] if per_axis else element_numbers(())
    rank_bytes = 4 * len(src.shape)
    ctx.request_scratch(rank_bytes, like_tflm=True)
    ctx.request_scratch(rank_bytes, like_tflm=True)
    return bind_take(index_map)
