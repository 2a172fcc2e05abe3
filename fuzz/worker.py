"""Run fuzz inputs in a child process, so that a crash or a hang is observed instead of suffered.

`Worker` keeps one persistent child (`python -m fuzz.worker`) and sends it one model at a time over a
pipe; the child answers with the outcome of fuzz.target.classify. When the child dies (a signal, an
abort, an ASan report) the input is reported as a crash; when it does not answer within the timeout it
is killed and the input reported as a hang. Either way the next input gets a fresh child.
"""
from __future__ import annotations

import hashlib
import json
import os
import resource
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_HEADER = struct.Struct("<IQ")  # request: content length, seed
_REPLY = struct.Struct("<I")  # reply: JSON length
#: Address-space cap of the child: a MemoryError (a bug: some size was not checked) instead of the
#: machine swapping. ASan reserves terabytes of shadow memory, so the cap is off under ASan.
DEFAULT_MEMORY_LIMIT = 8 << 30


@dataclass(frozen=True)
class Outcome:
    """The result of one input: status "ok", "rejected", "bug", "crash" or "hang"."""
    status: str
    error: str = ""  # exception class name, or the signal for a crash
    message: str = ""  # error message, traceback for a bug, stderr tail for a crash

    @property
    def failed(self) -> bool:
        """True for the statuses a fuzzer must never see: bug, crash and hang."""
        return self.status in ("bug", "crash", "hang")


class Worker:
    """One child process running inputs in turn; restarted after a crash or a hang.

    timeout: seconds an input may take (load + allocate + two invokes) before it counts as a hang.
    env: extra environment for the child (e.g. LD_PRELOAD of a sanitizer runtime).
    """

    def __init__(self, timeout: float = 10.0, env: dict[str, str] | None = None,
                 memory_limit: int | None = DEFAULT_MEMORY_LIMIT):
        self.timeout = timeout
        self.env = env or {}
        preload = self.env.get("LD_PRELOAD", os.environ.get("LD_PRELOAD", ""))
        self.memory_limit = None if "asan" in preload else memory_limit
        self._proc: subprocess.Popen | None = None
        self._stderr = tempfile.TemporaryFile()
        self.starts = 0

    @property
    def restarts(self) -> int:
        """How many times a child had to be replaced after a crash or a hang."""
        return max(0, self.starts - 1)

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> subprocess.Popen:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        env.update(self.env)
        if self.memory_limit is not None:
            env["MICROINTERP_FUZZ_MEMORY_LIMIT"] = str(self.memory_limit)
        self._stderr.seek(0)
        self._stderr.truncate()
        self.starts += 1
        self._proc = subprocess.Popen([sys.executable, "-m", "fuzz.worker"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=self._stderr, cwd=ROOT, env=env)
        return self._proc

    def run(self, content: bytes, seed: int = 0) -> Outcome:
        """Run one input in the child and classify what happened."""
        proc = self._proc if self._proc is not None and self._proc.poll() is None else self._start()
        try:
            proc.stdin.write(_HEADER.pack(len(content), seed) + content)
            proc.stdin.flush()
        except BrokenPipeError:
            return self._crashed(proc)
        deadline = time.monotonic() + self.timeout
        header = self._read(proc, _REPLY.size, deadline)
        body = self._read(proc, _REPLY.unpack(header)[0], deadline) if isinstance(header, bytes) else header
        if body == "eof":
            return self._crashed(proc)
        if body == "timeout":
            return self._hung(proc)
        status, error, message = json.loads(body)
        return Outcome(status, error, message)

    @staticmethod
    def _read(proc: subprocess.Popen, n: int, deadline: float) -> bytes | str:
        """n bytes from the child's stdout, or "eof" (it died) or "timeout" (the deadline passed)."""
        fd = proc.stdout.fileno()
        chunks, got = [], 0
        while got < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return "timeout"
            chunk = os.read(fd, n - got)
            if not chunk:
                return "eof"
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def _discard(self, proc: subprocess.Popen) -> int:
        """Reap a dead or killed child and close its pipes; returns its exit code."""
        code = proc.wait()
        for pipe in (proc.stdin, proc.stdout):
            try:
                pipe.close()
            except BrokenPipeError:  # unflushed input the dead child never read
                pass
        self._proc = None
        return code

    def _hung(self, proc: subprocess.Popen) -> Outcome:
        proc.kill()
        self._discard(proc)
        return Outcome("hang", "timeout", f"no answer within {self.timeout} s; worker killed")

    def _crashed(self, proc: subprocess.Popen) -> Outcome:
        code = self._discard(proc)
        what = signal.Signals(-code).name if code < 0 else f"exit status {code}"
        self._stderr.seek(0)
        tail = self._stderr.read()[-8000:].decode("utf-8", "replace")
        return Outcome("crash", what, tail)

    def close(self) -> None:
        """Stop the child (closing its stdin ends its loop) and release the stderr file."""
        if self._proc is not None:
            try:
                self._proc.stdin.close()
                self._proc.wait(timeout=5)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self._proc.kill()
            self._discard(self._proc)
        self._stderr.close()


def save_reproducer(content: bytes, outcome: Outcome, directory: Path, label: str = "") -> Path:
    """Write the input and a note of what it did under directory; returns the input's path."""
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{outcome.status}-{outcome.error or 'unknown'}-{hashlib.sha1(content).hexdigest()[:12]}"
    path = directory / f"{stem}.tflite"
    path.write_bytes(content)
    (directory / f"{stem}.txt").write_text(f"{label}\n{outcome.status} {outcome.error}\n{outcome.message}\n")
    return path


def _serve() -> None:
    """The child's loop: read (length, seed, bytes), answer with a JSON (status, error, message)."""
    limit = os.environ.get("MICROINTERP_FUZZ_MEMORY_LIMIT")
    if limit:
        resource.setrlimit(resource.RLIMIT_AS, (int(limit), int(limit)))
    from fuzz.target import classify  # after the cap, so the import's own memory counts too

    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not corrupt the reply stream
    # The harness's own test makes the worker crash or stall on demand.
    self_test = os.environ.get("MICROINTERP_FUZZ_SELF_TEST") == "1"
    while True:
        header = requests.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return
        length, seed = _HEADER.unpack(header)
        content = requests.read(length)
        if self_test and content == b"crash":
            os.kill(os.getpid(), signal.SIGSEGV)
        if self_test and content == b"hang":
            time.sleep(3600)
        body = json.dumps(classify(content, seed)).encode()
        replies.write(_REPLY.pack(len(body)) + body)
        replies.flush()


if __name__ == "__main__":
    _serve()
