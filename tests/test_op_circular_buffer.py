"""CIRCULAR_BUFFER (custom op) bit-exact with TFLM over a sequence of invokes: the slot shift, the cycles
after which the rest of the graph runs (kTfLiteAbort in between), the default cycles and its checks."""
from __future__ import annotations

import numpy as np
import pytest
from flatbuffers import flexbuffers

from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from opmodels import Op, T, compare_with_tflm, graph_model, prepare_op, single_op_model


def circular_buffer_model(slots: int, depth: int, cycles_max: int | None, then_abs: bool = True,
                          dtype: str = "INT8") -> bytes:
    """CIRCULAR_BUFFER into [1, slots, 1, depth], then (optionally) an int8 ABS of the buffer."""
    options = None if cycles_max is None else bytes(flexbuffers.Dumps({"cycles_max": cycles_max}))
    x, buffer = T(dtype, (1, 1, 1, depth), 0.1, 0), T(dtype, (1, slots, 1, depth), 0.1, 0)
    nodes = [(Op("CUSTOM", custom_code="CIRCULAR_BUFFER", custom_options=options), [x], [buffer])]
    if then_abs:
        nodes.append((Op("ABS"), [buffer], [T(dtype, (1, slots, 1, depth), 0.1, 0)]))
    return graph_model(nodes)


@pytest.mark.parametrize("slots, cycles_max", [(4, 1), (4, 2), (3, 3), (5, None), (4, None)])
def test_circular_buffer_matches_tflm_over_invokes(oracle, slots, cycles_max):
    model = circular_buffer_model(slots, 3, cycles_max)
    rng = np.random.default_rng(slots)
    sequence = [[rng.integers(-128, 128, (1, 1, 1, 3)).astype(np.int8)] for _ in range(7)]
    compare_with_tflm(oracle, model, sequence, f"{slots} slots, cycles_max {cycles_max}")


def test_circular_buffer_refuses_what_tflm_refuses():
    with pytest.raises(UnsupportedOperatorError, match="CIRCULAR_BUFFER"):
        prepare_op(circular_buffer_model(4, 3, 1, then_abs=False, dtype="INT16"))
    op = Op("CUSTOM", custom_code="CIRCULAR_BUFFER", custom_options=bytes(flexbuffers.Dumps({"cycles_max": 1})))
    with pytest.raises(InconsistentModelError, match="batch, 1, h, depth"):
        prepare_op(single_op_model(op, [T("INT8", (1, 2, 1, 3), 0.1, 0)], [T("INT8", (1, 4, 1, 3), 0.1, 0)]))
    with pytest.raises(InconsistentModelError, match="empty"):
        prepare_op(single_op_model(op, [T("INT8", (1, 1, 1, 0), 0.1, 0)], [T("INT8", (1, 4, 1, 0), 0.1, 0)]))
