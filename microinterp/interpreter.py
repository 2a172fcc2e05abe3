"""The Interpreter: tf.lite.Interpreter's API over load -> prepare -> plan -> execution plan -> invoke.

Switching from TensorFlow is one import line: `from microinterp import Interpreter`.
"""
from __future__ import annotations

import contextlib
import functools
import os
import time
from typing import Any, Callable, Iterator, TypeVar

import numpy as np

from ._kernels.guard import CallGuard, InvokeMethod
from .errors import (ArenaTooSmallError, InvocationError, ResizeError, ResourceLimitError, TensorAccessError,
                     UnsupportedCallError)
from .execution import ExecutionPlan, aligned_bytes, plan_prepared
from .model import (DEFAULT_MAX_OPS, DEFAULT_MAX_SUBGRAPHS, DEFAULT_MAX_TENSOR_BYTES, DEFAULT_MAX_TENSORS, Model,
                    Signature, Tensor, load_model, with_dynamic_dims)
from .ops.registry import GraphAborted
from .planning import STRATEGIES, MemoryPlan
from .planning.lifetimes import DEFAULT_MAX_SUBGRAPH_VISITS
from .prepare import PreparedOp, prepare_model
from .resources import resource_table
from .workload import DEFAULT_MAX_MACS_PER_INVOKE, check_macs


#: Largest arena allocate_tensors() will create (plan or arena_size), so a model whose tensors are each
#: within max_tensor_bytes still cannot make the interpreter reserve unbounded memory.
DEFAULT_MAX_ARENA_BYTES = 2 << 30


def _quantization_details(t: Tensor) -> tuple[tuple[float, int], dict[str, Any]]:
    q = t.quantization
    if q is None:
        return (0.0, 0), {"scales": np.zeros(0, np.float32), "zero_points": np.zeros(0, np.int32),
                          "quantized_dimension": 0}
    return (q.scale, q.zero_point), {"scales": q.scales.copy(), "zero_points": q.zero_points.astype(np.int32),
                                     "quantized_dimension": q.quantized_dimension}


def _variable_fills(model: Model, plan: MemoryPlan) -> tuple[tuple[int, int, int], ...]:
    """(start, stop, byte) arena ranges of every variable tensor of every subgraph, wherever the plan put
    it (the variable region, or the head for an offline-planned one), with TFLM's reset byte: an INT8
    variable's first zero point (memset truncates it to a byte), 0 for any other type; then every
    resource variable's buffer with its fill byte (resources.py)."""
    fills = []
    for sg in model.subgraphs:
        for t in sg.tensors:
            if not t.is_variable or t.nbytes == 0:
                continue
            alloc = plan.tensor_allocation(sg.index, t.index)
            offset = alloc.offset if alloc is not None else plan.variable_offsets.get((sg.index, t.index))
            if offset is None:
                continue
            zero_point = t.quantization.zero_point if t.type_name == "INT8" and t.quantization is not None else 0
            fills.append((offset, offset + t.nbytes, zero_point & 0xFF))
    for offset, v in zip(plan.resource_offsets, resource_table(model).variables):
        if offset is not None:
            fills.append((offset, offset + v.nbytes, v.fill))
    return tuple(fills)


_Method = TypeVar("_Method", bound=Callable[..., Any])


def _exclusive(method: _Method) -> _Method:
    """Run an Interpreter method holding its lock (Interpreter._acquire)."""
    # The lock is taken here rather than through the _claim generator, whose entry and exit cost more than
    # a microsecond per invoke: a tenth of a small model's whole invoke.
    what = f"{method.__name__}()"

    @functools.wraps(method)
    def guarded(self: "Interpreter", *args: Any, **kwargs: Any) -> Any:
        self._acquire(what)
        try:
            return method(self, *args, **kwargs)
        finally:
            self._busy.release()
    return guarded  # type: ignore[return-value]


