"""What TFLM's signal library ops share: their flexbuffer options, decoded and validated once, and the
check of their input and output types.

TFLM reads these options by position (FlexbufferWrapper::ElementAsInt32(i) on the map's values, which
a flexbuffer map stores in key order), so a map with other keys would be read as something else:
here the keys must be exactly the ones the op expects, every value an integer or boolean that fits
int32. Untrusted bytes that are not such a map raise InconsistentModelError naming the op.
"""
from __future__ import annotations

from ..custom_options import int_map
from ..model import Tensor
from .registry import OpContext

_INT32 = (-(1 << 31), (1 << 31) - 1)


def read_options(ctx: OpContext, keys: tuple[str, ...]) -> dict[str, int]:
    """The op's flexbuffer options as {key: int}; `keys` is the full key set, in sorted (stored) order."""
    if not keys:
        return {}  # TFLM's ops without options never read the buffer
    try:
        options = int_map(ctx.op.custom_options)
    except ValueError as e:
        ctx.fail(f"custom options ({len(ctx.op.custom_options)} bytes) must be a flexbuffer map with keys "
                 f"{list(keys)}: {e}")
    if tuple(options) != keys:
        ctx.fail(f"custom options have keys {list(options)}, expected {list(keys)}")
    for key, number in options.items():
        if not _INT32[0] <= number <= _INT32[1]:
            ctx.fail(f"custom option '{key}' = {number} does not fit int32")
    return options


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
