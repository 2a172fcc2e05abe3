"""UNIDIRECTIONAL_SEQUENCE_LSTM (TFLM unidirectional_sequence_lstm.cc, lstm_eval_common.cc, lstm_eval.h/.cc).

TFLM's own LSTM, not LiteRT's: the standard (Keras) LSTM only, i.e. all four gates with input and
recurrent weights and a bias each; no peephole, projection or layer-norm tensors (TFLM rejects them).
Inputs by TFLM's indices (lstm_shared.h): 0 input [batch, time, in] ([time, batch, in] if time_major),
1-4 input-to-{input, forget, cell, output} weights [state, in], 5-8 recurrent-to-* weights
[state, state], 12-15 {input, forget, cell, output} gate biases [state], 18 hidden (output) state and
19 cell state, both variable tensors that persist across invokes; output [., ., state].

Data paths as TFLM's Eval picks them: int8 activations with int8 weights, int32 biases and an int16
cell (8x8->16); int16 activations with int8 weights and int64 biases (16x8->16); float32. Each gate FC
is requantized to Q3.12 separately (multiplier double(s_x) * double(s_w) / 2^-12, as the FC op), the
inter-gate products use double scales with Q0.15 gate outputs, and tanh of the cell state takes the
cell scale's power of two (CheckedLog2, rounded even when the scale is no power of two, as TFLM does).
TFLM's four scratch buffers are requested as TFLM requests them (the plan stays TFLM's).

The int8 and float32 paths run as compiled steps (Int8LstmStep, FloatLstmStep in kernels/steps_lstm.pxi:
the whole sequence in one C call, SIMD gate FCs; int8 gives TFLM's bits, float32 stays within the float32
rule, its activations being vectorised polynomials, float_lstm_cells.h); the 16x8 path, and int8 FCs too deep to sum
in int32 without overflow, run the reference template (kernels/lstm.pyx).
"""
from __future__ import annotations

import functools
import math

import numpy as np

from .._kernels import lstm as lstm_kernels
from .._kernels import steps
from ..model import Tensor
from ..quantization import MAX_INT64_REQUANT_SHIFT, quantize_multiplier
from .registry import BindFn, OpContext, register

_INPUT, _HIDDEN, _CELL = 0, 18, 19
#: Kernel gate order (forget, input, cell, output), as TFLM's LstmStep computes them.
_GATES = ("forget", "input", "cell", "output")
_INPUT_WEIGHTS = {"input": 1, "forget": 2, "cell": 3, "output": 4}
_RECURRENT_WEIGHTS = {"input": 5, "forget": 6, "cell": 7, "output": 8}
_BIASES = {"input": 12, "forget": 13, "cell": 14, "output": 15}
_VARIANT_TENSORS = {9: "peephole", 10: "peephole", 11: "peephole", 16: "projection", 17: "projection",
                    20: "layer norm", 21: "layer norm", 22: "layer norm", 23: "layer norm"}
_ACT_TANH = 4
#: Gate FC outputs are Q3.12, gate activations Q0.15.
_GATE_INPUT_SCALE = 2.0 ** -12
_GATE_OUTPUT_SCALE = 2.0 ** -15

#: Input (activation) type -> (weight type, bias type, cell state type), TFLM's three Eval paths.
_PATHS = {"INT8": ("INT8", "INT32", "INT16"), "INT16": ("INT8", "INT64", "INT16"),
          "FLOAT32": ("FLOAT32", "FLOAT32", "FLOAT32")}
_KERNELS = {"INT8": "int8_t", "INT16": "int16_t", "FLOAT32": "float"}


def checked_log2(x: float) -> int:
    """TFLM's CheckedLog2 exponent: roundf(logf(x) * (1 / logf(2))) in float32 (its 'is a power of two'
    verdict is ignored by the LSTM)."""
    f32 = np.float32
    log2 = f32(f32(math.log(x)) * (f32(1.0) / f32(math.log(2.0))))
    return int(math.floor(abs(float(log2)) + 0.5)) * (1 if log2 >= 0 else -1)


def _check_structure(ctx: OpContext) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """TFLM's ValidateTensorStatus: which tensors exist, variables, and matching types."""
    ctx.expect_io(24)
    for index, variant in _VARIANT_TENSORS.items():
        if ctx.optional_input(index) is not None:
            ctx.unsupported(f"input {index} is set: {variant} LSTMs are not supported (TFLM supports only "
                            f"the standard LSTM)")
    input, hidden, cell, output = ctx.input(_INPUT), ctx.input(_HIDDEN), ctx.input(_CELL), ctx.output(0)
    for name, t in (("hidden state", hidden), ("cell state", cell)):
        if not t.is_variable:
            ctx.fail(f"{name} {t.describe()} must be a variable tensor")
    for name, t in (("hidden state", hidden), ("output", output)):
        if t.type_code != input.type_code:
            ctx.fail(f"{name} {t.describe()} must have the input's type {input.type_name}")
    for group, indices in (("weight", list(_INPUT_WEIGHTS.values()) + list(_RECURRENT_WEIGHTS.values())),
                           ("bias", list(_BIASES.values()))):
        types = {ctx.input(i).type_name for i in indices}
        if len(types) > 1:
            ctx.fail(f"the {group} tensors must share one type, found {', '.join(sorted(types))}")
    return input, hidden, cell, output


