"""Writing models: a copy of a .tflite file with added metadata and/or subgraph 0's operators reordered,
and the memory plan as TFLM's OfflineMemoryAllocation metadata.

The original bytes are kept whole. A flatbuffer refers to its parts by unsigned offsets that point
forward, relative to where they are stored, so a block of it can move without changing anything
inside. The new file is: a new root Model table and whatever changed (buffer and metadata vectors, a
new subgraph 0 table with its operator vector, the metadata buffer), then the original file, padded to
16 bytes so that the 16-byte alignment of its constant buffers is kept. New tables refer forward into
the original bytes; unchanged tensors, operators, buffers and options are not rewritten at all.
"""
from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence

import flatbuffers
import tflite

from .model import Model, load_model
from .planning import MemoryPlan
from .planning.lifetimes import OFFLINE_METADATA
from .planning.plan import unsafe_shared_bytes
from .planning.schedules import TFLM_REFERENCE

FILE_IDENTIFIER = b"TFL3"
#: Vtable fields of the tables this writer rebuilds: True = offset to a child object, False = 4-byte scalar.
_MODEL_FIELDS = {0: False, 1: True, 2: True, 3: True, 4: True, 5: True, 6: True, 7: True}
_MODEL_SUBGRAPHS, _MODEL_BUFFERS, _MODEL_METADATA = 2, 4, 6
_SUBGRAPH_FIELDS = {0: True, 1: True, 2: True, 3: True, 4: True, 5: False}
_SUBGRAPH_OPERATORS = 3
_METADATA_NAME, _METADATA_BUFFER = 0, 1
_BUFFER_DATA = 0
#: schema.fbs aligns Buffer.data to 16 bytes (force_align), which constant tensors and TFLM rely on.
_ALIGNMENT = 16


