"""Dataset evaluation (microinterp.evaluation, `microinterp eval`): every sample's outputs as TFLM computes
them, float data quantized as TFLM's QUANTIZE does, scores against labels and a float reference model run
live in LiteRT, in this process, in worker processes and on a local Ray instance."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import REFERENCE_MODELS
from microinterp.evaluation import evaluate, iter_outputs, top_k_accuracy
from microinterp.inputs import quantize_input
from microinterp.interpreter import Interpreter

KWS = REFERENCE_MODELS / "kws_ds_cnn_int8.tflite"
KWS_FLOAT = REFERENCE_MODELS / "kws_ds_cnn_float32.tflite"
SINE = REFERENCE_MODELS / "hello_world_sine_int8.tflite"
SINE_FLOAT = REFERENCE_MODELS / "hello_world_sine_float32.tflite"


def input_detail(path) -> dict:
    interp = Interpreter(model_path=path)
    interp.allocate_tensors()
    return interp.get_input_details()[0]


def kws_samples(n: int, seed: int = 0) -> np.ndarray:
    """Float samples spread over the int8 input's range (scale ~1.06), without the batch dimension."""
    return (np.random.default_rng(seed).standard_normal((n, 49, 10, 1)) * 40).astype(np.float32)


def test_outputs_of_every_sample_are_tflms_on_the_quantized_samples(oracle):
    samples = kws_samples(6)
    ours = list(iter_outputs(KWS, iter(samples), workers=2, chunk=4))
    detail = input_detail(KWS)
    quantized = [[quantize_input(s.reshape(detail["shape"]), detail)] for s in samples]
    theirs = oracle.run(KWS.read_bytes(), quantized, backend="tflm").outputs
    assert len(ours) == len(theirs) == 6
    for k, ((mine,), (tflm,)) in enumerate(zip(ours, theirs)):
        assert mine.dtype == tflm.dtype and np.array_equal(mine, tflm), f"sample {k}"


def test_classification_scores_and_agreement_with_a_float_reference_run_in_litert(oracle):
    samples, labels = kws_samples(12, seed=1), np.random.default_rng(2).integers(0, 12, 12)
    report = evaluate(KWS, {"input_0": samples}, labels, reference=KWS_FLOAT, top_k=3, workers=1)
    detail = input_detail(KWS)
    quantized = [[quantize_input(s.reshape(detail["shape"]), detail)] for s in samples]
    tflm = np.concatenate([o for (o,) in oracle.run(KWS.read_bytes(), quantized, backend="tflm").outputs])
    scale, zero_point = Interpreter(model_path=KWS).get_output_details()[0]["quantization"]
    real = (tflm.astype(np.float64) - zero_point) * scale
    # The float reference gets the float data itself.
    litert = np.concatenate([o for (o,) in oracle.run(KWS_FLOAT.read_bytes(), [[s[None]] for s in samples],
                                                      backend="litert_ref").outputs]).astype(np.float64)
    assert report.samples == 12 and report.labels == "classes"
    assert report.top1 == top_k_accuracy(real, labels, 1) and report.topk == top_k_accuracy(real, labels, 3)
    assert report.reference_top1_agreement == np.mean(real.argmax(1) == litert.argmax(1))
    assert report.reference_mean_abs_diff == pytest.approx(np.mean(np.abs(real - litert)), rel=1e-4)
    assert report.reference_top1 == top_k_accuracy(litert, labels, 1)


