"""One Interpreter refuses overlapping calls from two threads (InvocationError, never mixed arena
bytes); separate Interpreters in threads give the outputs they give alone."""
from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

from conftest import REFERENCE_MODELS
from microinterp import Interpreter
from microinterp._kernels.guard import CallGuard
from microinterp.errors import InvocationError

MODEL = REFERENCE_MODELS / "kws_ds_cnn_int8.tflite"


def ready(path=MODEL) -> tuple[Interpreter, np.ndarray]:
    interp = Interpreter(model_path=path)
    interp.allocate_tensors()
    detail = interp.get_input_details()[0]
    x = np.random.default_rng(0).integers(-128, 128, detail["shape"]).astype(detail["dtype"])
    interp.set_tensor(detail["index"], x)
    return interp, x


class _PausingList(list):
    """An op_times list that stops invoke() after its first op until released: a call held mid-invoke."""

    def __init__(self):
        super().__init__()
        self.inside, self.release = threading.Event(), threading.Event()

    def append(self, value):
        super().append(value)
        if len(self) == 1:
            self.inside.set()
            self.release.wait(10)


def _in_other_thread(function):
    """function() called in a new thread: its result, or its exception raised here."""
    outcome = []

    def call():
        try:
            outcome.append((True, function()))
        except Exception as error:  # noqa: BLE001 - handed to the calling thread
            outcome.append((False, error))
    thread = threading.Thread(target=call)
    thread.start()
    thread.join()
    returned, value = outcome[0]
    if not returned:
        raise value
    return value


def test_the_call_guard_is_reentrant_for_its_holder_and_refuses_other_threads():
    guard = CallGuard()
    assert guard.acquire(False) and guard.acquire(False)  # allocate_tensors() -> reset_all_variables()
    assert _in_other_thread(lambda: guard.acquire(False)) is False
    guard.run_main = lambda: pytest.fail("ran while another thread held the guard")
    assert _in_other_thread(guard.invoke) is False
    with pytest.raises(RuntimeError, match="does not hold"):
        _in_other_thread(guard.release)
    guard.release()
    assert _in_other_thread(lambda: guard.acquire(False)) is False  # still held once
    guard.release()
    with pytest.raises(RuntimeError, match="does not hold"):
        guard.release()
    runs = []
    guard.run_main = lambda: runs.append(threading.get_ident())
    assert _in_other_thread(guard.invoke) is True and len(runs) == 1
    guard.run_main = lambda: 1 / 0
    with pytest.raises(ZeroDivisionError):
        guard.invoke()
    assert _in_other_thread(lambda: guard.acquire(False)) is True  # released by the failed run
    guard.run_main = None
    assert guard.invoke() is False


@pytest.mark.parametrize("call", ["invoke", "set_tensor", "get_tensor", "allocate_tensors", "reset_all_variables",
                                  "resize_tensor_input"])
def test_a_call_overlapping_an_invoke_in_another_thread_raises_invocation_error(call):
    interp, x = ready()
    index = interp.get_input_details()[0]["index"]
    args = {"invoke": (), "set_tensor": (index, x), "get_tensor": (index,), "allocate_tensors": (),
            "reset_all_variables": (), "resize_tensor_input": (index, list(x.shape))}[call]
    times = _PausingList()
    holder = threading.Thread(target=interp.invoke, kwargs={"op_times": times})
    holder.start()
    try:
        assert times.inside.wait(10)
        with pytest.raises(InvocationError, match=rf"{call}\(\): this Interpreter is in use by another thread"):
            getattr(interp, call)(*args)
    finally:
        times.release.set()
        holder.join()
    interp.invoke()  # free again once the other call returned
    getattr(interp, call)(*args)


def test_two_threads_hammering_one_interpreter_get_only_right_outputs_or_invocation_errors():
    interp, _ = ready()
    out = interp.get_output_details()[0]["index"]
    interp.invoke()
    expected = interp.get_tensor(out)
    outcomes = {"ok": 0, "refused": 0, "wrong": 0}

    def hammer():
        for _ in range(200):
            try:
                interp.invoke()
                y = interp.get_tensor(out)
            except InvocationError:
                outcomes["refused"] += 1
                continue
            outcomes["ok" if np.array_equal(y, expected) else "wrong"] += 1
    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes["wrong"] == 0 and outcomes["ok"] > 0, outcomes


