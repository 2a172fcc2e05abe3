"""Tests of microinterp.flatbuffer_verify: real models pass, damaged or hostile bytes raise MalformedModelError."""
from __future__ import annotations

import functools
import importlib
from pathlib import Path

import flatbuffers
import numpy as np
import pytest
import tflite
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import require_shared_models, shared_models_dir
from microinterp.errors import MalformedModelError
from microinterp.flatbuffer_verify import verify_model_bytes


def _shared_model_params() -> list:
    folder = shared_models_dir()
    paths = sorted(folder.rglob("*.tflite")) if folder.is_dir() else []
    if not paths:
        reason = f"no .tflite models under {folder} (set MICROINTERP_SHARED_MODELS)"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason))]
    return [pytest.param(path, id=str(path.relative_to(folder))) for path in paths]


@functools.cache
def _shared_model(relative: str) -> bytes | None:
    path = shared_models_dir() / relative
    return path.read_bytes() if path.is_file() else None


def _require_shared_model(relative: str) -> bytes:
    return (require_shared_models() / relative).read_bytes()


# Small models, so that random byte changes mostly land in flatbuffer structure rather than weights.
_FUZZ_MODELS = ("tflm_examples/hello_world_int8.tflite", "single_op/strided_slice__strided_slice0.tflite",
                "single_op/quantize__quantize0.tflite", "tflm_examples/simple_add_model.tflite")
_TRUNCATION_MODELS = ("tflm_examples/hello_world_int8.tflite", "mlperf_tiny/kws_ref_model.tflite")

# Union accessor name -> enum class; the generated accessors return a bare Table for unions.
_UNION_ENUMS = {"BuiltinOptions": tflite.BuiltinOptions, "BuiltinOptions2": tflite.BuiltinOptions2,
                "Details": tflite.QuantizationDetails, "ArraySegments": tflite.SparseIndexVector,
                "ArrayIndices": tflite.SparseIndexVector}


def _read_union(owner: object, name: str, table: flatbuffers.table.Table) -> object:
    union_type = getattr(owner, f"{name}Type")()
    members = {value: member for member, value in vars(_UNION_ENUMS[name]).items() if not member.startswith("_")}
    member = members.get(union_type, "NONE")
    if member == "NONE":
        return ("unread union", union_type)
    obj = getattr(tflite, member)()
    obj.Init(table.Bytes, table.Pos)
    return _read_table(obj)


def _read_table(obj: object) -> list:
    """Call every accessor of a generated table object, recursing into sub-tables, vectors and unions."""
    cls = type(obj)
    values: list = []
    for name in sorted(dir(cls)):
        if name == "Init" or name.startswith(("_", "GetRootAs")) or name.endswith("BufferHasIdentifier"):
            continue
        method = getattr(obj, name)
        if method.__code__.co_argcount == 1:
            value = method()
            if isinstance(value, flatbuffers.table.Table):
                value = _read_union(obj, name, value)
            elif hasattr(value, "_tab"):
                value = _read_table(value)
            elif isinstance(value, np.ndarray):
                value = (value.dtype.str, value.tobytes())
            values.append((name, value))
        elif not hasattr(cls, f"{name}AsNumpy"):
            # Scalar vectors were read whole through XxxAsNumpy; what is left are vectors of tables.
            length = getattr(obj, f"{name}Length")()
            values.append((name, [_read_table(method(j)) for j in range(length)]))
    return values


def _walk_model(buf: bytes) -> list:
    """Read all the tflite accessors expose: subgraphs, tensors, quantization, operators, options, buffers."""
    return _read_table(tflite.Model.GetRootAs(buf, 0))


def _module(name: str):
    # `tflite.Operator` is the class (the package star-imports it); the builder functions live in the module.
    return importlib.import_module(f"tflite.{name}")


def _prepended_vector(b: flatbuffers.Builder, start_vector, prepend, items) -> int:
    """A vector built by prepending `items` in the given order (so it holds them last to first)."""
    start_vector(b, len(items))
    for item in items:
        prepend(item)
    return b.EndVector()


