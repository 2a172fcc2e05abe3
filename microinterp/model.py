"""Model loading: untrusted .tflite bytes -> a validated, immutable description of the graph.

Constant buffers become read-only zero-copy numpy views of the model bytes; operator options are
decoded into plain dicts. Structural checks (indices, shapes, buffer sizes, quantization vector
lengths) happen here; op-specific semantics are checked by each op's prepare.
"""
from __future__ import annotations


import functools
import inspect
import math
import os
import re
import struct
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import flatbuffers
import numpy as np
import tflite
from tflite.BuiltinOperator import BuiltinOperator
from tflite.BuiltinOptions import BuiltinOptions
from tflite.BuiltinOptions2 import BuiltinOptions2

from .compression import METADATA_NAME as COMPRESSION_METADATA
from .compression import DECODED_TYPES, LutTensor, lut_channels, lut_decode, read_lut_metadata
from .errors import InconsistentModelError, MalformedModelError, ResourceLimitError
from .flatbuffer_verify import TableLimit, schema_slots, verify_model_bytes

#: TensorType value -> (name, numpy dtype or None when it has no numpy equivalent, byte size in TFLM).
TENSOR_TYPES: dict[int, tuple[str, np.dtype | None, int]] = {
    0: ("FLOAT32", np.dtype("<f4"), 4), 1: ("FLOAT16", np.dtype("<f2"), 2),
    2: ("INT32", np.dtype("<i4"), 4), 3: ("UINT8", np.dtype("u1"), 1),
    4: ("INT64", np.dtype("<i8"), 8), 5: ("STRING", None, 0), 6: ("BOOL", np.dtype("?"), 1),
    7: ("INT16", np.dtype("<i2"), 2), 8: ("COMPLEX64", np.dtype("<c8"), 8),
    9: ("INT8", np.dtype("i1"), 1), 10: ("FLOAT64", np.dtype("<f8"), 8),
    11: ("COMPLEX128", np.dtype("<c16"), 16), 12: ("UINT64", np.dtype("<u8"), 8),
    13: ("RESOURCE", None, 4), 14: ("VARIANT", None, 0), 15: ("UINT32", np.dtype("<u4"), 4),
    16: ("UINT16", np.dtype("<u2"), 2), 17: ("INT4", np.dtype("i1"), 1), 18: ("BFLOAT16", None, 2),
}

#: Largest single tensor a model may declare before anything is allocated (override per call).
DEFAULT_MAX_TENSOR_BYTES = 1 << 30
#: Most operators, tensors and subgraphs a model may hold (summed over its subgraphs). Real models hold
#: hundreds. TFLM's first fit, which the tflm plan must follow, is quadratic in the planned tensors
#: for adversarial lifetimes (compiled, kernels/planning.pyx): at 32,768 of them that is seconds.
DEFAULT_MAX_OPS = 32_768
DEFAULT_MAX_TENSORS = 32_768
DEFAULT_MAX_SUBGRAPHS = 1_024
#: Highest tensor rank accepted: numpy's own limit (32 before numpy 2); TFLite kernels use at most 6.
MAX_RANK = 32

BUILTIN_OP_NAMES: dict[int, str] = {
    v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}
_OPTIONS_NAMES: dict[int, str] = {
    v: k for k, v in vars(BuiltinOptions).items() if not k.startswith("_")}
_OPTIONS2_NAMES: dict[int, str] = {
    v: k for k, v in vars(BuiltinOptions2).items() if not k.startswith("_")}
_CONTROL_FLOW_SUBGRAPH_OPTIONS = {
    "IF": ("then_subgraph_index", "else_subgraph_index"),
    "WHILE": ("cond_subgraph_index", "body_subgraph_index"),
    "CALL_ONCE": ("init_subgraph_index",),
}


@dataclass(frozen=True)
class Quantization:
    """Affine quantization of one tensor: real = scale * (q - zero_point), per tensor or per channel."""
    scales: np.ndarray  # float32
    zero_points: np.ndarray  # int64
    quantized_dimension: int

    @property
    def per_channel(self) -> bool:
        return self.scales.size > 1

    @property
    def scale(self) -> float:
        """The per-tensor scale (the first one for per-channel tensors)."""
        return float(self.scales[0])

    @property
    def zero_point(self) -> int:
        return int(self.zero_points[0]) if self.zero_points.size else 0