def tensor_details(t: Tensor) -> dict[str, Any]:
    """A tensor described with the keys of tf.lite.Interpreter.get_tensor_details()."""
    quantization, params = _quantization_details(t)
    return {
        "name": t.name,
        "index": t.index,
        "shape": np.array(t.shape, dtype=np.int32),
        "shape_signature": np.array(t.shape_signature, dtype=np.int32),
        "dtype": t.dtype.type if t.dtype is not None else None,
        "quantization": quantization,
        "quantization_parameters": params,
        "sparsity_parameters": {},
    }


class Interpreter:
    """A TFLM-style interpreter: one arena planned before the first invoke, kernels bit-exact with TFLM.

    arena_size: bytes the caller grants; allocate_tensors() fails with ArenaTooSmallError (stating the
    bytes needed) if the plan does not fit. memory_strategy: how the arena head is planned (planning/plan.py):
    "tflm" (TFLM's greedy planner, the head TFLM reports), "optimal" (the smallest head for the model's
    op order), "reorder" (also choose the op order), "inplace" (reorder, and let outputs share bytes
    with dying inputs); outputs are the same under every strategy.
    experimental_preserve_all_tensors: give every tensor its own bytes (TFLM's linear planner), so every
    intermediate can be read after invoke().
    experimental_delegates: accepted for tf.lite compatibility when None or empty; microinterp runs its
    own kernels, so any delegate is refused with UnsupportedCallError (a ValueError). num_threads is accepted and ignored (one
    thread, as on a microcontroller).

    Inputs start as zero bytes: invoke() before any set_tensor() runs on zeros (tf.lite runs on whatever
    its buffers hold). Writes through tensor() views count as setting an input.

    Limits, because a .tflite file is untrusted input; exceeding one raises ResourceLimitError before
    anything that large is allocated:

    max_tensor_bytes: largest byte size any single tensor may declare (checked when the model is
    loaded; default 1 GiB).
    max_arena_bytes: largest arena allocate_tensors() creates, whether planned or asked for with
    arena_size (default 2 GiB).
    max_subgraph_visits: how many times control-flow ops (IF, WHILE, CALL_ONCE) may run subgraphs in
    one invoke(), and TFLM's lifetime walk may enter them when planning (default 100000): a WHILE
    whose condition never turns false raises ResourceLimitError instead of hanging.
    max_ops, max_tensors, max_subgraphs: most operators, tensors and subgraphs the model may hold, summed
    over its subgraphs (checked while the file is verified, before they are read; defaults 32,768,
    32,768 and 1,024).
    max_macs_per_invoke: most multiply-accumulates one call of any subgraph may declare, the subgraphs
    its control-flow ops run included (workload.call_macs), counted from the shapes by allocate_tensors()
    before any op is prepared (default 2*10^10).

    Threads: allocate_tensors, resize_tensor_input, invoke, set_tensor, get_tensor, reset_all_variables
    and a signature runner's call refuse, with InvocationError, to overlap such a call from another
    thread on the same Interpreter (they do not wait).
    Separate Interpreters run in parallel threads; the compiled kernels release the GIL.
    """

    def __init__(self, model_path: str | os.PathLike | None = None, model_content: bytes | None = None,
                 experimental_delegates: list[Any] | None = None, num_threads: int | None = None,
                 experimental_preserve_all_tensors: bool = False, *, arena_size: int | None = None,
                 memory_strategy: str = "tflm",
                 max_tensor_bytes: int = DEFAULT_MAX_TENSOR_BYTES,
                 max_arena_bytes: int = DEFAULT_MAX_ARENA_BYTES,
                 max_subgraph_visits: int = DEFAULT_MAX_SUBGRAPH_VISITS, max_ops: int = DEFAULT_MAX_OPS,
                 max_tensors: int = DEFAULT_MAX_TENSORS, max_subgraphs: int = DEFAULT_MAX_SUBGRAPHS,
                 max_macs_per_invoke: int = DEFAULT_MAX_MACS_PER_INVOKE):
        if (model_path is None) == (model_content is None):
            raise ValueError("pass exactly one of model_path and model_content")
        if experimental_delegates:
            raise UnsupportedCallError(f"experimental_delegates: microinterp runs its own TFLM-exact kernels and takes no "
                             f"delegate (got {len(experimental_delegates)}); pass None or []")
        limits = {"max_tensor_bytes": max_tensor_bytes, "max_arena_bytes": max_arena_bytes,
                  "max_subgraph_visits": max_subgraph_visits, "max_ops": max_ops, "max_tensors": max_tensors,
                  "max_subgraphs": max_subgraphs, "max_macs_per_invoke": max_macs_per_invoke}
        for name, value in limits.items():
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if arena_size is not None and (not isinstance(arena_size, (int, np.integer)) or arena_size < 0):
            raise ValueError(f"arena_size must be a non-negative integer or None, got {arena_size!r}")
        self.max_tensor_bytes = int(max_tensor_bytes)
        self.max_arena_bytes = int(max_arena_bytes)
        self.max_subgraph_visits = int(max_subgraph_visits)
        self.max_macs_per_invoke = int(max_macs_per_invoke)
        self.model: Model = load_model(model_path if model_path is not None else model_content,
                                       max_tensor_bytes=self.max_tensor_bytes, max_ops=int(max_ops),
                                       max_tensors=int(max_tensors), max_subgraphs=int(max_subgraphs))
        self._loaded: Model = self.model  # the model as read; self.model has resized inputs written in
        if memory_strategy not in STRATEGIES:
            raise ValueError(f"unknown memory_strategy {memory_strategy!r}; choose one of {', '.join(STRATEGIES)}")
        self._arena_size = None if arena_size is None else int(arena_size)
        self._strategy = "linear" if experimental_preserve_all_tensors else memory_strategy
        self._num_threads = num_threads
        self._prepared: list[PreparedOp] | None = None
        self._plan: MemoryPlan | None = None
        self._exec: ExecutionPlan | None = None
        self.arena: np.ndarray | None = None
        self._inputs: dict[int, np.ndarray] = {}  # staged input values, copied into the arena per invoke
        # reentrant (allocate_tensors() resets the variables); its run_main is self._exec.run_main while allocated
        self._busy = CallGuard()

    def _acquire(self, what: str) -> None:
        """Take the lock for one call, refusing (InvocationError) a call that overlaps one from another
        thread: the arena, the staged inputs and the kernels' scratch belong to one call at a time."""
        if not self._busy.acquire(False):
            raise InvocationError(f"{what}: this Interpreter is in use by another thread; an Interpreter "
                                  f"runs one call at a time (give each thread its own, or serialize the "
                                  f"calls with a lock of yours)")

    @contextlib.contextmanager
    def _claim(self, what: str) -> Iterator[None]:
        """Hold the lock (_acquire) for the body of a with-statement."""
        self._acquire(what)
        try:
            yield
        finally:
            self._busy.release()

    # -- allocation ------------------------------------------------------------------------------
    @_exclusive
    def allocate_tensors(self) -> None:
        """Prepare every op, plan the arena and bind the kernels. All per-model work happens here."""
        check_macs(self.model, self.max_macs_per_invoke)
        prepared = prepare_model(self.model)
        plan = plan_prepared(self.model, prepared, self._strategy, max_subgraph_visits=self.max_subgraph_visits)
        size = plan.arena_size if self._arena_size is None else self._arena_size
        if size < plan.arena_size:
            raise ArenaTooSmallError(plan.arena_size, size)
        if size > self.max_arena_bytes:
            what = "the plan needs" if self._arena_size is None else "arena_size asks for"
            raise ResourceLimitError(f"arena: {what} {size} bytes, above the limit of {self.max_arena_bytes} "
                                     f"bytes (max_arena_bytes)")
        arena = aligned_bytes(size)
        self._prepared, self._plan, self.arena = prepared, plan, arena
        self._exec = ExecutionPlan(self.model, prepared, plan, arena, self.max_subgraph_visits)
        self._busy.run_main = self._exec.run_main
        main = self.model.main
        # most inputs are read by the steps where set_tensor writes them; the others are staged and
        # copied into the arena at each run
        read_in_place = self._exec.inputs_read_in_place
        self._inputs = {i: read_in_place[i] if i in read_in_place
                        else np.zeros(main.tensors[i].shape, main.tensors[i].dtype)
                        for i in main.inputs if i in self._exec.views and main.tensors[i].data is None}
        # flat byte views: a memoryview slice assignment costs a fraction of np.copyto on small inputs;
        # a plain run() makes these copies itself, in compiled code
        self._input_copies = tuple((memoryview(self._exec.views[i]).cast("B"), memoryview(self._inputs[i]).cast("B"))
                                   for i in self._inputs if self._inputs[i].size and i not in read_in_place)
        self._exec.copy_first(self._input_copies)
        self._variable_fills = _variable_fills(self.model, plan)
        self.reset_all_variables()  # TFLM's AllocateTensors ends with ResetVariableTensors

    @_exclusive
    def resize_tensor_input(self, input_index: int, tensor_size: Any, strict: bool = False) -> None:
        """As in tf.lite: give a graph input a new shape; call allocate_tensors() before the next invoke().

        Only dims that are -1 in the input's shape_signature may change (`strict` is accepted for
        compatibility: other dims are refused either way, as TFLM plans static shapes). The new value is
        written into every -1 dim of every tensor of the model, as if the converter had been given that
        shape, so all resized dims must take one value; the plan is then TFLM's plan for that model.
        """
        t = self._tensor(input_index)
        if t.index not in self.model.main.inputs:
            raise ResizeError(f"resize_tensor_input: {t.describe()} is not a graph input")
        try:
            shape = tuple(int(d) for d in np.asarray(tensor_size, dtype=np.int64).reshape(-1))
        except (ValueError, TypeError) as e:
            raise ResizeError(f"resize_tensor_input: the new shape {tensor_size!r} is not a list of ints") from e
        signature = self._loaded.main.tensors[t.index].shape_signature
        if len(shape) != len(signature):
            raise ResizeError(f"resize_tensor_input: {t.describe()} has rank {len(signature)}, got shape "
                             f"{list(shape)} of rank {len(shape)}")
        fixed = [k for k, (new, sig) in enumerate(zip(shape, signature)) if sig != -1 and new != sig]
        if fixed:
            raise ResizeError(f"resize_tensor_input: {t.describe()} dim(s) {fixed} are fixed in its shape "
                             f"signature {list(signature)} (only -1 dims can change), got {list(shape)}")
        dynamic = {new for new, sig in zip(shape, signature) if sig == -1}
        if any(d <= 0 for d in dynamic):
            raise ResizeError(f"resize_tensor_input: dims must be positive, got {list(shape)}")
        if len(dynamic) > 1:
            raise ResizeError(f"resize_tensor_input: the -1 dims of {t.describe()} get different values "
                             f"{sorted(dynamic)}; microinterp writes one value into every -1 dim of the model")
        if not dynamic:
            return
        self.model = with_dynamic_dims(self._loaded, dynamic.pop(), max_tensor_bytes=self.max_tensor_bytes)
        self._prepared = self._plan = self._exec = self._busy.run_main = self.arena = None
        self._inputs = {}

    @property
    def memory_plan(self) -> MemoryPlan:
        """The arena plan (offsets, head, scratch, variables) made by allocate_tensors()."""
        self._require_allocated("memory_plan")
        return self._plan

    @property
    def executed_ops(self) -> tuple[int, ...]:
        """Op indices of the main subgraph in the order invoke() runs them: the plan's op order (which
        the reorder and inplace strategies may change) without the ops whose output aliases their input
        and the PADs whose window op reads the unpadded image itself (execution.py)."""
        self._require_allocated("executed_ops")
        return self._exec.step_ops

    def _require_allocated(self, what: str) -> None:
        if self._exec is None:
            raise InvocationError(f"{what}: call allocate_tensors() first")

    # -- running ---------------------------------------------------------------------------------
    @InvokeMethod
    def invoke(self, *, op_times: list[float] | None = None) -> None:
        """Run the graph once on the inputs set with set_tensor().

        op_times: a list to append each executed op's wall time in seconds to, in execution order
        (profiling; `executed_ops` names the op of each entry); None, the default, runs without reading
        the clock.
        """
        # The plain run goes through the guard in compiled code (the lock calls alone were 3% of a tiny
        # model's run); the rest (not allocated, in use by another thread, op_times) comes here.
        if op_times is None and self._busy.invoke():
            return
        if not self._busy.acquire(False):
            self._acquire("invoke()")  # raises the overlap error
        try:
            if self._busy.run_main is None:
                self._require_allocated("invoke()")
            # TFLM reuses input bytes for later activations, so the inputs that steps do not read in place
            # are kept aside and copied in (by the program itself, when the steps do not run one by one).
            if op_times is None:
                self._busy.run_main()
                return
            for target, staged in self._input_copies:
                target[:] = staged
            for step in self._exec.steps:
                start = time.perf_counter()
                try:
                    step()
                except GraphAborted:
                    return
                finally:
                    op_times.append(time.perf_counter() - start)
        finally:
            self._busy.release()

    @_exclusive
    def reset_all_variables(self) -> None:
        """Reset every variable tensor as TFLM's ResetVariableTensors does: each byte of an int8 variable
        to its zero point, of any other variable to 0. The model's buffer data is not an initial value.
        The state custom ops keep across invokes (TFLM's persistent buffers) is reset too, as the ops'
        Reset functions do."""
        self._require_allocated("reset_all_variables()")
        for start, stop, byte in self._variable_fills:
            self.arena[start:stop] = byte
        for p in self._prepared:
            for state, value in p.state:
                state.fill(value)

    # -- tensors ---------------------------------------------------------------------------------
    def get_input_details(self) -> list[dict[str, Any]]:
        return [tensor_details(self.model.main.tensors[i]) for i in self.model.main.inputs]

    def get_output_details(self) -> list[dict[str, Any]]:
        return [tensor_details(self.model.main.tensors[i]) for i in self.model.main.outputs]

    def get_tensor_details(self) -> list[dict[str, Any]]:
        return [tensor_details(t) for t in self.model.main.tensors]

    def _tensor(self, index: int) -> Tensor:
        tensors = self.model.main.tensors
        if not isinstance(index, (int, np.integer)) or not 0 <= index < len(tensors):
            raise TensorAccessError(f"tensor index {index!r} out of range (model has {len(tensors)} tensors)")
        return tensors[int(index)]

    def _storage(self, index: int) -> np.ndarray:
        t = self._tensor(index)
        self._require_allocated(f"tensor {t.index}")
        if t.index in self._inputs:
            return self._inputs[t.index]
        view = self._exec.views.get(t.index)
        if view is None:
            raise TensorAccessError(f"{t.describe()} has no storage (type {t.type_name})")
        return view

    @_exclusive
    def set_tensor(self, tensor_index: int, value: Any) -> None:
        """Copy value into a tensor; dtype and shape must match exactly (ValueError otherwise)."""
        t = self._tensor(tensor_index)
        target = self._storage(t.index)
        if t.data is not None:
            raise TensorAccessError(f"{t.describe()} is a constant and cannot be set")
        try:
            value = np.asarray(value)
        except (ValueError, TypeError) as e:  # ragged nesting, objects numpy cannot hold
            raise TensorAccessError(f"set_tensor: the value for {t.describe()} cannot be converted to an "
                                    f"array: {e}") from e
        if value.dtype != t.dtype:
            raise TensorAccessError(f"set_tensor: got value of type {value.dtype.name} but expected "
                                    f"{t.dtype.name} for {t.describe()}")
        if value.shape != t.shape:
            raise TensorAccessError(f"set_tensor: got shape {list(value.shape)} but expected "
                                    f"{list(t.shape)} for {t.describe()}")
        np.copyto(target, value)

    @_exclusive
    def get_tensor(self, tensor_index: int, subgraph_index: int = 0) -> np.ndarray:
        """A copy of the tensor's current value. A tensor of a subgraph control flow runs holds what its
        last run left there, unless the plan has since given its bytes to another tensor."""
        if subgraph_index == 0:
            return self._storage(tensor_index).copy()
        self._require_allocated(f"subgraph {subgraph_index} tensor {tensor_index}")
        views = self._exec.subgraph_views.get(subgraph_index) if isinstance(subgraph_index, (int, np.integer)) else None
        if views is None:
            raise TensorAccessError(f"subgraph {subgraph_index!r}: not a subgraph that control flow runs "
                                    f"(the model has {len(self.model.subgraphs)})")
        tensors = self.model.subgraphs[subgraph_index].tensors
        if not isinstance(tensor_index, (int, np.integer)) or not 0 <= tensor_index < len(tensors):
            raise TensorAccessError(f"subgraph {subgraph_index}: tensor index {tensor_index!r} out of range "
                                    f"(it has {len(tensors)} tensors)")
        if tensor_index not in views:
            raise TensorAccessError(f"subgraph {subgraph_index} {tensors[tensor_index].describe()} has no storage")
        return views[tensor_index].copy()

    def tensor(self, tensor_index: int) -> Callable[[], np.ndarray]:
        """As in tf.lite: a function returning a numpy view of the tensor's current buffer."""
        storage = self._storage(tensor_index)
        return lambda: storage

    # -- signatures ------------------------------------------------------------------------------
    def get_signature_list(self) -> dict[str, dict[str, list[str]]]:
        return {s.key: {"inputs": list(s.inputs), "outputs": list(s.outputs)} for s in self.model.signatures}

    def get_signature_runner(self, signature_key: str | None = None) -> "SignatureRunner":
        """A callable that takes inputs by signature name and returns outputs by name."""
        sigs = {s.key: s for s in self.model.signatures}
        if signature_key is None:
            if len(sigs) != 1:
                raise ValueError(f"model has {len(sigs)} signatures; name one of {sorted(sigs)}")
            signature_key = next(iter(sigs))
        if signature_key not in sigs:
            raise ValueError(f"no signature {signature_key!r}; the model has {sorted(sigs)}")
        return SignatureRunner(self, sigs[signature_key])


