"""The smallest head for buffers with fixed sizes and lifetimes (dynamic storage allocation), by search.

Pure placement, like greedy.py: sizes, lifetimes and sharing declarations in, offsets out.
Two buffers whose lifetimes intersect may not share a byte, except a declared overlap pair: the
output of an op may start at most `max_shift` bytes after that op's dying input (max_shift <= 0:
the output starts at or below the input and trails it, see access.py). Every constraint between
two buffers i and j is therefore "x_i - x_j lies outside an open interval (lo, hi)".

1. The lower bound: the most bytes live at one scope (a pair counts the smallest union it can form).
2. First fit over several buffer orders (by size, by size x lifetime, by lifetime, ...), then a
   short local search over the best order; any plan reaching the bound is optimal.
3. Otherwise branch and bound within the time budget: buffers are placed in non-decreasing offset
   order, each at its lowest feasible offset at or above the previous one. That is complete: sorting
   an optimal plan by offset (an overlap pair's output first on ties) gives an order this search
   tries, and each buffer then lands at or below its optimal offset. A search that finishes proves
   its best plan optimal even when the bound is not reachable.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from .coverage import covered_bytes_per_step
from .greedy import BufferRequest, head_size, plan_greedy
from .lifetimes import align

#: Beyond this many buffers the search is not tried (and its recursion would run too deep).
MAX_SEARCH_BUFFERS = 400


@dataclass(frozen=True)
class OverlapPair:
    """Buffer `output` may share bytes with buffer `input` if it starts at most `max_shift` bytes after
    it; max_shift is a multiple of the alignment and <= 0. Their lifetimes meet at one scope."""
    input: int
    output: int
    max_shift: int

    def union(self, input_size: int, output_size: int) -> int:
        """The fewest bytes the two can cover together (apart, if overlapping would cost more)."""
        return min(input_size + output_size, max(input_size - self.max_shift, output_size))


@dataclass(frozen=True)
class Packing:
    """Offsets per buffer, the head they need, the lower bound, and whether the head is proven minimal."""
    offsets: tuple[int, ...]
    head: int
    lower_bound: int
    proven_optimal: bool
    nodes: int  # branch-and-bound nodes visited (0: the search did not run)


class _OutOfTime(Exception):
    """The time budget ran out before the heuristics had a plan: the greedy plan is the answer."""


def _check_time(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise _OutOfTime


class _Problem:
    """Buffers with their pairwise constraints, and first-fit placement."""

    def __init__(self, buffers: Sequence[BufferRequest], overlaps: Sequence[OverlapPair],
                 deadline: float = float("inf")):
        self.deadline = deadline
        self.buffers = list(buffers)
        self.overlaps = list(overlaps)
        n = len(self.buffers)
        self.sizes = [b.size for b in self.buffers]
        self.fixed = {i: b.offline_offset for i, b in enumerate(self.buffers) if b.offline_offset is not None}
        pair = {}
        for p in self.overlaps:
            pair[(p.output, p.input)] = (p.max_shift, self.sizes[p.input])  # x_out - x_in outside (D, s_in)
            pair[(p.input, p.output)] = (-self.sizes[p.input], -p.max_shift)
        # constraints[i]: (j, lo, hi) meaning x_i - x_j must lie outside the open interval (lo, hi).
        self.constraints: list[list[tuple[int, int, int]]] = [[] for _ in range(n)]
        for i in range(n):
            a = self.buffers[i]
            if a.size == 0:
                continue
            _check_time(deadline)
            for j in range(n):
                b = self.buffers[j]
                if i == j or b.size == 0 or not a.overlaps_in_time(b) or (i in self.fixed and j in self.fixed):
                    continue
                lo, hi = pair.get((i, j), (-a.size, b.size))
                self.constraints[i].append((j, lo, hi))
        self.free = [i for i in range(n) if i not in self.fixed]

    def lowest(self, i: int, offsets: list[int | None], floor: int = 0) -> int:
        """The lowest aligned offset >= floor where buffer i meets every constraint with placed buffers."""
        intervals = sorted((offsets[j] + lo, offsets[j] + hi) for j, lo, hi in self.constraints[i]
                           if offsets[j] is not None)
        pos = align(floor)
        for lo, hi in intervals:
            if lo >= pos:
                break
            if pos < hi:
                pos = align(hi)
        return pos

    def first_fit(self, order: Sequence[int]) -> list[int]:
        offsets: list[int | None] = [None] * len(self.buffers)
        for i, offset in self.fixed.items():
            offsets[i] = offset
        for k, i in enumerate(order):
            if k % 64 == 0:
                _check_time(self.deadline)
            offsets[i] = self.lowest(i, offsets)
        return offsets  # type: ignore[return-value]


def _sum_over_scopes(scopes: np.ndarray, first: np.ndarray, last: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """For each scope s: the sum of amount[k] over the intervals with first[k] <= s <= last[k]."""
    keep = first <= last  # an empty interval covers no scope
    first, last, amount = first[keep], last[keep], amount[keep]

    def below(ends: np.ndarray, side: str) -> np.ndarray:
        order = np.argsort(ends, kind="stable")
        cumulative = np.concatenate([[0], np.cumsum(amount[order])])
        return cumulative[np.searchsorted(ends[order], scopes, side=side)]
    return below(first, "right") - below(last, "left")


def _live_profile(buffers: Sequence[BufferRequest], overlaps: Sequence[OverlapPair]) -> dict[int, int]:
    """Bytes live at each scope: online buffers by size, an overlap pair by its smallest union,
    offline buffers by the union of their fixed ranges."""
    online = [b for b in buffers if b.offline_offset is None]
    offline = [b for b in buffers if b.offline_offset is not None]
    scopes = np.array(sorted({b.first for b in online} | {b.last for b in online} | {b.first for b in offline}),
                      np.int64)
    table = np.array([(b.first, b.last, b.size) for b in online], np.int64).reshape(len(online), 3)
    live = _sum_over_scopes(scopes, table[:, 0], table[:, 1], table[:, 2])
    if overlaps:
        pairs = [(buffers[p.input], buffers[p.output], p) for p in overlaps]
        saved = np.array([(max(a.first, b.first), min(a.last, b.last), a.size + b.size - p.union(a.size, b.size))
                          for a, b, p in pairs], np.int64)
        live = live - _sum_over_scopes(scopes, saved[:, 0], saved[:, 1], saved[:, 2])
    # Scopes start at -1 (buffers of a graph with no ops live before the first one), so the coverage is
    # counted from the lowest scope.
    origin = min(0, int(scopes[0])) if len(scopes) else 0
    steps = int(scopes[-1]) + 1 - origin if len(scopes) else 0
    covered = covered_bytes_per_step([(b.first - origin, b.last - origin, b.offline_offset,
                                       b.offline_offset + b.size) for b in offline if b.size], steps)
    return {s: online_bytes + covered[s - origin] for s, online_bytes in zip(scopes.tolist(), live.tolist())}


def _drift(buffers: Sequence[BufferRequest], chained: Sequence[OverlapPair]) -> int:
    """The head a chain of overlapped pairs needs by itself: each output starts at most max_shift after
    its input, so along a chain b_a, ..., b_m the last one starts |sum of shifts| below b_a."""
    after = {p.input: p for p in chained}
    starts = set(after) - {p.output for p in chained}
    need = 0
    for b in starts:
        chain, shifts = [b], []
        while chain[-1] in after:
            shifts.append(after[chain[-1]].max_shift)
            chain.append(after[chain[-1]].output)
        below = 0  # -(sum of the shifts from chain[a] to the chain's end)
        for a in range(len(chain) - 1, -1, -1):
            need = max(need, buffers[chain[a]].size + below)
            if a:
                below -= shifts[a - 1]
    return need


def lower_bound(buffers: Sequence[BufferRequest], overlaps: Sequence[OverlapPair] = ()) -> int:
    """No plan of these buffers needs less head. The most bytes live at one scope, at least the highest
    offline end; with overlap pairs, also the drift of chains of overlapped pairs (_drift), unless a
    pair is broken by placing its output above its input, which costs both their bytes at its scope."""
    profile = _live_profile(buffers, overlaps)
    base = max([*profile.values(), *(b.offline_offset + b.size for b in buffers if b.offline_offset is not None)],
               default=0)
    if not overlaps:
        return base
    cost = [profile[buffers[p.output].first] + buffers[p.input].size + buffers[p.output].size
            - p.union(buffers[p.input].size, buffers[p.output].size) for p in overlaps]
    # A head h allows breaking exactly the pairs costing <= h; more breaks only shorten chains.
    return min(max(h, _drift(buffers, [p for p, c in zip(overlaps, cost) if c > h]))
               for h in sorted({base} | {c for c in cost if c > base}))


def _heuristic_orders(p: _Problem) -> list[list[int]]:
    b, free = p.buffers, p.free
    length = {i: b[i].last - b[i].first + 1 for i in free}
    keys = [
        lambda i: (-b[i].size, -i),  # TFLM's greedy order: first fit in it gives TFLM's plan
        lambda i: (-b[i].size, -length[i], i),
        lambda i: (-b[i].size * length[i], i),
        lambda i: (-length[i], -b[i].size, i),
        lambda i: (b[i].first, -b[i].size, i),
        lambda i: (-b[i].last, -b[i].size, i),
        lambda i: (-len(p.constraints[i]), -b[i].size, i),
    ]
    return [sorted(free, key=k) for k in keys]


class _Search:
    """Branch and bound over placements in non-decreasing offset order (module docstring, step 3)."""

    def __init__(self, p: _Problem, best: list[int], best_head: int, bound: int, deadline: float):
        self.p, self.best, self.best_head, self.bound, self.deadline = p, best, best_head, bound, deadline
        self.nodes = 0
        self.complete = True
        scopes = sorted({t for i in p.free for t in (p.buffers[i].first, p.buffers[i].last)})
        firsts = np.array([b.first for b in p.buffers])[:, None]
        lasts = np.array([b.last for b in p.buffers])[:, None]
        times = np.array(scopes)[None, :]
        self.live = ((firsts <= times) & (times <= lasts)).astype(np.int64).reshape(len(p.buffers), len(scopes))
        self.sizes = np.array(p.sizes, dtype=np.int64)
        # At its scope an overlap pair needs at most its union: the bound subtracts the largest saving.
        self.pair_scope = [(o, scopes.index(p.buffers[o.output].first)) for o in p.overlaps]
        # Interchangeable buffers (same size and lifetime, in no overlap pair) are placed in index order.
        in_pair = {i for o in p.overlaps for i in (o.input, o.output)}
        self.twin_of: dict[int, int] = {}
        seen: dict[tuple[int, int, int], int] = {}
        for i in p.free:
            b = p.buffers[i]
            if i not in in_pair:
                key = (b.size, b.first, b.last)
                if key in seen:
                    self.twin_of[i] = seen[key]
                seen[key] = i

    def _scope_bound(self, offsets: list[int | None], floor: int) -> int:
        """floor + what must still fit above it at the busiest scope."""
        placed = np.array([o is not None for o in offsets])
        ext = np.where(placed, np.maximum(0, np.array([(o or 0) for o in offsets]) + self.sizes - floor), self.sizes)
        ext[list(self.p.fixed)] = 0  # offline buffers may sit anywhere: leaving them out keeps the bound valid
        need = ext @ self.live
        for o, t in self.pair_scope:
            a, b = o.input, o.output
            if offsets[a] is not None and offsets[b] is not None:
                lo = max(offsets[a], offsets[b], floor)
                hi = min(offsets[a] + self.p.sizes[a], offsets[b] + self.p.sizes[b])
                need[t] -= max(0, hi - lo)
            else:
                need[t] -= self.p.sizes[a] + self.p.sizes[b] - o.union(self.p.sizes[a], self.p.sizes[b])
        return floor + int(need.max(initial=0))

    def run(self) -> None:
        offsets: list[int | None] = [None] * len(self.p.buffers)
        for i, offset in self.p.fixed.items():
            offsets[i] = offset
        self._visit(offsets, set(self.p.free), 0)

    def _visit(self, offsets: list[int | None], unplaced: set[int], floor: int) -> None:
        if self.best_head <= self.bound:
            return
        if not unplaced:
            head = head_size(self.p.buffers, offsets)  # type: ignore[arg-type]
            if head < self.best_head:
                self.best, self.best_head = list(offsets), head  # type: ignore[arg-type]
            return
        self.nodes += 1
        if self.nodes % 256 == 0 and time.monotonic() > self.deadline:
            self.complete = False
        if not self.complete or self._scope_bound(offsets, floor) >= self.best_head:
            return
        children = []
        for i in unplaced:
            if self.twin_of.get(i) in unplaced:
                continue
            pos = self.p.lowest(i, offsets, floor)
            if pos + self.p.sizes[i] >= self.best_head:
                return  # i fits nowhere below the incumbent from here on
            children.append((pos, -self.p.sizes[i], i))
        for pos, _, i in sorted(children):
            offsets[i] = pos
            unplaced.remove(i)
            self._visit(offsets, unplaced, pos)
            unplaced.add(i)
            offsets[i] = None
            if not self.complete or self.best_head <= self.bound:
                return


def pack(buffers: Sequence[BufferRequest], overlaps: Sequence[OverlapPair] = (), *, time_budget: float = 10.0,
         seed: int = 0) -> Packing:
    """Offsets (multiples of 16; offline buffers keep theirs) with the smallest head found in time_budget
    seconds, the lower bound, and whether the head is proven minimal. Every phase stops at the budget;
    TFLM's greedy plan (no sharing) is the fallback when not even the heuristics finished."""
    start = time.monotonic()
    bound = lower_bound(buffers, overlaps)
    try:
        p = _Problem(buffers, overlaps, start + time_budget)
        candidates = [(order, p.first_fit(order)) for order in _heuristic_orders(p)]
    except _OutOfTime:
        greedy = plan_greedy(buffers)
        head = head_size(buffers, greedy)
        return Packing(tuple(greedy), head, bound, head <= bound, 0)
    best_order, best = min(candidates, key=lambda c: head_size(buffers, c[1]))
    best_head = head_size(buffers, best)
    # Local search: move one buffer earlier in the order; keep changes that do not grow the head.
    rng = random.Random(seed)
    local_deadline = start + time_budget / 4
    tries = 0
    while best_head > bound and len(best_order) > 1 and time.monotonic() < local_deadline and tries < 20000:
        tries += 1
        order = list(best_order)
        i, j = sorted(rng.sample(range(len(order)), 2))
        order.insert(i, order.pop(j))
        try:
            offsets = p.first_fit(order)
        except _OutOfTime:
            break
        head = head_size(buffers, offsets)
        if head <= best_head:
            best_order, best, best_head = order, offsets, head
    if best_head <= bound or len(p.free) > MAX_SEARCH_BUFFERS:
        return Packing(tuple(best), best_head, bound, best_head <= bound, 0)
    search = _Search(p, best, best_head, bound, start + time_budget)
    search.run()
    return Packing(tuple(search.best), search.best_head, bound,
                   search.complete or search.best_head <= bound, search.nodes)
