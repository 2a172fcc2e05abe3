"""Shared prepare for elementwise ops: broadcasting binary ops and unary ops, their kernels and bindings.

Binary ops (kernels/elementwise.pyx): TFLM broadcasts numpy-style (BroadcastBinaryOpSimple). Here the
broadcast is resolved once: each input gets element strides over the output shape (0 along broadcast
axes), adjacent axes that walk memory the same way are merged, and the result is padded to the 6 dims of
the Cython loop. Unary ops (kernels/activations.pyx) run one flat loop. Each op module validates types
and computes its arithmetic parameters, then calls `prepare_binary` or `prepare_unary`; the quantized
input rescaling that ADD, SUB, SQUARED_DIFFERENCE and the comparisons share is `rescale_inputs`.
"""
from __future__ import annotations

import functools
from typing import Sequence

import numpy as np

from .._kernels import activations as activation_kernels
from .._kernels import elementwise as elementwise_kernels
from .._kernels import steps
from ..errors import KernelDomainError
from ..model import Tensor
from ..quantization import INT_RANGES, quantize_multiplier_smaller_than_one_exp
from .registry import BindFn, OpContext

BinaryOp = elementwise_kernels.BinaryOp
UnaryOp = activation_kernels.UnaryOp
MAX_RANK = 6
#: Tensor type -> kernel element type (bool tensors are passed to the kernels as uint8).
KERNEL_TYPES = {"INT8": "int8_t", "INT16": "int16_t", "INT32": "int32_t", "INT64": "int64_t",
                "FLOAT32": "float", "BOOL": "uint8_t"}
#: Ops whose output is bool: they run through the kernel's `compare` entry point.
_BOOL_OUTPUT_OPS = {BinaryOp.EQUAL, BinaryOp.NOT_EQUAL, BinaryOp.LESS, BinaryOp.LESS_EQUAL, BinaryOp.GREATER,
                    BinaryOp.GREATER_EQUAL, BinaryOp.LOGICAL_AND, BinaryOp.LOGICAL_OR}
_INT32_MIN, _INT32_MAX = INT_RANGES[np.dtype("<i4")]


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


def check_broadcast(ctx: OpContext, inputs: Sequence[Tensor], output: Tensor, max_rank: int = MAX_RANK) -> None:
    """Ranks up to max_rank, compatible input shapes, and an output shape equal to their broadcast."""
    for t in (*inputs, output):
        if len(t.shape) > max_rank:
            ctx.unsupported(f"{t.describe()} has rank {len(t.shape)}; this op supports up to {max_rank}")
    shape: tuple[int, ...] | None = ()
    for t in inputs:
        shape = broadcast_shape(shape, t.shape)
        if shape is None:
            ctx.fail(f"{' and '.join(t.describe() for t in inputs)} cannot be broadcast together")
    if tuple(output.shape) != shape:
        ctx.fail(f"{output.describe()} must have the broadcast shape {list(shape)} of its inputs")


def binary_params(**fields: int | float) -> dict:
    """Every field of the kernels' `Params`: the given ones, the rest neutral (no offsets, no clamp)."""
    params = {"input1_offset": 0, "input2_offset": 0, "output_offset": 0, "left_shift": 0,
              "input1_multiplier": 0, "input1_shift": 0, "input2_multiplier": 0, "input2_shift": 0,
              "output_multiplier": 0, "output_shift": 0, "activation_min": _INT32_MIN, "activation_max": _INT32_MAX,
              "float_min": -np.inf, "float_max": np.inf}
    unknown = set(fields) - set(params)
    if unknown:
        raise ValueError(f"unknown binary parameter(s) {sorted(unknown)}")
    params.update(fields)
    return params


def rescale_inputs(ctx: OpContext, input1: Tensor, input2: Tensor, left_shift: int,
                   reals: tuple[float, float]) -> dict:
    """Offsets and SmallerThanOneExp multipliers that bring both quantized inputs to a common scale.

    reals: the two real multipliers, computed by the caller exactly as its TFLM kernel does (double
    or float32). TFLM aborts unless each is in (0, 1); such a model is rejected here.
    """
    params = {"left_shift": left_shift, "input1_offset": -input1.quantization.zero_point,
              "input2_offset": -input2.quantization.zero_point}
    for name, real in zip(("input1", "input2"), reals):
        try:
            params[f"{name}_multiplier"], params[f"{name}_shift"] = quantize_multiplier_smaller_than_one_exp(real)
        except ValueError as e:
            ctx.fail(f"{name} rescale factor from its scale is unusable (TFLM aborts): {e}")
    return params


def require_zero_points_zero(ctx: OpContext, *tensors: Tensor) -> None:
    """Quantized int16 tensors TFLM requires to be symmetric: per-tensor with zero point 0."""
    for t in tensors:
        if ctx.per_tensor(t)[1] != 0:
            ctx.fail(f"int16 {t.describe()} must have zero point 0 (TFLM requires it), "
                     f"found {t.quantization.zero_point}")


