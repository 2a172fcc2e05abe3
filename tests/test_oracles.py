"""Behaviour of microinterp.oracles: the official interpreters run in a replaceable child process."""
from __future__ import annotations

import sys
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

from conftest import require_shared_models
from microinterp import _oracle_worker
from microinterp.oracles import (PIP_HINT, OracleCrash, OracleError, OracleTimeout, OracleUnavailable,
                                 OracleWorker, _reply_value)


# Head sizes TFLM reported for these models, kept as regression data.
KNOWN_ARENA_HEADS = {
    "tflm_examples/hello_world_int8.tflite": 32,
    "mlperf_tiny/ad01_int8.tflite": 768,
}


def shared_model(relative: str) -> Path:
    return require_shared_models() / relative


needs_oracles = pytest.mark.skipif(
    any(find_spec(name) is None for name in ("tflite_micro", "ai_edge_litert")),
    reason=f"the official interpreters are not installed: {PIP_HINT}")


@pytest.fixture(scope="module")
def worker():
    with OracleWorker() as shared:
        yield shared


def hello_inputs(values) -> list[list[np.ndarray]]:
    return [[np.array([[v]], dtype=np.int8)] for v in values]


@needs_oracles
def test_tflm_runs_hello_world_int8_to_an_int8_output_of_the_model_shape(worker):
    result = worker.run(shared_model("tflm_examples/hello_world_int8.tflite"), hello_inputs([10, 100]))

    assert len(result.outputs) == 2
    for outputs in result.outputs:
        assert len(outputs) == 1
        assert outputs[0].dtype == np.int8
        assert outputs[0].shape == (1, 1)
    assert result.output_dtypes == [np.dtype(np.int8)]
    assert result.tensors is None


@needs_oracles
def test_litert_ref_stays_within_three_steps_of_tflm_on_hello_world_int8(worker):
    # Not bit-exact: LiteRT's reference FULLY_CONNECTED rounds differently from TFLM's; over all 256
    # inputs the first layer differs by 1 step on 9 of them and the output by up to 3 steps on 23.
    model = shared_model("tflm_examples/hello_world_int8.tflite")
    inputs = hello_inputs(range(-128, 128))

    tflm = np.concatenate([o[0] for o in worker.run(model, inputs).outputs]).astype(int)
    litert_ref = np.concatenate([o[0] for o in worker.run(model, inputs, backend="litert_ref").outputs])

    differences = np.abs(tflm - litert_ref)
    assert differences.max() <= 3
    assert np.count_nonzero(differences) <= 23


@needs_oracles
def test_model_bytes_and_model_path_give_the_same_outputs(worker):
    path = shared_model("tflm_examples/hello_world_int8.tflite")
    inputs = hello_inputs([-5, 77])

    from_path = worker.run(path, inputs)
    from_bytes = worker.run(path.read_bytes(), inputs)

    assert all(np.array_equal(a[0], b[0]) for a, b in zip(from_path.outputs, from_bytes.outputs))


@needs_oracles
@pytest.mark.parametrize("backend", ["tflm", "litert_ref"])
def test_preserved_tensors_hold_each_invocations_input_and_output(worker, backend):
    inputs = hello_inputs([10, 100])

    result = worker.run(shared_model("tflm_examples/hello_world_int8.tflite"), inputs, backend=backend,
                        preserve_all_tensors=True)

    assert len(result.tensors) == 2
    for tensors, arrays, outputs in zip(result.tensors, inputs, result.outputs):
        assert sorted(tensors) == list(range(10))
        assert np.array_equal(tensors[0], arrays[0])
        assert np.array_equal(tensors[9], outputs[0])


@needs_oracles
def test_invocations_share_one_interpreter_so_state_carries_over(worker):
    model = shared_model("tflm_examples/trained_lstm_int8.tflite")
    x = np.random.default_rng(1).integers(-128, 128, (1, 28, 28)).astype(np.int8)

    twice = worker.run(model, [[x], [x]])
    fresh = worker.run(model, [[x]])

    assert np.array_equal(twice.outputs[0][0], fresh.outputs[0][0])
    assert not np.array_equal(twice.outputs[0][0], twice.outputs[1][0])


@needs_oracles
@pytest.mark.parametrize("relative", sorted(KNOWN_ARENA_HEADS))
def test_tflm_arena_reports_the_known_head(worker, relative):
    report = worker.tflm_arena(shared_model(relative))

    assert report.head == KNOWN_ARENA_HEADS[relative]
    assert report.tail > 0
    assert report.total == report.head + report.tail


