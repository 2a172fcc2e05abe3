"""The official TFLite interpreters as oracles, run in a child process.

microinterp is checked against TensorFlow Lite Micro (``tflite-micro``) and LiteRT
(``ai-edge-litert``).  Their Python bindings can take their process down: TFLM corrupts its heap
after many interpreters, LiteRT segfaults or aborts on some models.  So they run in a persistent
worker process (:class:`OracleWorker`) that is replaced after a crash, after a timeout and every
``max_models`` interpreters.  Requests and replies go over dedicated pipes as length-prefixed
pickles; what the native code prints goes to a temporary file that error messages quote.

POSIX only (inherited pipe descriptors, ``select`` on pipes).  Install the interpreters with
``python -m pip install -e ".[oracles]"`` in the checkout.
"""
from __future__ import annotations

import os
import pickle
import re
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from . import _oracle_worker as worker

#: microinterp is not on PyPI: the extra is installed from a checkout of its repository.
PIP_HINT = 'python -m pip install -e ".[oracles]" (run in the microinterp checkout)'
BACKENDS = worker.BACKENDS

ModelSource = bytes | bytearray | memoryview | str | os.PathLike

# The worker runs from its file, not with -m: importing the microinterp package would add the
# interpreter's import time to every fresh worker and make the oracles fail whenever it is broken.
_BOOTSTRAP = "import runpy, sys; runpy.run_path(sys.argv.pop(1), run_name='__main__')"

# Enough of the worker's stderr to show the native library's last complaint.
_LOG_TAIL_CHARS = 2000
_EXIT_GRACE_SECONDS = 5.0


class OracleUnavailable(RuntimeError):
    """The package behind a backend is not installed; the message ends with the pip command."""


class OracleCrash(RuntimeError):
    """The worker process died while handling a request; the next request starts a new one."""


class OracleTimeout(OracleCrash):
    """The worker did not answer within the timeout and was killed; the next request starts a new one."""


class OracleError(RuntimeError):
    """The official interpreter raised, e.g. because it rejects the model; the message carries its text."""


@dataclass(frozen=True)
class OracleResult:
    """What an official interpreter computed for a sequence of invocations.

    ``outputs[k][i]`` is output ``i`` after invocation ``k``.  ``tensors[k]`` maps the index of every
    readable tensor of the primary subgraph to its value after invocation ``k``, or ``tensors`` is
    None when intermediates were not requested.
    """

    backend: str
    outputs: list[list[np.ndarray]]
    output_dtypes: list[np.dtype]
    tensors: list[dict[int, np.ndarray]] | None


@dataclass(frozen=True)
class ArenaReport:
    """TFLM's arena use for a model, as its RecordingMicroAllocator prints it.

    ``head`` is the planned non-persistent area, ``tail`` the persistent allocations, and
    ``categories`` the bytes each kind of persistent allocation uses, alignment included.
    """

    head: int
    tail: int
    categories: dict[str, int]

    @property
    def total(self) -> int:
        """Arena bytes the model needs: head plus tail."""
        return self.head + self.tail


@dataclass(frozen=True)
class InvokeTimes:
    """Wall times in seconds of repeated invokes, measured inside the worker."""

    times: list[float]

    @property
    def median(self) -> float:
        """Median invoke time in seconds."""
        return statistics.median(self.times)

    @property
    def best(self) -> float:
        """Fastest invoke time in seconds."""
        return min(self.times)