def _build_model(*, subgraph_refs: int = 1, operator_refs: int = 1, options_type: int = 11,
                 buffer_offset: int = 0, buffer_size: int = 0) -> bytes:
    """A one-operator model; refs > 1 repeat offsets to one shared SubGraph / Operator table."""
    operator, subgraph, tensor, buffer = (_module(n) for n in ("Operator", "SubGraph", "Tensor", "Buffer"))
    opcode, model, add_options = _module("OperatorCode"), _module("Model"), _module("AddOptions")
    b = flatbuffers.Builder(1024)

    add_options.Start(b)
    add_options.AddFusedActivationFunction(b, 1)
    options = add_options.End(b)
    inputs = _prepended_vector(b, operator.StartInputsVector, b.PrependInt32, (0, 0))
    operator.Start(b)
    operator.AddOpcodeIndex(b, 0)
    operator.AddInputs(b, inputs)
    operator.AddBuiltinOptionsType(b, options_type)
    operator.AddBuiltinOptions(b, options)
    op = operator.End(b)
    operators = _prepended_vector(b, subgraph.StartOperatorsVector, b.PrependUOffsetTRelative, [op] * operator_refs)

    name = b.CreateString("input")
    shape = _prepended_vector(b, tensor.StartShapeVector, b.PrependInt32, (3, 2, 2, 1))
    tensor.Start(b)
    tensor.AddShape(b, shape)
    tensor.AddName(b, name)
    tensor.AddBuffer(b, 1)
    first_tensor = tensor.End(b)
    tensors = _prepended_vector(b, subgraph.StartTensorsVector, b.PrependUOffsetTRelative, [first_tensor])

    subgraph.Start(b)
    subgraph.AddTensors(b, tensors)
    subgraph.AddOperators(b, operators)
    graph = subgraph.End(b)
    subgraphs = _prepended_vector(b, model.StartSubgraphsVector, b.PrependUOffsetTRelative, [graph] * subgraph_refs)

    buffer.Start(b)
    empty_buffer = buffer.End(b)
    buffer.Start(b)
    buffer.AddOffset(b, buffer_offset)
    buffer.AddSize(b, buffer_size)
    external_buffer = buffer.End(b)
    buffers = _prepended_vector(b, model.StartBuffersVector, b.PrependUOffsetTRelative,
                                (external_buffer, empty_buffer))

    opcode.Start(b)
    opcode.AddBuiltinCode(b, 0)
    code = opcode.End(b)
    codes = _prepended_vector(b, model.StartOperatorCodesVector, b.PrependUOffsetTRelative, [code])

    model.Start(b)
    model.AddVersion(b, 3)
    model.AddOperatorCodes(b, codes)
    model.AddSubgraphs(b, subgraphs)
    model.AddBuffers(b, buffers)
    b.Finish(model.End(b), file_identifier=b"TFL3")
    return bytes(b.Output())


@pytest.mark.parametrize("path", _shared_model_params())
def test_every_shared_model_verifies_and_walks(path: Path) -> None:
    data = path.read_bytes()
    verify_model_bytes(data)
    _walk_model(data)


