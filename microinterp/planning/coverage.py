"""Bytes covered per lifetime step by buffers placed at fixed offsets, overlaps counted once: the live
bytes of a plan per op (`MemoryPlan.live_bytes`) and of a model's offline-planned buffers (packing's
lower bound)."""
from __future__ import annotations

from collections.abc import Sequence


def covered_bytes_per_step(spans: Sequence[tuple[int, int, int, int]], steps: int) -> list[int]:
    """For each step 0..steps-1, the bytes covered by the byte ranges [lo, hi) of the spans
    (first, last, lo, hi) live at that step (first <= step <= last), overlaps counted once.

    A sweep over the steps with a segment tree over the ranges' ends (cover count and covered length
    per node): O((spans + steps) log spans), so that `plan` and `profile` stay fast on models with
    tens of thousands of ops."""
    coords = sorted({x for _, _, lo, hi in spans for x in (lo, hi)})
    if len(coords) < 2:
        return [0] * steps
    rank = {x: i for i, x in enumerate(coords)}
    count = [0] * (4 * len(coords))
    covered = [0] * (4 * len(coords))

    def update(node: int, left: int, right: int, lo: int, hi: int, delta: int) -> None:
        if hi <= left or right <= lo:
            return
        if lo <= left and right <= hi:
            count[node] += delta
        else:
            mid = (left + right) // 2
            update(2 * node, left, mid, lo, hi, delta)
            update(2 * node + 1, mid, right, lo, hi, delta)
        if count[node]:
            covered[node] = coords[right] - coords[left]
        else:
            covered[node] = 0 if right - left == 1 else covered[2 * node] + covered[2 * node + 1]

    starting: dict[int, list[tuple[int, int]]] = {}
    ending: dict[int, list[tuple[int, int]]] = {}
    for first, last, lo, hi in spans:
        starting.setdefault(first, []).append((rank[lo], rank[hi]))
        ending.setdefault(last + 1, []).append((rank[lo], rank[hi]))
    top = len(coords) - 1
    result = []
    for step in range(steps):
        for lo, hi in ending.get(step, ()):
            update(1, 0, top, lo, hi, -1)
        for lo, hi in starting.get(step, ()):
            update(1, 0, top, lo, hi, 1)
        result.append(covered[1])
    return result
