"""What every fuzzer runs on one input: load + allocate_tensors + invoke, as a user would.

A MicrointerpError is a correct rejection. Any other exception escaping is a bug, and so is a crash
or a hang (those are caught by the worker process around this function, see fuzz/worker.py).
"""
from __future__ import annotations

import traceback

import numpy as np

from microinterp import Interpreter, MicrointerpError
from microinterp.inputs import random_input

#: Limits for fuzzing: far below the defaults so that a model declaring huge (but allowed) tensors
#: is refused quickly instead of spending the per-input time budget on arithmetic. The real models
#: need well under 1 MiB of arena.
FUZZ_MAX_TENSOR_BYTES = 16 << 20
FUZZ_MAX_ARENA_BYTES = 64 << 20
#: Graph size and work, also below the defaults (the largest real model does 0.3 G MACs in 84 ops):
#: a mutated dimension that multiplies the work is refused instead of timing out as a hang.
FUZZ_LIMITS = {"max_ops": 4096, "max_tensors": 16384, "max_subgraphs": 64, "max_macs_per_invoke": 10 ** 9}


def exercise(content: bytes, seed: int = 0) -> None:
    """Load, allocate, fill every input with seeded random values, invoke twice and read the outputs.

    Raises whatever microinterp raises: callers classify MicrointerpError as a rejection and anything
    else as a bug.
    """
    interp = Interpreter(model_content=content, max_tensor_bytes=FUZZ_MAX_TENSOR_BYTES,
                         max_arena_bytes=FUZZ_MAX_ARENA_BYTES, **FUZZ_LIMITS)
    interp.allocate_tensors()
    rng = np.random.default_rng(seed)
    tensors = interp.model.main.tensors
    for detail in interp.get_input_details():
        # Constants and typeless tensors cannot be set (set_tensor refuses them); the graph still runs.
        if detail["dtype"] is not None and not tensors[detail["index"]].is_constant:
            value = random_input(tuple(int(d) for d in detail["shape"]), np.dtype(detail["dtype"]), rng)
            interp.set_tensor(detail["index"], value)
    # Twice: the second invoke runs on an arena the first one left dirty, as a deployed model does.
    for _ in range(2):
        interp.invoke()
    for detail in interp.get_output_details():
        interp.get_tensor(detail["index"])


def classify(content: bytes, seed: int = 0) -> tuple[str, str, str]:
    """(status, error class name, message): status "ok", "rejected" (a MicrointerpError) or "bug".

    For a bug the message is the full traceback, so a report shows where the exception came from.
    """
    try:
        exercise(content, seed)
    except MicrointerpError as e:
        return "rejected", type(e).__name__, str(e)
    except Exception as e:  # noqa: BLE001 -- any other exception is exactly what the fuzzer looks for
        return "bug", type(e).__name__, "".join(traceback.format_exception(e))
    return "ok", "", ""
