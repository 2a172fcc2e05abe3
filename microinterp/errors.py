"""The exceptions microinterp raises: one hierarchy, each naming the place and the expected vs found value."""
from __future__ import annotations


class MicrointerpError(Exception):
    """Base class of every error microinterp raises on purpose."""


class ModelError(MicrointerpError, ValueError):
    """The model bytes cannot be used: malformed flatbuffer or inconsistent contents."""


class MalformedModelError(ModelError):
    """The bytes are not a well-formed TFLite flatbuffer (truncated, offsets out of range, wrong identifier)."""


class InconsistentModelError(ModelError):
    """The flatbuffer is well formed but its contents contradict each other (indices, shapes, quantization)."""


class UnsupportedOperatorError(MicrointerpError, ValueError):
    """The model uses operators (or dtype combinations) microinterp has no kernel for; lists all of them."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{len(self.problems)} unsupported operator(s):\n{lines}")


class ArenaTooSmallError(MicrointerpError, ValueError):
    """The arena size given by the caller is smaller than the plan needs."""

    def __init__(self, needed: int, given: int):
        self.needed = needed
        self.given = given
        super().__init__(f"arena too small: the plan needs {needed} bytes, arena_size is {given} "
                         f"({needed - given} bytes short)")


class ResourceLimitError(ModelError):
    """The model asks for more memory than the configured limit allows (refused before allocating)."""


class InvocationError(MicrointerpError, RuntimeError):
    """The interpreter was used in the wrong order (e.g. invoke before allocate_tensors)."""


class UnsupportedCallError(MicrointerpError, ValueError):
    """A tf.lite.Interpreter feature microinterp does not offer (a delegate: it runs its own kernels)."""


class TensorAccessError(MicrointerpError, ValueError):
    """A set_tensor/get_tensor call names a bad tensor or passes data of the wrong dtype or shape."""


class ResizeError(TensorAccessError, RuntimeError):
    """resize_tensor_input() was asked for a shape TFLM's static plan cannot take. A RuntimeError too,
    as LiteRT raises for the same calls, so code written for tf.lite catches it."""


class SoftmaxOverflowError(MicrointerpError, RuntimeError, ArithmeticError):
    """A softmax row's sum of exponentials is too large for TFLM's fixed-point reciprocal (TFLM aborts there).

    Raised by invoke(): whether it happens depends on the input values, not only on the model.
    """


class IndexOutOfRangeError(MicrointerpError, RuntimeError, IndexError):
    """A runtime index input (GATHER positions, SLICE begin/size) is out of range: TFLM's kernel fails the invoke.

    Raised by invoke(): whether it happens depends on the input values, not only on the model.
    """


class KernelDomainError(MicrointerpError, RuntimeError, ArithmeticError):
    """An input value the op's TFLM kernel cannot process (TFLM traps with SIGFPE or fails the invoke there).

    Raised by invoke(): whether it happens depends on the input values, not only on the model.
    """
