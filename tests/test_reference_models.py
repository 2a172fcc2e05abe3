"""Every bundled reference model runs bit-exact with tflite-micro, and the manifest describes the files.

The manifest's TFLM figures were measured at generation time: they are regression data kept beside
the live comparison (the head is also checked live against tflite-micro here).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from microinterp import Interpreter, load_model

from conftest import REFERENCE_MODELS
from oracle_checks import assert_same_outputs, run_sequence, seeded_sequence

MANIFEST = json.loads((REFERENCE_MODELS / "manifest.json").read_text())["models"]
MODELS = sorted(MANIFEST)


def test_manifest_lists_exactly_the_bundled_models():
    on_disk = sorted(str(p.relative_to(REFERENCE_MODELS)) for p in REFERENCE_MODELS.rglob("*.tflite"))
    assert on_disk == MODELS


@pytest.mark.parametrize("name", MODELS)
def test_manifest_matches_the_model_file(name):
    entry = MANIFEST[name]
    model = load_model(REFERENCE_MODELS / name)
    ops = [[op.name for op in sg.operators] for sg in model.subgraphs]
    assert ops[0] == entry["ops"]
    assert ops[1:] == entry.get("subgraph_ops", [])
    assert sorted({name for sg_ops in ops for name in sg_ops}) == entry["op_set"]
    for role, indices in (("inputs", model.main.inputs), ("outputs", model.main.outputs)):
        found = [(list(model.main.tensors[i].shape), model.main.tensors[i].dtype.name) for i in indices]
        assert found == [(t["shape"], t["dtype"]) for t in entry[role]], role


@pytest.mark.parametrize("name", MODELS)
def test_head_equals_the_recorded_tflm_head(name):
    interp = Interpreter(model_path=REFERENCE_MODELS / name)
    interp.allocate_tensors()
    assert interp.memory_plan.head == MANIFEST[name]["tflm_arena"]["head"]


@pytest.mark.parametrize("name", MODELS)
def test_outputs_and_head_equal_tflm(oracle, name):
    content = (REFERENCE_MODELS / name).read_bytes()
    interp = Interpreter(model_content=content)
    interp.allocate_tensors()
    sequence = seeded_sequence(interp)
    ours = run_sequence(interp, sequence)
    assert_same_outputs(ours, oracle.run(content, sequence, backend="tflm").outputs, name)
    assert interp.memory_plan.head == oracle.tflm_arena(content).head


@pytest.mark.parametrize("name", [n for n in MODELS if MANIFEST[n]["kind"] == "mlperf_tiny"])
def test_network_outputs_depend_on_the_input(name):
    interp = Interpreter(model_path=REFERENCE_MODELS / name)
    interp.allocate_tensors()
    outputs = run_sequence(interp, seeded_sequence(interp, seeds=range(8)))
    assert len({o[0].tobytes() for o in outputs}) > 1
    assert all(np.isfinite(o[0]).all() for o in outputs if o[0].dtype.kind == "f")