@needs_oracles
def test_time_invoke_measures_each_repeat(worker):
    times = worker.time_invoke(shared_model("tflm_examples/hello_world_int8.tflite"),
                               [np.array([[3]], dtype=np.int8)], repeats=5)

    assert len(times.times) == 5
    assert 0 < times.best <= times.median


@needs_oracles
def test_interpreter_rejection_surfaces_as_oracle_error_and_the_worker_survives(worker):
    model = shared_model("tflm_examples/hello_world_int8.tflite")
    worker.run(model, hello_inputs([1]))
    pid = worker.pid

    with pytest.raises(OracleError, match="FLOAT32"):
        worker.run(model, [[np.zeros((1, 1), dtype=np.float32)]])

    assert worker.pid == pid


@needs_oracles
def test_worker_crash_surfaces_as_oracle_crash_and_the_next_request_works(worker):
    # LiteRT's reference SVDF kernel corrupts the heap on this model (SIGABRT or SIGSEGV).
    crashing = shared_model("tflm_examples/keyword_scrambled_8bit.tflite")
    hello = shared_model("tflm_examples/hello_world_int8.tflite")

    with pytest.raises(OracleCrash, match=r"litert_ref .*SIG.*keyword_scrambled_8bit"):
        worker.run(crashing, [[np.zeros((1, 96), dtype=np.int16)]], backend="litert_ref")

    assert worker.run(hello, hello_inputs([10])).outputs[0][0].shape == (1, 1)


@needs_oracles
def test_hang_surfaces_as_oracle_timeout_and_the_next_request_works():
    hello = shared_model("tflm_examples/hello_world_int8.tflite")
    vww = shared_model("mlperf_tiny/vww_96_int8.tflite")
    with OracleWorker(timeout=60) as worker:
        worker.run(hello, hello_inputs([1]))
        worker.timeout = 0.5

        with pytest.raises(OracleTimeout, match="0.5 s"):
            worker.time_invoke(vww, [np.zeros((1, 96, 96, 3), dtype=np.int8)], repeats=1_000_000)

        worker.timeout = 60
        assert worker.run(hello, hello_inputs([1])).outputs[0][0].dtype == np.int8


@needs_oracles
def test_worker_is_replaced_after_max_models():
    hello = shared_model("tflm_examples/hello_world_int8.tflite")
    with OracleWorker(max_models=2) as worker:
        pids = []
        for _ in range(3):
            worker.run(hello, hello_inputs([1]))
            pids.append(worker.pid)

    assert pids[0] == pids[1] != pids[2]


def test_unknown_backend_is_refused_before_reaching_the_worker():
    with OracleWorker() as worker:
        with pytest.raises(ValueError, match="unknown oracle backend"):
            worker.run(b"", [], backend="tflm_turbo")
        assert worker.pid is None


def test_a_single_invocation_passed_flat_is_refused():
    with OracleWorker() as worker:
        with pytest.raises(TypeError, match="sequence of invocations"):
            worker.run(b"", [np.zeros((1, 1), dtype=np.int8)])


@pytest.mark.parametrize("backend, module", [("tflm", _oracle_worker.TFLM_RUNTIME),
                                             ("litert_ref", _oracle_worker.LITERT_INTERPRETER)])
def test_missing_backend_package_gives_oracle_unavailable_with_the_pip_hint(monkeypatch, backend, module):
    # None in sys.modules makes the import fail as if the package were not installed.
    monkeypatch.setitem(sys.modules, module, None)
    request = {"op": "run", "backend": backend, "model": b"", "inputs": [], "preserve_all_tensors": False}

    reply = _oracle_worker.handle(request)

    with pytest.raises(OracleUnavailable) as raised:
        _reply_value(reply, backend, "a model")
    assert str(raised.value).endswith(PIP_HINT)
    assert _oracle_worker.PACKAGES[module] in str(raised.value)


@needs_oracles
def test_worker_imports_the_preload_module_before_serving(tmp_path, monkeypatch):
    (tmp_path / "preload_marker.py").write_text(
        "import os, pathlib\npathlib.Path(os.environ['PRELOAD_MARKER']).write_text('imported')\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    monkeypatch.setenv(_oracle_worker.PRELOAD_VARIABLE, "preload_marker")
    monkeypatch.setenv("PRELOAD_MARKER", str(tmp_path / "marker"))
    with OracleWorker() as worker:
        worker.time_invoke(shared_model("tflm_examples/hello_world_int8.tflite"), [np.array([[3]], dtype=np.int8)],
                           repeats=1)

    assert (tmp_path / "marker").read_text() == "imported"
