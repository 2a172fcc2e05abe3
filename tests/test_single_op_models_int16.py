"""The shared 16x8 single-op models (TFLM's own integration models) run bit-exact with tflite-micro.

Every shared single_op/{conv,add,sub,leaky_relu,transpose_conv,quantize}__*.tflite model gets 3 seeded
inputs run in sequence through microinterp's Interpreter and through TFLM; outputs must match bit for
bit and the planned arena head must equal TFLM's (TRANSPOSE_CONV's scratch requests included).
"""
from __future__ import annotations

import pytest

from conftest import shared_models_dir
from oracle_checks import assert_single_op_model_matches_tflm, single_op_model_names

FAMILIES = ("conv", "add", "sub", "leaky_relu", "transpose_conv", "quantize")
PATTERNS = [f"{family}__*.tflite" for family in FAMILIES]


@pytest.mark.parametrize("name", single_op_model_names(shared_models_dir(), PATTERNS))
def test_single_op_model_matches_tflm_outputs_and_head(shared_models, oracle, name):
    assert_single_op_model_matches_tflm(shared_models, oracle, name)