def test_float_targets_give_the_mean_absolute_error_of_the_dequantized_output(oracle):
    x = np.linspace(0, 6, 9, dtype=np.float32).reshape(9, 1)
    report = evaluate(SINE, {"serving_default_keras_tensor:0": x}, np.sin(x), reference=SINE_FLOAT, workers=2)
    detail = input_detail(SINE)
    theirs = oracle.run(SINE.read_bytes(), [[quantize_input(v.reshape(1, 1), detail)] for v in x],
                        backend="tflm").outputs
    scale, zero_point = Interpreter(model_path=SINE).get_output_details()[0]["quantization"]
    real = np.array([(float(o[0, 0]) - zero_point) * scale for (o,) in theirs])
    litert = np.array([float(o[0, 0]) for (o,) in oracle.run(SINE_FLOAT.read_bytes(), [[v.reshape(1, 1)] for v in x],
                                                              backend="litert_ref").outputs])
    assert report.labels == "targets" and report.top1 is None
    assert report.mean_abs_error == pytest.approx(np.mean(np.abs(real - np.sin(x[:, 0]))), rel=1e-6)
    assert report.reference_mean_abs_error == pytest.approx(np.mean(np.abs(litert - np.sin(x[:, 0]))), rel=1e-5)
    assert report.reference_mean_abs_diff == pytest.approx(np.mean(np.abs(real - litert)), rel=1e-5)
    assert report.reference_top1_agreement is None  # one output value: no class to agree on


def test_progress_reaches_every_sample_and_workers_agree_with_one_process():
    samples, seen = kws_samples(10, seed=3), []
    alone = evaluate(KWS, {"input_0": samples}, np.arange(10) % 12, workers=1)
    shared = evaluate(KWS, {"input_0": samples}, np.arange(10) % 12, workers=2,
                      progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (10, 10) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert (alone.top1, alone.topk) == (shared.top1, shared.topk)


@pytest.mark.parametrize("data, labels, message", [
    ({"x": np.zeros((2, 1), np.float32)}, None, "no array for input 0 'serving_default_keras_tensor:0'"),
    ({"input_0": np.zeros((2, 3), np.float32)}, None, "takes samples of shape [1, 1], the data's are [3]"),
    ({"input_0": np.zeros((2, 1), np.float32)}, np.zeros(3, np.int64), "3 labels for 2 samples"),
    ({"input_0": np.zeros((2, 1), np.float32)}, np.zeros((2, 2), np.float32), "2 values per sample"),
])
def test_inconsistent_data_or_labels_are_refused_naming_what_differs(data, labels, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        evaluate(SINE, data, labels, workers=1)


def microinterp(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "microinterp", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


def test_eval_command_reports_accuracy_and_agreement(tmp_path):
    samples, labels = kws_samples(8, seed=4), np.random.default_rng(5).integers(0, 12, 8)
    np.savez(tmp_path / "data.npz", input_0=samples)
    np.save(tmp_path / "labels.npy", labels)
    args = ["eval", KWS, "--data", tmp_path / "data.npz", "--labels", tmp_path / "labels.npy",
            "--reference", KWS_FLOAT, "--top-k", 2, "--workers", 1]
    result = microinterp(*args, "--json")
    assert result.returncode == 0 and result.stderr == "", result.stderr  # no progress bar when piped
    report = json.loads(result.stdout)
    expected = evaluate(KWS, {"input_0": samples}, labels, reference=KWS_FLOAT, top_k=2, workers=1)
    assert (report["top1"], report["topk"]) == (expected.top1, expected.topk)
    assert report["reference_top1_agreement"] == expected.reference_top1_agreement
    text = microinterp(*args).stdout
    assert "top-2 accuracy" in text and "top-1 agreement" in text and "samples/s, in process" in text


def test_eval_command_bad_data_is_a_one_line_error(tmp_path):
    np.savez(tmp_path / "data.npz", wrong=np.zeros((2, 1), np.float32))
    result = microinterp("eval", SINE, "--data", tmp_path / "data.npz")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "no array for input 0" in result.stderr


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed (the test extra has it)")
def test_ray_actors_give_the_same_outputs_and_scores():
    import ray
    samples, labels = kws_samples(8, seed=6), np.arange(8) % 12
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = evaluate(KWS, {"input_0": samples}, labels, workers=2, ray_address="auto")
        outputs = list(iter_outputs(KWS, iter(samples[:3]), workers=2, ray_address="auto", chunk=2))
    finally:
        ray.shutdown()
    here = evaluate(KWS, {"input_0": samples}, labels, workers=1)
    assert on_ray.runner == "ray" and (on_ray.top1, on_ray.topk) == (here.top1, here.topk)
    assert len(outputs) == 3
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(outputs, iter_outputs(KWS, iter(samples[:3]))))
