"""The child process behind :mod:`microinterp.oracles`: runs the official TFLite interpreters on request.

Run as a script with two arguments, READ_FD and WRITE_FD (also ``python -m microinterp._oracle_worker
READ_FD WRITE_FD``).  It imports nothing from microinterp, so it starts without the package.  Requests
and replies travel as length-prefixed pickles over those two inherited pipe descriptors, never over
stdout or stderr, so whatever the native libraries print cannot corrupt the protocol.  The official
interpreters are imported on first use only, which keeps a fresh worker cheap to start.

A request is a dict with an ``op`` ("run", "arena", "fits" or "time"), the model bytes, the backend name and
the op's own fields.  A reply is one of ``("ok", value)``, ``("error", text)`` or
``("unavailable", package, reason)``.  Values are plain tuples, lists, dicts and numpy arrays so this
module needs nothing from the rest of microinterp.
"""
from __future__ import annotations

import importlib
import os
import pickle
import struct
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

HEADER = struct.Struct("<Q")

ARENA_SIZE = 64 << 20

TFLM_RUNTIME = "tflite_micro.python.tflite_micro.runtime"
TFLM_SCHEMA = "tflite_micro.tensorflow.lite.micro.python.schema_py_generated"
LITERT_INTERPRETER = "ai_edge_litert.interpreter"
#: The environment variable naming a module the worker imports before serving, found on PYTHONPATH
#: (benchmarks/run.py --isa avx2 imports benchmarks/xnnpack_avx2.py this way).
PRELOAD_VARIABLE = "MICROINTERP_WORKER_PRELOAD"

LITERT_RESOLVERS = {
    "litert_ref": "BUILTIN_REF",
    "litert_builtin": "BUILTIN_WITHOUT_DEFAULT_DELEGATES",
    "litert": "AUTO",
}
BACKENDS = ("tflm", *LITERT_RESOLVERS)

PACKAGES = {TFLM_RUNTIME: "tflite-micro", TFLM_SCHEMA: "tflite-micro", LITERT_INTERPRETER: "ai-edge-litert"}


class BackendUnavailable(Exception):
    """The Python package behind a backend cannot be imported."""

    def __init__(self, package: str, reason: str):
        super().__init__(package, reason)
        self.package = package
        self.reason = reason


def encode(message: Any) -> bytes:
    """Frame one message: an 8-byte little-endian length, then its pickle."""
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(body)) + body


