"""Bounds-checking verifier for untrusted TensorFlow Lite flatbuffers.

The Python flatbuffers runtime has no verifier: the generated ``tflite`` accessors read wherever the
offsets in the file point.  ``verify_model_bytes`` walks everything the TFLite schema can reach from
the root ``Model`` table and raises ``MalformedModelError`` unless every table, vtable, vector, string
and union is inside the buffer, so that the accessors can afterwards be used on the same bytes without
reading out of range or looping over absurd lengths.

The schema is not listed by hand: it is derived from the source of the ``tflite`` package's generated
modules (each accessor shows its vtable slot and how it reads the field).  The generated Python never
names the enum behind a union, so the five union fields are mapped to their enums explicitly, as are
the two "data stored after the flatbuffer" offset/size pairs (models larger than 2 GB).

Choices where the flatbuffers format leaves room, following the C++ flatbuffers verifier that TFLite
runs (``VerifyModelBuffer``) unless noted:

* A union whose type value is NONE or unknown to this schema version is not walked (the C++ verifier
  accepts it, for forward compatibility); its offset must still land inside the buffer.  Later code
  that does not know the options type cannot read them, and reports the operator as unsupported.
* An offset of 0 (pointing at itself) is rejected, and strings must end with a 0 byte.
* Alignment is not checked: the Python runtime reads unaligned values fine, and TFLite Micro itself
  does not verify models.
* A field's offset inside its table must not overlap the table's 4-byte vtable offset, and must fit
  in the table's inline size (stricter than C++, which only checks that the field is in the buffer).
* Trailing bytes that nothing references are not inspected, so a file cut after its last
  referenced byte still verifies.
* Objects may be shared (many offsets to one table or vector), so in-bounds checks alone do not
  bound the work of walking a model: 1000 references to one subgraph holding 1000 references to one
  operator fit in a few kilobytes yet expand to a million operators.  The verifier therefore counts
  the bytes of every object each time it is reached (vtables excepted, builders share those) and
  rejects a model whose expansion exceeds ``_EXPANSION_FACTOR`` times the file size.  An unshared
  model expands to at most its own size.  This also bounds the verifier's own work, which is linear
  in the file size; recursion depth is bounded by the (non-recursive) schema and capped at
  ``_MAX_DEPTH`` like the C++ verifier.
"""
from __future__ import annotations

import functools
import importlib.util
import re
import struct
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from microinterp.errors import MalformedModelError, ResourceLimitError

_FILE_IDENTIFIER = b"TFL3"
_ROOT_TABLE = "Model"
_MAX_DEPTH = 64
_EXPANSION_FACTOR = 4
# Lets tiny hand-built models share a few objects without tripping the expansion limit.
_EXPANSION_SLACK = 4096

_SCALAR_SIZES = {"Bool": 1, "Int8": 1, "Uint8": 1, "Int16": 2, "Uint16": 2, "Int32": 4, "Uint32": 4,
                 "Float32": 4, "Int64": 8, "Uint64": 8, "Float64": 8}

# (table, union accessor) -> union enum module; the generated Python code never names the enum.
_UNION_ENUMS = {
    ("Operator", "BuiltinOptions"): "BuiltinOptions",
    ("Operator", "BuiltinOptions2"): "BuiltinOptions2",
    ("QuantizationParameters", "Details"): "QuantizationDetails",
    ("DimensionMetadata", "ArraySegments"): "SparseIndexVector",
    ("DimensionMetadata", "ArrayIndices"): "SparseIndexVector",
}

# table -> (offset accessor, size accessor) locating data stored after the flatbuffer; TFLite treats
# an offset of 0 or 1 as "no such data".
_EXTERNAL_DATA = {
    "Buffer": ("Offset", "Size"),
    "Operator": ("LargeCustomOptionsOffset", "LargeCustomOptionsSize"),
}

_SCALAR, _STRING, _TABLE, _SCALAR_VECTOR, _TABLE_VECTOR, _UNION = range(6)

_U16 = struct.Struct("<H").unpack_from
_U32 = struct.Struct("<I").unpack_from
_I32 = struct.Struct("<i").unpack_from
_U64 = struct.Struct("<Q").unpack_from


