"""Custom operator options stored as a flexbuffer map of integers and booleans (TFLM's signal ops),
read from untrusted bytes without trusting any size in them."""
from __future__ import annotations

import struct

from flatbuffers import flexbuffers

#: More entries than any TFLM custom op has: a bigger claimed size is not read.
MAX_ENTRIES = 32


def int_map(raw: bytes) -> dict[str, int]:
    """The map's entries in stored (key) order, booleans as 0/1; ValueError says why the bytes are not
    such a map."""
    try:
        root = flexbuffers.GetRoot(raw)
        if not root.IsMap:
            raise ValueError("not a flexbuffer map")
        entries = root.AsMap
        if len(entries) > MAX_ENTRIES:
            raise ValueError(f"{len(entries)} entries")
        keys = [k.AsKey for k in entries.Keys]
        values = list(entries.Values)
        if len(values) != len(keys) or len(set(keys)) != len(keys):
            raise ValueError(f"keys {keys} with {len(values)} values")
        result = {}
        for key, value in zip(keys, values):
            if not (value.IsInt or value.IsBool):
                raise ValueError(f"'{key}' is not an integer or boolean")
            result[key] = int(value.AsInt) if value.IsInt else int(value.AsBool)
        return result
    except (TypeError, IndexError, KeyError, UnicodeDecodeError, OverflowError, struct.error) as e:
        raise ValueError(f"not a valid flexbuffer: {e}") from e
