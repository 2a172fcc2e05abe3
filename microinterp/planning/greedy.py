"""TFLM's GreedyMemoryPlanner, offset for offset: pure placement of sized, timed buffers.

Knows nothing of tensors. Behaviour follows spec/arena-planning.md §2.1, tie-breaks included.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BufferRequest:
    """One buffer to place: aligned size, closed lifetime [first, last], optional fixed offline offset."""
    size: int
    first: int
    last: int
    offline_offset: int | None = None

    def overlaps_in_time(self, other: "BufferRequest") -> bool:
        return self.first <= other.last and other.first <= self.last


def plan_greedy(buffers: list[BufferRequest]) -> list[int]:
    """Offsets for the buffers in input order, as TFLM's greedy planner places them."""
    offline = [i for i, b in enumerate(buffers) if b.offline_offset is not None]
    online = [i for i in reversed(range(len(buffers))) if buffers[i].offline_offset is None]
    # Stable sort, largest first, over the online buffers in descending index: among equal sizes the
    # buffer added later is placed first, as in TFLM.
    online.sort(key=lambda i: -buffers[i].size)
    offsets = [0] * len(buffers)
    placed: list[int] = []  # indices, kept ordered by offset (ties: insertion order)
    for i in offline + online:
        b = buffers[i]
        if b.offline_offset is not None:
            offset = b.offline_offset
        else:
            offset = 0
            for j in placed:
                p = buffers[j]
                if not b.overlaps_in_time(p):
                    continue
                if offsets[j] - offset >= b.size:
                    break
                offset = max(offset, offsets[j] + p.size)
        offsets[i] = offset
        pos = len(placed)
        while pos > 0 and offsets[placed[pos - 1]] > offset:
            pos -= 1
        placed.insert(pos, i)
    return offsets


def head_size(buffers: list[BufferRequest], offsets: list[int]) -> int:
    """The arena head a plan needs: the highest end of any buffer (0 when nothing is planned)."""
    return max((o + b.size for o, b in zip(offsets, buffers)), default=0)
