"""TFLM signal library, stateful buffering: SignalFramer, SignalStacker, SignalDelay and SignalOverlapAdd
(signal/micro/kernels/{framer,stacker,delay,overlap_add}.cc), bit-exact, state kept across invokes.

TFLM keeps each op's samples in circular buffers in persistent memory and resets them in the op's
Reset. A circular buffer that never overflows holds exactly the last `available` samples written, so
here each one is a linear history of the buffer's capacity (OpContext.persistent, outside the arena)
plus the count of samples available: the values read are the same. The options are checked so that
TFLM's buffers could not overflow either (its ASSERTs are compiled out). Frames a Framer or Stacker
cannot fill yet are left unwritten and reported through the bool output, as in TFLM.

The steps are numpy on small per-invoke slices (a frame of samples), not Cython: they only copy.
"""
from __future__ import annotations

import numpy as np

from ..model import Tensor
from .signal_common import option_in_range, read_options, typed_io
from .registry import BindFn, OpContext, register_custom

#: OverlapAdd's 'T' option (a TensorType code) -> tensor type name.
_OVERLAP_ADD_TYPES = {7: "INT16", 0: "FLOAT32"}


class _History:
    """The last `capacity` samples written to each row's buffer, and how many of them are available."""

    def __init__(self, ctx: OpContext, rows: int, capacity: int, available_at_reset: int = 0):
        self.samples = ctx.persistent((rows, capacity), np.int16)
        self.available = ctx.persistent(1, np.int64, available_at_reset)
        self.capacity = capacity

    def write(self, values: np.ndarray) -> None:
        n = values.shape[-1]
        self.samples[:, :self.capacity - n] = self.samples[:, n:]
        self.samples[:, self.capacity - n:] = values
        self.available[0] += n

    def read(self, n: int, discard: int) -> np.ndarray:
        """The first n available samples of every row; then `discard` of them are dropped."""
        first = self.capacity - int(self.available[0])
        self.available[0] -= discard
        return self.samples[:, first:first + n]


def _outer_rows(ctx: OpContext, input: Tensor) -> tuple[int, int]:
    """(rows, innermost dimension) of a tensor of rank >= 1 with a non-empty innermost dimension."""
    if not input.shape or input.shape[-1] < 1:
        ctx.fail(f"{input.describe()} must have rank >= 1 and a non-empty innermost dimension")
    return input.num_elements // input.shape[-1], input.shape[-1]


