"""Property: mutants of models with control flow, resource variables and compressed weights (several
subgraphs, subgraph indices in options, resource ids, decode tables) load, allocate and run or are
refused with a MicrointerpError -- never a crash, a hang or another exception. Same worker and checks
as test_fuzz_models.py; the mutations that reach their structure: subgraph indices and other fields
rewritten through the verifier's schema, and bit flips."""
from __future__ import annotations


import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz.mutations import field_slots
from fuzz.worker import Worker
from opmodels import Graph, Op, T, multi_graph_model
from test_control_flow import call_once_model, if_model, if_op, nested_model, while_model
from test_decode import decode_node, prune_encode
from test_fuzz_models import check, flip_bits, fuzz_settings
from test_resource_variables import accumulator_nodes


def _corpus() -> list[bytes]:
    nodes, x, y = accumulator_nodes("INT8", (2, 3), (0.5, -3))
    w = np.arange(-6, 6, dtype=np.int8).reshape(3, 4)
    encoded, ancillary = prune_encode(w, np.zeros(1, np.int8), np.zeros(w.size, int))
    decoded, relu_out = T("INT8", (3, 4), 1.0, 0), T("INT8", (3, 4), 1.0, 0)
    c, a, b = T("BOOL", (1,)), T("INT8", (3, 4), 1.0, 0), T("INT8", (3, 4), 1.0, 0)
    branch = Graph([(Op("RELU"), [a], [b])], inputs=[a], outputs=[b])
    decode_if = Graph([decode_node(encoded, ancillary, decoded), (if_op(1, 1), [c, decoded], [relu_out])],
                      inputs=[c], outputs=[relu_out])
    return [if_model(), while_model(), call_once_model(), nested_model(),
            multi_graph_model([Graph(nodes, inputs=[x], outputs=[y])]), multi_graph_model([decode_if, branch])]


CORPUS = _corpus()
_VALUES = (-1, 0, 1, 2, 3, 4, 5, 127, 255, 1 << 16, (1 << 31) - 1)


@pytest.fixture(scope="module")
def worker():
    with Worker(timeout=20.0) as w:
        yield w


@pytest.fixture(scope="module")
def reproducers(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz-control-flow-reproducers")


def test_the_corpus_runs_unmutated(worker):
    assert [worker.run(content).status for content in CORPUS] == ["ok"] * len(CORPUS)


@fuzz_settings(300)
@given(data=st.data())
def test_fields_of_multi_subgraph_models_rewritten(worker, reproducers, data):
    index = data.draw(st.integers(0, len(CORPUS) - 1), label="model")
    content = CORPUS[index]
    slots = [s for s in field_slots(content) if not s.is_float]
    out = bytearray(content)
    notes = []
    for _ in range(data.draw(st.integers(1, 3), label="patches")):
        slot = slots[data.draw(st.integers(0, len(slots) - 1), label="slot")]
        pos = slot.pos + slot.size * data.draw(st.integers(0, slot.count - 1), label="element")
        value = data.draw(st.sampled_from(_VALUES), label="value")
        raw = (value & ((1 << (8 * slot.size)) - 1)).to_bytes(slot.size, "little")
        out[pos:pos + slot.size] = raw
        notes.append(f"{slot.path}@{pos}={raw.hex()}")
    check(worker, reproducers, bytes(out), f"control-flow model {index} fields {notes}")


@fuzz_settings(200)
@given(data=st.data())
def test_bit_flips_in_multi_subgraph_models(worker, reproducers, data):
    index = data.draw(st.integers(0, len(CORPUS) - 1), label="model")
    out, flips = flip_bits(data, CORPUS[index], 6)
    check(worker, reproducers, out, f"control-flow model {index} bit flips {flips}")
