"""TFLM weight compression by look-up tables: the decoding shared by the TFLM_DECODE op and the
LUT-compressed constants of a model's COMPRESSION_METADATA (tflite-micro compression/metadata.fbs).

A LUT-compressed tensor stores one `width`-bit index per element, most significant bit first, into
a value table per channel (`stride` values each). Channels follow the tensor's quantization: its scale
count, as contiguous blocks (quantized dimension 0) or interleaved (the last dimension), as TFLM's
decoders read them.

COMPRESSION_METADATA is a small flatbuffer (Metadata{schema_version, subgraphs: [Subgraph{lut_tensors:
[LutTensor{tensor, value_buffer, index_bitwidth}]}]}); it is read here field by field with every
offset bounds-checked, since it is untrusted bytes nested inside a model.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

from .errors import InconsistentModelError, MalformedModelError

METADATA_NAME = "COMPRESSION_METADATA"
#: Types TFLM's LUT (and pruning) decoders write.
DECODED_TYPES = ("BOOL", "FLOAT32", "INT8", "INT16", "INT32", "INT64")


def lut_channels(shape: tuple[int, ...], scales: int, quantized_dimension: int, what: str) -> tuple[int, bool]:
    """(channel count, interleaved) of a tensor with `scales` quantization scales (0: unquantized)."""
    if scales == 0:
        return 1, False
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    interleaved = quantized_dimension == len(shape) - 1 and scales > 1
    if not interleaved and quantized_dimension != 0:
        raise InconsistentModelError(f"{what}: quantized dimension {quantized_dimension}, LUT decoding "
                                     f"supports 0 or the last")
    if count % scales:
        raise InconsistentModelError(f"{what}: {count} elements are not a whole number of {scales} channels")
    return scales, interleaved


def element_channels(count: int, channels: int, interleaved: bool) -> np.ndarray:
    """The channel of each element, in storage order."""
    return np.arange(count) % channels if interleaved else np.arange(count) // max(count // channels, 1)


def unpack_fields(encoded: np.ndarray, count: int, width: int, what: str) -> np.ndarray:
    """The first `count` width-bit fields of a most-significant-bit-first byte stream, as integers."""
    need = (count * width + 7) // 8
    if encoded.size < need:
        raise InconsistentModelError(f"{what}: {encoded.size} encoded bytes, {count} elements of {width} bits "
                                     f"need {need}")
    fields = np.unpackbits(encoded[:need])[:count * width].reshape(count, width).astype(np.int64)
    return fields @ (1 << np.arange(width - 1, -1, -1, dtype=np.int64))


def table_values(table: np.ndarray, itemsize: int, entries: int, what: str) -> np.ndarray:
    """The first `entries` values of a byte table, as raw unsigned integers of `itemsize` bytes."""
    have = table.size // itemsize
    if entries > have:
        raise InconsistentModelError(f"{what}: the value table holds {have} values, the encoded data reads {entries}")
    return table[:entries * itemsize].view(f"<u{itemsize}")


def lut_decode(encoded: np.ndarray, table: np.ndarray, count: int, itemsize: int, width: int, stride: int,
               channels: tuple[int, bool], what: str) -> np.ndarray:
    """Raw values (unsigned integers of `itemsize` bytes) of a LUT-compressed tensor of `count` elements."""
    if not 1 <= width <= 7:
        raise InconsistentModelError(f"{what}: LUT index width {width}, expected 1 to 7 bits")
    flat = element_channels(count, *channels) * stride + unpack_fields(encoded, count, width, what)
    return table_values(table, itemsize, int(flat.max(initial=-1)) + 1, what)[flat]


@dataclass(frozen=True)
class LutTensor:
    """One entry of COMPRESSION_METADATA: tensor `tensor` of `subgraph` holds `bit_width`-bit indices into
    the values of buffer `value_buffer`."""
    subgraph: int
    tensor: int
    value_buffer: int
    bit_width: int


class _Reader:
    """Bounds-checked reads of flatbuffer tables in untrusted bytes."""

    def __init__(self, raw: bytes):
        self.raw = raw

    def read(self, fmt: str, pos: int) -> int:
        if not 0 <= pos <= len(self.raw) - struct.calcsize(fmt):
            raise MalformedModelError(f"metadata '{METADATA_NAME}': offset {pos} outside its {len(self.raw)} bytes")
        return struct.unpack_from(fmt, self.raw, pos)[0]

    def field(self, table: int, slot: int) -> int | None:
        """Position of a table's field `slot` (None: absent)."""
        vtable = table - self.read("<i", table)
        entry = 4 + 2 * slot
        if entry + 2 > self.read("<H", vtable):
            return None
        offset = self.read("<H", vtable + entry)
        return table + offset if offset else None

    def scalar(self, table: int, slot: int, fmt: str, default: int) -> int:
        pos = self.field(table, slot)
        return default if pos is None else self.read(fmt, pos)

    def tables(self, table: int, slot: int) -> list[int]:
        """The tables of a vector field."""
        pos = self.field(table, slot)
        if pos is None:
            return []
        vec = pos + self.read("<I", pos)
        n = self.read("<I", vec)
        if n > (len(self.raw) - vec) // 4:
            raise MalformedModelError(f"metadata '{METADATA_NAME}': a vector of {n} entries overruns its bytes")
        return [vec + 4 + 4 * i + self.read("<I", vec + 4 + 4 * i) for i in range(n)]


def read_lut_metadata(raw: bytes) -> list[LutTensor]:
    """The LUT-compressed tensors a COMPRESSION_METADATA buffer lists (indices not yet checked)."""
    r = _Reader(raw)
    root = r.read("<I", 0)
    version = r.scalar(root, 0, "<I", 1)
    if version > 1:
        raise InconsistentModelError(f"metadata '{METADATA_NAME}': schema version {version}, expected 1")
    return [LutTensor(g, r.scalar(t, 0, "<i", 0), r.scalar(t, 1, "<I", 0), r.scalar(t, 2, "<B", 0))
            for g, sg in enumerate(r.tables(root, 1)) for t in r.tables(sg, 0)]
