"""Large valid float graphs built in memory, for the scaling tests and the allocation benchmark.

* `add_chain(n)`: n chained float ADDs, each reading the previous result and the graph input; with
  `all_outputs` every result is a graph output (all of them live until the end).
* `random_dag(n, seed)`: n float ADDs, each reading two earlier tensors chosen at random (mostly
  recent ones, some far back), with tensors of a few sizes; the unread ones are the graph outputs.
"""
from __future__ import annotations

import numpy as np

from opmodels import Op, T, graph_model

ADD = Op("ADD", "AddOptions", {})


def add_chain(n: int, *, all_outputs: bool = True, shape: tuple[int, ...] = (1, 4)) -> bytes:
    """A model of n float ADDs: y_0 = x + x, y_k = y_{k-1} + x."""
    x = T("FLOAT32", shape)
    nodes, prev = [], x
    for _ in range(n):
        y = T("FLOAT32", shape)
        nodes.append((ADD, [prev, x], [y]))
        prev = y
    return graph_model(nodes, inputs=[x], outputs=None if all_outputs else [prev])


def random_dag(n: int, seed: int = 0, *, sizes: tuple[int, ...] = (4, 16, 64, 256)) -> bytes:
    """A model of n float ADDs over earlier tensors chosen at random (mixed sizes broadcast by shape)."""
    rng = np.random.default_rng(seed)
    width = rng.choice(sizes, size=n + 1)
    x = T("FLOAT32", (1, int(width.max())))
    tensors, read = [x], set()
    nodes = []
    for k in range(n):
        picks = []
        for _ in range(2):
            back = int(rng.geometric(0.3)) if rng.random() < 0.9 else int(rng.integers(1, len(tensors) + 1))
            picks.append(tensors[max(0, len(tensors) - back)])
        a, b = picks
        y = T("FLOAT32", (1, int(width.max())) if rng.random() < 0.5 else (1, int(width[k])))
        shape_y = np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
        y.shape = shape_y
        nodes.append((ADD, [a, b], [y]))
        read.update((id(a), id(b)))
        tensors.append(y)
    outputs = [t for t in tensors[1:] if id(t) not in read] or [tensors[-1]]
    return graph_model(nodes, inputs=[x], outputs=outputs)
