"""pytest-benchmark view of the same comparison as benchmarks/run.py: microinterp's invoke() is the timed
function; TFLM's and LiteRT's medians on the same inputs, timed in the oracle worker during the same run,
and the ratios go into each benchmark's extra_info (shown with --benchmark-json, or --benchmark-columns).

    PYTHONPATH=. python -m pytest benchmarks/test_invoke.py
"""
from __future__ import annotations

import statistics

import pytest

from microinterp.oracles import OracleCrash, OracleError, OracleWorker
from microinterp.cli.runner import ready_interpreter, time_invokes

from run import BACKENDS, MLPERF_INT8, SHARED

MODELS = [*MLPERF_INT8, SHARED / "tflm_examples" / "person_detect.tflite",
          SHARED / "tflm_examples" / "hello_world_int8.tflite"]


@pytest.fixture(scope="module")
def worker():
    with OracleWorker(timeout=600.0) as w:
        yield w


@pytest.mark.parametrize("path", MODELS, ids=[p.stem for p in MODELS])
def test_invoke(benchmark, worker, path):
    if not path.exists():
        pytest.skip(f"{path} not present")
    interp, inputs = ready_interpreter(path)
    benchmark(interp.invoke)
    # under --benchmark-disable the fixture runs once and keeps no statistics
    ours = benchmark.stats.stats.median if benchmark.stats else statistics.median(time_invokes(interp, 50))
    for backend in BACKENDS:
        try:
            theirs = statistics.median(worker.time_invoke(str(path), inputs, backend, 50).times)
        except (OracleError, OracleCrash):
            continue
        benchmark.extra_info[f"{backend}_median_s"] = theirs
        benchmark.extra_info[f"{backend}_over_microinterp"] = theirs / ours
