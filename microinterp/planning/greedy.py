"""TFLM's GreedyMemoryPlanner, offset for offset: pure placement of sized, timed buffers.

Knows nothing of tensors. Behaviour follows spec/arena-planning.md §2.1, tie-breaks included; the walk
itself is compiled (kernels/planning.pyx).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .._kernels.planning import greedy_offsets


@dataclass(frozen=True)
class BufferRequest:
    """One buffer to place: aligned size, closed lifetime [first, last], optional fixed offline offset."""
    size: int
    first: int
    last: int
    offline_offset: int | None = None

    def overlaps_in_time(self, other: "BufferRequest") -> bool:
        return self.first <= other.last and other.first <= self.last


def request_arrays(buffers: Sequence[BufferRequest]) -> tuple[np.ndarray, ...]:
    """(size, first, last, fixed offset or -1) of the buffers as int64 arrays, for the compiled planner."""
    table = np.array([(b.size, b.first, b.last, -1 if b.offline_offset is None else b.offline_offset)
                      for b in buffers], np.int64).reshape(len(buffers), 4)
    return tuple(np.ascontiguousarray(table[:, k]) for k in range(4))


def plan_greedy(buffers: Sequence[BufferRequest]) -> list[int]:
    """Offsets for the buffers in input order, as TFLM's greedy planner places them."""
    size, first, last, fixed = request_arrays(buffers)
    # Offline buffers first in index order; then a stable sort, largest first, of the online buffers in
    # descending index: among equal sizes the buffer added later is placed first, as in TFLM.
    online = np.flatnonzero(fixed < 0)[::-1]
    online = online[np.argsort(-size[online], kind="stable")]
    order = np.concatenate([np.flatnonzero(fixed >= 0), online]).astype(np.int64)
    return greedy_offsets(size, first, last, fixed, order).tolist()


def head_size(buffers: list[BufferRequest], offsets: list[int]) -> int:
    """The arena head a plan needs: the highest end of any buffer (0 when nothing is planned)."""
    return max((o + b.size for o, b in zip(offsets, buffers)), default=0)