class _Table:
    """One stored table: its present fields as absolute positions."""

    def __init__(self, buf: bytes, pos: int, what: str, known: Mapping[int, bool]):
        self.buf, self.pos, self.known = buf, pos, known
        vtable = pos - struct.unpack_from("<i", buf, pos)[0]
        size = struct.unpack_from("<H", buf, vtable)[0]
        self.fields = {}
        for i in range((size - 4) // 2):
            voffset = struct.unpack_from("<H", buf, vtable + 4 + 2 * i)[0]
            if voffset:
                if i not in known:
                    raise ValueError(f"{what}: field {i} is newer than the schema this writer knows; "
                                     f"the model cannot be rewritten")
                self.fields[i] = pos + voffset

    def target(self, field: int) -> int:
        """Absolute position of the object an offset field points to."""
        at = self.fields[field]
        return at + struct.unpack_from("<I", self.buf, at)[0]

    def vector(self, field: int) -> list[int]:
        """Absolute positions of the tables in a vector-of-tables field (empty if absent)."""
        if field not in self.fields:
            return []
        start = self.target(field)
        n = struct.unpack_from("<I", self.buf, start)[0]
        return [start + 4 + 4 * k + struct.unpack_from("<I", self.buf, start + 4 + 4 * k)[0] for k in range(n)]

    def scalar(self, field: int) -> bytes:
        return self.buf[self.fields[field]:self.fields[field] + 4]


class _Writer:
    def __init__(self, content: bytes):
        self.old = bytes(content) + bytes(-len(content) % _ALIGNMENT)
        self.b = flatbuffers.Builder(len(self.old) + 4096)
        self.b.CreateByteVector(self.old)  # ends the new file, its first byte 16-aligned from the end

    def ref(self, pos: int) -> int:
        """Builder offset of the object at position pos of the original bytes."""
        return len(self.old) - pos

    def offsets_vector(self, items: Sequence[int]) -> int:
        self.b.StartVector(4, len(items), 4)
        for item in reversed(items):
            self.b.PrependUOffsetTRelative(item)
        return self.b.EndVector()

    def clone(self, table: _Table, replaced: Mapping[int, int]) -> int:
        """A copy of `table` whose offset fields point at the original objects, except `replaced` ones
        (field -> builder offset of a new object)."""
        fields = sorted(set(table.fields) | set(replaced))
        self.b.StartObject(max(fields, default=-1) + 1)
        for f in fields:
            if f in replaced:
                self.b.PrependUOffsetTRelativeSlot(f, replaced[f], 0)
            elif table.known[f]:
                self.b.PrependUOffsetTRelative(self.ref(table.target(f)))
                self.b.Slot(f)
            else:
                self.b.PrependUint32(struct.unpack("<I", table.scalar(f))[0])
                self.b.Slot(f)
        return self.b.EndObject()

    def buffer(self, data: bytes) -> int:
        self.b.StartVector(1, len(data), _ALIGNMENT)
        self.b.head -= len(data)
        self.b.Bytes[self.b.head:self.b.head + len(data)] = data
        vector = self.b.EndVector()
        self.b.StartObject(_BUFFER_DATA + 1)
        self.b.PrependUOffsetTRelativeSlot(_BUFFER_DATA, vector, 0)
        return self.b.EndObject()

    def metadata(self, name: str, buffer_index: int) -> int:
        text = self.b.CreateString(name)
        self.b.StartObject(2)
        self.b.PrependUint32Slot(_METADATA_BUFFER, buffer_index, 0)
        self.b.PrependUOffsetTRelativeSlot(_METADATA_NAME, text, 0)
        return self.b.EndObject()


def rewrite_model(content: bytes, *, metadata: Mapping[str, bytes] | None = None,
                  operator_order: Sequence[int] | None = None) -> bytes:
    """A copy of the model with `metadata` entries added (replacing entries of the same name) and the
    operators of subgraph 0 stored in `operator_order` (a permutation of their indices)."""
    model = load_model(content)  # validates the flatbuffer before its bytes are walked here
    fb = tflite.Model.GetRootAs(content, 0)
    if any(fb.Buffers(i).Offset() > 1 for i in range(fb.BuffersLength())):
        raise ValueError("the model keeps buffers after the flatbuffer (a >2 GB layout); it cannot be rewritten")
    n_ops = len(model.main.operators)
    if operator_order is not None and sorted(operator_order) != list(range(n_ops)):
        raise ValueError(f"operator_order must be a permutation of 0..{n_ops - 1}")
    w = _Writer(content)
    root = _Table(w.old, struct.unpack_from("<I", w.old, 0)[0], "model", _MODEL_FIELDS)
    replaced: dict[int, int] = {}
    if operator_order is not None:
        subgraphs = root.vector(_MODEL_SUBGRAPHS)
        main = _Table(w.old, subgraphs[0], "subgraph 0", _SUBGRAPH_FIELDS)
        operators = main.vector(_SUBGRAPH_OPERATORS)
        new_ops = w.offsets_vector([w.ref(operators[k]) for k in operator_order])
        new_main = w.clone(main, {_SUBGRAPH_OPERATORS: new_ops})
        replaced[_MODEL_SUBGRAPHS] = w.offsets_vector([new_main] + [w.ref(p) for p in subgraphs[1:]])
    if metadata:
        buffers = [w.ref(p) for p in root.vector(_MODEL_BUFFERS)]
        names = [(fb.Metadata(i).Name() or b"").decode("utf-8", "replace") for i in range(fb.MetadataLength())]
        entries = [w.ref(p) for p, name in zip(root.vector(_MODEL_METADATA), names) if name not in metadata]
        for key, data in metadata.items():
            buffers.append(w.buffer(data))
            entries.append(w.metadata(key, len(buffers) - 1))
        replaced[_MODEL_BUFFERS] = w.offsets_vector(buffers)
        replaced[_MODEL_METADATA] = w.offsets_vector(entries)
    w.b.Finish(w.clone(root, replaced), file_identifier=FILE_IDENTIFIER)
    out = bytes(w.b.Output())
    load_model(out)  # the result must verify and read back like any model
    return out


def offline_plan_words(model: Model, plan: MemoryPlan) -> list[int]:
    """TFLM's OfflineMemoryAllocation words for the plan: [version 1, subgraph count, tensor count,
    one offset per tensor of every subgraph (-1: not in the head)].

    TFLM takes offline offsets verbatim, so a plan placing tensors over each other is written only when
    TFLM's reference kernels read every shared input byte before they overwrite it (schedules.py)."""
    problems = unsafe_shared_bytes(model, plan, TFLM_REFERENCE)
    if problems:
        raise ValueError(f"the {plan.strategy!r} plan (made for the {plan.schedule} schedule) places tensors over "
                         f"each other where TFLM's reference kernels would overwrite input they still read, so it "
                         f"cannot be an offline plan; plan it for the {TFLM_REFERENCE} schedule instead:\n  "
                         + "\n  ".join(problems))
    offsets = []
    for sg in model.subgraphs:
        for t in sg.tensors:
            alloc = plan.tensor_allocation(sg.index, t.index)
            offsets.append(-1 if alloc is None else alloc.offset)
    return [1, len(model.subgraphs), len(offsets), *offsets]


def with_offline_plan(model: Model, plan: MemoryPlan) -> bytes:
    """The model carrying `plan` as OfflineMemoryAllocation metadata, its operators stored in the plan's
    order, so that TFLM on a microcontroller places every tensor where the plan does."""
    words = offline_plan_words(model, plan)
    order = list(plan.op_order)
    return rewrite_model(model.content, metadata={OFFLINE_METADATA: struct.pack(f"<{len(words)}i", *words)},
                         operator_order=None if order == sorted(order) else order)