class _Field(NamedTuple):
    slot: int                 # byte offset of the field's entry in the vtable
    kind: int                 # one of _SCALAR .. _UNION
    label: str                # schema-style snake_case name, for messages
    size: int                 # bytes the field occupies inside the table
    elem_size: int = 0        # _SCALAR_VECTOR: bytes per element
    elem_name: str = ""       # _SCALAR_VECTOR: element type, for messages
    target: str = ""          # _TABLE / _TABLE_VECTOR: table name
    type_slot: int = 0        # _UNION: vtable slot of the union's type field
    union_tables: Mapping[int, str] = MappingProxyType({})  # _UNION: type value -> table name


class _TableSpec(NamedTuple):
    fields: tuple[_Field, ...]              # sorted by slot
    external: tuple[int, int] | None        # vtable slots of (offset, size) of external data


# Generated accessors are methods indented by 4 spaces whose bodies are indented by 8.
_METHOD = re.compile(r"^    def (\w+)\(self(, j)?\):\n((?:(?:        .*)?\n)*)", re.M)
_SLOT = re.compile(r"self\._tab\.Offset\((\d+)\)")
_SCALAR_GET = re.compile(r"self\._tab\.Get\(flatbuffers\.number_types\.(\w+)Flags, o \+ self\._tab\.Pos\)")
_ELEMENT_GET = re.compile(r"self\._tab\.Get\(flatbuffers\.number_types\.(\w+)Flags, a \+ "
                          r"flatbuffers\.number_types\.UOffsetTFlags\.py_type\(j \* (\d+)\)\)")
_IMPORT = re.compile(r"from tflite\.(\w+) import")
_ENUM_MEMBER = re.compile(r"^    (\w+) = (\d+)$", re.M)
_CAMEL_BOUNDARY = re.compile(r"(?<!^)(?=[A-Z])")


def _parse_table(table: str, source: str) -> dict[str, _Field]:
    """Map each data accessor of one generated table class to its field (unions without their enum yet)."""
    accessors: dict[str, _Field] = {}
    for name, takes_index, body in _METHOD.findall(source):
        slot_match = _SLOT.search(body)
        # Init has no slot; Length/AsNumpy/IsNone read the same slot as the main accessor.
        if slot_match is None or "VectorLen(" in body or "GetVectorAsNumpy(" in body or "return o == 0" in body:
            continue
        slot = int(slot_match.group(1))
        label = _CAMEL_BOUNDARY.sub("_", name).lower()
        scalar = _SCALAR_GET.search(body)
        element = _ELEMENT_GET.search(body)
        imported = _IMPORT.search(body)
        if "self._tab.Union(" in body:
            field = _Field(slot, _UNION, label, 4)
        elif "self._tab.String(" in body:
            field = _Field(slot, _STRING, label, 4)
        elif takes_index and "self._tab.Indirect(x)" in body and imported:
            field = _Field(slot, _TABLE_VECTOR, label, 4, target=imported.group(1))
        elif takes_index and element and _SCALAR_SIZES.get(element.group(1)) == int(element.group(2)):
            field = _Field(slot, _SCALAR_VECTOR, label, 4, elem_size=int(element.group(2)),
                           elem_name=element.group(1).lower())
        elif not takes_index and "self._tab.Indirect(o + self._tab.Pos)" in body and imported:
            field = _Field(slot, _TABLE, label, 4, target=imported.group(1))
        elif not takes_index and scalar and scalar.group(1) in _SCALAR_SIZES:
            field = _Field(slot, _SCALAR, label, _SCALAR_SIZES[scalar.group(1)])
        else:
            raise RuntimeError(f"tflite.{table}.{name}: accessor pattern not recognised; "
                               f"microinterp.flatbuffer_verify needs updating for this tflite version")
        accessors[name] = field
    return accessors


