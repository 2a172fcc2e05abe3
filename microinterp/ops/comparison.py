"""Ops on or to bool tensors: the comparisons, LOGICAL_AND/OR/NOT and SELECT_V2.

Comparisons (TFLM comparisons.cc, reference/comparisons.h) broadcast up to 6-D through the binary
template and write bool. int8 is compared on a common scale: each input becomes
RDBPOT(SRDHM((q - zp) * 2^8, m), -shift) with (m, shift) = QuantizeMultiplierSmallerThanOneExp(scale),
so scales must be below 1 (TFLM aborts otherwise). int16 follows LiteRT's reference kernels: EQUAL
and NOT_EQUAL rescale quantized int16 the same way (EQUAL compares unquantized int16 raw); LESS,
LESS_EQUAL, GREATER and GREATER_EQUAL compare the raw values and ignore the quantization (TFLM has
int16 GREATER only, and the tflite-micro wheel's returns false everywhere). bool, int32, int64 and
float32 compare raw values.

LOGICAL_AND/OR broadcast like the comparisons (logical.cc); LOGICAL_NOT is elementwise (elementwise.cc).
SELECT_V2 (select.cc) picks x where the condition holds, else y, with the three shapes broadcast
together: a pure copy, done with numpy on broadcast views fixed at bind time.
"""
from __future__ import annotations

import numpy as np

from ..model import Tensor
from .elementwise import BinaryOp, UnaryOp, check_broadcast, check_unary, prepare_binary, prepare_unary, rescale_inputs
from .registry import BindFn, OpContext, register

# Comparison left shift (TFLM's kLeftShift): headroom for the common scale.
COMPARISON_LEFT_SHIFT = 8
_COMPARISONS = {"EQUAL": BinaryOp.EQUAL, "NOT_EQUAL": BinaryOp.NOT_EQUAL, "LESS": BinaryOp.LESS,
                "LESS_EQUAL": BinaryOp.LESS_EQUAL, "GREATER": BinaryOp.GREATER,
                "GREATER_EQUAL": BinaryOp.GREATER_EQUAL}
# int16 comparisons LiteRT rescales to a common scale; it compares the raw values in the others. TFLM has
# only GREATER, and the tflite-micro wheel's is constant false (its prepare leaves the rescaling zero).
_RESCALED_INT16 = {"EQUAL", "NOT_EQUAL"}
#: Identity rescaling: RDBPOT(SRDHM(q, 2^31 - 1), 0) == q for every int16 q, so raw values compare as they are.
_RAW = {"input1_multiplier": (1 << 31) - 1, "input2_multiplier": (1 << 31) - 1}


def _binary_bool_inputs(ctx: OpContext, *type_names: str) -> tuple[Tensor, Tensor]:
    """Two inputs of one type among type_names, and a bool output."""
    ctx.expect_io(2)
    input1, input2, output = ctx.input(0), ctx.input(1), ctx.output(0)
    ctx.expect_type(input1, *type_names)
    if input2.type_code != input1.type_code:
        ctx.unsupported(f"{input1.describe()} compared with {input2.describe()} of another type")
    if output.type_name != "BOOL":
        ctx.fail(f"{output.describe()} must be BOOL")
    return input1, input2


def _rescaled_params(ctx: OpContext, input1: Tensor, input2: Tensor) -> dict:
    scales = [float(ctx.per_tensor(t)[0]) for t in (input1, input2)]
    return rescale_inputs(ctx, input1, input2, COMPARISON_LEFT_SHIFT, (scales[0], scales[1]))


@register(*_COMPARISONS)
def prepare_comparison(ctx: OpContext) -> BindFn:
    """EQUAL, NOT_EQUAL, LESS, LESS_EQUAL, GREATER, GREATER_EQUAL: int8, int16, int32, int64, float32
    (and bool for EQUAL/NOT_EQUAL) to bool."""
    name = ctx.op.name
    extra = ("BOOL",) if name in ("EQUAL", "NOT_EQUAL") else ()
    input1, input2 = _binary_bool_inputs(ctx, "INT8", "INT16", "INT32", "INT64", "FLOAT32", *extra)
    params = None
    if input1.type_name == "INT8":
        params = _rescaled_params(ctx, input1, input2)
    elif input1.type_name == "INT16":
        quantized = input1.quantization is not None
        if name == "EQUAL" and not quantized:
            params = _RAW
        elif name in _RESCALED_INT16:
            if not quantized:
                ctx.unsupported(f"unquantized int16 {input1.describe()} (supported quantized only)")
            params = _rescaled_params(ctx, input1, input2)
        else:
            params = _RAW
    return prepare_binary(ctx, _COMPARISONS[name], params)


@register("LOGICAL_AND", "LOGICAL_OR")
def prepare_logical_binary(ctx: OpContext) -> BindFn:
    """LOGICAL_AND, LOGICAL_OR: bool inputs broadcast to a bool output."""
    _binary_bool_inputs(ctx, "BOOL")
    return prepare_binary(ctx, BinaryOp.LOGICAL_AND if ctx.op.name == "LOGICAL_AND" else BinaryOp.LOGICAL_OR)


@register("LOGICAL_NOT")
def prepare_logical_not(ctx: OpContext) -> BindFn:
    """LOGICAL_NOT: bool to bool."""
    check_unary(ctx, "BOOL")
    return prepare_unary(ctx, UnaryOp.LOGICAL_NOT)


@register("SELECT_V2")
def prepare_select_v2(ctx: OpContext) -> BindFn:
    """SELECT_V2: output = where(condition, x, y) with numpy broadcasting, any value type (a copy).

    TFLM supports float32, int8 and int16 values; the other types follow LiteRT (same semantics).
    """
    ctx.expect_io(3)
    condition, x, y, output = ctx.input(0), ctx.input(1), ctx.input(2), ctx.output(0)
    if condition.type_name != "BOOL":
        ctx.fail(f"condition {condition.describe()} must be BOOL")
    if x.dtype is None:
        ctx.unsupported(f"{x.describe()} of type {x.type_name}")
    for t in (y, output):
        if t.type_code != x.type_code:
            ctx.fail(f"{t.describe()} must have the type of {x.describe()}")
    inputs = (condition, x, y)
    if all(t.num_elements == 1 for t in (*inputs, output)):
        # TFLM's mixed-scalar case: one element each, the output keeps its own shape.
        shapes = [(1,)] * 3
        out_shape: tuple[int, ...] = (1,)
    else:
        check_broadcast(ctx, inputs, output)
        shapes = [t.shape for t in inputs]
        out_shape = tuple(output.shape)

    def bind(inputs, outputs, scratch):
        cond_b, x_b, y_b = (np.broadcast_to(a.reshape(s), out_shape) for a, s in zip(inputs, shapes))
        out = outputs[0].reshape(out_shape)

        def step() -> None:
            np.copyto(out, y_b)
            np.copyto(out, x_b, where=cond_b)
        return step
    return bind