def test_separate_interpreters_in_threads_give_their_single_threaded_outputs():
    paths = [REFERENCE_MODELS / "kws_ds_cnn_int8.tflite", REFERENCE_MODELS / "ic_resnet8_int8.tflite",
             REFERENCE_MODELS / "ic_resnet8_float32.tflite"]
    expected = []
    for path in paths:
        interp, _ = ready(path)
        interp.invoke()
        expected.append(interp.get_tensor(interp.get_output_details()[0]["index"]))
    mismatches = []

    def run(k):
        interp, _ = ready(paths[k])
        for _ in range(100):  # the int8 steps' working memory is per thread: no run may see another's
            interp.invoke()
            if not np.array_equal(interp.get_tensor(interp.get_output_details()[0]["index"]), expected[k]):
                mismatches.append(paths[k].name)
    threads = [threading.Thread(target=run, args=(k,)) for k in range(len(paths))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not mismatches


def _ticks_of_another_thread_during(invoke, times: int) -> int:
    """How often a sleeping Python thread woke and ran while `invoke` was called `times` times, with a
    switch interval so long that it can run only where the invoke releases the GIL."""
    window, ticks, stop = [], [], threading.Event()

    def ticker():  # sleeps between ticks, so it needs the GIL only when it wakes
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.0005)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1.0)
    t = threading.Thread(target=ticker)
    t.start()
    try:
        time.sleep(0.01)
        for _ in range(times):
            start = time.perf_counter()
            invoke()
            window.append((start, time.perf_counter()))
    finally:
        stop.set()
        t.join()
        sys.setswitchinterval(interval)
    return sum(1 for s, e in window for tick in ticks if s < tick < e)


def test_a_compiled_step_lets_other_python_threads_run_while_it_computes():
    # One int8 CONV_2D of 1.4 G MACs: a single compiled step (Int8ConvStep) lasting milliseconds.
    from opmodels import Op, T, single_op_model
    from microinterp._kernels.steps import Step

    filters = np.random.default_rng(1).integers(-127, 128, (64, 3, 3, 64)).astype(np.int8)
    model = single_op_model(Op("CONV_2D", "Conv2DOptions", {"padding": 0, "stride_w": 1, "stride_h": 1}),
                            [T("INT8", (1, 192, 192, 64), 0.5, 0), T("INT8", (64, 3, 3, 64), 0.01, 0, data=filters),
                             T("INT32", (64,), 0.005, 0, data=np.zeros(64, np.int32))],
                            [T("INT8", (1, 192, 192, 64), 1.0, 0)])
    interp = Interpreter(model_content=model)
    interp.allocate_tensors()
    assert isinstance(interp._exec.steps[0], Step)
    interp.set_tensor(interp.get_input_details()[0]["index"], np.ones((1, 192, 192, 64), np.int8))
    inside = _ticks_of_another_thread_during(interp.invoke, 3)
    assert inside >= 10, f"the Python thread ran only {inside} times during 3 invokes of the compiled conv"


def test_a_run_of_brief_compiled_steps_releases_the_gil_as_a_whole():
    # 64 int8 FULLY_CONNECTED layers of 128 x 128 (16k MACs each: every one brief alone, about a million
    # MACs together), so the invoke releases the GIL once for the run although no single step would.
    from microinterp._kernels.steps import Step
    from opmodels import Op, T, graph_model

    rng = np.random.default_rng(2)
    x = T("INT8", (1, 128), 0.5, 0)
    nodes = []
    for _ in range(64):
        w = T("INT8", (128, 128), 0.01, 0, data=rng.integers(-127, 128, (128, 128)).astype(np.int8))
        y = T("INT8", (1, 128), 0.5, 0)
        nodes.append((Op("FULLY_CONNECTED", "FullyConnectedOptions", {}), [x, w, None], [y]))
        x = y
    model = graph_model(nodes, outputs=[x])
    interp = Interpreter(model_content=model)
    interp.allocate_tensors()
    assert all(isinstance(s, Step) and 0 <= s.macs <= 1 << 17 for s in interp._exec.steps)
    inside = _ticks_of_another_thread_during(interp.invoke, 2000)
    assert inside >= 10, f"the Python thread ran only {inside} times during 2000 invokes of 64 brief steps"


def test_a_signature_runner_call_is_one_claim_so_another_threads_call_cannot_slip_in():
    interp, x = ready(REFERENCE_MODELS / "hello_world_sine_int8.tflite")
    runner = interp.get_signature_runner()
    name = next(iter(runner.get_input_details()))
    value = np.zeros(runner.get_input_details()[name]["shape"], runner.get_input_details()[name]["dtype"])
    times = _PausingList()
    holder = threading.Thread(target=interp.invoke, kwargs={"op_times": times})
    holder.start()
    try:
        assert times.inside.wait(10)
        with pytest.raises(InvocationError, match="signature runner .* in use by another thread"):
            runner(**{name: value})
    finally:
        times.release.set()
        holder.join()
    assert runner(**{name: value})
