"""The shared 16x8 single-op models (TFLM's own integration models) run bit-exact with tflite-micro.

Every shared single_op/{conv,add,sub,leaky_relu,transpose_conv,quantize}__*.tflite model gets 3 seeded
inputs run in sequence through microinterp's Interpreter and through TFLM; outputs must match bit for
bit and the planned arena head must equal TFLM's (TRANSPOSE_CONV's scratch requests included).
"""
from __future__ import annotations

import pytest

from conftest import shared_models_dir
from microinterp import Interpreter
from oracle_checks import assert_same_outputs, run_sequence, seeded_sequence

FAMILIES = ("conv", "add", "sub", "leaky_relu", "transpose_conv", "quantize")


def _model_names() -> list[str]:
    folder = shared_models_dir() / "single_op"
    if not folder.is_dir():
        return ["(shared models missing)"]
    return sorted(p.name for family in FAMILIES for p in folder.glob(f"{family}__*.tflite"))


@pytest.mark.parametrize("name", _model_names())
def test_single_op_model_matches_tflm_outputs_and_head(shared_models, oracle, name):
    content = (shared_models / "single_op" / name).read_bytes()
    interp = Interpreter(model_content=content)
    interp.allocate_tensors()
    sequence = seeded_sequence(interp)
    theirs = oracle.run(content, sequence, backend="tflm").outputs
    assert_same_outputs(run_sequence(interp, sequence), theirs, name)
    assert interp.memory_plan.head == oracle.tflm_arena(content).head
