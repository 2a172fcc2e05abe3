"""CIRCULAR_BUFFER, TFLM's streaming custom op (circular_buffer.cc, circular_buffer_common.cc).

int8 only. Each invoke shifts the output [batch, slots, h, depth] one slot towards the start and copies
the input [batch, 1, h, depth] into the last slot (only the first slots x h x depth bytes, as TFLM). It
then counts down from cycles_max (flexbuffer option): on the invokes where the count has not reached
zero TFLM returns kTfLiteAbort and the rest of the graph does not run; here the invoke ends the same way.
Without a positive cycles_max TFLM picks 1 when the output has 5, 13 or 25 slots, else 2 (its extra rule,
keyed on a process-wide count of prepares, is not mirrored). The output keeps its bytes between invokes
because nothing else writes them, as in TFLM's arena.
"""
from __future__ import annotations

from .movement import expect_same_type
from .registry import BindFn, GraphAborted, OpContext, register_custom

#: Output slot counts of the two streaming models TFLM's default cycles_max recognises.
_ONE_CYCLE_SLOTS = (5, 13, 25)


@register_custom("CIRCULAR_BUFFER")
def prepare_circular_buffer(ctx: OpContext) -> BindFn:
    """Shift the output by one slot and append the input; run the rest of the graph every cycles_max invokes."""
    ctx.expect_io(1, 1)
    input, output = ctx.input(0), ctx.output(0)
    ctx.expect_type(input, "INT8")
    expect_same_type(ctx, input, output)
    ctx.expect_rank(input, 4)
    ctx.expect_rank(output, 4)
    if (input.shape[0], 1, input.shape[2], input.shape[3]) != (output.shape[0], input.shape[1], output.shape[2],
                                                                output.shape[3]):
        ctx.fail(f"{input.describe()} must be [batch, 1, h, depth] of {output.describe()} [batch, slots, h, depth]")
    if output.num_elements == 0:
        ctx.fail(f"{output.describe()} is empty: TFLM's shift would move a negative byte count")
    cycles_max = int(ctx.flexbuffer_options().get("cycles_max", 0)) if ctx.op.custom_options else 0
    if cycles_max <= 0:
        cycles_max = 1 if output.shape[1] in _ONE_CYCLE_SLOTS else 2
    slots, depth = output.shape[1], output.shape[2] * output.shape[3]
    ctx.declare_abort()

    def bind(inputs, outputs, scratch):
        source, buffer = inputs[0].reshape(-1)[:depth], outputs[0].reshape(-1)[:slots * depth]
        countdown = [cycles_max]

        def step() -> None:
            buffer[:-depth] = buffer[depth:].copy()
            buffer[-depth:] = source
            countdown[0] -= 1
            if countdown[0] != 0:
                raise GraphAborted
            countdown[0] = cycles_max
        return step
    return bind
