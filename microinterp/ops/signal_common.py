"""What TFLM's signal library ops share: their flexbuffer options, decoded and validated once, and the
check of their input and output types.

Custom operator options are stored as a flexbuffer map.

TFLM reads these options by position (FlexbufferWrapper::ElementAsInt32(i) on the map's values, which
a flexbuffer map stores in key order), so a map with other keys would be read as something else:
here the keys must be exactly the ones the op expects, every value an integer or boolean that fits
int32. Untrusted bytes that are not such a map raise InconsistentModelError naming the op.
"""
from __future__ import annotations

import struct

from flatbuffers import flexbuffers

from ..model import Tensor
from .registry import OpContext

_INT32 = (-(1 << 31), (1 << 31) - 1)


def _integer(ctx: OpContext, key: str, value: flexbuffers.Ref) -> int:
    """An integer or boolean option value that fits int32 (what TFLM's ElementAsInt32 reads)."""
    if not (value.IsInt or value.IsBool):
        ctx.fail(f"custom option '{key}' must be an integer or boolean")
    number = int(value.AsInt) if value.IsInt else int(value.AsBool)
    if not _INT32[0] <= number <= _INT32[1]:
        ctx.fail(f"custom option '{key}' = {number} does not fit int32")
    return number


def read_options(ctx: OpContext, keys: tuple[str, ...]) -> dict[str, int]:
    """The op's flexbuffer options as {key: int}; `keys` is the full key set, in sorted (stored) order."""
    raw = ctx.op.custom_options
    if not keys:
        return {}  # TFLM's ops without options never read the buffer
    try:
        root = flexbuffers.GetRoot(raw)
        if not root.IsMap:
            ctx.fail(f"custom options must be a flexbuffer map with keys {list(keys)}")
        options = root.AsMap
        if len(options) != len(keys):  # before reading keys: a hostile size could be huge
            ctx.fail(f"custom options hold {len(options)} entries, expected keys {list(keys)}")
        found = tuple(k.AsKey for k in options.Keys)
        if found != keys:
            ctx.fail(f"custom options have keys {list(found)}, expected {list(keys)}")
        values = list(options.Values)
        if len(values) != len(keys):
            ctx.fail(f"custom options have {len(values)} values for the keys {list(keys)}")
        decoded = {key: _integer(ctx, key, value) for key, value in zip(keys, values)}
    except (ValueError, TypeError, IndexError, KeyError, UnicodeDecodeError, OverflowError, struct.error) as e:
        ctx.fail(f"custom options are not a valid flexbuffer ({len(raw)} bytes): {e}")
    return decoded


def option_in_range(ctx: OpContext, options: dict[str, int], key: str, low: int, high: int) -> int:
    """options[key], failing unless low <= value <= high (e.g. a shift the kernel applies)."""
    value = options[key]
    if not low <= value <= high:
        ctx.fail(f"custom option '{key}' = {value} must be in [{low}, {high}]")
    return value


def typed_io(ctx: OpContext, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> tuple[list[Tensor], list[Tensor]]:
    """Exactly len(inputs) inputs and len(outputs) outputs of those type names; returns both lists."""
    ctx.expect_io(len(inputs), len(outputs))
    ins = [ctx.input(i) for i in range(len(inputs))]
    outs = [ctx.output(i) for i in range(len(outputs))]
    for t, type_name in zip(ins + outs, inputs + outputs):
        ctx.expect_type(t, type_name)
    return ins, outs