@register_custom("SignalFramer")
def prepare_framer(ctx: OpContext) -> BindFn:
    """Cut the incoming samples of each row into overlapping frames of frame_size every frame_step."""
    (input,), (output, valid) = typed_io(ctx, ("INT16",), ("INT16", "BOOL"))
    ctx.expect_rank(valid, 0)
    options = read_options(ctx, ("frame_size", "frame_step", "prefill"))
    size = option_in_range(ctx, options, "frame_size", 1, 1 << 24)
    step = option_in_range(ctx, options, "frame_step", 1, 1 << 24)
    rows, innermost = _outer_rows(ctx, input)
    if innermost % step:
        ctx.fail(f"frame_step {step} must divide the innermost dimension of {input.describe()}")
    if options["prefill"] and size < step:
        ctx.fail(f"prefill needs frame_size {size} >= frame_step {step} (TFLM would write a negative count)")
    frames = innermost // step
    if tuple(output.shape) != (*input.shape[:-1], frames, size):
        ctx.fail(f"{output.describe()} must be {[*input.shape[:-1], frames, size]}")
    capacity = -(-size // step) * step
    history = _History(ctx, rows, capacity, size - step if options["prefill"] else 0)

    def bind(inputs, outputs, scratch):
        samples, frames_out, valid_out = inputs[0].reshape(rows, frames, step), outputs[0].reshape(rows, frames, size), \
            outputs[1].reshape(1)

        def step_fn():
            all_valid = True
            for frame in range(frames):
                history.write(samples[:, frame])
                if history.available[0] >= size:
                    frames_out[:, frame] = history.read(size, step)
                else:
                    all_valid = False
            valid_out[0] = all_valid
        return step_fn
    return bind


@register_custom("SignalStacker")
def prepare_stacker(ctx: OpContext) -> BindFn:
    """Stack left_context + 1 + right_context frames of num_channels, every stacker_step frames; the
    first frame is repeated left_context times."""
    (input,), (output, valid) = typed_io(ctx, ("INT16",), ("INT16", "BOOL"))
    ctx.expect_rank(input, 1)
    ctx.expect_rank(output, 1)
    ctx.expect_rank(valid, 0)
    options = read_options(ctx, ("num_channels", "stacker_left_context", "stacker_right_context", "stacker_step"))
    channels = option_in_range(ctx, options, "num_channels", 1, 1 << 24)
    left = option_in_range(ctx, options, "stacker_left_context", 0, 1 << 16)
    right = option_in_range(ctx, options, "stacker_right_context", 0, 1 << 16)
    context = left + right + 1
    step = option_in_range(ctx, options, "stacker_step", 1, context)
    if input.num_elements != channels:
        ctx.fail(f"{input.describe()} must hold num_channels = {channels} values")
    if output.num_elements != channels * context:
        ctx.fail(f"{output.describe()} must hold num_channels x (left + right + 1) = {channels * context} values")
    history = _History(ctx, 1, channels * context)
    has_first_frame = ctx.persistent(1, np.uint8)

    def bind(inputs, outputs, scratch):
        frame, stacked, valid_out = inputs[0].reshape(1, channels), outputs[0].reshape(1, -1), outputs[1].reshape(1)

        def step_fn():
            history.write(frame)
            if not has_first_frame[0]:
                for _ in range(left):
                    history.write(frame)
                has_first_frame[0] = 1
            valid_out[0] = history.available[0] >= channels * context
            if valid_out[0]:
                stacked[:] = history.read(channels * context, channels * step)
        return step_fn
    return bind


@register_custom("SignalDelay")
def prepare_delay(ctx: OpContext) -> BindFn:
    """Delay each row by delay_length samples (zeros first)."""
    (input,), (output,) = typed_io(ctx, ("INT16",), ("INT16",))
    delay = option_in_range(ctx, read_options(ctx, ("delay_length",)), "delay_length", 0, 1 << 24)
    rows, frame = _outer_rows(ctx, input)
    if output.num_elements != input.num_elements:
        ctx.fail(f"{output.describe()} must have the {input.num_elements} elements of {input.describe()}")
    history = ctx.persistent((rows, delay), np.int16)

    def bind(inputs, outputs, scratch):
        samples, delayed = inputs[0].reshape(rows, frame), outputs[0].reshape(rows, frame)

        def step_fn():
            joined = np.concatenate((history, samples), axis=1)
            delayed[:] = joined[:, :frame]
            history[:] = joined[:, frame:]
        return step_fn
    return bind


@register_custom("SignalOverlapAdd")
def prepare_overlap_add(ctx: OpContext) -> BindFn:
    """Overlap-add frames of frame_size every frame_step samples (int16 saturating, or float32)."""
    options = read_options(ctx, ("T", "frame_step"))
    if options["T"] not in _OVERLAP_ADD_TYPES:
        ctx.unsupported(f"custom option 'T' = {options['T']} (supported: INT16, FLOAT32 type codes)")
    type_name = _OVERLAP_ADD_TYPES[options["T"]]
    (input,), (output,) = typed_io(ctx, (type_name,), (type_name,))
    if len(input.shape) < 2 or input.shape[-1] < 1:
        ctx.fail(f"{input.describe()} must have rank >= 2 (frames, frame_size) and non-empty frames")
    frames, size = input.shape[-2:]
    step = option_in_range(ctx, options, "frame_step", 0, size)
    if tuple(output.shape) != (*input.shape[:-2], frames * step):
        ctx.fail(f"{output.describe()} must be {[*input.shape[:-2], frames * step]}")
    rows = input.num_elements // max(1, frames * size)
    buffer = ctx.persistent((rows, size), input.dtype)

    def bind(inputs, outputs, scratch):
        frames_in, samples = inputs[0].reshape(rows, frames, size), outputs[0].reshape(rows, frames, step)

        def step_fn():
            for frame in range(frames):
                if type_name == "INT16":
                    np.clip(buffer.astype(np.int32) + frames_in[:, frame], -32768, 32767, out=buffer,
                            casting="unsafe")
                else:
                    buffer[:] += frames_in[:, frame]
                samples[:, frame] = buffer[:, :step]
                buffer[:, :size - step] = buffer[:, step:]
                buffer[:, size - step:] = 0
        return step_fn
    return bind