def _flat(array: np.ndarray) -> np.ndarray:
    """A flat view for the kernels; bool tensors are seen as uint8 (one byte each, 0 or 1)."""
    flat = array.reshape(-1)
    return flat.view(np.uint8) if flat.dtype == np.bool_ else flat


def _checked(run, where: str, failure: str | None):
    """The step: run the kernel, and raise KernelDomainError when it reports a failed element."""
    if failure is None:
        return run

    def step() -> None:
        index = run()
        if index >= 0:
            raise KernelDomainError(f"{where}: {failure} (flat output index {index})")
    return step


def prepare_binary(ctx: OpContext, op: int, params: dict | None = None, *, max_rank: int = MAX_RANK,
                   failure: str | None = None) -> BindFn:
    """Validate broadcasting and bind a binary op; `params` holds its `Params` fields (see binary_params).

    The caller has already checked the types: both inputs share one type in KERNEL_TYPES and the output
    has it too (bool for comparisons and logical ops). failure: what TFLM does when the kernel reports
    a failed element (only int32 DIV can), raised as KernelDomainError.
    """
    input1, input2, output = ctx.input(0), ctx.input(1), ctx.output(0)
    check_broadcast(ctx, (input1, input2), output, max_rank)
    shape, strides1, strides2 = broadcast_geometry(input1.shape, input2.shape, output.shape)
    kernel_state = elementwise_kernels.BinaryKernel(int(op), shape, strides1, strides2, binary_params(**(params or {})))
    entry = elementwise_kernels.compare if op in _BOOL_OUTPUT_OPS else elementwise_kernels.binary
    kernel = entry[KERNEL_TYPES[input1.type_name]]
    where = ctx.op.describe()

    def bind(inputs, outputs, scratch):
        run = functools.partial(kernel, kernel_state, _flat(inputs[0]), _flat(inputs[1]), _flat(outputs[0]))
        return _checked(run, where, failure)
    return bind


def unary_params(**fields: int | float | np.ndarray) -> dict:
    """Every field of the kernels' `UnaryParams`: the given ones, the rest neutral."""
    params = {"input_zero_point": 0, "output_zero_point": 0, "multiplier": 0, "shift": 0, "multiplier2": 0,
              "shift2": 0, "lo": _INT32_MIN, "hi": _INT32_MAX, "radius": 0, "float_lo": -np.inf,
              "float_hi": np.inf, "alpha": 0.0, "table": np.zeros(256, np.int8)}
    unknown = set(fields) - set(params)
    if unknown:
        raise ValueError(f"unknown unary parameter(s) {sorted(unknown)}")
    params.update(fields)
    params["table"] = [int(v) for v in params["table"]]
    return params


def check_unary(ctx: OpContext, *type_names: str) -> tuple[Tensor, Tensor]:
    """One input and one output of the same shape and type, the type among type_names."""
    ctx.expect_io(1)
    input, output = ctx.input(0), ctx.output(0)
    ctx.expect_type(input, *type_names)
    if output.type_code != input.type_code:
        ctx.unsupported(f"input type {input.type_name} with output type {output.type_name}")
    if tuple(output.shape) != tuple(input.shape):
        ctx.fail(f"{output.describe()} must have the shape of {input.describe()}")
    return input, output


def prepare_unary(ctx: OpContext, op: int, params: dict | None = None, *, failure: str | None = None) -> BindFn:
    """Bind a unary op on input 0 -> output 0 (already validated, e.g. by check_unary).

    params: its `UnaryParams` fields (see unary_params). failure: what TFLM does when the kernel reports
    a failed element, raised as KernelDomainError.
    """
    kernel_state = activation_kernels.UnaryKernel(int(op), unary_params(**(params or {})))
    kernel = activation_kernels.unary[KERNEL_TYPES[ctx.input(0).type_name]]
    where = ctx.op.describe()
    table = _int8_table(ctx, kernel, kernel_state)

    def bind(inputs, outputs, scratch):
        if table is not None:
            return steps.Int8LookupStep(inputs[0], outputs[0], table)
        return _checked(functools.partial(kernel, kernel_state, _flat(inputs[0]), _flat(outputs[0])), where, failure)
    return bind


def _int8_table(ctx: OpContext, kernel, kernel_state) -> np.ndarray | None:
    """For an int8 -> int8 op, its outputs for the 256 input values (the compiled step looks them up), or
    None if it is not int8 -> int8 or fails on some value (then the kernel runs and reports it)."""
    if ctx.input(0).type_name != "INT8" or ctx.output(0).type_name != "INT8":
        return None
    table = np.empty(256, np.int8)
    return table if kernel(kernel_state, np.arange(-128, 128, dtype=np.int8), table) < 0 else None