@functools.cache
def _schema() -> dict[str, _TableSpec]:
    """Derive {table name: spec} from the generated ``tflite`` modules (parsed once, then cached)."""
    spec = importlib.util.find_spec("tflite")
    if spec is None or spec.origin is None:
        raise RuntimeError("the tflite package (generated TFLite schema accessors) is not installed")
    package = Path(spec.origin).parent
    sources = {path.stem: path.read_text() for path in package.glob("*.py")}
    parsed = {name: _parse_table(name, source) for name, source in sources.items() if "self._tab" in source}

    schema: dict[str, _TableSpec] = {}
    for table, accessors in parsed.items():
        fields = []
        for name, field in accessors.items():
            if field.kind == _UNION:
                enum = _UNION_ENUMS.get((table, name))
                type_field = accessors.get(f"{name}Type")
                if enum is None or type_field is None or type_field.kind != _SCALAR or type_field.size != 1:
                    raise RuntimeError(f"tflite.{table}.{name}: union without a known enum and 1-byte "
                                       f"{name}Type field; add it to _UNION_ENUMS")
                members = _ENUM_MEMBER.findall(sources[enum])
                union_tables = {int(value): member for member, value in members if member != "NONE"}
                field = field._replace(type_slot=type_field.slot, union_tables=union_tables)
            fields.append(field)
        slots = [f.slot for f in fields]
        if len(set(slots)) != len(slots):
            raise RuntimeError(f"tflite.{table}: two accessors read the same vtable slot")
        external = None
        if table in _EXTERNAL_DATA:
            pair = [accessors[name] for name in _EXTERNAL_DATA[table]]
            if any(f.kind != _SCALAR or f.size != 8 for f in pair):
                raise RuntimeError(f"tflite.{table}: expected 8-byte external data offset/size fields")
            external = (pair[0].slot, pair[1].slot)
        schema[table] = _TableSpec(tuple(sorted(fields, key=lambda f: f.slot)), external)

    for table, table_spec in schema.items():
        for field in table_spec.fields:
            for target in (field.target, *field.union_tables.values()):
                if target and target not in schema:
                    raise RuntimeError(f"tflite.{table}.{field.label} refers to unknown table {target}")
    return schema


