"""Build small .tflite models in tests with the flatbuffers builder (no TensorFlow needed).

    build_model([TensorSpec("x", "INT8", (1, 4), scale=0.5, zero_point=1), ...],
                [OpSpec("RESHAPE", inputs=[0], outputs=[1])], inputs=[0], outputs=[1])
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import flatbuffers
import numpy as np
from tflite.BuiltinOperator import BuiltinOperator
from tflite.BuiltinOptions import BuiltinOptions
from tflite.TensorType import TensorType


def _schema(name: str):
    return importlib.import_module(f"tflite.{name}")


def _camel(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


@dataclass
class TensorSpec:
    """A tensor: type name (e.g. "INT8"), shape, optional constant data and quantization."""
    name: str
    type: str
    shape: tuple[int, ...]
    data: np.ndarray | None = None
    scale: Any = None  # float or sequence (per channel)
    zero_point: Any = None
    quantized_dimension: int = 0
    is_variable: bool = False


@dataclass
class OpSpec:
    """An operator: builtin name, tensor indices, options table name and fields (snake_case)."""
    op: str
    inputs: list[int]
    outputs: list[int]
    options_type: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    version: int = 1


def _int_vector(b: flatbuffers.Builder, values, elem_size: int = 4, prepend=None) -> int:
    values = list(values)
    b.StartVector(elem_size, len(values), elem_size)
    for v in reversed(values):
        (prepend or b.PrependInt32)(v)
    return b.EndVector()


def _options(b: flatbuffers.Builder, name: str, fields: dict[str, Any]) -> int:
    mod = _schema(name)
    vectors = {k: _int_vector(b, v) for k, v in fields.items() if isinstance(v, (list, tuple))}
    getattr(mod, f"{name}Start")(b)
    for key, value in fields.items():
        adder = getattr(mod, f"{name}Add{_camel(key)}")
        adder(b, vectors.get(key, value))
    return getattr(mod, f"{name}End")(b)


def build_model(tensors: list[TensorSpec], ops: list[OpSpec], inputs: list[int], outputs: list[int],
                metadata: dict[str, bytes] | None = None) -> bytes:
    """Serialise a one-subgraph model (schema version 3, identifier TFL3)."""
    b = flatbuffers.Builder(1024)
    Buffer, Tensor, Quant = _schema("Buffer"), _schema("Tensor"), _schema("QuantizationParameters")
    # Buffer 0 is the empty sentinel, as the converter writes it.
    buffer_data: list[bytes | None] = [None]
    tensor_buffers = []
    for t in tensors:
        if t.data is None:
            tensor_buffers.append(0)
        else:
            buffer_data.append(np.ascontiguousarray(t.data).tobytes())
            tensor_buffers.append(len(buffer_data) - 1)
    meta_buffers = {}
    for key, raw in (metadata or {}).items():
        buffer_data.append(raw)
        meta_buffers[key] = len(buffer_data) - 1

    buffer_offsets = []
    for raw in buffer_data:
        data_vec = None
        if raw is not None:
            b.StartVector(1, len(raw), 16)
            b.head = b.head - len(raw)
            b.Bytes[b.head:b.head + len(raw)] = raw
            data_vec = b.EndVector()
        Buffer.BufferStart(b)
        if data_vec is not None:
            Buffer.BufferAddData(b, data_vec)
        buffer_offsets.append(Buffer.BufferEnd(b))

    tensor_offsets = []
    for t, buf in zip(tensors, tensor_buffers):
        name = b.CreateString(t.name)
        shape = _int_vector(b, t.shape)
        quant = None
        if t.scale is not None:
            scales = np.atleast_1d(np.asarray(t.scale, np.float32))
            zps = np.atleast_1d(np.asarray(t.zero_point if t.zero_point is not None else 0, np.int64))
            scale_vec = _int_vector(b, scales.tolist(), prepend=b.PrependFloat32)
            zp_vec = _int_vector(b, zps.tolist(), 8, prepend=b.PrependInt64)
            Quant.QuantizationParametersStart(b)
            Quant.QuantizationParametersAddScale(b, scale_vec)
            Quant.QuantizationParametersAddZeroPoint(b, zp_vec)
            Quant.QuantizationParametersAddQuantizedDimension(b, t.quantized_dimension)
            quant = Quant.QuantizationParametersEnd(b)
        Tensor.TensorStart(b)
        Tensor.TensorAddShape(b, shape)
        Tensor.TensorAddType(b, getattr(TensorType, t.type))
        Tensor.TensorAddBuffer(b, buf)
        Tensor.TensorAddName(b, name)
        if quant is not None:
            Tensor.TensorAddQuantization(b, quant)
        Tensor.TensorAddIsVariable(b, t.is_variable)
        tensor_offsets.append(Tensor.TensorEnd(b))

    opcode_keys = sorted({(o.op, o.version) for o in ops})
    Operator, OperatorCode = _schema("Operator"), _schema("OperatorCode")
    operator_offsets = []
    for o in ops:
        options = _options(b, o.options_type, o.options) if o.options_type else None
        ins, outs = _int_vector(b, o.inputs), _int_vector(b, o.outputs)
        Operator.OperatorStart(b)
        Operator.OperatorAddOpcodeIndex(b, opcode_keys.index((o.op, o.version)))
        Operator.OperatorAddInputs(b, ins)
        Operator.OperatorAddOutputs(b, outs)
        if options is not None:
            Operator.OperatorAddBuiltinOptionsType(b, getattr(BuiltinOptions, o.options_type))
            Operator.OperatorAddBuiltinOptions(b, options)
        operator_offsets.append(Operator.OperatorEnd(b))
    opcode_offsets = []
    for op_name, version in opcode_keys:
        code = getattr(BuiltinOperator, op_name)
        OperatorCode.OperatorCodeStart(b)
        OperatorCode.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
        OperatorCode.OperatorCodeAddBuiltinCode(b, code)
        OperatorCode.OperatorCodeAddVersion(b, version)
        opcode_offsets.append(OperatorCode.OperatorCodeEnd(b))

    SubGraph, Model, Metadata = _schema("SubGraph"), _schema("Model"), _schema("Metadata")

    def offsets_vector(items: list[int]) -> int:
        b.StartVector(4, len(items), 4)
        for x in reversed(items):
            b.PrependUOffsetTRelative(x)
        return b.EndVector()

    t_vec, o_vec = offsets_vector(tensor_offsets), offsets_vector(operator_offsets)
    in_vec, out_vec = _int_vector(b, inputs), _int_vector(b, outputs)
    sg_name = b.CreateString("main")
    SubGraph.SubGraphStart(b)
    SubGraph.SubGraphAddTensors(b, t_vec)
    SubGraph.SubGraphAddInputs(b, in_vec)
    SubGraph.SubGraphAddOutputs(b, out_vec)
    SubGraph.SubGraphAddOperators(b, o_vec)
    SubGraph.SubGraphAddName(b, sg_name)
    subgraph = SubGraph.SubGraphEnd(b)

    meta_offsets = []
    for key, buf in meta_buffers.items():
        name = b.CreateString(key)
        Metadata.MetadataStart(b)
        Metadata.MetadataAddName(b, name)
        Metadata.MetadataAddBuffer(b, buf)
        meta_offsets.append(Metadata.MetadataEnd(b))

    codes_vec, sg_vec = offsets_vector(opcode_offsets), offsets_vector([subgraph])
    buf_vec = offsets_vector(buffer_offsets)
    meta_vec = offsets_vector(meta_offsets) if meta_offsets else None
    desc = b.CreateString("built by tests/model_builder.py")
    Model.ModelStart(b)
    Model.ModelAddVersion(b, 3)
    Model.ModelAddOperatorCodes(b, codes_vec)
    Model.ModelAddSubgraphs(b, sg_vec)
    Model.ModelAddDescription(b, desc)
    Model.ModelAddBuffers(b, buf_vec)
    if meta_vec is not None:
        Model.ModelAddMetadata(b, meta_vec)
    b.Finish(Model.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())
