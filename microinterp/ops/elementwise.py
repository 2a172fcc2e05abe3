"""Shared prepare for binary elementwise ops (ADD now; SUB, MUL, ... reuse it): broadcasting and binding.

TFLM broadcasts numpy-style up to 6-D (BroadcastAdd6DSlow and friends). Here the broadcast is resolved
once: each input gets element strides over the output shape (0 along broadcast axes), adjacent axes that
walk memory the same way are merged, and the result is padded to the 6 dims of the Cython loop in
kernels/elementwise.pyx. Each op module validates types and computes its arithmetic parameters, then
calls `prepare_binary`.
"""
from __future__ import annotations

import functools
from typing import Sequence

from .._kernels import elementwise as elementwise_kernels
from ..model import Tensor
from .registry import BindFn, OpContext

BinaryOp = elementwise_kernels.BinaryOp
MAX_RANK = 6
_KERNEL_TYPES = {"INT8": "int8_t", "FLOAT32": "float"}


def broadcast_shape(shape1: Sequence[int], shape2: Sequence[int]) -> tuple[int, ...] | None:
    """numpy's broadcast of two shapes, or None when some axis differs and neither side is 1."""
    rank = max(len(shape1), len(shape2))
    a = (1,) * (rank - len(shape1)) + tuple(shape1)
    b = (1,) * (rank - len(shape2)) + tuple(shape2)
    out = []
    for x, y in zip(a, b):
        if x != y and 1 not in (x, y):
            return None
        out.append(y if x == 1 else x)
    return tuple(out)


def _strides(shape: Sequence[int], out_shape: Sequence[int]) -> list[int]:
    """Element strides of a C-order input over the output's axes; 0 where the input is broadcast."""
    padded = (1,) * (len(out_shape) - len(shape)) + tuple(shape)
    strides, step = [0] * len(padded), 1
    for axis in range(len(padded) - 1, -1, -1):
        strides[axis] = step if padded[axis] != 1 else 0
        step *= padded[axis]
    return strides


def broadcast_geometry(shape1: Sequence[int], shape2: Sequence[int],
                       out_shape: Sequence[int]) -> tuple[list[int], list[int], list[int]]:
    """(shape, strides1, strides2) of exactly MAX_RANK axes for the kernel's loop over out_shape.

    Axes of extent 1 are dropped and neighbours merged where both inputs step uniformly across them,
    so equal shapes become a single flat axis. out_shape must be the broadcast of the two shapes.
    """
    axes = [(n, s1, s2) for n, s1, s2 in zip(out_shape, _strides(shape1, out_shape), _strides(shape2, out_shape))
            if n != 1]
    merged: list[tuple[int, int, int]] = []
    for n, s1, s2 in axes:
        if merged:
            pn, ps1, ps2 = merged[-1]
            if ps1 == s1 * n and ps2 == s2 * n:
                merged[-1] = (pn * n, s1, s2)
                continue
        merged.append((n, s1, s2))
    merged = [(1, 0, 0)] * (MAX_RANK - len(merged)) + merged
    return [m[0] for m in merged], [m[1] for m in merged], [m[2] for m in merged]


def check_broadcast(ctx: OpContext, input1: Tensor, input2: Tensor, output: Tensor) -> None:
    """Ranks up to 6, compatible input shapes, and an output shape equal to their broadcast."""
    for t in (input1, input2, output):
        if len(t.shape) > MAX_RANK:
            ctx.unsupported(f"{t.describe()} has rank {len(t.shape)}; broadcasting supports up to {MAX_RANK}")
    shape = broadcast_shape(input1.shape, input2.shape)
    if shape is None:
        ctx.fail(f"{input1.describe()} and {input2.describe()} cannot be broadcast together")
    if tuple(output.shape) != shape:
        ctx.fail(f"{output.describe()} must have the broadcast shape {list(shape)} of its inputs")


def prepare_binary(ctx: OpContext, op: int, quantized: dict | None = None,
                   float_activation: tuple[float, float] | None = None) -> BindFn:
    """Validate shapes and bind a binary op; `quantized` holds every QuantizedParams field for int8.

    The caller has already checked that both inputs and the output share the supported type.
    """
    input1, input2, output = ctx.input(0), ctx.input(1), ctx.output(0)
    check_broadcast(ctx, input1, input2, output)
    shape, strides1, strides2 = broadcast_geometry(input1.shape, input2.shape, output.shape)
    extra = {"quantized": quantized} if quantized is not None else {"float_activation": float_activation}
    kernel_state = elementwise_kernels.BinaryKernel(int(op), shape, strides1, strides2, **extra)
    kernel = elementwise_kernels.binary[_KERNEL_TYPES[output.type_name]]

    def bind(inputs, outputs, scratch):
        return functools.partial(kernel, kernel_state, inputs[0].reshape(-1), inputs[1].reshape(-1),
                                 outputs[0].reshape(-1))
    return bind
