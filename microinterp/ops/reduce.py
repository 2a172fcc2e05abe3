"""Reductions MEAN, SUM, REDUCE_MAX, REDUCE_MIN (TFLM reduce.cc, reduce_common.cc; reference reduce.h) and
ARG_MAX, ARG_MIN (TFLM arg_min_max.cc; reference arg_min_max.h).

The axes must be a constant int32 tensor (they fix the output shape); negative axes are resolved and
duplicates ignored, as TFLM's ResolveAxis does. TFLM writes the output in the input's order with the
reduced axes dropped, whatever the output's declared shape, so only its element count is checked.
* MEAN / SUM: float32, and int8 / int16 with QuantizedMeanOrSum: an int32 (wrapping) sum of raw values,
  minus input zero point x count, requantized by s_in / s_out; MEAN folds 1/count into the multiplier
  with TFLM's integer division. No fused activation.
* REDUCE_MAX / REDUCE_MIN: float32, int8, int16; quantized input and output must share scale and zero point.
* REDUCE_ALL: bool (logical and over the axes).
* ARG_MAX / ARG_MIN: float32 and int8 with int32 axis and output, as in TFLM; int32 input and int64 axis or
  output follow LiteRT's reference kernel (TFLM has no kernel for them).
Scratch buffers are requested as TFLM's reference kernels request them, so the planned head is TFLM's.
"""
from __future__ import annotations

import functools
import math

import numpy as np

from .._kernels import steps
from .._kernels import reduce as reduce_kernels
from ..model import Tensor
from ..quantization import quantize_multiplier
from .elementwise import MAX_RANK, broadcast_geometry
from .registry import BindFn, OpContext, register

_KERNEL_TYPES = {"INT8": "int8_t", "INT16": "int16_t", "INT32": "int32_t", "FLOAT32": "float"}


def _resolve_axes(ctx: OpContext, input: Tensor, axis: Tensor, index_types: tuple[str, ...] = ("INT32",)) -> list[int]:
    """The constant axes, made non-negative, duplicates dropped in order of first appearance."""
    ctx.expect_type(axis, *index_types)
    values = ctx.expect_constant(axis).reshape(-1)
    rank = len(input.shape)
    resolved: list[int] = []
    for a in (int(v) for v in values):
        if not -rank <= a < rank:
            ctx.fail(f"axis {a} is out of range for {input.describe()} of rank {rank}")
        a = a + rank if a < 0 else a
        if a not in resolved:
            resolved.append(a)
    return resolved


def _check_input(ctx: OpContext, input: Tensor, types: tuple[str, ...]) -> None:
    ctx.expect_type(input, *types)
    if len(input.shape) > MAX_RANK:
        ctx.unsupported(f"{input.describe()} has rank {len(input.shape)}; at most {MAX_RANK} is supported")
    if input.num_elements == 0:
        ctx.unsupported(f"{input.describe()} is empty")


def _reduction_geometry(ctx: OpContext, input: Tensor, axes: list[int], output: Tensor):
    """(shape, input strides, output strides) of the kernels' 6-D walk, plus the reduced element count."""
    if output.type_code != input.type_code:
        ctx.unsupported(f"input type {input.type_name} with output type {output.type_name}")
    kept = [1 if d in axes else n for d, n in enumerate(input.shape)]
    if output.num_elements != math.prod(kept):
        ctx.fail(f"{output.describe()} has {output.num_elements} elements, but reducing {input.describe()} "
                 f"over axes {axes} leaves {math.prod(kept)}")
    shape, in_strides, out_strides = broadcast_geometry(input.shape, kept, input.shape)
    as_array = functools.partial(np.array, dtype=np.intp)
    count = math.prod(input.shape[d] for d in axes)
    return (as_array(shape), as_array(in_strides), as_array(out_strides)), count


def _request_index_scratch(ctx: OpContext, input: Tensor, axis: Tensor) -> None:
    """TFLM's temp_index (one int per input dim) and resolved_axis (one per axis value) buffers."""
    ctx.request_scratch(4 * len(input.shape), like_tflm=True)
    ctx.request_scratch(4 * axis.num_elements, like_tflm=True)


def _prepare_mean_or_sum(ctx: OpContext, is_mean: bool) -> BindFn:
    ctx.expect_io(2)
    input, axis, output = ctx.input(0), ctx.input(1), ctx.output(0)
    _check_input(ctx, input, ("INT8", "INT16", "FLOAT32"))
    axes = _resolve_axes(ctx, input, axis)
    geometry, count = _reduction_geometry(ctx, input, axes, output)
    if input.type_name == "FLOAT32":
        _request_index_scratch(ctx, input, axis)
        divisor = np.float32(count)
        sum_kernel = reduce_kernels.reduce_sum["float", "float"]

        def bind_float(inputs, outputs, scratch):
            out = outputs[0].reshape(-1)
            total = functools.partial(sum_kernel, inputs[0].reshape(-1), out, *geometry)
            if not is_mean:
                return total

            def step() -> None:
                total()
                reduce_kernels.divide_float(out, divisor)
            return step
        return bind_float

    s_in, zp_in = ctx.per_tensor(input)
    s_out, zp_out = ctx.per_tensor(output)
    multiplier, shift = quantize_multiplier(float(s_in) / float(s_out))
    if is_mean:
        multiplier, shift = fold_count_into_multiplier(multiplier, shift, count)
    # sum - zp_in * count is an int64 product narrowed to int32: the same as subtracting it modulo 2^32.
    offset = int(np.array((zp_in * count) & 0xFFFFFFFF, np.uint32).view(np.int32))
    sums_index = ctx.request_scratch(4 * output.num_elements, like_tflm=True)
    _request_index_scratch(ctx, input, axis)

    def bind(inputs, outputs, scratch):
        sums = scratch[sums_index].view(np.int32)
        return steps.QuantizedSumStep(inputs[0], sums, outputs[0], *geometry, multiplier, shift, offset, zp_out)
    return bind