def _check_shapes(ctx: OpContext, input: Tensor, hidden: Tensor, cell: Tensor, output: Tensor,
                  time_major: bool) -> tuple[int, int, int, int]:
    """TFLM's CreateLstmSizeInfo + ValidateTensorSize: (batch, time, input size, state size)."""
    ctx.expect_rank(input, 3)
    ctx.expect_rank(hidden, 2)
    ctx.expect_rank(output, 3)
    time, batch = input.shape[:2] if time_major else input.shape[1::-1]
    in_size, state = input.shape[2], hidden.shape[1]
    if min(batch, in_size, state) < 1:
        ctx.fail(f"batch {batch}, input size {in_size} and state size {state} must all be at least 1")
    for gate in _GATES:
        for table, shape in ((_INPUT_WEIGHTS, (state, in_size)), (_RECURRENT_WEIGHTS, (state, state)),
                             (_BIASES, (state,))):
            t = ctx.input(table[gate])
            if tuple(t.shape) != shape:
                ctx.fail(f"{gate} gate tensor {t.describe()} must have shape {list(shape)}")
    for name, t in (("hidden state", hidden), ("cell state", cell)):
        if t.num_elements != batch * state:
            ctx.fail(f"{name} {t.describe()} must hold batch x state = {batch * state} elements")
    if tuple(output.shape) != (*input.shape[:2], state):
        ctx.fail(f"{output.describe()} must have shape {[*input.shape[:2], state]}")
    return batch, time, in_size, state


def _weight_scale(ctx: OpContext, weight: Tensor) -> tuple[float, int]:
    q = ctx.quantization(weight)
    if q.per_channel:
        ctx.unsupported(f"weights {weight.describe()} are quantized per channel (TFLM's LSTM uses one scale)")
    return q.scale, q.zero_point


def _clip(ctx: OpContext) -> dict:
    cell_clip = float(ctx.options.get("cell_clip", 0.0))
    if math.isnan(cell_clip):  # TFLM casts it to int16 (undefined for NaN): no defined result to match
        ctx.fail("cell_clip is NaN")
    return dict(clip=cell_clip > 0, cell_clip=cell_clip)


def _quantized_params(ctx: OpContext, input: Tensor, hidden: Tensor, cell: Tensor) -> tuple[np.ndarray, dict]:
    """PrepareGateParametersInteger + CreateLstmCellStateInfo: (gate rows, the kernel's LstmParams)."""
    s_in, zp_in = ctx.per_tensor(input)
    s_hidden, zp_hidden = ctx.per_tensor(hidden)
    s_cell, _ = ctx.per_tensor(cell)
    rows = []
    for gate in _GATES:
        s_w, zp_w = _weight_scale(ctx, ctx.input(_INPUT_WEIGHTS[gate]))
        s_r, zp_r = _weight_scale(ctx, ctx.input(_RECURRENT_WEIGHTS[gate]))
        rows.append([*quantize_multiplier(s_in * s_w / _GATE_INPUT_SCALE), -zp_w,
                     *quantize_multiplier(s_hidden * s_r / _GATE_INPUT_SCALE), -zp_r])
        # int16 gates accumulate in int64, whose requantization is undefined beyond that shift
        if input.type_name == "INT16" and max(rows[-1][1], rows[-1][4]) > MAX_INT64_REQUANT_SHIFT:
            ctx.unsupported(f"{gate} gate: effective scale of the int16 input or hidden state times its "
                            f"weights over 2^-12 needs shift {max(rows[-1][1], rows[-1][4])}; TFLM's int64 "
                            f"requantization is undefined beyond shift {MAX_INT64_REQUANT_SHIFT}")
    power = checked_log2(s_cell)
    # Tanh(cell) in TFLM: left shift (15 + power) - 3; a negative one becomes a rounding right shift
    # with multiplier 3 (multiplier 0 means 3 << shift in the kernel).
    tanh_shift = 15 + power - 3
    tanh_multiplier, tanh_shift = (3, -tanh_shift) if tanh_shift < 0 else (0, tanh_shift)
    if tanh_shift > (31 if tanh_multiplier else 29):
        ctx.fail(f"cell state {cell.describe()} scale {s_cell} (2^{power}) is out of the range TFLM's int16 "
                 f"tanh can shift")
    clip = _clip(ctx)
    forget_cell = quantize_multiplier(_GATE_OUTPUT_SCALE * s_cell / s_cell)
    input_cell = quantize_multiplier(_GATE_OUTPUT_SCALE * _GATE_OUTPUT_SCALE / s_cell)
    hidden_mul = quantize_multiplier(_GATE_OUTPUT_SCALE * _GATE_OUTPUT_SCALE / s_hidden)
    return np.array(rows, np.int32), dict(
        input_offset=-zp_in, hidden_offset=-zp_hidden,
        forget_cell_multiplier=forget_cell[0], forget_cell_shift=forget_cell[1],
        input_cell_multiplier=input_cell[0], input_cell_shift=input_cell[1],
        hidden_multiplier=hidden_mul[0], hidden_shift=hidden_mul[1], hidden_zero_point=zp_hidden,
        quantized_cell_clip=int(min(max(clip["cell_clip"] / s_cell, -32768.0), 32767.0)),
        cell_tanh_multiplier=tanh_multiplier, cell_tanh_shift=tanh_shift, **clip)