class OracleWorker:
    """A persistent child process that runs the official interpreters on request.

    Backends: ``"tflm"``; ``"litert_ref"`` (reference kernels); ``"litert_builtin"`` (optimized
    kernels, no delegate); ``"litert"`` (default, with XNNPACK).  LiteRT runs single-threaded.
    The child starts on the first request.  Each request builds one interpreter; after
    ``max_models`` of them the child is replaced before the next request, to stay clear of TFLM's
    heap corruption.  A request that takes longer than ``timeout`` seconds (None: no limit) kills
    the child and raises :class:`OracleTimeout`; the attribute ``timeout`` may be changed between
    requests.  Requests from several threads are serialized.
    """

    def __init__(self, *, max_models: int = 20, timeout: float | None = 120.0):
        if max_models < 1:
            raise ValueError(f"max_models must be at least 1, got {max_models}")
        self._max_models = max_models
        self.timeout = timeout
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = None
        self._request_fd = -1
        self._reply_fd = -1
        self._log: IO[bytes] | None = None
        self._finalizer: weakref.finalize | None = None
        self._served = 0

    def __enter__(self) -> OracleWorker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def pid(self) -> int | None:
        """Process id of the current worker, or None when none is running."""
        return None if self._proc is None else self._proc.pid

    def close(self) -> None:
        """Stop the worker process; a later request would start a new one."""
        with self._lock:
            if self._proc is not None:
                self._stop()
            if self._log is not None:
                self._log.close()
                self._log = None

    def run(self, model: ModelSource, inputs: Sequence[Sequence[np.ndarray]], backend: str = "tflm",
            preserve_all_tensors: bool = False) -> OracleResult:
        """Invoke one interpreter once per entry of ``inputs``, in order and without reset.

        ``model`` is the .tflite bytes or a path to them.  Each entry of ``inputs`` lists the arrays
        for the model's inputs, in input order.  Stateful models carry their state from one
        invocation to the next.  With ``preserve_all_tensors`` the result also holds every readable
        tensor of the primary subgraph after each invocation.
        """
        invocations = []
        for k, arrays in enumerate(inputs):
            if isinstance(arrays, np.ndarray):
                raise TypeError(f"inputs[{k}] is an array; inputs is a sequence of invocations, "
                                f"each a list of input arrays")
            invocations.append([np.asarray(a) for a in arrays])
        value = self._request("run", model, backend, inputs=invocations,
                              preserve_all_tensors=preserve_all_tensors)
        return OracleResult(backend=backend, outputs=value["outputs"], output_dtypes=value["output_dtypes"],
                            tensors=value["tensors"])

    def tflm_arena(self, model: ModelSource) -> ArenaReport:
        """Report the head and tail TFLM allocates for ``model`` in a 64 MiB arena."""
        text = self._request("arena", model, "tflm")
        return _parse_allocations(text, _model_name(model))

    def time_invoke(self, model: ModelSource, inputs: Sequence[np.ndarray], backend: str = "tflm",
                    repeats: int = 20) -> InvokeTimes:
        """Time ``repeats`` invokes of one interpreter on one set of inputs, after one warm-up invoke."""
        if repeats < 1:
            raise ValueError(f"repeats must be at least 1, got {repeats}")
        times = self._request("time", model, backend, inputs=[np.asarray(a) for a in inputs],
                              repeats=repeats)
        return InvokeTimes(times=times)

    def _request(self, op: str, model: ModelSource, backend: str, **fields: Any) -> Any:
        if backend not in BACKENDS:
            raise ValueError(f"unknown oracle backend {backend!r}; expected one of {', '.join(BACKENDS)}")
        name = _model_name(model)
        request = {"op": op, "backend": backend, "model": _model_bytes(model), **fields}
        with self._lock:
            if self._proc is not None and (self._served >= self._max_models or self._proc.poll() is not None):
                self._stop()
            if self._proc is None:
                self._start()
            self._served += 1
            log_start = self._log_size()
            deadline = None if self.timeout is None else time.monotonic() + self.timeout
            try:
                reply = self._exchange(worker.encode(request), deadline)
            except TimeoutError:
                self._proc.kill()
                self._stop()
                raise OracleTimeout(f"the {backend} oracle gave no answer within {self.timeout:g} s "
                                    f"({op} on {name}); the worker was killed"
                                    + _quote(self._log_since(log_start))) from None
            except EOFError:
                status = _describe_exit(self._stop())
                raise OracleCrash(f"the {backend} oracle worker died of {status} ({op} on {name})"
                                  + _quote(self._log_since(log_start))) from None
            except BaseException:
                # An interrupted exchange leaves a reply in flight that would answer the next request.
                self._proc.kill()
                self._stop()
                raise
            log = self._log_since(log_start)
        return _reply_value(reply, backend, name, log)

    def _start(self) -> None:
        if self._log is not None:
            self._log.close()
        self._log = tempfile.TemporaryFile()
        request_read, self._request_fd = os.pipe()
        self._reply_fd, reply_write = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _BOOTSTRAP, worker.__file__, str(request_read), str(reply_write)],
                pass_fds=(request_read, reply_write), stdin=subprocess.DEVNULL, stdout=self._log,
                stderr=self._log)
        finally:
            # Once only the child holds these ends, its exit reads as end-of-file here.
            os.close(request_read)
            os.close(reply_write)
        os.set_blocking(self._request_fd, False)
        os.set_blocking(self._reply_fd, False)
        self._finalizer = weakref.finalize(self, _stop_worker, self._proc, self._request_fd, self._reply_fd)
        self._served = 0

    def _stop(self) -> int:
        """End the current worker (it exits on end-of-file) and return its exit status."""
        proc = self._proc
        self._finalizer()
        self._proc = None
        return proc.returncode

    def _exchange(self, data: bytes, deadline: float | None) -> Any:
        view = memoryview(data)
        while view:
            _wait(self._request_fd, deadline, writing=True)
            try:
                view = view[os.write(self._request_fd, view):]
            except BlockingIOError:
                continue
            except BrokenPipeError:
                raise EOFError from None
        (size,) = worker.HEADER.unpack(self._receive(worker.HEADER.size, deadline))
        return pickle.loads(self._receive(size, deadline))

    def _receive(self, size: int, deadline: float | None) -> bytes:
        chunks = []
        while size:
            _wait(self._reply_fd, deadline, writing=False)
            try:
                chunk = os.read(self._reply_fd, min(size, 1 << 20))
            except BlockingIOError:
                continue
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def _log_size(self) -> int:
        return os.fstat(self._log.fileno()).st_size

    def _log_since(self, start: int) -> str:
        # pread leaves the file offset, which the child's stdout and stderr share, where it is.
        end = self._log_size()
        begin = max(start, end - _LOG_TAIL_CHARS)
        return os.pread(self._log.fileno(), end - begin, begin).decode("utf-8", errors="replace")