@pytest.mark.parametrize("relative", _TRUNCATION_MODELS)
def test_truncated_model_is_rejected_unless_only_unreferenced_bytes_were_cut(relative: str) -> None:
    data = _require_shared_model(relative)
    full_walk = _walk_model(data)
    cuts = sorted(set(range(64)) | {len(data) * k // 64 for k in range(64)})
    for cut in cuts:
        truncated = data[:cut]
        try:
            verify_model_bytes(truncated)
        except MalformedModelError:
            continue
        assert _walk_model(truncated) == full_walk, f"cut at {cut} of {len(data)} bytes was accepted but lost data"


def _assert_rejected(data, expected: str) -> None:
    """verify_model_bytes raises MalformedModelError on `data`, with a message matching the regex `expected`."""
    with pytest.raises(MalformedModelError, match=expected):
        verify_model_bytes(data)


def _set_int32(data: bytearray, at: int, value: int) -> None:
    """Overwrite the 4 bytes at `at` with `value`, little-endian."""
    data[at:at + 4] = value.to_bytes(4, "little", signed=True)


def _first_vector_length_at(table) -> int:
    """Where the length word of the table's first field, a vector, stands in the file."""
    return table._tab.Vector(table._tab.Offset(4)) - 4


def test_trailing_unreferenced_bytes_are_accepted() -> None:
    verify_model_bytes(_build_model() + b"\xff" * 13)


def test_buffer_data_longer_than_the_file_names_the_buffer_and_sizes() -> None:
    data = bytearray(_require_shared_model("tflm_examples/hello_world_int8.tflite"))
    model = tflite.Model.GetRootAs(data, 0)
    index = max(range(model.BuffersLength()), key=lambda i: model.Buffers(i).DataLength())
    weights = model.Buffers(index)
    start = _first_vector_length_at(weights)
    _set_int32(data, start, len(data))
    expected = (rf"^buffers\[{index}\]\.data: vector of {len(data)} x uint8 at byte {start} runs past the end "
                rf"of the {len(data)}-byte file")
    _assert_rejected(data, expected)


@st.composite
def _damaged_model(draw: st.DrawFn) -> bytes:
    data = bytearray(_shared_model(draw(st.sampled_from(_FUZZ_MODELS))))
    for _ in range(draw(st.integers(1, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


@pytest.mark.skipif(any(_shared_model(m) is None for m in _FUZZ_MODELS),
                    reason=f"fuzz models {_FUZZ_MODELS} not all under {shared_models_dir()}")
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_damaged_model())
def test_damaged_model_either_is_rejected_or_walks_without_error(data: bytes) -> None:
    try:
        verify_model_bytes(data)
    except MalformedModelError:
        return
    _walk_model(data)


def test_empty_file_is_reported_as_empty() -> None:
    _assert_rejected(b"", r"^empty file: a TFLite flatbuffer needs at least 8 bytes")


def test_file_shorter_than_header_is_rejected() -> None:
    _assert_rejected(b"\x08\x00\x00\x00T", r"^file of only 5 bytes")


def test_wrong_file_identifier_is_reported_with_expected_and_found() -> None:
    data = bytearray(_build_model())
    data[4:8] = b"XXXX"
    expected = r"^not a TFLite flatbuffer \(file identifier b'TFL3' expected at bytes 4\.\.8, found b'XXXX'\)"
    _assert_rejected(data, expected)


def test_root_offset_past_end_is_rejected() -> None:
    data = bytearray(_build_model())
    _set_int32(data, 0, len(data) + 100)
    _assert_rejected(data, r"^model: Model table at byte \d+ runs past the end")


def test_built_model_verifies_from_bytes_bytearray_and_memoryview() -> None:
    data = _build_model()
    for form in (data, bytearray(data), memoryview(data)):
        verify_model_bytes(form)


def test_oversized_shape_vector_is_reported_with_its_path() -> None:
    data = bytearray(_build_model())
    first_tensor = tflite.Model.GetRootAs(data, 0).Subgraphs(0).Tensors(0)
    shape_length_at = _first_vector_length_at(first_tensor)
    _set_int32(data, shape_length_at, 1_000_000)
    expected = (rf"^subgraphs\[0\]\.tensors\[0\]\.shape: vector of 1000000 x int32 at byte {shape_length_at} "
                rf"runs past the end of the {len(data)}-byte file")
    _assert_rejected(data, expected)


def test_external_buffer_data_inside_the_file_is_accepted() -> None:
    data = _build_model(buffer_offset=8, buffer_size=16)
    verify_model_bytes(data)


def test_external_buffer_data_past_the_end_names_the_buffer() -> None:
    expected = r"^buffers\[1\]: data of 1000000 bytes stored at offset 64 after the flatbuffer runs past the end"
    _assert_rejected(_build_model(buffer_offset=64, buffer_size=1_000_000), expected)


def test_external_buffer_offset_one_means_no_data() -> None:
    verify_model_bytes(_build_model(buffer_offset=1, buffer_size=1 << 40))


def test_unknown_builtin_options_type_is_skipped_like_tflite() -> None:
    verify_model_bytes(_build_model(options_type=250))


def test_known_builtin_options_type_verifies_the_options_table() -> None:
    data = bytearray(_build_model())
    options = tflite.Model.GetRootAs(data, 0).Subgraphs(0).Operators(0).BuiltinOptions()
    _set_int32(data, options.Pos, 0x7FFF_FFFF)
    expected = (r"^subgraphs\[0\]\.operators\[0\]\.builtin_options<AddOptions>: AddOptions table at byte \d+ "
                r"has its vtable at byte -\d+")
    _assert_rejected(data, expected)


def test_shared_references_that_expand_enormously_are_rejected() -> None:
    data = _build_model(subgraph_refs=1000, operator_refs=1000)
    _assert_rejected(data, r"expands to more than \d+ bytes when its shared references")


def test_modest_sharing_is_accepted() -> None:
    verify_model_bytes(_build_model(subgraph_refs=3, operator_refs=3))