class _Verifier:
    """One verification pass over a byte view; raises MalformedModelError at the first problem."""

    __slots__ = ("buf", "size", "schema", "budget", "limit", "counts")

    def __init__(self, buf: memoryview, schema: dict[str, _TableSpec], counts: Mapping[str, TableLimit]):
        self.buf = buf
        self.size = len(buf)
        self.schema = schema
        self.counts = {name: [limit, 0] for name, limit in counts.items()}
        self.limit = _EXPANSION_FACTOR * self.size + _EXPANSION_SLACK
        self.budget = self.limit

    def fail(self, where: str, message: str) -> MalformedModelError:
        return MalformedModelError(f"{where or 'model'}: {message}")

    def charge(self, nbytes: int, where: str) -> None:
        self.budget -= nbytes
        if self.budget < 0:
            raise self.fail(where, f"the model expands to more than {self.limit} bytes when its shared "
                                   f"references are followed (limit {_EXPANSION_FACTOR} x the "
                                   f"{self.size}-byte file + {_EXPANSION_SLACK}); refusing a model this "
                                   f"expensive to walk")

    def count(self, table: str, length: int, where: str) -> None:
        """Add a vector's tables to the model's total of that table, refused above its limit."""
        tally = self.counts[table]
        tally[1] += length
        if tally[1] > tally[0].limit:
            raise ResourceLimitError(f"{where}: the model holds more than {tally[0].limit} {tally[0].what} "
                                     f"({tally[1]} so far), above the limit ({tally[0].option})")

    def follow(self, at: int, where: str) -> int:
        """Return the position an in-bounds uoffset at `at` points to."""
        offset = _U32(self.buf, at)[0]
        if offset == 0:
            raise self.fail(where, f"offset at byte {at} is 0 (points to itself), expected > 0")
        return at + offset

    def vector(self, pos: int, elem_size: int, elem_name: str, where: str) -> int:
        """Check the vector at `pos` and return its length."""
        if pos + 4 > self.size:
            raise self.fail(where, f"vector at byte {pos} runs past the end of the {self.size}-byte file "
                                   f"(its 4-byte length needs bytes {pos}..{pos + 4})")
        length = _U32(self.buf, pos)[0]
        nbytes = 4 + length * elem_size
        if pos + nbytes > self.size:
            raise self.fail(where, f"vector of {length} x {elem_name} at byte {pos} runs past the end of "
                                   f"the {self.size}-byte file (needs bytes {pos}..{pos + nbytes})")
        self.charge(nbytes, where)
        return length

    def string(self, pos: int, where: str) -> None:
        if pos + 4 > self.size:
            raise self.fail(where, f"string at byte {pos} runs past the end of the {self.size}-byte file "
                                   f"(its 4-byte length needs bytes {pos}..{pos + 4})")
        length = _U32(self.buf, pos)[0]
        end = pos + 4 + length
        if end + 1 > self.size:
            raise self.fail(where, f"string of {length} bytes at byte {pos} runs past the end of the "
                                   f"{self.size}-byte file (needs bytes {pos}..{end + 1} including the "
                                   f"terminating 0)")
        if self.buf[end] != 0:
            raise self.fail(where, f"string of {length} bytes at byte {pos} is not 0-terminated "
                                   f"(expected 0 at byte {end}, found {self.buf[end]})")
        self.charge(length + 5, where)

    def table(self, pos: int, name: str, path: str, depth: int) -> None:
        buf, size = self.buf, self.size
        if depth > _MAX_DEPTH:
            raise self.fail(path, f"{name} table at byte {pos} is nested deeper than {_MAX_DEPTH} tables")
        if pos + 4 > size:
            raise self.fail(path, f"{name} table at byte {pos} runs past the end of the {size}-byte file "
                                  f"(its 4-byte vtable offset needs bytes {pos}..{pos + 4})")
        soffset = _I32(buf, pos)[0]
        vtable = pos - soffset
        if vtable < 0 or vtable + 4 > size:
            raise self.fail(path, f"{name} table at byte {pos} has its vtable at byte {vtable} (vtable offset "
                                  f"{soffset}), expected 4 readable bytes inside the {size}-byte file")
        vtable_size, inline_size = _U16(buf, vtable)[0], _U16(buf, vtable + 2)[0]
        if vtable_size < 4 or vtable_size & 1:
            raise self.fail(path, f"{name} table at byte {pos} has a vtable length of {vtable_size} at byte "
                                  f"{vtable}, expected an even number >= 4")
        if vtable + vtable_size > size:
            raise self.fail(path, f"{name} table at byte {pos} has a vtable of {vtable_size} bytes at byte "
                                  f"{vtable} that runs past the end of the {size}-byte file")
        if inline_size < 4:
            raise self.fail(path, f"{name} table at byte {pos} has an inline size of {inline_size}, expected "
                                  f">= 4 (the vtable offset alone takes 4)")
        if pos + inline_size > size:
            raise self.fail(path, f"{name} table at byte {pos} has an inline size of {inline_size} bytes that "
                                  f"runs past the end of the {size}-byte file")
        self.charge(inline_size, path)

        spec = self.schema[name]
        # Check every present field against the table before following any, so that a union's
        # type field is known to be in bounds when its value is followed.
        references = []
        for field in spec.fields:
            if field.slot >= vtable_size:
                break
            field_offset = _U16(buf, vtable + field.slot)[0]
            if field_offset == 0:
                continue
            if field_offset < 4:
                raise self.fail(_join(path, field.label),
                                f"field offset {field_offset} in the {name} table at byte {pos} overlaps "
                                f"its 4-byte vtable offset, expected >= 4")
            if field_offset + field.size > inline_size:
                raise self.fail(_join(path, field.label),
                                f"{field.size}-byte field at offset {field_offset} does not fit in the "
                                f"{name} table at byte {pos}, whose inline size is {inline_size}")
            if field.kind != _SCALAR:
                references.append((field, pos + field_offset))

        for field, at in references:
            where = _join(path, field.label)
            kind = field.kind
            if kind == _SCALAR_VECTOR:
                self.vector(self.follow(at, where), field.elem_size, field.elem_name, where)
            elif kind == _TABLE_VECTOR:
                start = self.follow(at, where)
                length = self.vector(start, 4, f"offset to {field.target}", where)
                if field.target in self.counts:
                    self.count(field.target, length, where)
                for i in range(length):
                    element_path = f"{where}[{i}]"
                    self.table(self.follow(start + 4 + 4 * i, element_path), field.target, element_path, depth + 1)
            elif kind == _TABLE:
                self.table(self.follow(at, where), field.target, where, depth + 1)
            elif kind == _STRING:
                self.string(self.follow(at, where), where)
            else:
                self.union(field, at, pos, vtable, vtable_size, where, depth)

        if spec.external is not None:
            self.external(spec.external, pos, vtable, vtable_size, path)

    def union(self, field: _Field, at: int, pos: int, vtable: int, vtable_size: int, where: str,
              depth: int) -> None:
        target = self.follow(at, where)
        type_offset = _U16(self.buf, vtable + field.type_slot)[0] if field.type_slot < vtable_size else 0
        union_type = self.buf[pos + type_offset] if type_offset else 0
        table = field.union_tables.get(union_type)
        if table is None:
            # NONE or a type newer than this schema: TFLite's verifier accepts it without looking.
            if target + 4 > self.size:
                raise self.fail(where, f"union value (type {union_type}) at byte {target} runs past the "
                                       f"end of the {self.size}-byte file")
            return
        self.table(target, table, f"{where}<{table}>", depth + 1)

    def uint64_field(self, slot: int, pos: int, vtable: int, vtable_size: int) -> int:
        """Read an already bounds-checked uint64 field, 0 when absent."""
        field_offset = _U16(self.buf, vtable + slot)[0] if slot < vtable_size else 0
        return _U64(self.buf, pos + field_offset)[0] if field_offset else 0

    def external(self, slots: tuple[int, int], pos: int, vtable: int, vtable_size: int, where: str) -> None:
        offset = self.uint64_field(slots[0], pos, vtable, vtable_size)
        nbytes = self.uint64_field(slots[1], pos, vtable, vtable_size)
        if offset > 1:
            if offset + nbytes > self.size:
                raise self.fail(where, f"data of {nbytes} bytes stored at offset {offset} after the "
                                       f"flatbuffer runs past the end of the {self.size}-byte file "
                                       f"(needs bytes {offset}..{offset + nbytes})")
            self.charge(nbytes, where)