def import_backend_module(name: str) -> Any:
    """Import one of the official interpreters' modules, or raise BackendUnavailable naming its package."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise BackendUnavailable(PACKAGES[name], str(exc)) from exc


class TflmSession:
    """One TFLM interpreter for the length of a request."""

    def __init__(self, model: bytes, preserve_all_tensors: bool):
        runtime = import_backend_module(TFLM_RUNTIME)
        schema = import_backend_module(TFLM_SCHEMA)
        config = (runtime.InterpreterConfig.kPreserveAllTensors if preserve_all_tensors
                  else runtime.InterpreterConfig.kAllocationRecording)
        self._interpreter = runtime.Interpreter.from_bytes(model, arena_size=ARENA_SIZE,
                                                           intrepreter_config=config)
        # The bindings do not report these counts, and GetTensor past the last tensor segfaults.
        graph = schema.Model.GetRootAs(model, 0).Subgraphs(0)
        self._num_inputs = graph.InputsLength()
        self._num_outputs = graph.OutputsLength()
        self._num_tensors = graph.TensorsLength()

    def set_inputs(self, arrays: Sequence[np.ndarray]) -> None:
        _check_input_count(self._num_inputs, arrays)
        for index, array in enumerate(arrays):
            self._interpreter.set_input(array, index)

    def invoke(self) -> None:
        self._interpreter.invoke()

    def outputs(self) -> list[np.ndarray]:
        return [self._interpreter.get_output(i) for i in range(self._num_outputs)]

    def output_dtypes(self) -> list[np.dtype]:
        return [np.dtype(self._interpreter.get_output_details(i)["dtype"]) for i in range(self._num_outputs)]

    def tensors(self) -> dict[int, np.ndarray]:
        found = {}
        for index in range(self._num_tensors):
            try:
                found[index] = np.array(self._interpreter.GetTensor(index, 0)["tensor_data"])
            except (RuntimeError, ValueError):
                continue
        return found


class LiteRTSession:
    """One LiteRT interpreter, single-threaded, with the op resolver the backend name selects."""

    def __init__(self, model: bytes, preserve_all_tensors: bool, backend: str):
        litert = import_backend_module(LITERT_INTERPRETER)
        resolver = getattr(litert.OpResolverType, LITERT_RESOLVERS[backend])
        self._interpreter = litert.Interpreter(model_content=model, num_threads=1,
                                               experimental_op_resolver_type=resolver,
                                               experimental_preserve_all_tensors=preserve_all_tensors)
        self._interpreter.allocate_tensors()
        self._inputs = [d["index"] for d in self._interpreter.get_input_details()]
        self._outputs = self._interpreter.get_output_details()

    def set_inputs(self, arrays: Sequence[np.ndarray]) -> None:
        _check_input_count(len(self._inputs), arrays)
        for index, array in zip(self._inputs, arrays):
            self._interpreter.set_tensor(index, array)

    def invoke(self) -> None:
        self._interpreter.invoke()

    def outputs(self) -> list[np.ndarray]:
        return [self._interpreter.get_tensor(d["index"]) for d in self._outputs]

    def output_dtypes(self) -> list[np.dtype]:
        return [np.dtype(d["dtype"]) for d in self._outputs]

    def tensors(self) -> dict[int, np.ndarray]:
        found = {}
        for details in self._interpreter.get_tensor_details():
            try:
                found[details["index"]] = self._interpreter.get_tensor(details["index"])
            except (RuntimeError, ValueError):
                continue
        return found


def _check_input_count(expected: int, arrays: Sequence[np.ndarray]) -> None:
    if len(arrays) != expected:
        raise ValueError(f"the model has {expected} input(s), the invocation gives {len(arrays)}")


def open_session(backend: str, model: bytes, preserve_all_tensors: bool) -> TflmSession | LiteRTSession:
    """Build the interpreter a backend name stands for."""
    if backend == "tflm":
        return TflmSession(model, preserve_all_tensors)
    return LiteRTSession(model, preserve_all_tensors, backend)


def run(request: dict[str, Any]) -> dict[str, Any]:
    """Run every invocation in order on one interpreter, so stateful models carry their state."""
    preserve = request["preserve_all_tensors"]
    session = open_session(request["backend"], request["model"], preserve)
    outputs, tensors = [], []
    for arrays in request["inputs"]:
        session.set_inputs(arrays)
        session.invoke()
        outputs.append(session.outputs())
        if preserve:
            tensors.append(session.tensors())
    return {"outputs": outputs, "output_dtypes": session.output_dtypes(),
            "tensors": tensors if preserve else None}


def arena(request: dict[str, Any]) -> str:
    """Return what TFLM's RecordingMicroAllocator prints about the model's arena."""
    runtime = import_backend_module(TFLM_RUNTIME)
    interpreter = runtime.Interpreter.from_bytes(request["model"], arena_size=ARENA_SIZE)
    return capture_stderr(interpreter.print_allocations)


def fits(request: dict[str, Any]) -> tuple[bool, str]:
    """Whether TFLM allocates and invokes the model with an arena of exactly ``arena_size`` bytes, and
    what TFLM printed.  The inputs are zeros: whatever the arena held before could make a kernel refuse
    its input (DETECTION_POSTPROCESS validates the boxes it decodes), and only the allocation matters."""
    runtime = import_backend_module(TFLM_RUNTIME)
    schema = import_backend_module(TFLM_SCHEMA)
    outcome = [False]

    def allocate_and_invoke() -> None:
        # The constructor runs AllocateTensors; it, set_input and invoke raise RuntimeError when TFLM fails.
        try:
            interpreter = runtime.Interpreter.from_bytes(request["model"], arena_size=request["arena_size"])
            for index in range(schema.Model.GetRootAs(request["model"], 0).Subgraphs(0).InputsLength()):
                details = interpreter.get_input_details(index)
                interpreter.set_input(np.zeros(details["shape"], details["dtype"]), index)
            interpreter.invoke()
        except RuntimeError:
            return
        outcome[0] = True

    log = capture_stderr(allocate_and_invoke)
    return outcome[0], log


def time_invoke(request: dict[str, Any]) -> list[float]:
    """Return the wall time in seconds of each of ``repeats`` invokes after one untimed warm-up."""
    session = open_session(request["backend"], request["model"], False)
    session.set_inputs(request["inputs"])
    # The first invoke pays one-off costs (XNNPACK weight packing, lazy kernel setup).
    session.invoke()
    times = []
    for _ in range(request["repeats"]):
        start = time.perf_counter()
        session.invoke()
        times.append(time.perf_counter() - start)
    return times


def capture_stderr(action: Callable[[], None]) -> str:
    """Call ``action`` with file descriptor 2 pointed at a temporary file, and return what it wrote there."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            action()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        sink.seek(0)
        return sink.read().decode("utf-8", errors="replace")


OPERATIONS: dict[str, Callable[[dict[str, Any]], Any]] = {"run": run, "arena": arena, "fits": fits,
                                                           "time": time_invoke}


def handle(request: dict[str, Any]) -> tuple[Any, ...]:
    """Answer one request; every failure of the interpreter becomes a reply, never an exception."""
    try:
        return "ok", OPERATIONS[request["op"]](request)
    except BackendUnavailable as exc:
        return "unavailable", exc.package, exc.reason
    except Exception as exc:  # the official interpreters raise many unrelated types
        return "error", f"{_qualified_name(type(exc))}: {exc}"


def _qualified_name(cls: type) -> str:
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _read_exact(fd: int, size: int) -> bytes | None:
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def main(argv: Sequence[str]) -> None:
    """Serve requests from ``argv[1]`` and reply on ``argv[2]`` until the parent closes the request pipe."""
    read_fd, write_fd = int(argv[1]), int(argv[2])
    if preload := os.environ.get(PRELOAD_VARIABLE):
        importlib.import_module(preload)
    while (header := _read_exact(read_fd, HEADER.size)) is not None:
        body = _read_exact(read_fd, HEADER.unpack(header)[0])
        if body is None:
            return
        _write_all(write_fd, encode(handle(pickle.loads(body))))


if __name__ == "__main__":
    main(sys.argv)
