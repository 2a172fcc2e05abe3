"""How a kernel walks its input and its output, so that the output may be placed over a dying input.

A kernel is a sequence of steps; each step reads some input elements, then writes some output
elements. Two arrays describe it: for every input byte the last step that reads it (-1: never read),
and for every output byte the step that writes it. With the output placed `shift` bytes after the
input (output start minus input start), the placement is safe iff every output byte that lands on an
input byte is written no earlier than that input byte's last read.

The patterns are loop orders, all producing output elements in row-major order; which kernel set
walks which op with which pattern is schedules.py's business:
* conv: for each output pixel, for each output channel: read the window (the channel's group), write
  that one element. One step per output element. A depthwise convolution that loops over input
  channel and multiplier (TFLM's) is this pattern with one group per input channel.
* depthwise: for each output pixel: read the whole window (all channels), then write all channels.
  One step per output pixel.
* pool: for each output pixel, for each channel: read that channel's window, write one element.
* elementwise: step i reads element i of the input and writes element i of the output.
* broadcast: step i writes output element i after reading the input element broadcast onto it.
* rows (fully connected): for each batch row, for each output channel: read the whole input row,
  write one element.
Window taps outside the image are not read (padding is implicit), so they constrain nothing.
"""
from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

WINDOW_KINDS = ("conv", "depthwise", "pool")


class Access(ABC):
    """Per-byte read and write schedule of one kernel over one input and its output."""

    @abstractmethod
    def last_reads(self) -> np.ndarray:
        """int64 per input byte: the last step that reads it, -1 if none does."""

    @abstractmethod
    def write_steps(self) -> np.ndarray:
        """int64 per output byte: the step that writes it."""

    @functools.cached_property
    def _schedule(self) -> tuple[np.ndarray, np.ndarray]:
        return self.last_reads(), self.write_steps()

    def first_clobber(self, shift: int) -> int | None:
        """The first output byte that overwrites an input byte still to be read, with the output placed
        `shift` bytes after the input; None when the placement is safe. This replays the whole schedule
        (a step reads before it writes), byte by byte."""
        last_read, write_step = self._schedule
        lo, hi = max(0, shift), min(last_read.size, shift + write_step.size)
        if lo >= hi:
            return None
        bad = np.flatnonzero(write_step[lo - shift:hi - shift] < last_read[lo:hi])
        return int(bad[0]) + lo - shift if bad.size else None

    def max_shift(self) -> int | None:
        """The largest shift S such that every shift <= S is safe (None: any shift is safe).

        Output byte b, written at step w(b), may land at input byte x = b + shift if every input byte
        at or below x is no longer needed after w(b); that bound only loosens as the shift decreases.
        """
        last_read, write_step = self._schedule
        if last_read.size == 0 or write_step.size == 0:
            return None
        # needed_from[b]: lowest input byte still read after output byte b is written.
        needed_from = np.searchsorted(np.maximum.accumulate(last_read), write_step, side="right")
        limited = needed_from < last_read.size
        if not limited.any():
            return None
        return int((needed_from[limited] - np.flatnonzero(limited)).min()) - 1


def _bytes(per_element: np.ndarray, itemsize: int) -> np.ndarray:
    return np.repeat(per_element.astype(np.int64), itemsize)


@dataclass(frozen=True, eq=False)
class ElementwiseAccess(Access):
    """Step i reads input element i and writes output element i (same element count)."""
    count: int
    in_itemsize: int
    out_itemsize: int

    def last_reads(self) -> np.ndarray:
        return _bytes(np.arange(self.count), self.in_itemsize)

    def write_steps(self) -> np.ndarray:
        return _bytes(np.arange(self.count), self.out_itemsize)


