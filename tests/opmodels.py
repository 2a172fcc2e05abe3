"""Test models built in memory, and bit-exact comparisons of microinterp with TFLM.

* `single_op_model` / `graph_model`: .tflite bytes for one operator, or for many independent operators
  in one graph (one TFLM interpreter covers a whole parameter sweep). They sweep quantization
  parameters, shapes and options converter-made models never combine, and build deliberately
  inconsistent operators. The schema is written as the converter writes it (buffer 0 empty,
  ``deprecated_builtin_code`` filled in), so TFLM accepts the models too.
* `compare_with_tflm` / `compare_cases_with_tflm`: microinterp's Interpreter against TFLM (through the
  oracle worker) on the same inputs, bit for bit.
* `run_op` / `check_ops_on_tflm_intermediates`: one operator of a real model run alone on the inputs
  TFLM computed for it, so only that kernel is under test.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import flatbuffers
import numpy as np
from tflite.BuiltinOperator import BuiltinOperator
from tflite.BuiltinOptions import BuiltinOptions

from microinterp.model import TENSOR_TYPES, Model, load_model
from microinterp.ops import OpContext, find_prepare
from oracle_checks import outside_float_rule

_TYPE_CODES = {name: code for code, (name, _, _) in TENSOR_TYPES.items()}


@dataclass
class T:
    """One tensor of a test model: type name, shape, optional quantization and optional constant data."""
    type: str
    shape: Sequence[int]
    scale: float | Sequence[float] | None = None
    zero_point: int | Sequence[int] | None = None
    data: np.ndarray | None = None
    quantized_dimension: int = 0
    name: str = ""
    is_variable: bool = False
    #: Written as the tensor's shape_signature when given (-1 marks a dim the user may resize).
    shape_signature: Sequence[int] | None = None

    @property
    def dtype(self) -> np.dtype:
        return TENSOR_TYPES[_TYPE_CODES[self.type]][1]


@dataclass
class Op:
    """The operator: builtin name, its options table name (e.g. "Pool2DOptions") and snake_case fields.

    A custom operator (name "CUSTOM", see custom_op) has its custom code and raw custom_options bytes.
    """
    name: str
    options_type: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    custom_code: str | None = None
    custom_options: bytes = b""

    @property
    def opcode_key(self) -> tuple[str, str | None]:
        """What makes two ops share an operator code."""
        return self.name, self.custom_code


def custom_op(code: str, options: dict[str, int | bool] | None = None) -> Op:
    """A custom operator with its options as a flexbuffer map (TFLM's signal ops read them so)."""
    from flatbuffers import flexbuffers
    return Op("CUSTOM", custom_code=code, custom_options=flexbuffers.Dumps(options) if options else b"")


Node = tuple[Op, Sequence["T | None"], Sequence["T"]]


@dataclass
class Graph:
    """One subgraph: nodes (op, inputs, outputs) run in order, and its inputs and outputs (None: as
    graph_model() chooses them)."""
    nodes: Sequence[Node]
    inputs: Sequence["T"] | None = None
    outputs: Sequence["T"] | None = None


def _module(name: str):
    # `tflite.X` is the generated class; the builder functions live in the module of the same name.
    return importlib.import_module(f"tflite.{name}")


def _camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def _vector(b: flatbuffers.Builder, values: Sequence, prepend: str) -> int:
    b.StartVector({"Int32": 4, "Float32": 4, "Int64": 8, "Uint8": 1}[prepend], len(values),
                  {"Int64": 8, "Uint8": 16}.get(prepend, 4))
    for v in reversed(list(values)):
        getattr(b, f"Prepend{prepend}")(v)
    return b.EndVector()


def _quantization(b: flatbuffers.Builder, t: T) -> int | None:
    if t.scale is None:
        return None
    scales = np.atleast_1d(np.asarray(t.scale, np.float32))
    zps = np.atleast_1d(np.asarray(0 if t.zero_point is None else t.zero_point, np.int64))
    if zps.size == 1 and scales.size > 1:
        zps = np.repeat(zps, scales.size)
    qp = _module("QuantizationParameters")
    scale_vec = _vector(b, [float(s) for s in scales], "Float32")
    zp_vec = _vector(b, [int(z) for z in zps], "Int64")
    qp.Start(b)
    qp.AddScale(b, scale_vec)
    qp.AddZeroPoint(b, zp_vec)
    qp.AddQuantizedDimension(b, t.quantized_dimension)
    return qp.End(b)


def _options(b: flatbuffers.Builder, op: Op) -> int | None:
    if op.options_type is None:
        return None
    mod = _module(op.options_type)
    # Vectors and strings must be written before the table is started.
    values = {k: _vector(b, v, "Int32") if isinstance(v, (list, tuple)) else b.CreateString(v) if isinstance(v, str)
              else v for k, v in op.options.items()}
    mod.Start(b)
    for key, value in values.items():
        getattr(mod, f"Add{_camel(key)}")(b, value)
    return mod.End(b)


def pack_int4(values) -> bytes:
    """int4 values (-8..7) packed as TFLM reads them: two per byte, the even element in the lower nibble."""
    flat = np.asarray(values, np.int8).reshape(-1)
    if flat.size % 2:
        flat = np.append(flat, np.int8(0))
    nibbles = flat.astype(np.uint8) & 0x0F
    return (nibbles[0::2] | (nibbles[1::2] << 4)).astype(np.uint8).tobytes()


def single_op_model(op: Op, inputs: Sequence[T | None], outputs: Sequence[T]) -> bytes:
    """A model whose only operator reads `inputs` (None = omitted optional input) and writes `outputs`.

    Non-constant inputs become the graph inputs, in order; the outputs are the graph outputs.
    """
    return graph_model([(op, inputs, outputs)])


def graph_input_tensors(nodes: Sequence[Node]) -> list[T]:
    """The graph inputs graph_model() makes of `nodes`, in order (variable tensors are state, not inputs)."""
    written = {id(t) for _, _, outs in nodes for t in outs}
    found: dict[int, T] = {}
    for _, ins, _ in nodes:
        for t in ins:
            if t is not None and t.data is None and not t.is_variable and id(t) not in written:
                found.setdefault(id(t), t)
    return list(found.values())


def graph_model(nodes: Sequence[Node], *, inputs: Sequence[T] | None = None, outputs: Sequence[T] | None = None,
                metadata: dict[str, bytes] | None = None) -> bytes:
    """A model running `nodes` (op, inputs, outputs) in order; a T object used twice is one tensor.

    Graph inputs (unless given): every non-constant, non-variable tensor no node writes, in order of first use.
    Graph outputs (unless given): every node output, in order. Independent nodes let one model (one
    TFLM interpreter) cover many cases. `metadata` adds named buffers (e.g. OfflineMemoryAllocation).
    """
    return multi_graph_model([Graph(nodes, inputs, outputs)], metadata=metadata)


def multi_graph_model(graphs: Sequence[Graph], *, metadata: dict[str, bytes] | None = None) -> bytes:
    """A model with one subgraph per Graph (subgraph 0 first), for control flow: IF, WHILE and
    CALL_ONCE name their callees by index in `graphs`. A T object is one tensor within a subgraph;
    used in two graphs it is a tensor of each."""
    b = flatbuffers.Builder(4096)
    op_keys = list(dict.fromkeys(op.opcode_key for g in graphs for op, _, _ in g.nodes))
    buffer_mod = _module("Buffer")
    buffer_mod.Start(b)
    buffer_tables = [buffer_mod.End(b)]

    def buffer(raw: bytes) -> int:
        data_vec = _vector(b, raw, "Uint8")
        buffer_mod.Start(b)
        buffer_mod.AddData(b, data_vec)
        buffer_tables.append(buffer_mod.End(b))
        return len(buffer_tables) - 1

    subgraphs = [_subgraph(b, g, k, op_keys, buffer) for k, g in enumerate(graphs)]
    metadata_buffers = {key: buffer(raw) for key, raw in (metadata or {}).items()}

    opcode_mod = _module("OperatorCode")
    opcode_tables = []
    for name, custom_code in op_keys:
        code = getattr(BuiltinOperator, name)
        custom = b.CreateString(custom_code) if custom_code is not None else None
        opcode_mod.Start(b)
        opcode_mod.AddDeprecatedBuiltinCode(b, min(code, 127))
        opcode_mod.AddBuiltinCode(b, code)
        if custom is not None:
            opcode_mod.AddCustomCode(b, custom)
        opcode_mod.AddVersion(b, 1)
        opcode_tables.append(opcode_mod.End(b))

    metadata_mod = _module("Metadata")
    metadata_tables = []
    for key, buffer_index in metadata_buffers.items():
        name = b.CreateString(key)
        metadata_mod.Start(b)
        metadata_mod.AddName(b, name)
        metadata_mod.AddBuffer(b, buffer_index)
        metadata_tables.append(metadata_mod.End(b))

    model_mod = _module("Model")
    codes_vec = _offsets(b, opcode_tables)
    metadata_vec = _offsets(b, metadata_tables) if metadata_tables else None
    subgraphs_vec = _offsets(b, subgraphs)
    buffers_vec = _offsets(b, buffer_tables)
    description = b.CreateString("microinterp test model")
    model_mod.Start(b)
    model_mod.AddVersion(b, 3)
    model_mod.AddOperatorCodes(b, codes_vec)
    model_mod.AddSubgraphs(b, subgraphs_vec)
    model_mod.AddDescription(b, description)
    model_mod.AddBuffers(b, buffers_vec)
    if metadata_vec is not None:
        model_mod.AddMetadata(b, metadata_vec)
    b.Finish(model_mod.End(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _offsets(b: flatbuffers.Builder, items: list[int]) -> int:
    b.StartVector(4, len(items), 4)
    for item in reversed(items):
        b.PrependUOffsetTRelative(item)
    return b.EndVector()


def _subgraph(b: flatbuffers.Builder, graph: Graph, number: int, op_keys: list[tuple[str, str | None]],
              buffer: Callable[[bytes], int]) -> int:
    """Write one subgraph table; constants get their buffers through `buffer(raw) -> index`."""
    nodes = graph.nodes
    tensors: list[T] = []
    index_of: dict[int, int] = {}

    def tensor_index(t: T) -> int:
        if id(t) not in index_of:
            index_of[id(t)] = len(tensors)
            tensors.append(t)
        return index_of[id(t)]

    node_io = [([-1 if t is None else tensor_index(t) for t in ins], [tensor_index(t) for t in outs])
               for _, ins, outs in nodes]
    graph_inputs = [tensor_index(t) for t in (graph_input_tensors(nodes) if graph.inputs is None else graph.inputs)]
    graph_outputs = ([i for _, outs in node_io for i in outs] if graph.outputs is None
                     else [tensor_index(t) for t in graph.outputs])
    buffer_of = [0 if t.data is None else buffer(pack_int4(t.data) if t.type == "INT4" else
                                                      np.ascontiguousarray(np.asarray(t.data, t.dtype)).tobytes())
                 for t in tensors]

    tensor_mod = _module("Tensor")
    tensor_tables = []
    for i, t in enumerate(tensors):
        name = b.CreateString(t.name or f"t{i}")
        shape = _vector(b, [int(d) for d in t.shape], "Int32")
        signature = None if t.shape_signature is None else _vector(b, [int(d) for d in t.shape_signature], "Int32")
        quant = _quantization(b, t)
        tensor_mod.Start(b)
        tensor_mod.AddShape(b, shape)
        if signature is not None:
            tensor_mod.AddShapeSignature(b, signature)
        tensor_mod.AddType(b, _TYPE_CODES[t.type])
        tensor_mod.AddBuffer(b, buffer_of[i])
        tensor_mod.AddName(b, name)
        if quant is not None:
            tensor_mod.AddQuantization(b, quant)
        tensor_mod.AddIsVariable(b, t.is_variable)
        tensor_tables.append(tensor_mod.End(b))

    operator_mod = _module("Operator")
    operator_tables = []
    for (op, _, _), (ins, outs) in zip(nodes, node_io):
        options = _options(b, op)
        in_vec = _vector(b, ins, "Int32")
        out_vec = _vector(b, outs, "Int32")
        custom_vec = _vector(b, op.custom_options, "Uint8") if op.custom_options else None
        operator_mod.Start(b)
        operator_mod.AddOpcodeIndex(b, op_keys.index(op.opcode_key))
        if custom_vec is not None:
            operator_mod.AddCustomOptions(b, custom_vec)
        operator_mod.AddInputs(b, in_vec)
        operator_mod.AddOutputs(b, out_vec)
        if options is not None:
            operator_mod.AddBuiltinOptionsType(b, getattr(BuiltinOptions, op.options_type))
            operator_mod.AddBuiltinOptions(b, options)
        operator_tables.append(operator_mod.End(b))

    subgraph_mod = _module("SubGraph")
    tensors_vec = _offsets(b, tensor_tables)
    operators_vec = _offsets(b, operator_tables)
    sg_in = _vector(b, graph_inputs, "Int32")
    sg_out = _vector(b, graph_outputs, "Int32")
    sg_name = b.CreateString("main" if number == 0 else f"subgraph{number}")
    subgraph_mod.Start(b)
    subgraph_mod.AddTensors(b, tensors_vec)
    subgraph_mod.AddInputs(b, sg_in)
    subgraph_mod.AddOutputs(b, sg_out)
    subgraph_mod.AddOperators(b, operators_vec)
    subgraph_mod.AddName(b, sg_name)
    return subgraph_mod.End(b)


def prepare_op(model: Model | bytes, op_index: int = 0):
    """Run the registered prepare of one operator of the main subgraph; returns (context, bind)."""
    if not isinstance(model, Model):
        model = load_model(model)
    op = model.main.operators[op_index]
    ctx = OpContext(model, op)
    return ctx, find_prepare(op)(ctx)


def run_op(model: Model | bytes, input_values: dict[int, np.ndarray], op_index: int = 0) -> list[np.ndarray]:
    """Run one operator alone: its non-constant inputs come from `input_values` (tensor index -> array)."""
    if not isinstance(model, Model):
        model = load_model(model)
    ctx, bind = prepare_op(model, op_index)
    tensors = model.main.tensors
    inputs = []
    for t in ctx.op.inputs:
        if t < 0:
            inputs.append(None)
        elif tensors[t].data is not None:
            inputs.append(tensors[t].data)
        else:
            inputs.append(np.ascontiguousarray(np.asarray(input_values[t], tensors[t].dtype)
                                               .reshape(tensors[t].shape)))
    outputs = [np.full(tensors[t].shape, 0x5A, dtype=tensors[t].dtype) for t in ctx.op.outputs]
    scratch = [np.zeros(n, np.uint8) for n, _ in ctx.scratch]
    bind(inputs, outputs, scratch)()
    return outputs


def random_values(rng: np.random.Generator, t: T, low: float = -4.0, high: float = 4.0) -> np.ndarray:
    """Uniform values for a tensor: the full integer range for integer types, [low, high) for floats."""
    dtype = t.dtype
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=tuple(t.shape), endpoint=True, dtype=dtype)
    return rng.uniform(low, high, size=tuple(t.shape)).astype(dtype)


def assert_bit_exact(ours: np.ndarray, theirs: np.ndarray, what: str, float_rule: bool = False) -> None:
    """Same shape, dtype and bits (floats: identical bit patterns, or NaN on both sides; with float_rule,
    within the float32 rule of oracle_checks.outside_float_rule instead)."""
    theirs = np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs TFLM {theirs.shape}"
    assert ours.dtype == theirs.dtype, f"{what}: dtype {ours.dtype} vs TFLM {theirs.dtype}"
    if np.issubdtype(ours.dtype, np.floating) and float_rule:
        bad = outside_float_rule(ours, theirs)
    elif np.issubdtype(ours.dtype, np.floating):
        bad = (ours != theirs) & ~(np.isnan(ours) & np.isnan(theirs))
    else:
        bad = ours != theirs
    if bad.any():
        where = tuple(int(i[0]) for i in np.nonzero(bad))
        raise AssertionError(f"{what}: {int(bad.sum())} of {ours.size} elements differ from TFLM; first at "
                             f"{where}: ours {ours[where]!r}, TFLM {theirs[where]!r}")


def compare_with_tflm(oracle, model: bytes, invocations: Sequence[Sequence[np.ndarray]], what: str,
                      output_labels: Sequence[str] | None = None, reset_and_repeat: bool = False,
                      float_rule: bool = False) -> None:
    """Run the model through microinterp's Interpreter and through TFLM on the same inputs; assert bit-exact.

    The invocations run in sequence on one interpreter each side, so state (variable tensors) carries.
    reset_and_repeat: then reset_all_variables() and run them again, which must give TFLM's outputs of a
    fresh interpreter once more. float_rule: float outputs within 1e-5 relative (assert_bit_exact) rather
    than the same bits, for kernels that do not promise TFLM's float bits.
    """
    from microinterp import Interpreter

    interp = Interpreter(model_content=model)
    interp.allocate_tensors()
    theirs = oracle.run(model, [list(inv) for inv in invocations], backend="tflm").outputs
    for rerun in range(2 if reset_and_repeat else 1):
        if rerun:
            interp.reset_all_variables()
        for k, inputs in enumerate(invocations):
            for detail, value in zip(interp.get_input_details(), inputs):
                interp.set_tensor(detail["index"], value)
            interp.invoke()
            for i, detail in enumerate(interp.get_output_details()):
                label = output_labels[i] if output_labels else f"output {i}"
                where = f"{what} {'after reset_all_variables() ' if rerun else ''}invocation {k} {label}"
                assert_bit_exact(interp.get_tensor(detail["index"]), theirs[k][i], where, float_rule)


def assert_head_matches_tflm(oracle, model: bytes) -> None:
    """The planned arena head (scratch buffers included) equals the one TFLM plans for the model."""
    from microinterp import Interpreter

    interp = Interpreter(model_content=model)
    interp.allocate_tensors()
    assert interp.memory_plan.head == oracle.tflm_arena(model).head


ValuesFn = Callable[[np.random.Generator, T], np.ndarray]


@dataclass
class Case:
    """One operator under test: a label for messages, the op, its inputs and outputs.

    values(rng, tensor), when given, makes this case's input values instead of the comparison's default.
    """
    label: str
    op: Op
    inputs: Sequence[T | None]
    outputs: Sequence[T]
    values: ValuesFn | None = None


def compare_cases_with_tflm(oracle, cases: Sequence[Case], seeds: Sequence[int] = (0, 1, 2),
                            values: ValuesFn | None = None, reset_and_repeat: bool = False,
                            float_rule: bool = False) -> None:
    """All cases as independent ops of one model (one TFLM interpreter), run once per seed; bit-exact.

    Each graph input gets values(rng, tensor) from one generator seeded per invocation (default:
    random_values over the whole integer range, [-4, 4) for floats). State carries from seed to seed;
    reset_and_repeat, float_rule: see compare_with_tflm.
    """
    nodes = [(c.op, c.inputs, c.outputs) for c in cases]
    model = graph_model(nodes)
    maker = {id(t): c.values or values or random_values for c in cases for t in c.inputs if t is not None}
    invocations = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        invocations.append([maker[id(t)](rng, t) for t in graph_input_tensors(nodes)])
    labels = [f"{c.label} output {j}" for c in cases for j in range(len(c.outputs))]
    compare_with_tflm(oracle, model, invocations, "", labels, reset_and_repeat, float_rule)


def check_ops_on_tflm_intermediates(oracle, path, op_names: set[str], seeds: Sequence[int] = (0, 1, 2),
                                    float_rule: bool = False) -> int:
    """Run each op of the given kinds in a real model on the inputs TFLM computed for it; assert bit-exact
    (float outputs within the float32 rule with float_rule, as compare_with_tflm).

    TFLM runs the whole model with every tensor preserved; each selected op is then run alone through
    microinterp's prepare/bind on those inputs, so only that kernel is under test. Returns the op-runs.
    """
    from microinterp.inputs import random_inputs
    from microinterp.interpreter import tensor_details

    model = load_model(path)
    graph = model.main
    details = [tensor_details(graph.tensors[i]) for i in graph.inputs]
    invocations = [random_inputs(details, seed) for seed in seeds]
    tensors = oracle.run(model.content, invocations, backend="tflm", preserve_all_tensors=True).tensors
    runs = 0
    for k, values in enumerate(tensors):
        for op in graph.operators:
            if op.name not in op_names:
                continue
            feeds = {t: values[t] for t in op.inputs if t >= 0 and graph.tensors[t].data is None}
            ours = run_op(model, feeds, op.index)
            for out_index, out in zip(op.outputs, ours):
                assert_bit_exact(out, values[out_index].reshape(out.shape), f"{path} {op.describe()} seed {seeds[k]}",
                                 float_rule)
            runs += 1
    return runs