@dataclass(frozen=True)
class Tensor:
    """One tensor of a subgraph. `data` is a read-only view of the model bytes for constants."""
    index: int
    subgraph: int
    name: str
    type_code: int
    shape: tuple[int, ...]
    shape_signature: tuple[int, ...]
    buffer: int
    data: np.ndarray | None
    quantization: Quantization | None
    is_variable: bool

    @property
    def type_name(self) -> str:
        return TENSOR_TYPES[self.type_code][0]

    @property
    def dtype(self) -> np.dtype | None:
        return TENSOR_TYPES[self.type_code][1]

    @property
    def storage_dtype(self) -> np.dtype | None:
        """The numpy dtype of the tensor's bytes: its dtype, or int32 for RESOURCE (TFLM keeps a
        resource variable's id there)."""
        return np.dtype("<i4") if self.type_code == 13 else self.dtype

    @property
    def num_elements(self) -> int:
        return math.prod(self.shape)  # Python ints: exact for any shape a hostile file declares

    @property
    def nbytes(self) -> int:
        """Byte size as TFLM computes it (int4 counted as one byte per element)."""
        return self.num_elements * TENSOR_TYPES[self.type_code][2]

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    def describe(self) -> str:
        return f"tensor {self.index} '{self.name}' ({self.type_name}{list(self.shape)})"


@dataclass(frozen=True)
class Operator:
    """One operator: its builtin code, tensor indices (-1 = omitted optional input) and decoded options."""
    index: int
    subgraph: int
    opcode_index: int
    builtin_code: int
    custom_code: str | None
    version: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    intermediates: tuple[int, ...]
    options: dict[str, Any]
    #: The raw custom_options bytes of a custom operator (a flexbuffer for TFLM's signal ops), else b"".
    custom_options: bytes = b""

    @property
    def name(self) -> str:
        if self.custom_code is not None:
            return f"CUSTOM({self.custom_code})"
        return BUILTIN_OP_NAMES.get(self.builtin_code, f"BUILTIN_{self.builtin_code}")

    def describe(self) -> str:
        where = f"subgraph {self.subgraph} " if self.subgraph else ""
        return f"{where}op {self.index} ({self.name})"

    def called_subgraphs(self) -> tuple[int, ...]:
        """Subgraphs a control-flow op enters, in the order TFLM visits them."""
        keys = _CONTROL_FLOW_SUBGRAPH_OPTIONS.get(self.name, ())
        return tuple(int(self.options.get(k, 0)) for k in keys)


@dataclass(frozen=True)
class Subgraph:
    """A graph of operators over tensors, with its input and output tensor indices."""
    index: int
    name: str
    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


@dataclass(frozen=True)
class Signature:
    """A SignatureDef: named entry point mapping names to tensor indices of one subgraph."""
    key: str
    subgraph: int
    inputs: dict[str, int]
    outputs: dict[str, int]


@dataclass(frozen=True)
class CompressedConstant:
    """A constant stored LUT-compressed (COMPRESSION_METADATA): its entry, and the bytes its indices and
    its value table take in the model. The Tensor's `data` holds the decoded values."""
    lut: LutTensor
    index_bytes: int
    value_bytes: int


@dataclass(frozen=True)
class Model:
    """A validated model. `content` holds the bytes that every constant view points into (except the
    decoded values of LUT-compressed constants, listed in `compressed` by (subgraph, tensor))."""
    content: bytes
    version: int
    description: str
    subgraphs: tuple[Subgraph, ...]
    metadata: dict[str, bytes]
    signatures: tuple[Signature, ...] = field(default=())
    compressed: dict[tuple[int, int], CompressedConstant] = field(default_factory=dict)

    @property
    def main(self) -> Subgraph:
        return self.subgraphs[0]

    @property
    def constant_bytes(self) -> int:
        """Bytes of constant tensor data (what a microcontroller keeps in flash), each buffer once."""
        seen: dict[int, int] = {}
        for sg in self.subgraphs:
            for t in sg.tensors:
                if (c := self.compressed.get((sg.index, t.index))) is not None:
                    seen[t.buffer], seen[c.lut.value_buffer] = c.index_bytes, c.value_bytes
                elif t.data is not None:
                    seen[t.buffer] = t.data.nbytes
        return sum(seen.values())


