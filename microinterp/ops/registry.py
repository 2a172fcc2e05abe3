"""The op registry and the contract every op follows.

An op is one function, registered under its builtin name(s), that takes an OpContext, validates the
operator (shapes, dtypes, quantization), precomputes everything the kernel needs, and returns a
BindFn. Once the arena exists, bind(inputs, outputs, scratch) is called once with numpy views
(constants: read-only views of the model bytes; activations and scratch: views into the arena;
omitted optional inputs: None) and returns the step: a no-argument callable run on every invoke that
does only arithmetic. Checks that make unchecked Cython loops safe belong in the prepare function.

Custom operators (TFLM's signal library, ...) are registered by their custom code string in
CUSTOM_REGISTRY, beside the builtin REGISTRY. An op whose state lives across invokes (TFLM keeps it in
persistent buffers, outside the planned head) asks for it with OpContext.persistent: the arrays are
set back to their reset value by Interpreter.reset_all_variables(), as the op's TFLM Reset does.

Some binds take more arguments after the scratch list, one per request made in prepare, in request
order: a SubgraphRun for each ctx.call(index) (control flow), the ResourceBuffers for
ctx.use_resources() (resource variables).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, NoReturn, Sequence

import numpy as np

from ..errors import InconsistentModelError, UnsupportedOperatorError
from ..model import BUILTIN_OP_NAMES, Model, Operator, Quantization, Subgraph, Tensor
from ..resources import ResourceTable, resource_table

Step = Callable[[], object]
BindFn = Callable[[Sequence["np.ndarray | None"], Sequence[np.ndarray], Sequence[np.ndarray]], Step]
PrepareFn = Callable[["OpContext"], BindFn]

class GraphAborted(Exception):
    """Raised by a step to end the invoke early and successfully, as TFLM's kTfLiteAbort status does
    (CIRCULAR_BUFFER between its runs): the later ops keep their previous outputs."""


_BUILTIN_CODES = {name: code for code, name in BUILTIN_OP_NAMES.items()}
REGISTRY: dict[int, PrepareFn] = {}
#: Custom operators by their custom code (the OperatorCode's custom_code string).
CUSTOM_REGISTRY: dict[str, PrepareFn] = {}


def register(*names: str) -> Callable[[PrepareFn], PrepareFn]:
    """Register a prepare function for the given BuiltinOperator names (e.g. "CONV_2D")."""
    def deco(fn: PrepareFn) -> PrepareFn:
        for name in names:
            code = _BUILTIN_CODES[name]
            if code in REGISTRY:
                raise RuntimeError(f"{name} registered twice")
            REGISTRY[code] = fn
        return fn
    return deco


def register_custom(*custom_codes: str) -> Callable[[PrepareFn], PrepareFn]:
    """Register a prepare function for the given custom operator codes (e.g. "SignalWindow")."""
    def deco(fn: PrepareFn) -> PrepareFn:
        for code in custom_codes:
            if code in CUSTOM_REGISTRY:
                raise RuntimeError(f"custom op {code} registered twice")
            CUSTOM_REGISTRY[code] = fn
        return fn
    return deco


def find_prepare(op: Operator) -> PrepareFn | None:
    """The registered prepare function of a builtin or custom operator, or None."""
    if op.custom_code is not None:
        return CUSTOM_REGISTRY.get(op.custom_code)
    return REGISTRY.get(op.builtin_code)


@dataclass
class OpContext:
    """What an op's prepare sees: the operator, its tensors and options, and ways to fail or ask for scratch."""
    model: Model
    op: Operator
    #: Scratch requests in order, (bytes, planned_like_tflm): the kernel receives them as `scratch`.
    #: TFLM-like requests are planned inside the head exactly as TFLM's reference kernel asks for them;
    #: the others are microinterp's own and live in a region after the head.
    scratch: list[tuple[int, bool]] = field(default_factory=list)
    #: (output position, input position) pairs declared with declare_alias.
    aliases: list[tuple[int, int]] = field(default_factory=list)
    #: State kept across invokes (OpContext.persistent) with its reset value.
    state: list[tuple[np.ndarray, int]] = field(default_factory=list)
    #: What bind receives after the scratch list: ("subgraph", index) per ctx.call, ("resources", 0) for
    #: ctx.use_resources(), in request order.
    bind_extras: list[tuple[str, int]] = field(default_factory=list)
    #: Whether the op's step may end the invoke early (declare_abort).
    aborts: bool = False
    #: The model's resource variables (computed on first use when not given).
    resource_table: ResourceTable | None = None
    #: Tensors the op sees in place of the model's, by tensor index (see replace_tensor).
    replaced: dict[int, Tensor] = field(default_factory=dict)
    #: (top, left): the op pads an NHWC image's height and width with its input zero point only
    #: (declare_image_pad), so a reader that pads may read its input instead.
    image_pad: tuple[int, int] | None = None
    #: bind_padded(inputs, outputs, scratch, top, left): the op's step reading input 0 from the unpadded
    #: image a PAD made it from (declare_padded_reader), or None where it cannot.
    bind_padded: Callable | None = None

    @property
    def subgraph(self) -> Subgraph:
        return self.model.subgraphs[self.op.subgraph]

    @property
    def options(self) -> dict:
        return self.op.options

    def flexbuffer_options(self) -> dict:
        """A custom op's options, a flexbuffer map, as a dict; fails clearly when they are not one."""
        from flatbuffers import flexbuffers
        try:
            value = flexbuffers.Loads(self.op.custom_options)
        except Exception as e:  # hostile bytes can break the decoder in many ways
            self.fail(f"custom options ({len(self.op.custom_options)} bytes) are not a flexbuffer: "
                      f"{type(e).__name__}: {e}")
        if not isinstance(value, dict):
            self.fail(f"custom options must be a flexbuffer map, found {type(value).__name__}")
        return value

    def _tensor(self, index: int) -> Tensor:
        return self.replaced[index] if index in self.replaced else self.subgraph.tensors[index]

    def replace_tensor(self, tensor: Tensor) -> None:
        """From now on the op's prepare sees `tensor` in place of the model's tensor of the same index
        (e.g. an int4 filter unpacked to int8); its bind must then be given the matching data."""
        self.replaced[tensor.index] = tensor

    @property
    def num_inputs(self) -> int:
        return len(self.op.inputs)

    def input(self, i: int) -> Tensor:
        """Required input i (fails clearly when absent or omitted)."""
        if i >= len(self.op.inputs) or self.op.inputs[i] < 0:
            self.fail(f"input {i} is missing (op has {len(self.op.inputs)} inputs)")
        return self._tensor(self.op.inputs[i])

    def optional_input(self, i: int) -> Tensor | None:
        if i >= len(self.op.inputs) or self.op.inputs[i] < 0:
            return None
        return self._tensor(self.op.inputs[i])

    def output(self, i: int = 0) -> Tensor:
        if i >= len(self.op.outputs):
            self.fail(f"output {i} is missing (op has {len(self.op.outputs)} outputs)")
        return self._tensor(self.op.outputs[i])

    def fail(self, message: str) -> NoReturn:
        """The model is inconsistent at this op."""
        raise InconsistentModelError(f"{self.op.describe()}: {message}")

    def unsupported(self, message: str) -> NoReturn:
        """The model is valid but this op/dtype combination has no kernel here."""
        raise UnsupportedOperatorError([f"{self.op.describe()}: {message}"])

    def expect_io(self, inputs: tuple[int, int] | int, outputs: int = 1) -> None:
        """Check the input count (exact, or an inclusive (min, max) range) and the output count."""
        lo, hi = (inputs, inputs) if isinstance(inputs, int) else inputs
        if not lo <= len(self.op.inputs) <= hi:
            want = str(lo) if lo == hi else f"{lo} to {hi}"
            self.fail(f"expected {want} inputs, found {len(self.op.inputs)}")
        if len(self.op.outputs) != outputs:
            self.fail(f"expected {outputs} outputs, found {len(self.op.outputs)}")

    def expect_type(self, tensor: Tensor, *type_names: str) -> None:
        """Unsupported unless the tensor's type is one of type_names (e.g. "INT8", "FLOAT32")."""
        if tensor.type_name not in type_names:
            self.unsupported(f"{tensor.describe()} has type {tensor.type_name}, "
                             f"supported: {', '.join(type_names)}")

    def expect_rank(self, tensor: Tensor, *ranks: int) -> None:
        if len(tensor.shape) not in ranks:
            self.fail(f"{tensor.describe()} must have rank {' or '.join(map(str, ranks))}, "
                      f"found rank {len(tensor.shape)}")

    def expect_constant(self, tensor: Tensor) -> np.ndarray:
        if tensor.data is None:
            self.unsupported(f"{tensor.describe()} must be a constant")
        return tensor.data

    def quantization(self, tensor: Tensor) -> Quantization:
        """The tensor's quantization; fails unless present with positive scales."""
        q = tensor.quantization
        if q is None:
            self.fail(f"{tensor.describe()} has no quantization parameters")
        if not (q.scales > 0).all():
            self.fail(f"{tensor.describe()} has a non-positive quantization scale {q.scales.min()}")
        return q

    def per_tensor(self, tensor: Tensor) -> tuple[float, int]:
        """(scale, zero_point) of a tensor that must be quantized per tensor."""
        q = self.quantization(tensor)
        if q.per_channel:
            self.fail(f"{tensor.describe()} must be quantized per tensor, found {q.scales.size} scales")
        return q.scale, q.zero_point

    def request_scratch(self, nbytes: int, like_tflm: bool = False) -> int:
        """Ask for nbytes of scratch on every invoke; returns its index in the kernel's scratch list.

        like_tflm=True marks a request TFLM's reference kernel also makes, so the head stays TFLM's.
        """
        self.scratch.append((int(nbytes), like_tflm))
        return len(self.scratch) - 1

    def call(self, subgraph: int) -> Subgraph:
        """Declare that the op runs `subgraph` (its bind receives a SubgraphRun for it); returns it."""
        if not 0 <= subgraph < len(self.model.subgraphs):
            self.fail(f"calls subgraph {subgraph}, the model has {len(self.model.subgraphs)}")
        self.bind_extras.append(("subgraph", subgraph))
        return self.model.subgraphs[subgraph]

    @property
    def resources(self) -> ResourceTable:
        """The model's resource variables, as TFLM's prepare resolves them (resources.py)."""
        if self.resource_table is None:
            self.resource_table = resource_table(self.model)
        return self.resource_table

    def use_resources(self) -> None:
        """Declare that the op reads or writes resource variables: its bind receives the ResourceBuffers."""
        self.bind_extras.append(("resources", 0))

    def persistent(self, shape: int | tuple[int, ...], dtype, reset: int = 0) -> np.ndarray:
        """An array that keeps its values from one invoke to the next (TFLM's AllocatePersistentBuffer
        state), filled with `reset` now and by every reset_all_variables(). It lives outside the arena,
        so the planned head stays TFLM's."""
        array = np.full(shape, reset, dtype)
        self.state.append((array, reset))
        return array

    def declare_abort(self) -> None:
        """Declare that the op's step may end the invoke early (GraphAborted, TFLM's kTfLiteAbort): the
        later ops' outputs then show what their arena bytes held, the graph inputs' copies among them."""
        self.aborts = True

    def declare_image_pad(self, top: int, left: int) -> None:
        """Declare that the op (a PAD) only adds rows and columns of its output zero point around an NHWC
        image, top rows above and left columns before it: the plan may leave it out and let its reader
        take the image with that padding (declare_padded_reader)."""
        self.image_pad = (top, left)

    def declare_padded_reader(self, bind_padded: Callable) -> None:
        """Declare that the op can read its input 0, when a PAD made it (declare_image_pad), from the PAD's
        input: bind_padded(inputs, outputs, scratch, top, left) binds the step with inputs[0] that image and
        the PAD's leading padding added to the op's own, or returns None where it cannot (then the PAD runs)."""
        self.bind_padded = bind_padded

    def declare_alias(self, output: int = 0, input: int = 0) -> None:
        """Declare that output `output` is a byte-for-byte copy of input `input` (same size), so a memory
        plan may put both in the same bytes; the op's step is then skipped."""
        self.aliases.append((output, input))


class SubgraphRun:
    """What a control-flow op's step sees of a subgraph it runs: views of the subgraph's input and output
    tensors in the arena, and run() (one invocation of all its ops, counted against the interpreter's
    max_subgraph_visits)."""

    def __init__(self, inputs: Sequence[np.ndarray], outputs: Sequence[np.ndarray], run: Step):
        self.inputs = tuple(inputs)
        self.outputs = tuple(outputs)
        self.run = run