def fold_count_into_multiplier(multiplier: int, shift: int, count: int) -> tuple[int, int]:
    """QuantizedMeanOrSum's 1/count: multiplier * 2^k // count (C division) with k = floor(log2 count),
    at most 32 and 31 + shift; the shift loses k."""
    k = min(count.bit_length() - 1, 32, 31 + shift)
    return (multiplier << k) // count, shift - k


@register("MEAN")
def prepare_mean(ctx: OpContext) -> BindFn:
    """Mean over the constant axes (keep_dims only shapes the output)."""
    return _prepare_mean_or_sum(ctx, is_mean=True)


@register("SUM")
def prepare_sum(ctx: OpContext) -> BindFn:
    """Sum over the constant axes."""
    return _prepare_mean_or_sum(ctx, is_mean=False)


def _prepare_extreme(ctx: OpContext, take_max: bool) -> BindFn:
    ctx.expect_io(2)
    input, axis, output = ctx.input(0), ctx.input(1), ctx.output(0)
    _check_input(ctx, input, ("INT8", "INT16", "FLOAT32"))
    axes = _resolve_axes(ctx, input, axis)
    geometry, _ = _reduction_geometry(ctx, input, axes, output)
    if input.type_name != "FLOAT32":
        s_in, zp_in = ctx.per_tensor(input)
        s_out, zp_out = ctx.per_tensor(output)
        if s_in != s_out or zp_in != zp_out:
            ctx.fail(f"input and output quantization must be equal (no requantization): input scale {s_in} "
                     f"zero point {zp_in}, output scale {s_out} zero point {zp_out}")
    _request_index_scratch(ctx, input, axis)
    kernel = reduce_kernels.reduce_extreme[_KERNEL_TYPES[input.type_name]]

    def bind(inputs, outputs, scratch):
        return functools.partial(kernel, inputs[0].reshape(-1), outputs[0].reshape(-1), *geometry, take_max)
    return bind


@register("REDUCE_MAX")
def prepare_reduce_max(ctx: OpContext) -> BindFn:
    """Maximum over the constant axes."""
    return _prepare_extreme(ctx, take_max=True)


@register("REDUCE_MIN")
def prepare_reduce_min(ctx: OpContext) -> BindFn:
    """Minimum over the constant axes."""
    return _prepare_extreme(ctx, take_max=False)


@register("REDUCE_ALL")
def prepare_reduce_all(ctx: OpContext) -> BindFn:
    """Logical and of bool values over the constant axes."""
    ctx.expect_io(2)
    input, axis, output = ctx.input(0), ctx.input(1), ctx.output(0)
    _check_input(ctx, input, ("BOOL",))
    axes = _resolve_axes(ctx, input, axis)
    _reduction_geometry(ctx, input, axes, output)
    _request_index_scratch(ctx, input, axis)

    kept_shape = tuple(n for d, n in enumerate(input.shape) if d not in axes)

    def bind(inputs, outputs, scratch):
        return functools.partial(np.logical_and.reduce, inputs[0], axis=tuple(axes),
                                 out=outputs[0].reshape(kept_shape))
    return bind


def _prepare_arg(ctx: OpContext, take_max: bool) -> BindFn:
    ctx.expect_io(2)
    input, axis, output = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.expect_type(input, "INT8", "INT32", "FLOAT32")
    ctx.expect_type(output, "INT32", "INT64")
    if not input.shape:
        ctx.fail(f"{input.describe()} is a scalar; it needs an axis to reduce")
    if axis.num_elements != 1:
        ctx.fail(f"axis {axis.describe()} must hold one value, found {axis.num_elements}")
    (a,) = _resolve_axes(ctx, input, axis, ("INT32", "INT64"))
    expected = input.shape[:a] + input.shape[a + 1:]
    if tuple(output.shape) != tuple(expected):
        ctx.fail(f"{output.describe()} must have shape {list(expected)} ({input.describe()} without axis {a})")
    if input.shape[a] == 0 or input.num_elements == 0:
        ctx.unsupported(f"{input.describe()} is empty")
    outer, inner = math.prod(input.shape[:a]), math.prod(input.shape[a + 1:])
    view = (outer, input.shape[a], inner)
    kernel = reduce_kernels.arg_min_max[_KERNEL_TYPES[input.type_name],
                                        "int32_t" if output.type_name == "INT32" else "int64_t"]

    def bind(inputs, outputs, scratch):
        return functools.partial(kernel, inputs[0].reshape(view), outputs[0].reshape(outer, inner), take_max)
    return bind


@register("ARG_MAX")
def prepare_arg_max(ctx: OpContext) -> BindFn:
    """Index of the first maximum along the constant axis."""
    return _prepare_arg(ctx, take_max=True)


@register("ARG_MIN")
def prepare_arg_min(ctx: OpContext) -> BindFn:
    """Index of the first minimum along the constant axis."""
    return _prepare_arg(ctx, take_max=False)
