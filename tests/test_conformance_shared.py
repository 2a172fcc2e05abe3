"""Every supported shared conformance model runs bit-exact with tflite-micro (floats: the float32 rule),
with TFLM's arena head; the smaller benchmark models too.

Each model gets 3 seeded inputs run in sequence (state carries, on both sides). LiteRT's reference
kernels are a second oracle, allowed 1 LSB (spec/int8-kernels.md §4 explains where they differ).
"""
from __future__ import annotations

import numpy as np
import pytest

from microinterp import Interpreter

from oracle_checks import assert_same_outputs, lsb_differences, run_sequence, seeded_sequence

SUPPORTED = [
    "mlperf_tiny/kws_ref_model", "mlperf_tiny/vww_96_int8", "mlperf_tiny/vww_96_float",
    "mlperf_tiny/pretrainedResnet_quant", "mlperf_tiny/ad01_int8", "tflm_examples/person_detect",
    "tflm_examples/micro_speech_quantized", "tflm_examples/hello_world_int8",
    "tflm_examples/hello_world_float", "tflm_examples/simple_add_model",
    "tflm_examples/keyword_scrambled_8bit", "tflm_examples/trained_lstm_int8",
    "tflm_examples/audio_preprocessor_int8", "bench/trained_lstm", "bench/micro_speech_lstm",
    "bench/dtln_noise_suppression", "bench/str_ww_ref_model",
]
#: Models not compared with LiteRT, and why (spec/int8-kernels.md §4).
LITERT_SKIPS = {
    "tflm_examples/person_detect": "LiteRT rejects its rank-1 biases with quantized_dimension 3",
    "tflm_examples/keyword_scrambled_8bit": "LiteRT's SVDF reads the int8 state as int16 and crashes",
    "tflm_examples/trained_lstm_int8": "LiteRT's LSTM is another implementation, not bit-exact with TFLM's",
    "tflm_examples/audio_preprocessor_int8": "LiteRT has no kernels for TFLM's signal library custom ops",
    "bench/dtln_noise_suppression": "LiteRT's LSTM is another implementation, not bit-exact with TFLM's",
}


def _load(shared_models, name):
    path = shared_models / f"{name}.tflite"
    interp = Interpreter(model_path=path)
    interp.allocate_tensors()
    return path.read_bytes(), interp


@pytest.mark.parametrize("name", SUPPORTED)
def test_outputs_equal_tflm_bit_for_bit(shared_models, oracle, name):
    content, interp = _load(shared_models, name)
    sequence = seeded_sequence(interp)
    theirs = oracle.run(content, sequence, backend="tflm").outputs
    assert_same_outputs(run_sequence(interp, sequence), theirs, name)


@pytest.mark.parametrize("name", SUPPORTED)
def test_arena_head_equals_tflm(shared_models, oracle, name):
    content, interp = _load(shared_models, name)
    assert interp.memory_plan.head == oracle.tflm_arena(content).head


@pytest.mark.parametrize("name", sorted(set(SUPPORTED) - set(LITERT_SKIPS)))
def test_outputs_within_one_lsb_of_litert_reference_kernels(shared_models, oracle, name):
    content, interp = _load(shared_models, name)
    sequence = seeded_sequence(interp)
    ours = run_sequence(interp, sequence)
    theirs = oracle.run(content, sequence, backend="litert_ref").outputs
    if np.issubdtype(ours[0][0].dtype, np.floating):
        assert_same_outputs(ours, theirs, name)
    else:
        worst, count = lsb_differences(ours, theirs)
        print(f"{name}: {count} elements differ from LiteRT BUILTIN_REF, max {worst} LSB")
        assert worst <= 1
