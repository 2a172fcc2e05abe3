"""Mutators for .tflite bytes, shared by the hypothesis suite, fuzz/long_run.py and the atheris harness.

Byte-level mutators (bit flips, byte and int32 overwrites, truncation, splicing, range deletion and
duplication) break the flatbuffer structure at random. Field-level mutators keep the structure valid
and write unusual values into the model's own fields: they locate every scalar field, vector length
and vector element with the same schema that microinterp.flatbuffer_verify derives from the tflite
package, so the mutated model gets past the verifier and tests the checks behind it (indices, shapes,
types, quantization, options).

Every mutator takes a `random.Random`, so a run is reproducible from its seed.
"""
from __future__ import annotations

import functools
import random
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from microinterp import flatbuffer_verify as fv

ROOT = Path(__file__).resolve().parents[1]


def corpus_paths(extra: Iterable[Path] = ()) -> list[Path]:
    """Every .tflite under ../shared/models (or MICROINTERP_SHARED_MODELS), reference_models/ and `extra`."""
    import os
    shared = Path(os.environ.get("MICROINTERP_SHARED_MODELS", ROOT.parent / "shared" / "models"))
    roots = [shared, ROOT / "reference_models", *extra]
    return sorted({p.resolve() for r in roots if r.exists() for p in
                   ([r] if r.is_file() else r.rglob("*.tflite"))})


@dataclass(frozen=True)
class FieldSlot:
    """Where one value of the model lives: `path` as the verifier names it, byte position and size.

    kind: "scalar" (a table field), "length" (a vector's element count), "element" (one element of a
    scalar vector; `count` elements of `size` bytes start at `pos`) or "offset" (a uoffset to an object).
    """
    path: str
    kind: str
    pos: int
    size: int
    count: int = 1
    is_float: bool = False


@functools.lru_cache(maxsize=256)
def field_slots(content: bytes) -> tuple[FieldSlot, ...]:
    """Every field of a well-formed model, in walk order. Shared objects are listed once."""
    schema = fv._schema()
    buf = memoryview(content)
    slots: list[FieldSlot] = []
    seen: set[int] = set()
    u32 = struct.Struct("<I").unpack_from
    i32 = struct.Struct("<i").unpack_from
    u16 = struct.Struct("<H").unpack_from

    def table(pos: int, name: str, path: str) -> None:
        if pos in seen:
            return
        seen.add(pos)
        vtable = pos - i32(buf, pos)[0]
        vtable_size = u16(buf, vtable)[0]
        for field in schema[name].fields:
            if field.slot >= vtable_size:
                break
            offset = u16(buf, vtable + field.slot)[0]
            if offset == 0:
                continue
            at, where = pos + offset, f"{path}.{field.label}" if path else field.label
            if field.kind == fv._SCALAR:
                slots.append(FieldSlot(where, "scalar", at, field.size))
                continue
            slots.append(FieldSlot(where, "offset", at, 4))
            target = at + u32(buf, at)[0]
            if field.kind == fv._SCALAR_VECTOR:
                length = u32(buf, target)[0]
                slots.append(FieldSlot(where, "length", target, 4))
                if length:
                    slots.append(FieldSlot(where, "element", target + 4, field.elem_size, length,
                                           field.elem_name.startswith("float")))
            elif field.kind == fv._TABLE_VECTOR:
                length = u32(buf, target)[0]
                slots.append(FieldSlot(where, "length", target, 4))
                for i in range(length):
                    element = target + 4 + 4 * i
                    table(element + u32(buf, element)[0], field.target, f"{where}[{i}]")
            elif field.kind == fv._TABLE:
                table(target, field.target, where)
            elif field.kind == fv._UNION:
                type_offset = u16(buf, vtable + field.type_slot)[0] if field.type_slot < vtable_size else 0
                union_table = field.union_tables.get(buf[pos + type_offset] if type_offset else 0)
                if union_table is not None:
                    table(target, union_table, f"{where}<{union_table}>")

    fv.verify_model_bytes(content)
    table(u32(buf, 0)[0], fv._ROOT_TABLE, "")
    return tuple(slots)


_INTERESTING = {
    1: [0, 1, 2, 3, 0x7F, 0x80, 0xFE, 0xFF],
    2: [0, 1, 0x7FFF, 0x8000, 0xFFFF],
    4: [0, 1, 2, 3, 4, 5, 8, 16, 17, 100, 255, 256, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF,
        0x80000000, 0xFFFFFFFF, 0xFFFFFFFE],
    8: [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 1 << 40, 0x7FFFFFFFFFFFFFFF, 0x8000000000000000,
        0xFFFFFFFFFFFFFFFF],
}
_INTERESTING_FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, 1 / 256, 1e-45, 1e-38, 1e-10, 1e10, 3.4e38,
                       float("inf"), float("-inf"), float("nan")]


