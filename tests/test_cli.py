"""The `microinterp` command, run in a subprocess as a user would: output and exit codes."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import REFERENCE_MODELS
from opmodels import Op, T, single_op_model
from test_interpreter_api import reshape_model


def microinterp(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "microinterp", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def reshape_path(tmp_path):
    path = tmp_path / "reshape.tflite"
    path.write_bytes(reshape_model())
    return path


def test_run_prints_outputs_with_dequantized_values_and_latency(reshape_path):
    result = microinterp("run", reshape_path)
    assert result.returncode == 0, result.stderr
    assert "outputs:" in result.stdout and "dequantized (scale 0.5, zero point 1)" in result.stdout
    assert "invoke:" in result.stdout and "arena: 32 bytes" in result.stdout


def test_run_json_uses_the_given_input_and_writes_the_outputs(reshape_path, tmp_path):
    np.save(tmp_path / "x.npy", np.array([[1, 2, 3, 4]], np.int8))
    result = microinterp("run", reshape_path, "--input", tmp_path / "x.npy", "--output", tmp_path / "o.npz",
                         "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["outputs"][0]["values"] == [[1, 2], [3, 4]]
    assert report["outputs"][0]["dequantized"] == [[0.0, 0.5], [1.0, 1.5]]
    assert np.load(tmp_path / "o.npz")["output_0"].tolist() == [[1, 2], [3, 4]]


def test_run_on_a_bundled_reference_model():
    models = sorted(REFERENCE_MODELS.glob("*.tflite"))
    assert models, "reference_models/ holds no .tflite model"
    result = microinterp("run", models[0], "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["outputs"]


@pytest.mark.parametrize("case", ["missing", "not_tflite", "unsupported", "wrong_input"])
def test_bad_input_exits_2_with_a_one_line_reason(case, tmp_path, reshape_path):
    args = {"missing": [tmp_path / "nope.tflite"], "not_tflite": [tmp_path / "junk.tflite"],
            "unsupported": [tmp_path / "sin.tflite"],
            "wrong_input": [reshape_path, "--input", tmp_path / "bad.npy"]}[case]
    (tmp_path / "junk.tflite").write_bytes(b"this is not a flatbuffer at all")
    (tmp_path / "sin.tflite").write_bytes(single_op_model(Op("SIN"), [T("FLOAT32", (4,))], [T("FLOAT32", (4,))]))
    np.save(tmp_path / "bad.npy", np.zeros((1, 4), np.float32))
    result = microinterp("run", *args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    expected = {"missing": "No such file", "not_tflite": "TFLite", "unsupported": "op 0 (SIN)",
                "wrong_input": "float32"}[case]
    assert expected in result.stderr
