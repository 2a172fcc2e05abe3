"""The memory plan: TFLM-compatible offsets and head, offline plans, lifetimes."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from microinterp import Interpreter, load_model
from microinterp.planning import plan_memory

from opmodels import Op, T, graph_model
from test_conformance_shared import SUPPORTED


def chain_model(metadata=None) -> bytes:
    """x -> RESHAPE -> y -> RESHAPE -> z, int8 of 16, 16 and 16 bytes."""
    x, y, z = (T("INT8", (1, 16), 1.0, 0) for _ in range(3))
    return graph_model([(Op("RESHAPE"), [x], [y]), (Op("RESHAPE"), [y], [z])], outputs=[z], metadata=metadata)


def offline_metadata(offsets: list[int]) -> bytes:
    return struct.pack(f"<{3 + len(offsets)}i", 1, 1, len(offsets), *offsets)


def test_plan_gives_offset_size_and_lifetime_of_every_activation():
    plan = plan_memory(load_model(chain_model()), {}, 0)
    lifetimes = {a.entry.index: (a.entry.first, a.entry.last) for a in plan.allocations}
    assert lifetimes == {0: (0, 1), 1: (1, 2), 2: (2, 2)}
    offsets = {a.entry.index: a.offset for a in plan.allocations}
    assert offsets[0] != offsets[1] and offsets[1] != offsets[2] and offsets[0] == offsets[2]
    assert plan.head == 32 == plan.lower_bound


def test_offline_offsets_are_honoured(oracle):
    content = chain_model({"OfflineMemoryAllocation": offline_metadata([64, -1, 0])})
    it = Interpreter(model_content=content)
    it.allocate_tensors()
    plan = it.memory_plan
    assert plan.tensor_allocation(0, 0).offset == 64
    assert plan.tensor_allocation(0, 2).offset == 0
    assert plan.head == 80 == oracle.tflm_arena(content).head
    it.set_tensor(0, np.arange(16, dtype=np.int8).reshape(1, 16))
    it.invoke()
    assert it.get_tensor(2).ravel().tolist() == list(range(16))


def test_offline_plan_with_wrong_tensor_count_is_refused():
    content = chain_model({"OfflineMemoryAllocation": offline_metadata([0, 0])})
    with pytest.raises(ValueError, match="expected 3 offsets"):
        Interpreter(model_content=content).allocate_tensors()


def test_preserving_all_tensors_gives_every_tensor_its_own_bytes():
    it = Interpreter(model_content=chain_model(), experimental_preserve_all_tensors=True)
    it.allocate_tensors()
    assert [a.offset for a in it.memory_plan.allocations] == [0, 16, 32]
    it.set_tensor(0, np.ones((1, 16), np.int8))
    it.invoke()
    assert it.get_tensor(1).sum() == 16