def schema_slots(table: str) -> dict[str, int]:
    """Vtable slot of every field of a schema table, by snake_case label (e.g. "shape", "opcode_index")."""
    return {field.label: field.slot for field in _schema()[table].fields}


def _join(path: str, label: str) -> str:
    return f"{path}.{label}" if path else label


class TableLimit(NamedTuple):
    """At most `limit` tables of one kind in the whole model (`what` and `option` name them in errors)."""
    limit: int
    what: str
    option: str


def verify_model_bytes(buf: bytes | bytearray | memoryview,
                       counts: Mapping[str, TableLimit] = MappingProxyType({})) -> None:
    """Check that every object the TFLite schema can reach in ``buf`` lies inside it.

    ``buf`` is the whole .tflite file (a contiguous buffer).  Returns None when the ``tflite``
    accessors can safely walk the model; otherwise raises ``MalformedModelError`` whose message names
    the place (e.g. ``subgraphs[0].tensors[12].shape``) and the expected vs found values.  Only the
    flatbuffer structure is checked: enum values, tensor indices and shapes are left to later stages.
    counts: limits on the total number of tables of a kind (schema name, e.g. ``"Operator"``), counted
    as the walk meets their vectors, before it walks them; above one, ``ResourceLimitError``.
    """
    view = memoryview(buf).cast("B")
    try:
        size = len(view)
        if size < 8:
            problem = "empty file" if size == 0 else f"file of only {size} bytes"
            raise MalformedModelError(f"{problem}: a TFLite flatbuffer needs at least 8 bytes "
                                      f"(4-byte root offset + 4-byte file identifier)")
        identifier = bytes(view[4:8])
        if identifier != _FILE_IDENTIFIER:
            raise MalformedModelError(f"not a TFLite flatbuffer (file identifier {_FILE_IDENTIFIER!r} "
                                      f"expected at bytes 4..8, found {identifier!r})")
        verifier = _Verifier(view, _schema(), counts)
        verifier.table(verifier.follow(0, "root offset"), _ROOT_TABLE, "", 0)
    finally:
        view.release()
