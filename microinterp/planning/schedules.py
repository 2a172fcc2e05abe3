"""The kernels that will run a plan, and how each walks an op's input and output: the schedule the
overlap checker replays (access.py holds the patterns).

Two schedules:
* microinterp: microinterp's own kernels (kernels/conv.pyx, pooling.pyx, elementwise.pyx,
  activations.pyx), what `Interpreter(memory_strategy="inplace")` runs.
* tflm-reference: TFLM's reference kernels, what the tflite-micro package and a plain TFLM build run,
  and so what a model written with an offline plan (writer.py) meets. Loops read from tflite-micro's
  tensorflow/lite/kernels/internal/reference/ (conv.h, depthwiseconv_float.h, pooling.h,
  fully_connected.h, add.h, sub.h, mul.h, prelu.h, maximum_minimum.h, ...; integer_ops/ for int8 and
  int16) as called by tensorflow/lite/micro/kernels/*.cc:
  - CONV_2D: batch, output row, output column, output channel; then the whole window of the channel's
    group (filter row, filter column, input channel), skipping taps outside the image.
  - DEPTHWISE_CONV_2D: batch, output row, output column, input channel, multiplier; then that input
    channel's window. That is the conv pattern with one group per input channel.
  - AVERAGE_POOL_2D, MAX_POOL_2D: batch, output row, output column, channel; then that channel's window.
  - FULLY_CONNECTED: batch row, output channel; then the whole input row.
  - binary elementwise ops: in output index order, each input read at its broadcast index
    (ElementWise / BroadcastBinaryFunction6DSlow and their per-op twins); unary ops: a flat loop.
  - RESHAPE skips its copy when input and output share their bytes (reshape.cc), EXPAND_DIMS copies
    element i to element i (expand_dims.cc), harmless in place. SQUEEZE memcpys, which C leaves
    undefined for overlapping bytes: not modelled.
An op a schedule does not model has no access: its output is never placed over its input.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

from ..model import TENSOR_TYPES, Model, Operator, Tensor
from ..quantization import compute_padding
from .access import Access, BroadcastAccess, ElementwiseAccess, RowsAccess, WindowAccess

SCHEDULES = ("microinterp", "tflm-reference")
#: What Interpreter runs; the default of every plan but a written offline plan.
MICROINTERP = "microinterp"
#: What a model carrying an offline plan runs on a microcontroller.
TFLM_REFERENCE = "tflm-reference"

_UNARY = frozenset({"RELU", "RELU6", "LEAKY_RELU", "LOGISTIC", "TANH", "HARD_SWISH", "ELU",
                    "ABS", "NEG", "RSQRT", "SQRT", "EXP", "LOG"})
_BINARY = frozenset({"ADD", "SUB", "MUL", "DIV", "SQUARED_DIFFERENCE", "MAXIMUM", "MINIMUM", "PRELU"})
#: The largest rank TFLM's broadcasting loops take (PRELU's takes 4).
_TFLM_BROADCAST_RANK = {"PRELU": 4}
_TFLM_MAX_BROADCAST_RANK = 6


@dataclass(frozen=True)
class KernelSchedule:
    """Which ops one kernel set walks in a modelled order, and with which pattern."""
    name: str
    #: Ops whose output may be the very bytes of their input.
    alias_ops: frozenset[str]
    #: Ops whose output element i is written right after input element i is read.
    elementwise_ops: frozenset[str]
    #: Whether an input smaller than the output (broadcast) has a modelled order too.
    broadcasts: bool
    #: Window ops and their pattern (access.py): "conv", "depthwise", "pool", or "conv per channel"
    #: for a depthwise convolution walked channel by channel.
    window_ops: Mapping[str, str]
    #: Ops walking input rows per output channel.
    row_ops: frozenset[str]


_KERNELS = {
    MICROINTERP: KernelSchedule(
        MICROINTERP, frozenset({"RESHAPE", "SQUEEZE", "EXPAND_DIMS"}), _UNARY | _BINARY | {"RELU_N1_TO_1"}, False,
        {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "depthwise", "AVERAGE_POOL_2D": "pool", "MAX_POOL_2D": "pool"},
        frozenset()),
    TFLM_REFERENCE: KernelSchedule(
        TFLM_REFERENCE, frozenset({"RESHAPE", "EXPAND_DIMS"}), _UNARY | _BINARY, True,
        {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "conv per channel", "AVERAGE_POOL_2D": "pool",
         "MAX_POOL_2D": "pool"},
        frozenset({"FULLY_CONNECTED"})),
}


def kernel_schedule(name: str) -> KernelSchedule:
    """The schedule called `name` (one of SCHEDULES)."""
    if name not in _KERNELS:
        raise ValueError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}")
    return _KERNELS[name]


def _itemsize(t: Tensor) -> int:
    return TENSOR_TYPES[t.type_code][2]


def _window_access(model: Model, op: Operator, pattern: str) -> WindowAccess:
    sg = model.main
    x, y = sg.tensors[op.inputs[0]], sg.tensors[op.outputs[0]]
    opts = op.options
    groups = 1
    if pattern == "pool":
        filter_hw, dilation = (opts.get("filter_height", 1), opts.get("filter_width", 1)), (1, 1)
    else:
        w = sg.tensors[op.inputs[1]].shape
        filter_hw = (w[1], w[2])
        dilation = (opts.get("dilation_h_factor", 1), opts.get("dilation_w_factor", 1))
        if pattern == "conv":
            groups = x.shape[3] // w[3]
        elif pattern == "conv per channel":
            groups = x.shape[3]
    stride = (opts.get("stride_h", 1), opts.get("stride_w", 1))
    pad = tuple(compute_padding(x.shape[1 + a], filter_hw[a], stride[a], dilation[a], opts.get("padding", 0))
                for a in (0, 1))
    kind = "conv" if pattern == "conv per channel" else pattern
    return WindowAccess(kind, x.shape, y.shape, filter_hw, stride, dilation, pad, _itemsize(x), _itemsize(y), groups)


def _broadcasts_onto(op: Operator, x: Tensor, y: Tensor) -> bool:
    rank = _TFLM_BROADCAST_RANK.get(op.name, _TFLM_MAX_BROADCAST_RANK)
    if len(x.shape) > rank or len(y.shape) > rank:
        return False
    try:
        return np.broadcast_shapes(x.shape, y.shape) == tuple(y.shape)
    except ValueError:
        return False


def op_access(model: Model, op: Operator, position: int, schedule: KernelSchedule) -> tuple[str, Access] | None:
    """How `schedule`'s kernel for `op` (of subgraph 0, one output) walks input `position` and the output:
    the sharing kind ("elementwise" or "window") and the access, or None when the schedule does not
    model it (the output must then not overlap that input)."""
    sg = model.main
    x, y = sg.tensors[op.inputs[position]], sg.tensors[op.outputs[0]]
    if op.name in schedule.window_ops and position == 0:
        return "window", _window_access(model, op, schedule.window_ops[op.name])
    if op.name in schedule.row_ops and position == 0:
        depth, out_depth = sg.tensors[op.inputs[1]].shape[-1], y.shape[-1]
        batches = y.num_elements // out_depth if out_depth else 0
        return "window", RowsAccess(batches, depth, out_depth, x.num_elements, _itemsize(x), _itemsize(y))
    if op.name not in schedule.elementwise_ops or position > (0 if op.name in _UNARY else 1):
        return None
    if tuple(x.shape) == tuple(y.shape):
        return "elementwise", ElementwiseAccess(y.num_elements, _itemsize(x), _itemsize(y))
    if schedule.broadcasts and op.name in _BINARY and _broadcasts_onto(op, x, y):
        return "elementwise", BroadcastAccess(tuple(x.shape), tuple(y.shape), _itemsize(x), _itemsize(y))
    return None


def overlap_problem(model: Model, op: Operator, position: int, shift: int, schedule: KernelSchedule) -> str | None:
    """Why `schedule`'s kernel for `op` would break its output placed `shift` bytes after its input
    `position` (sharing bytes with it), or None when that placement is safe."""
    if shift == 0 and op.name in schedule.alias_ops:
        return None
    walk = op_access(model, op, position, schedule) if len(op.outputs) == 1 else None
    if walk is None:
        return f"the {schedule.name} kernel's read/write order is not modelled"
    byte = walk[1].first_clobber(shift)
    return None if byte is None else (f"the {schedule.name} kernel writes output byte {byte} before it last "
                                      f"reads the input byte under it")