@dataclass(frozen=True, eq=False)
class WindowAccess(Access):
    """A 2-D window op over NHWC tensors (see the module docstring for the three kinds)."""
    kind: str
    in_shape: tuple[int, int, int, int]
    out_shape: tuple[int, int, int, int]
    filter_hw: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pad: tuple[int, int]  # top, left
    in_itemsize: int
    out_itemsize: int
    groups: int = 1  # conv only

    def __post_init__(self):
        if self.kind not in WINDOW_KINDS:
            raise ValueError(f"window kind {self.kind!r}, expected one of {WINDOW_KINDS}")

    def _last_output_index(self, axis: int) -> np.ndarray:
        """For each input row (axis 0) or column (axis 1): the last output row/column whose window
        holds it, -1 if none does."""
        n_in, n_out = self.in_shape[1 + axis], self.out_shape[1 + axis]
        taps = np.arange(self.filter_hw[axis]) * self.dilation[axis]
        outs = np.arange(n_out)
        pos = (outs[:, None] * self.stride[axis] - self.pad[axis] + taps[None, :]).ravel()
        owner = np.repeat(outs, taps.size)
        inside = (pos >= 0) & (pos < n_in)
        last = np.full(n_in, -1, np.int64)
        np.maximum.at(last, pos[inside], owner[inside])
        return last

    def _channel_steps(self) -> tuple[int, np.ndarray, np.ndarray]:
        """(steps per output pixel, last step within a pixel that reads each input channel, step
        within a pixel that writes each output channel)."""
        in_c, out_c = self.in_shape[3], self.out_shape[3]
        if self.kind == "depthwise":
            return 1, np.zeros(in_c, np.int64), np.zeros(out_c, np.int64)
        if self.kind == "pool":
            return out_c, np.arange(in_c), np.arange(out_c)
        depth, per_group = in_c // self.groups, out_c // self.groups
        return out_c, (np.arange(in_c) // depth + 1) * per_group - 1, np.arange(out_c)

    def last_reads(self) -> np.ndarray:
        batches, in_h, in_w, in_c = self.in_shape
        out_h, out_w = self.out_shape[1:3]
        rows, cols = self._last_output_index(0), self._last_output_index(1)
        steps, channel_last, _ = self._channel_steps()
        # Row-major pixel order: the last pixel reading (y, x) is on its last row, at its last column.
        pixel = (np.arange(batches)[:, None, None] * out_h + rows[None, :, None]) * out_w + cols[None, None, :]
        read = (rows[None, :, None] >= 0) & (cols[None, None, :] >= 0)
        last = np.where(read[..., None], pixel[..., None] * steps + channel_last, -1)
        return _bytes(np.broadcast_to(last, (batches, in_h, in_w, in_c)).ravel(), self.in_itemsize)

    def write_steps(self) -> np.ndarray:
        batches, out_h, out_w, _ = self.out_shape
        steps, _, channel_write = self._channel_steps()
        pixel = np.arange(batches * out_h * out_w, dtype=np.int64)
        return _bytes((pixel[:, None] * steps + channel_write).ravel(), self.out_itemsize)


@dataclass(frozen=True, eq=False)
class BroadcastAccess(Access):
    """Step i writes output element i (row-major) after reading the input element that numpy-style
    broadcasting maps onto it: an input of the output's shape is read element by element, a smaller
    one again and again until the last output element it feeds."""
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    in_itemsize: int
    out_itemsize: int

    def last_reads(self) -> np.ndarray:
        count = int(np.prod(self.in_shape, dtype=np.int64))
        source = np.broadcast_to(np.arange(count).reshape(self.in_shape), self.out_shape).ravel()
        last = np.full(count, -1, np.int64)
        np.maximum.at(last, source, np.arange(source.size))
        return _bytes(last, self.in_itemsize)

    def write_steps(self) -> np.ndarray:
        return _bytes(np.arange(int(np.prod(self.out_shape, dtype=np.int64))), self.out_itemsize)


@dataclass(frozen=True, eq=False)
class RowsAccess(Access):
    """A fully connected layer: `batches` input rows of `depth` elements (elements past them are never
    read) and output rows of `out_depth`; step b * out_depth + c reads all of input row b, then writes
    output element (b, c)."""
    batches: int
    depth: int
    out_depth: int
    in_count: int
    in_itemsize: int
    out_itemsize: int

    def last_reads(self) -> np.ndarray:
        element = np.arange(self.in_count)
        row = element // max(self.depth, 1)
        last = np.where(row < self.batches, row * self.out_depth + self.out_depth - 1, -1)
        return _bytes(last, self.in_itemsize)

    def write_steps(self) -> np.ndarray:
        return _bytes(np.arange(self.batches * self.out_depth), self.out_itemsize)