def with_dynamic_dims(model: Model, value: int, max_tensor_bytes: int = DEFAULT_MAX_TENSOR_BYTES) -> Model:
    """The model with `value` written into every dim that is -1 in a tensor's shape_signature (main
    subgraph), as the converter writes a fixed batch size; ops' prepare then checks that the new shapes
    are consistent."""
    tensors = []
    for t in model.main.tensors:
        if -1 in t.shape_signature and len(t.shape_signature) == len(t.shape) and t.data is None:
            t = replace(t, shape=tuple(value if s == -1 else d
                                                   for d, s in zip(t.shape, t.shape_signature)))
            if t.nbytes > max_tensor_bytes:
                raise ResourceLimitError(f"{t.describe()}: resized to {t.nbytes} bytes, above the limit of "
                                         f"{max_tensor_bytes} bytes (max_tensor_bytes)")
        tensors.append(t)
    main = replace(model.main, tensors=tuple(tensors))
    return replace(model, subgraphs=(main, *model.subgraphs[1:]))


def load_model(source: str | os.PathLike | bytes | bytearray | memoryview,
               max_tensor_bytes: int = DEFAULT_MAX_TENSOR_BYTES, *, max_ops: int = DEFAULT_MAX_OPS,
               max_tensors: int = DEFAULT_MAX_TENSORS, max_subgraphs: int = DEFAULT_MAX_SUBGRAPHS) -> Model:
    """Read and validate a .tflite model from a path or from its bytes.

    Raises a ModelError subclass naming the problem for anything malformed or inconsistent, and
    ResourceLimitError for a tensor above max_tensor_bytes or a model holding more than max_ops
    operators, max_tensors tensors or max_subgraphs subgraphs in all (counted while the flatbuffer is
    verified, before any of them is read). Unsupported operators do not fail here, so any model can
    be inspected.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        content = bytes(source)
    else:
        with open(source, "rb") as f:
            content = f.read()
    verify_model_bytes(content, {"Operator": TableLimit(max_ops, "operators", "max_ops"),
                                 "Tensor": TableLimit(max_tensors, "tensors", "max_tensors"),
                                 "SubGraph": TableLimit(max_subgraphs, "subgraphs", "max_subgraphs")})
    return _ModelReader(content, max_tensor_bytes).read()


def _zero_point_range(type_code: int) -> tuple[int, int]:
    """Zero points a tensor of this type can hold: its own integer range (INT4: -8..7), else int32's,
    the type TFLM stores every zero point in."""
    if type_code == 17:
        return -8, 7
    dtype = TENSOR_TYPES[type_code][1]
    if dtype is not None and dtype.kind in "iu":
        info = np.iinfo(dtype)
        return max(int(info.min), -(1 << 31)), min(int(info.max), (1 << 31) - 1)
    return -(1 << 31), (1 << 31) - 1


def _raw_builtin_code(oc: Any) -> int:
    """OperatorCode.builtin_code as stored. The tflite package's BuiltinCode() returns the deprecated
    field whenever the stored code is below 127, which hides CUSTOM (32) written only in builtin_code
    (as tflite-micro's compression tool writes its DECODE op); TFLM takes the larger of the two."""
    o = oc._tab.Offset(10)
    return oc._tab.Get(flatbuffers.number_types.Int32Flags, o + oc._tab.Pos) if o else 0


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


@functools.cache
def _option_fields(cls: type) -> tuple[tuple[str, str, str], ...]:
    """(accessor, snake_case key, kind) for every field of a generated options class."""
    fields = []
    for attr, fn in vars(cls).items():
        # "Init" is the table's own initialiser; CallOnceOptions' InitSubgraphIndex is a field.
        if attr == "Init" or attr.startswith("GetRootAs") or attr.endswith(
                ("BufferHasIdentifier", "Length", "IsNone", "AsNumpy")) or not callable(fn):
            continue
        params = list(inspect.signature(fn).parameters)
        if params == ["self"]:
            fields.append((attr, _snake(attr), "scalar"))
        elif params == ["self", "j"] and hasattr(cls, attr + "AsNumpy"):
            fields.append((attr, _snake(attr), "vector"))
    return tuple(fields)


def _decode_options(table: Any, type_code: int, names: dict[int, str]) -> dict[str, Any]:
    name = names.get(type_code)
    if table is None or not name or name == "NONE" or not hasattr(tflite, name):
        return {}
    cls = getattr(tflite, name)
    obj = cls()
    obj.Init(table.Bytes, table.Pos)
    out: dict[str, Any] = {}
    for accessor, key, kind in _option_fields(cls):
        if kind == "scalar":
            value = getattr(obj, accessor)()
            if isinstance(value, (int, float, bool, bytes)):
                out[key] = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        else:
            arr = getattr(obj, accessor + "AsNumpy")()
            out[key] = tuple(arr.tolist()) if isinstance(arr, np.ndarray) else ()
    return out


_U8, _I8, _U16, _I32, _U32 = (struct.Struct(f).unpack_from for f in ("<B", "<b", "<H", "<i", "<I"))


class _Table:
    """Direct field reads of one table of a verified model (the generated accessors cost a Python call
    per vtable lookup; a graph of many ops is read field by field). Slots are the schema's, taken
    from the verifier (flatbuffer_verify.schema_slots); verify_model_bytes checked every offset."""
    __slots__ = ("buf", "pos", "vtable", "vtable_size")

    def __init__(self, buf: bytes, pos: int):
        self.buf, self.pos = buf, pos
        self.vtable = pos - _I32(buf, pos)[0]
        self.vtable_size = _U16(buf, self.vtable)[0]

    def at(self, slot: int) -> int:
        """The field's byte position, 0 when absent."""
        if slot >= self.vtable_size:
            return 0
        offset = _U16(self.buf, self.vtable + slot)[0]
        return self.pos + offset if offset else 0

    def scalar(self, slot: int, read: Callable[[bytes, int], tuple], default: int = 0) -> int:
        at = self.at(slot)
        return read(self.buf, at)[0] if at else default

    def target(self, slot: int) -> int:
        """Position of what an offset field (table, vector, string, union value) points to; 0 if absent."""
        at = self.at(slot)
        return at + _U32(self.buf, at)[0] if at else 0

    def ints(self, slot: int) -> tuple[int, ...] | None:
        """An int32 vector as a tuple; None when the field is absent."""
        vec = self.target(slot)
        if not vec:
            return None
        n = _U32(self.buf, vec)[0]
        return struct.unpack_from(f"<{n}i", self.buf, vec + 4)

    def raw_bytes(self, slot: int) -> bytes:
        """A ubyte vector's (or a string's) bytes; empty when the field is absent."""
        vec = self.target(slot)
        if not vec:
            return b""
        n = _U32(self.buf, vec)[0]
        return self.buf[vec + 4:vec + 4 + n]

    def string(self, slot: int) -> str:
        return self.raw_bytes(slot).decode("utf-8", "replace")

    def tables(self, slot: int) -> list[int]:
        """Positions of the tables a vector of tables points to."""
        vec = self.target(slot)
        if not vec:
            return []
        n = _U32(self.buf, vec)[0]
        return [vec + 4 + 4 * k + off for k, off in enumerate(struct.unpack_from(f"<{n}I", self.buf, vec + 4))]


_TENSOR = schema_slots("Tensor")
_OPERATOR = schema_slots("Operator")
_SUBGRAPH = schema_slots("SubGraph")


class _ModelReader:
    """Walks the verified flatbuffer once, checking every cross reference as it builds the Model."""

    def __init__(self, content: bytes, max_tensor_bytes: int):
        self.content = content
        self.max_tensor_bytes = max_tensor_bytes
        self.fb = tflite.Model.GetRootAs(content, 0)

    def fail(self, where: str, msg: str) -> None:
        raise InconsistentModelError(f"{where}: {msg}")

    def read(self) -> Model:
        fb = self.fb
        version = fb.Version()
        if version != 3:
            raise MalformedModelError(f"model schema version: expected 3, found {version}")
        if fb.SubgraphsLength() == 0:
            self.fail("model", "has no subgraphs")
        self.buffers = [self._buffer_bytes(i) for i in range(fb.BuffersLength())]
        self.opcodes = [self._opcode(i) for i in range(fb.OperatorCodesLength())]
        metadata = {}
        for i in range(fb.MetadataLength()):
            m = fb.Metadata(i)
            name = (m.Name() or b"").decode("utf-8", "replace")
            if m.Buffer() >= len(self.buffers):
                self.fail(f"metadata[{i}] '{name}'", f"buffer index {m.Buffer()} out of range "
                          f"(model has {len(self.buffers)} buffers)")
            metadata[name] = bytes(self.buffers[m.Buffer()])  # later entries win, as in TFLM
        self.luts = self._lut_tensors(metadata.get(COMPRESSION_METADATA))
        self.compressed: dict[tuple[int, int], CompressedConstant] = {}
        subgraphs = tuple(self._subgraph(i) for i in range(fb.SubgraphsLength()))
        description = (fb.Description() or b"").decode("utf-8", "replace")
        signatures = tuple(self._signature(i, subgraphs) for i in range(fb.SignatureDefsLength()))
        return Model(self.content, version, description, subgraphs, metadata, signatures, self.compressed)

    def _lut_tensors(self, raw: bytes | None) -> dict[tuple[int, int], LutTensor]:
        """COMPRESSION_METADATA's LUT tensors by (subgraph, tensor), indices checked."""
        found: dict[tuple[int, int], LutTensor] = {}
        for lut in read_lut_metadata(raw) if raw is not None else ():
            where = f"metadata '{COMPRESSION_METADATA}' subgraph {lut.subgraph} LUT tensor {lut.tensor}"
            if lut.subgraph >= self.fb.SubgraphsLength():
                self.fail(where, f"subgraph out of range (model has {self.fb.SubgraphsLength()})")
            if not 0 <= lut.tensor < self.fb.Subgraphs(lut.subgraph).TensorsLength():
                self.fail(where, "tensor index out of range")
            if lut.value_buffer >= len(self.buffers):
                self.fail(where, f"value buffer {lut.value_buffer} out of range (model has {len(self.buffers)})")
            found[(lut.subgraph, lut.tensor)] = lut
        return found

    def _buffer_bytes(self, i: int) -> np.ndarray:
        b = self.fb.Buffers(i)
        if b is None:
            return np.zeros(0, np.uint8)
        offset, size = b.Offset(), b.Size()
        if offset > 1:  # data stored after the flatbuffer (models over 2 GB); bounds already verified
            view = np.frombuffer(self.content, np.uint8, count=size, offset=offset)
        else:
            view = b.DataAsNumpy()
            if not isinstance(view, np.ndarray):
                view = np.zeros(0, np.uint8)
        return view

    def _opcode(self, i: int) -> tuple[int, str | None, int]:
        oc = self.fb.OperatorCodes(i)
        code = max(_raw_builtin_code(oc), oc.DeprecatedBuiltinCode())
        custom = oc.CustomCode()
        is_custom = code == BuiltinOperator.CUSTOM
        return code, (custom or b"").decode("utf-8", "replace") if is_custom else None, oc.Version()

    @staticmethod
    def _custom_options(op: _Table, custom: str | None) -> bytes:
        return op.raw_bytes(_OPERATOR["custom_options"]) if custom is not None else b""

    def _subgraph(self, sg_index: int) -> Subgraph:
        sg = _Table(self.content, self.fb.Subgraphs(sg_index)._tab.Pos)
        where = f"subgraph {sg_index}"
        tensors = tuple(self._tensor(sg_index, pos, i) for i, pos in enumerate(sg.tables(_SUBGRAPH["tensors"])))
        n = len(tensors)

        def indices(vals: tuple[int, ...] | None, what: str, allow_optional: bool = False) -> tuple[int, ...]:
            vals = vals or ()
            if vals and not (min(vals) >= (-1 if allow_optional else 0) and max(vals) < n):
                bad = next(v for v in vals if not (0 <= v < n or (allow_optional and v == -1)))
                self.fail(what, f"tensor index {bad} out of range (subgraph has {n} tensors)")
            return vals

        inputs = indices(sg.ints(_SUBGRAPH["inputs"]), f"{where} inputs")
        outputs = indices(sg.ints(_SUBGRAPH["outputs"]), f"{where} outputs")
        ops = []
        for k, pos in enumerate(sg.tables(_SUBGRAPH["operators"])):
            op = _Table(self.content, pos)
            desc = f"{where} op {k}"
            oi = op.scalar(_OPERATOR["opcode_index"], _U32)
            if oi >= len(self.opcodes):
                self.fail(desc, f"opcode index {oi} out of range (model has {len(self.opcodes)} opcodes)")
            code, custom, version = self.opcodes[oi]
            options = self._options(op, "builtin_options", _OPTIONS_NAMES)
            options.update(self._options(op, "builtin_options2", _OPTIONS2_NAMES))
            operator = Operator(
                index=k, subgraph=sg_index, opcode_index=oi, builtin_code=code, custom_code=custom,
                version=version,
                inputs=indices(op.ints(_OPERATOR["inputs"]), f"{desc} inputs", allow_optional=True),
                outputs=indices(op.ints(_OPERATOR["outputs"]), f"{desc} outputs"),
                intermediates=indices(op.ints(_OPERATOR["intermediates"]), f"{desc} intermediates"),
                options=options, custom_options=self._custom_options(op, custom))
            for callee in operator.called_subgraphs():
                if not 0 <= callee < self.fb.SubgraphsLength():
                    self.fail(operator.describe(), f"calls subgraph {callee}, model has "
                              f"{self.fb.SubgraphsLength()}")
            ops.append(operator)
        return Subgraph(sg_index, sg.string(_SUBGRAPH["name"]), tensors, tuple(ops), inputs, outputs)

    def _options(self, op: _Table, union: str, names: dict[int, str]) -> dict[str, Any]:
        type_code = op.scalar(_OPERATOR[f"{union}_type"], _U8)
        value = op.target(_OPERATOR[union])
        return _decode_options(flatbuffers.table.Table(self.content, value) if value else None, type_code, names)

    def _tensor(self, sg_index: int, pos: int, i: int) -> Tensor:
        t = _Table(self.content, pos)
        name = t.string(_TENSOR["name"])
        where = f"subgraph {sg_index} tensor {i} '{name}'"
        type_code = t.scalar(_TENSOR["type"], _I8)
        if type_code not in TENSOR_TYPES:
            self.fail(where, f"unknown tensor type {type_code}")
        shape = t.ints(_TENSOR["shape"]) or ()
        signature = t.ints(_TENSOR["shape_signature"])
        for what, dims in (("shape", shape), ("shape_signature", signature or ())):
            if len(dims) > MAX_RANK:
                self.fail(where, f"{what} has rank {len(dims)}, expected at most {MAX_RANK}")
        if any(d < 0 for d in shape):
            self.fail(where, f"negative dimension in shape {list(shape)}")
        sig = signature if signature else shape
        buf_index = t.scalar(_TENSOR["buffer"], _U32)
        if buf_index >= len(self.buffers):
            self.fail(where, f"buffer index {buf_index} out of range (model has {len(self.buffers)} buffers)")
        quantization_pos = t.target(_TENSOR["quantization"])
        quantization = None
        if quantization_pos:
            q = tflite.QuantizationParameters()
            q.Init(self.content, quantization_pos)
            quantization = self._quantization(where, q, type_code)
        tensor = Tensor(i, sg_index, name, type_code, shape, sig, buf_index, None, quantization,
                        bool(t.scalar(_TENSOR["is_variable"], _U8)))
        # An empty tensor's other dims still size numpy's view of it: bound them as if the 0s were 1s.
        span = math.prod(max(d, 1) for d in shape) * TENSOR_TYPES[type_code][2]
        if max(tensor.nbytes, span) > self.max_tensor_bytes:
            raise ResourceLimitError(f"{where}: shape {list(shape)} declares {max(tensor.nbytes, span)} bytes, "
                                     f"above the limit of {self.max_tensor_bytes} bytes (max_tensor_bytes)")
        raw = self.buffers[buf_index]
        if raw.size == 0:
            return tensor
        dtype = tensor.dtype
        if dtype is None:
            self.fail(where, f"constant data of type {tensor.type_name} is not supported")
        lut = self.luts.get((sg_index, i))
        if lut is not None:
            return self._lut_constant(tensor, lut, raw, where)
        expected = tensor.num_elements * dtype.itemsize
        if tensor.type_code == 17:  # int4 constants are packed two per byte
            expected = (tensor.num_elements + 1) // 2
        if raw.size != expected:
            self.fail(where, f"constant buffer {buf_index} holds {raw.size} bytes, shape "
                      f"{list(shape)} x {tensor.type_name} needs {expected}")
        data = raw if tensor.type_code == 17 else raw.view(dtype).reshape(shape)
        data.flags.writeable = False
        return Tensor(i, sg_index, name, type_code, shape, sig, buf_index, data,
                      tensor.quantization, tensor.is_variable)

    def _lut_constant(self, tensor: Tensor, lut: LutTensor, raw: np.ndarray, where: str) -> Tensor:
        """A LUT-compressed constant, decoded: channels and value table stride as TFLM's decoder reads them."""
        if tensor.type_name not in DECODED_TYPES:
            self.fail(where, f"LUT-compressed constant of type {tensor.type_name}, TFLM decodes "
                      f"{', '.join(DECODED_TYPES)}")
        q = tensor.quantization
        channels = lut_channels(tensor.shape, 0 if q is None else q.scales.size,
                                0 if q is None else q.quantized_dimension, where)
        values = self.buffers[lut.value_buffer]
        itemsize = tensor.dtype.itemsize
        if values.size % (itemsize * channels[0]):
            self.fail(where, f"value buffer {lut.value_buffer} holds {values.size} bytes, not {channels[0]} "
                      f"equal tables of {tensor.type_name} values")
        stride = values.size // itemsize // channels[0]
        data = lut_decode(raw, values, tensor.num_elements, itemsize, lut.bit_width, stride, channels, where)
        data = data.view(tensor.dtype).reshape(tensor.shape)
        data.flags.writeable = False
        self.compressed[(tensor.subgraph, tensor.index)] = CompressedConstant(lut, int(raw.size), int(values.size))
        return Tensor(tensor.index, tensor.subgraph, tensor.name, tensor.type_code, tensor.shape,
                      tensor.shape_signature, tensor.buffer, data, tensor.quantization, tensor.is_variable)

    def _quantization(self, where: str, q: Any, type_code: int) -> Quantization | None:
        if q.ScaleLength() == 0:
            return None
        scales = np.asarray(q.ScaleAsNumpy(), dtype=np.float32)
        zps = (np.asarray(q.ZeroPointAsNumpy(), dtype=np.int64) if q.ZeroPointLength()
               else np.zeros(scales.size, np.int64))
        if zps.size != scales.size:
            self.fail(where, f"quantization has {scales.size} scales but {zps.size} zero points")
        lo, hi = _zero_point_range(type_code)
        bad = (zps < lo) | (zps > hi)
        if bad.any():
            k = int(np.argmax(bad))
            self.fail(where, f"quantization zero point {k} is {int(zps[k])}, expected {lo}..{hi} for "
                      f"{TENSOR_TYPES[type_code][0]}")
        # quantized_dimension is checked by the ops that use it: TFLM ignores it on bias tensors,
        # and person_detect's rank-1 biases carry quantized_dimension 3.
        qd = q.QuantizedDimension()
        if not np.all(np.isfinite(scales)):
            self.fail(where, "quantization scale is not finite")
        scales.flags.writeable = False
        zps.flags.writeable = False
        return Quantization(scales, zps, qd)

    def _signature(self, i: int, subgraphs: tuple[Subgraph, ...]) -> Signature:
        s = self.fb.SignatureDefs(i)
        key = (s.SignatureKey() or b"").decode("utf-8", "replace")
        sg = s.SubgraphIndex()
        where = f"signature {i} '{key}'"
        if sg >= len(subgraphs):
            self.fail(where, f"subgraph index {sg} out of range (model has {len(subgraphs)})")

        def names(get: Any, count: int) -> dict[str, int]:
            out = {}
            for j in range(count):
                tm = get(j)
                idx = tm.TensorIndex()
                if idx >= len(subgraphs[sg].tensors):
                    self.fail(where, f"tensor index {idx} out of range")
                out[(tm.Name() or b"").decode("utf-8", "replace")] = idx
            return out

        return Signature(key, sg, names(s.Inputs, s.InputsLength()), names(s.Outputs, s.OutputsLength()))