def _stop_worker(proc: subprocess.Popen[bytes], request_fd: int, reply_fd: int) -> None:
    os.close(request_fd)
    try:
        proc.wait(timeout=_EXIT_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    os.close(reply_fd)


def _wait(fd: int, deadline: float | None, *, writing: bool) -> None:
    remaining = None if deadline is None else deadline - time.monotonic()
    if remaining is not None and remaining <= 0:
        raise TimeoutError
    ready = select.select([], [fd], [], remaining) if writing else select.select([fd], [], [], remaining)
    if not any(ready):
        raise TimeoutError


def _model_bytes(model: ModelSource) -> bytes:
    if isinstance(model, (bytes, bytearray, memoryview)):
        return bytes(model)
    return Path(model).read_bytes()


def _model_name(model: ModelSource) -> str:
    if isinstance(model, (bytes, bytearray, memoryview)):
        return f"a {len(model)}-byte model"
    return os.fspath(model)


def _describe_exit(returncode: int) -> str:
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


def _quote(log: str) -> str:
    log = log.strip()
    return f"; its last output:\n{log}" if log else ""


def _reply_value(reply: tuple[Any, ...], backend: str, model_name: str, log: str = "") -> Any:
    """Return the value of a worker reply, or raise the oracle exception the reply stands for."""
    kind = reply[0]
    if kind == "ok":
        return reply[1]
    if kind == "unavailable":
        _, package, reason = reply
        raise OracleUnavailable(f"the {backend} oracle needs the {package} package, which cannot be "
                                f"imported ({reason}); install it with:\n{PIP_HINT}")
    raise OracleError(f"{backend} failed on {model_name}: {reply[1]}" + _quote(log))


_HEAD = re.compile(r"Arena allocation head (\d+) bytes")
_TAIL = re.compile(r"Arena allocation tail (\d+) bytes")
_CATEGORY = re.compile(r"'([^']+)' used (\d+) bytes")


def _parse_allocations(text: str, model_name: str) -> ArenaReport:
    head, tail = _HEAD.search(text), _TAIL.search(text)
    if head is None or tail is None:
        raise OracleError(f"tflm printed no arena head/tail for {model_name}" + _quote(text))
    return ArenaReport(head=int(head.group(1)), tail=int(tail.group(1)),
                       categories={name: int(size) for name, size in _CATEGORY.findall(text)})
