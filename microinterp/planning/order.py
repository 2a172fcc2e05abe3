"""Choosing the execution order: the topological order of the graph with the lowest peak of live bytes.

Dynamic programming over the sets of ops already run (Liberis & Lane 2019, "Neural networks on
microcontrollers: saving memory at inference via operator reordering"): the bytes live after a set of
ops ran do not depend on the order they ran in, so the best peak to reach each set is computed once.
The number of sets is the number of downward-closed subsets of the graph: one per op for a chain,
more with branches. Past `max_steps` evaluated (set, op) pairs the search falls back to a greedy
order (the ready op needing the fewest bytes next).

Pure, like the rest of planning/: values (buffers) with sizes, ops with their inputs, outputs,
scratch bytes and possible savings in, an order out. Lifetimes follow TFLM (lifetimes.py): an op's
inputs and outputs are all live at its step, graph outputs until the end.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Sequence

#: Under a second of search in Python; a chain of n ops needs about n steps, a ResNet block a few more.
DEFAULT_MAX_STEPS = 100_000


@dataclass(frozen=True)
class OpNode:
    """One op: the values it reads and writes (an output equal to an input is an alias, not a new
    value), bytes of scratch live only during it, and (input value, bytes saved) for each input its
    output may overlap when that input dies at this op."""
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    scratch: int = 0
    savings: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True)
class Graph:
    """Values 0..len(sizes)-1 and the ops in the model's order. Values no op produces are available
    from the start (graph inputs)."""
    sizes: tuple[int, ...]
    ops: tuple[OpNode, ...]
    outputs: frozenset[int]


class _Schedule:
    """Op sets as bitmasks: each op's producers, each value's consumers, and the bytes of running an op."""

    def __init__(self, g: Graph):
        self.g = g
        self.producer = [-1] * len(g.sizes)
        self.consumers = [0] * len(g.sizes)
        for k, op in enumerate(g.ops):
            for v in op.inputs:
                self.consumers[v] |= 1 << k
            for v in op.outputs:
                if v not in op.inputs:
                    self.producer[v] = k
        self.deps = [0] * len(g.ops)
        for k, op in enumerate(g.ops):
            for v in op.inputs:
                if self.producer[v] >= 0:
                    self.deps[k] |= 1 << self.producer[v]
        self.start_live = sum(s for v, s in enumerate(g.sizes)
                              if self.producer[v] < 0 and (self.consumers[v] or v in g.outputs))

    def step(self, done: int, live: int, k: int) -> tuple[int, int]:
        """(bytes live while op k runs after the ops in `done`, bytes live after it)."""
        op, g = self.g.ops[k], self.g
        after = done | 1 << k
        new = [v for v in dict.fromkeys(op.outputs) if self.producer[v] == k]
        dying = {v for v in op.inputs if self.consumers[v] & ~after == 0 and v not in g.outputs}
        saving = max((s for v, s in op.savings if v in dying), default=0)
        during = live + sum(g.sizes[v] for v in new) + op.scratch - saving
        kept = sum(g.sizes[v] for v in new if self.consumers[v] or v in g.outputs)
        return during, live + kept - sum(g.sizes[v] for v in dying)

    def peak(self, order: Sequence[int]) -> int:
        done, live, peak = 0, self.start_live, self.start_live
        for k in order:
            during, live = self.step(done, live, k)
            peak = max(peak, during)
            done |= 1 << k
        return peak

    def greedy(self, deadline: float) -> list[int] | None:
        """Each step the ready op with the fewest bytes live while it runs; None past the deadline."""
        done, live, order = 0, self.start_live, []
        for _ in self.g.ops:
            if time.monotonic() > deadline:
                return None
            ready = [k for k in range(len(self.g.ops)) if not done >> k & 1 and self.deps[k] & ~done == 0]
            k = min(ready, key=lambda k: (self.step(done, live, k)[0], k))
            _, live = self.step(done, live, k)
            done |= 1 << k
            order.append(k)
        return order

    def dynamic(self, max_steps: int, deadline: float) -> list[int] | None:
        """The order with the lowest peak, ties broken towards fewer inversions of the model's order;
        None once max_steps (set, next op) pairs were evaluated or past the deadline."""
        n = len(self.g.ops)
        # state -> (peak, inversions, live bytes, previous state, last op); layer by layer.
        layer = {0: (self.start_live, 0, self.start_live, None, None)}
        history = [layer]
        steps = 0
        for _ in range(n):
            nxt: dict[int, tuple] = {}
            for done, (peak, inv, live, _, _) in layer.items():
                for k in range(n):
                    if done >> k & 1 or self.deps[k] & ~done:
                        continue
                    steps += 1
                    if steps > max_steps or (steps % 256 == 0 and time.monotonic() > deadline):
                        return None
                    during, after_live = self.step(done, live, k)
                    key = (max(peak, during), inv + bin(done >> (k + 1)).count("1"))
                    after = done | 1 << k
                    if after not in nxt or key < nxt[after][:2]:
                        nxt[after] = (*key, after_live, done, k)
            history.append(nxt)
            layer = nxt
        order, state = [], (1 << n) - 1
        for layer in reversed(history[1:]):
            _, _, _, prev, k = layer[state]
            order.append(k)
            state = prev
        return order[::-1]


def order_peak(graph: Graph, order: Sequence[int]) -> int:
    """The most bytes live at any step when the ops run in this order."""
    return _Schedule(graph).peak(order)


def best_order(graph: Graph, max_steps: int = DEFAULT_MAX_STEPS,
               deadline: float = float("inf")) -> tuple[list[int], int]:
    """A topological order with the lowest peak (exact unless the search needs more than max_steps),
    and that peak. Among equal peaks the model's own order is preferred. Past `deadline`
    (time.monotonic()) the searches stop and the model's order is the fallback."""
    s = _Schedule(graph)
    model_order = list(range(len(graph.ops)))
    found = s.dynamic(max_steps, deadline) or s.greedy(deadline)
    candidates = [model_order] + ([found] if found is not None else [])
    best = min(candidates, key=s.peak)
    return best, s.peak(best)
