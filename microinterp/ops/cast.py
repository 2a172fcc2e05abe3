"""CAST (TFLM cast.cc): element-wise type conversion between int8, int16, int32, uint32, float32 and bool.

What TFLM's kernel computes, checked against it at the range ends:
* integer to integer: two's-complement wrap to the target width (numpy's astype does the same);
* float32 to an integer type: truncation toward zero, saturated to the target range, NaN -> 0;
* integer or float32 to float32: rounded to nearest (numpy's astype);
* to bool: nonzero -> true (NaN too); from bool: the stored byte as an integer (0 or 1).
Quantization parameters play no part: the values are converted as they are stored.
"""
from __future__ import annotations

import functools

import numpy as np

from .movement import expect_shape
from .registry import BindFn, OpContext, register

CAST_TYPES = ("INT8", "INT16", "INT32", "UINT32", "FLOAT32", "BOOL")


def _saturating_from_float(source: np.ndarray, target: np.ndarray) -> None:
    info = np.iinfo(target.dtype)
    # float64 holds every int32/uint32 bound exactly, so the clip saturates before astype truncates.
    wide = np.clip(source.astype(np.float64), info.min, info.max)
    np.copyto(target, np.where(np.isnan(wide), 0.0, wide), casting="unsafe")


@register("CAST")
def prepare_cast(ctx: OpContext) -> BindFn:
    """Validate the type pair and shapes; bind the conversion for that pair."""
    ctx.expect_io(1)
    src, dst = ctx.input(0), ctx.output(0)
    ctx.expect_type(src, *CAST_TYPES)
    ctx.expect_type(dst, *CAST_TYPES)
    expect_shape(ctx, dst, src.shape, f"the shape of {src.describe()}")
    from_float = src.type_name == "FLOAT32" and dst.type_name not in ("FLOAT32", "BOOL")

    def bind(inputs, outputs, scratch):
        source, target = inputs[0], outputs[0]
        if src.type_name == "BOOL":
            source = source.view(np.uint8)
            if dst.type_name == "BOOL":  # bool to bool keeps the stored byte
                target = target.view(np.uint8)
        if from_float:
            return functools.partial(_saturating_from_float, source, target)
        if target.dtype == np.bool_:
            return functools.partial(np.not_equal, source, 0, out=target)
        return functools.partial(np.copyto, target, source, casting="unsafe")
    return bind