def _value(rng: random.Random, size: int, old: int, is_float: bool) -> bytes:
    """A value of `size` bytes: interesting, near the old one, or random."""
    if is_float or (size == 4 and rng.random() < 0.15):
        return struct.pack("<f", rng.choice(_INTERESTING_FLOATS))
    mask = (1 << (8 * size)) - 1
    roll = rng.random()
    if roll < 0.5:
        value = rng.choice(_INTERESTING[size])
    elif roll < 0.8:
        value = old + rng.choice([-2, -1, 1, 2, rng.randint(-64, 64)])
    else:
        value = rng.getrandbits(8 * size)
    return (value & mask).to_bytes(size, "little")


def patch_field(rng: random.Random, content: bytes, slots: tuple[FieldSlot, ...] | None = None) -> bytes:
    """Overwrite one field, vector length or vector element of a well-formed model with a new value."""
    slots = field_slots(content) if slots is None else slots
    if not slots:
        return content
    # Scalars and small-vector elements (shapes, indices, scales, options) matter more than offsets.
    slot = rng.choice(slots)
    if slot.kind == "offset" and rng.random() < 0.7:
        slot = rng.choice(slots)
    pos = slot.pos + slot.size * rng.randrange(slot.count)
    old = int.from_bytes(content[pos:pos + slot.size], "little")
    out = bytearray(content)
    out[pos:pos + slot.size] = _value(rng, slot.size, old, slot.is_float)
    return bytes(out)


def flip_bits(rng: random.Random, content: bytes) -> bytes:
    """Flip 1 to 8 random bits."""
    if not content:
        return content
    out = bytearray(content)
    for _ in range(rng.randint(1, 8)):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def overwrite_bytes(rng: random.Random, content: bytes) -> bytes:
    """Overwrite 1 to 4 random bytes with interesting or random values."""
    if not content:
        return content
    out = bytearray(content)
    for _ in range(rng.randint(1, 4)):
        out[rng.randrange(len(out))] = rng.choice(_INTERESTING[1] + [rng.getrandbits(8)])
    return bytes(out)


def overwrite_int32(rng: random.Random, content: bytes) -> bytes:
    """Overwrite one 4-byte aligned word (most flatbuffer fields are) with an interesting value."""
    if len(content) < 4:
        return content
    pos = 4 * rng.randrange(len(content) // 4)
    out = bytearray(content)
    out[pos:pos + 4] = _value(rng, 4, int.from_bytes(content[pos:pos + 4], "little"), False)
    return bytes(out)


def truncate(rng: random.Random, content: bytes) -> bytes:
    """Cut the file anywhere."""
    return content[:rng.randrange(len(content) + 1)]


def delete_range(rng: random.Random, content: bytes) -> bytes:
    """Remove a range of bytes, shifting everything after it."""
    if not content:
        return content
    start = rng.randrange(len(content))
    return content[:start] + content[start + rng.randint(1, 64):]


def duplicate_range(rng: random.Random, content: bytes) -> bytes:
    """Insert a copy of a range of bytes at a random place."""
    if not content:
        return content
    start = rng.randrange(len(content))
    chunk = content[start:start + rng.randint(1, 64)]
    at = rng.randrange(len(content) + 1)
    return content[:at] + chunk + content[at:]


def splice(rng: random.Random, content: bytes, other: bytes) -> bytes:
    """The head of one model and the tail of another, or a chunk of the other pasted over this one."""
    if not content or not other:
        return content or other
    if rng.random() < 0.5:
        return content[:rng.randrange(len(content))] + other[rng.randrange(len(other)):]
    start, length = rng.randrange(len(other)), rng.randint(4, 256)
    chunk = other[start:start + length]
    at = rng.randrange(len(content))
    return content[:at] + chunk + content[at + len(chunk):]


Mutator = Callable[[random.Random, bytes], bytes]
BYTE_MUTATORS: tuple[Mutator, ...] = (flip_bits, overwrite_bytes, overwrite_int32, truncate, delete_range,
                                      duplicate_range)


def mutate(rng: random.Random, corpus: list[bytes]) -> tuple[bytes, str]:
    """One fuzz input from the corpus: (bytes, a description of the mutations applied).

    Most inputs get field patches (valid structure, unusual values), some byte-level damage on top,
    and some are splices of two models.
    """
    base_index = rng.randrange(len(corpus))
    content = corpus[base_index]
    steps = [f"model {base_index}"]
    roll = rng.random()
    if roll < 0.6:
        for _ in range(rng.choice([1, 1, 1, 2, 3, 5])):
            content = patch_field(rng, content, field_slots(corpus[base_index]))
        steps.append("field patches")
    if roll >= 0.5:
        if rng.random() < 0.15:
            other = rng.randrange(len(corpus))
            content = splice(rng, content, corpus[other])
            steps.append(f"splice with model {other}")
        else:
            mutator = rng.choice(BYTE_MUTATORS)
            content = mutator(rng, content)
            steps.append(mutator.__name__)
    return content, ", ".join(steps)