def _float_params(ctx: OpContext) -> tuple[np.ndarray, dict]:
    """Only the clip matters on the float path."""
    zeros = dict.fromkeys(("input_offset", "hidden_offset", "forget_cell_multiplier", "forget_cell_shift",
                           "input_cell_multiplier", "input_cell_shift", "hidden_multiplier", "hidden_shift",
                           "hidden_zero_point", "quantized_cell_clip", "cell_tanh_multiplier", "cell_tanh_shift"), 0)
    return np.zeros((4, 6), np.int32), {**zeros, **_clip(ctx)}


@register("UNIDIRECTIONAL_SEQUENCE_LSTM")
def prepare_unidirectional_sequence_lstm(ctx: OpContext) -> BindFn:
    """Validate a standard LSTM, precompute its gate and inter-gate requantization, request TFLM's buffers."""
    input, hidden, cell, output = _check_structure(ctx)
    if input.type_name not in _PATHS:
        ctx.unsupported(f"input type {input.type_name} (supported: INT8, INT16, FLOAT32)")
    weight_type, bias_type, cell_type = _PATHS[input.type_name]
    found = (ctx.input(_INPUT_WEIGHTS["forget"]).type_name, ctx.input(_BIASES["forget"]).type_name, cell.type_name)
    if found != (weight_type, bias_type, cell_type):
        ctx.unsupported(f"{input.type_name} input with {found[0]} weights, {found[1]} biases and a {found[2]} "
                        f"cell state (TFLM: {weight_type} weights, {bias_type} biases, {cell_type} cell state)")
    if ctx.options.get("fused_activation_function", 0) != _ACT_TANH:
        ctx.unsupported(f"cell gate activation {ctx.options.get('fused_activation_function', 0)} "
                        f"(TFLM evaluates only TANH)")
    if ctx.options.get("cell_clip", 0.0) < 0:
        ctx.fail(f"cell_clip {ctx.options['cell_clip']} must not be negative")
    time_major = bool(ctx.options.get("time_major", False))
    batch, _, _, state = _check_shapes(ctx, input, hidden, cell, output, time_major)
    if input.type_name == "FLOAT32":
        gate_params, params = _float_params(ctx)
    else:
        gate_params, params = _quantized_params(ctx, input, hidden, cell)
    for _ in range(4):
        ctx.request_scratch(batch * state * cell.dtype.itemsize, like_tflm=True)
    kernel = lstm_kernels.lstm[_KERNELS[input.type_name]]
    by_gate = [table[g] for table in (_INPUT_WEIGHTS, _RECURRENT_WEIGHTS, _BIASES) for g in _GATES]
    compiled = input.type_name == "FLOAT32" or (
        input.type_name == "INT8" and max(input.shape[2], state) <= steps.LSTM_INT8_MAX_DEPTH)

    def bind(inputs, outputs, scratch):
        if compiled:
            rows = (-1, inputs[_INPUT].shape[2])
            gates = [[inputs[table[g]] for g in _GATES] for table in (_INPUT_WEIGHTS, _RECURRENT_WEIGHTS, _BIASES)]
            cell_state = inputs[_CELL].reshape(batch, state)
            sequence = (inputs[_INPUT].reshape(rows), *gates, inputs[_HIDDEN], cell_state,
                        outputs[0].reshape(-1, state), time_major)
            if input.type_name == "FLOAT32":
                return steps.FloatLstmStep(*sequence, params)
            return steps.Int8LstmStep(*sequence, gate_params, params)

        def raw(a):
            return a.reshape(-1).view(np.uint8)
        return functools.partial(kernel, inputs[_INPUT], *(raw(inputs[i]) for i in by_gate), inputs[_HIDDEN],
                                 raw(inputs[_CELL]), outputs[0], *scratch, time_major, gate_params, params)
    return bind
