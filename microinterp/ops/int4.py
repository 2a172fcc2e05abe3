"""int4 filters of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (TFLM conv.cc, depthwise_conv.cc,
fully_connected.cc; tensor_utils UnpackDenseInt4IntoInt8).

TFLM keeps an int4 filter packed two values per byte (the lower nibble first, sign-extended) and, in
Prepare, asks for a scratch buffer of one byte per filter element, into which every invoke unpacks it
before running the int8 kernel. Here the constant filter is unpacked once at prepare and the op runs its
int8 path on it; the scratch request is made all the same (first, as TFLM's is the only one of these
reference kernels), so the planned head is TFLM's.
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np

from ..model import TENSOR_TYPES
from .registry import BindFn, OpContext, PrepareFn

_INT8_CODE = next(code for code, (name, _, _) in TENSOR_TYPES.items() if name == "INT8")


def unpack_int4(packed: np.ndarray, count: int) -> np.ndarray:
    """`count` int8 values from packed int4 bytes: element 2i is byte i's lower nibble, 2i + 1 its upper."""
    raw = np.asarray(packed).view(np.int8)[:(count + 1) // 2]
    values = np.empty(2 * raw.size, np.int8)
    values[0::2] = (raw << 4).astype(np.int8) >> 4
    values[1::2] = raw >> 4
    return values[:count]


def accepts_int4_filter(prepare: PrepareFn, per_channel: bool = True) -> PrepareFn:
    """Wrap an op's prepare so that a constant int4 filter (input 1) runs as its unpacked int8 values.

    per_channel=False: the op refuses per-channel int4 filters, as TFLM's FULLY_CONNECTED does.
    """
    @functools.wraps(prepare)
    def wrapped(ctx: OpContext) -> BindFn:
        filter = ctx.input(1) if ctx.num_inputs > 1 else None
        if filter is None or filter.type_name != "INT4":
            return prepare(ctx)
        if ctx.input(0).type_name != "INT8":
            ctx.unsupported(f"int4 {filter.describe()} with {ctx.input(0).type_name} input (TFLM: int8 input only)")
        if filter.data is None:
            ctx.unsupported(f"int4 {filter.describe()} must be a constant")
        if not per_channel and filter.quantization is not None and filter.quantization.per_channel:
            ctx.unsupported(f"int4 {filter.describe()} is quantized per channel (TFLM supports per-tensor only)")
        unpacked = unpack_int4(filter.data, filter.num_elements).reshape(filter.shape)
        unpacked.flags.writeable = False
        ctx.request_scratch(filter.num_elements, like_tflm=True)
        ctx.replace_tensor(dataclasses.replace(filter, type_code=_INT8_CODE, data=unpacked))
        bind = prepare(ctx)

        def bind_unpacked(inputs, outputs, scratch):
            return bind([inputs[0], unpacked, *inputs[2:]], outputs, scratch)
        return bind_unpacked
    return wrapped
