"""The single-layer models of benchmarks/layers.py: valid, and bit-exact with TFLM, so the per-layer table in
BENCHMARKS.md times the same computation on every side."""
from __future__ import annotations

import importlib.util

import numpy as np

from conftest import ROOT
from opmodels import compare_with_tflm


def _layers_module():
    spec = importlib.util.spec_from_file_location("benchmark_layers", ROOT / "benchmarks" / "layers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_layers_match_tflm_bit_for_bit(oracle, tmp_path):
    layers = _layers_module()
    paths = layers.write_layers(tmp_path)
    assert len(paths) == len(layers.LAYERS)
    rng = np.random.default_rng(0)
    for path, (op, input_shape, *_) in zip(paths, layers.LAYERS.values()):
        x = rng.integers(-128, 128, input_shape, dtype=np.int8)
        compare_with_tflm(oracle, path.read_bytes(), [[x]], f"{path.name} ({op})")
