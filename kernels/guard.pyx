# cython: language_level=3
"""The Interpreter's one-call-at-a-time guard, and invoke()'s path through it in compiled code.

An Interpreter's arena, staged inputs and kernel scratch belong to one call at a time, while the compiled
steps run without the GIL, so another thread can call in meanwhile and must be refused (InvocationError,
raised by the caller). The guard is a reentrant flag (allocate_tensors() resets the variables, itself a
guarded call) read and set with the GIL held, which is what makes its test-and-set atomic: it needs no OS
lock. invoke() on a small model spent a tenth of a microsecond in threading.RLock's acquire and release
calls alone (3% of ad01's whole run); CallGuard.invoke takes and drops the flag in C around the run.

InvokeMethod makes `interpreter.invoke` itself such a compiled call: a Python method's call, with its
keyword-only argument and the guard's lookup, cost 0.35 us of ad01's 10-12 us invoke on AVX2 (now 0.09 us:
its invoke 0.955-0.975 of the time in two A/Bs), more of a run on faster CPUs.
"""
cimport cython
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

    cdef bint run(self) except -1:
        """run_main() holding the guard: True when it ran, False (nothing run) when no program is set or
        another thread holds the guard (the caller then raises the matching error)."""
        if self.run_main is None or not self.take():
            return False
        try:
            self.run_main()
        finally:
            self.depth -= 1
        return True

    def invoke(self) -> bool:
        """run() from Python."""
        return self.run()


@cython.freelist(4)
cdef class BoundInvoke:
    """An Interpreter's invoke(), bound as a method is (made at each lookup, holding its interpreter):
    runs the guard's program in C when called without op_times while the guard has one and this thread
    may take it; else the Python method (allocation errors, another thread's call, per-op timing)."""
    cdef CallGuard guard
    cdef object function
    cdef object instance

    def __call__(self, *, op_times=None):
        if op_times is None and self.guard.run():
            return None
        return self.function(self.instance, op_times=op_times)

    @property
    def __doc__(self):
        return self.function.__doc__


cdef class InvokeMethod:
    """A method descriptor for Interpreter.invoke: on the class, the Python function (its signature and
    docstring); on an instance, a BoundInvoke. A subclass that defines invoke() overrides it as any
    method."""
    cdef readonly object function

    def __init__(self, function):
        self.function = function

    def __get__(self, instance, owner):
        if instance is None:
            return self.function
        cdef BoundInvoke bound = BoundInvoke.__new__(BoundInvoke)
        bound.guard, bound.function, bound.instance = instance._busy, self.function, instance
        return bound
