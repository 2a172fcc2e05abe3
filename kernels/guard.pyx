# cython: language_level=3
"""The Interpreter's one-call-at-a-time guard, and invoke()'s path through it in compiled code.

An Interpreter's arena, staged inputs and kernel scratch belong to one call at a time, while the compiled
steps run without the GIL, so another thread can call in meanwhile and must be refused (InvocationError,
raised by the caller). The guard is a reentrant flag (allocate_tensors() resets the variables, itself a
guarded call) read and set with the GIL held, which is what makes its test-and-set atomic: it needs no OS
lock. invoke() on a small model spent a tenth of a microsecond in threading.RLock's acquire and release
calls alone (3% of ad01's whole run); CallGuard.invoke takes and drops the flag in C around the run.
"""
from cpython.pythread cimport PyThread_get_thread_ident


cdef class CallGuard:
    """acquire(False)/release() as threading.RLock's non-blocking ones; invoke() runs `run_main` (the
    compiled program, set while the interpreter is allocated) holding the guard."""
    cdef unsigned long owner
    cdef Py_ssize_t depth
    cdef public object run_main

    def __cinit__(self):
        self.depth = 0
        self.run_main = None

    cdef inline bint take(self) noexcept:
        cdef unsigned long me = PyThread_get_thread_ident()
        if self.depth and self.owner != me:
            return False
        self.owner = me
        self.depth += 1
        return True

    def acquire(self, bint blocking=False) -> bool:
        """Take the guard (again, from the thread holding it); False if another thread holds it. Never
        blocks: an overlapping call is an error, not a wait."""
        return self.take()

    def release(self) -> None:
        if self.depth <= 0 or self.owner != PyThread_get_thread_ident():
            raise RuntimeError("release of a CallGuard this thread does not hold")
        self.depth -= 1

    def invoke(self) -> bool:
        """run_main() holding the guard: True when it ran, False (nothing run) when no program is set or
        another thread holds the guard (the caller then raises the matching error)."""
        if self.run_main is None or not self.take():
            return False
        try:
            self.run_main()
        finally:
            self.depth -= 1
        return True