class SignatureRunner:
    """tf.lite's SignatureRunner: runner(**inputs) -> {output name: array}."""

    def __init__(self, interpreter: Interpreter, signature: Signature):
        if signature.subgraph != 0:
            raise ValueError(f"signature {signature.key!r} runs subgraph {signature.subgraph}; "
                             f"only subgraph 0 is executed")
        self._interp = interpreter
        self._sig = signature

    def get_input_details(self) -> dict[str, dict[str, Any]]:
        t = self._interp.model.main.tensors
        return {name: tensor_details(t[i]) for name, i in self._sig.inputs.items()}

    def get_output_details(self) -> dict[str, dict[str, Any]]:
        t = self._interp.model.main.tensors
        return {name: tensor_details(t[i]) for name, i in self._sig.outputs.items()}

    def __call__(self, **inputs: Any) -> dict[str, np.ndarray]:
        unknown = set(inputs) - set(self._sig.inputs)
        if unknown:
            raise ValueError(f"unknown input(s) {sorted(unknown)}; signature {self._sig.key!r} takes "
                             f"{sorted(self._sig.inputs)}")
        # One claim for the whole call: another thread's inputs cannot slip in between.
        with self._interp._claim(f"signature runner {self._sig.key!r}"):
            if self._interp._exec is None:
                self._interp.allocate_tensors()
            for name, value in inputs.items():
                self._interp.set_tensor(self._sig.inputs[name], value)
            self._interp.invoke()
            return {name: self._interp.get_tensor(i) for name, i in self._sig.outputs.items()}
