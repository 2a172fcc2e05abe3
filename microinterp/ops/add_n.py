"""ADD_N: the elementwise sum of two or more same-shape tensors (TFLM add_n.cc, reference add_n.h).

float32: a float32 sum from 0 in input order. int8: every input must share one scale and zero point;
each is rescaled like ADD's input 1 (a 2^20 lift, multiplier 1/2), the sum starts from the rescaled
raw value 0 as TFLM's does, and is rescaled by 2 s_in / (2^20 s_out) to the output, clamped to int8.
TFLM asks for a scratch buffer of one data pointer per input (its kernel copies the pointers there);
it is planned as TFLM plans it, sized for the 64-bit host build the tflite-micro package runs.
"""
from __future__ import annotations

import numpy as np

from .._kernels import elementwise as elementwise_kernels
from ..model import Tensor
from .arithmetic import ADD_LEFT_SHIFT, checked_multiplier
from .elementwise import binary_params, rescale_inputs
from .registry import BindFn, OpContext, register

#: sizeof(T*) in the tflite-micro package's build (x86-64); 4 on a 32-bit MCU.
HOST_POINTER_SIZE = 8


def int8_sum_params(ctx: OpContext, input: Tensor, output: Tensor) -> dict:
    """The kernels' `Params` of an int8 sum (ADD_N, CUMSUM): the input rescaled like ADD's input 1 with a
    2^20 lift and multiplier 1/2, the sum by 2 s_in / (2^20 s_out) to the output, clamped to int8."""
    s_in, _ = ctx.per_tensor(input)
    s_out, zp_out = ctx.per_tensor(output)
    left_shift = ADD_LEFT_SHIFT["INT8"]
    twice_scale = 2 * float(s_in)
    params = rescale_inputs(ctx, input, input, left_shift, (float(s_in) / twice_scale,) * 2)
    multiplier, shift = checked_multiplier(ctx, "output", twice_scale / ((1 << left_shift) * float(s_out)),
                                           smaller_than_one=True)
    return binary_params(**params, output_offset=zp_out, output_multiplier=multiplier, output_shift=shift,
                         activation_min=-128, activation_max=127)


@register("ADD_N")
def prepare_add_n(ctx: OpContext) -> BindFn:
    """ADD_N: float32 and int8 (one quantization shared by the inputs)."""
    if ctx.num_inputs < 2 or len(ctx.op.outputs) != 1:
        ctx.fail(f"expected at least 2 inputs and 1 output, found {ctx.num_inputs} and {len(ctx.op.outputs)}")
    inputs = [ctx.input(i) for i in range(ctx.num_inputs)]
    output = ctx.output(0)
    ctx.expect_type(output, "INT8", "FLOAT32")
    for t in inputs:
        if t.type_code != output.type_code:
            ctx.unsupported(f"{t.describe()} with output type {output.type_name}")
        if tuple(t.shape) != tuple(output.shape):
            ctx.fail(f"{t.describe()} must have the shape of {output.describe()}")
    ctx.request_scratch(HOST_POINTER_SIZE * len(inputs), like_tflm=True)
    if output.type_name == "FLOAT32":
        def bind_float(inputs, outputs, scratch):
            flat_inputs = [x.reshape(-1) for x in inputs]
            out = outputs[0].reshape(-1)

            @np.errstate(over="ignore", invalid="ignore")  # IEEE results, as in C
            def step() -> None:
                out.fill(0)
                for x in flat_inputs:
                    np.add(out, x, out=out)
            return step
        return bind_float

    first = ctx.per_tensor(inputs[0])
    for t in inputs[1:]:
        if ctx.per_tensor(t) != first:
            ctx.fail(f"{t.describe()} must have the scale and zero point of {inputs[0].describe()} "
                     f"({first[0]}, {first[1]}), found {ctx.per_tensor(t)}")
    params = int8_sum_params(ctx, inputs[0], output)

    def bind(inputs, outputs, scratch):
        flat_inputs = [x.reshape(-1) for x in inputs]
        out = outputs[0].reshape(-1)
        accumulator = np.empty(out.size, np.int32)
        return lambda: elementwise_kernels.add_n_int8(flat_inputs, out, accumulator, params)
    return bind
