"""TFLM_DECODE: weights compressed by tflite-micro's `compression` tool, decoded into arena tensors (TFLM
decode.cc, decode_state_lut.cc, decode_state_prune.cc).

Inputs come in pairs (encoded constant, ancillary constant), one pair per output. The ancillary data
opens with a 16-byte header: byte 0 the decode type (0 LUT, 1 Huffman, 2 pruning), byte 1 its version
(1), byte 4 the decoder's own version (1); the decoder's data follows the header.
* LUT: byte 5 (low 3 bits) is the index width w (1..7), byte 6 the value table stride in elements.
  The encoded tensor is a most-significant-bit-first stream of w-bit indices; element i of channel c
  is table[c * stride + index]. Channels come from the output's quantization: its scale count, laid
  out as contiguous blocks (quantized dimension 0) or interleaved (the last dimension).
* Huffman: byte 5 holds the table entry size (bit 0: 32-bit, else 16-bit) and, in its high nibble,
  log2 of the first table's size minus one; the decode tables follow (see _decode_huffman).
* Pruning: the encoded tensor is one bit per element (set: the next table value, clear: the zero
  point, per channel for int8).
Both inputs are constants, so the output is decoded once here (every index and table read bounds
checked); each invoke copies it into the arena, where TFLM's DECODE writes it.
"""
from __future__ import annotations

import numpy as np

from ..compression import DECODED_TYPES, element_channels, lut_channels, lut_decode, table_values, unpack_fields
from ..model import Tensor
from .registry import BindFn, OpContext, register_custom

HEADER_BYTES = 16
LUT, HUFFMAN, PRUNE = 0, 1, 2


def _channels(out: Tensor, what: str) -> tuple[int, bool]:
    q = out.quantization
    return lut_channels(out.shape, 0 if q is None else q.scales.size, 0 if q is None else q.quantized_dimension, what)


def _decode_lut(ctx: OpContext, encoded: np.ndarray, ancillary: np.ndarray, out: Tensor, what: str) -> np.ndarray:
    width, stride = int(ancillary[5]) & 0x07, int(ancillary[6])
    return lut_decode(encoded, ancillary[HEADER_BYTES:], out.num_elements, out.dtype.itemsize, width, stride,
                      _channels(out, what), what)


def _decode_prune(ctx: OpContext, encoded: np.ndarray, ancillary: np.ndarray, out: Tensor,
                  what: str) -> np.ndarray:
    channels, interleaved = _channels(out, what)
    n, itemsize = out.num_elements, out.dtype.itemsize
    q = out.quantization
    zero_points = np.zeros(1, np.int64) if q is None else q.zero_points
    if out.type_name == "INT8" and channels > 1:
        if zero_points.size != channels:
            ctx.fail(f"{out.describe()}: {zero_points.size} zero points for {channels} channels")
        zero = zero_points[element_channels(n, channels, interleaved)]
    else:
        if out.type_name != "INT8" and zero_points[0] != 0:
            ctx.fail(f"{out.describe()}: zero point {zero_points[0]}, the pruning decoder needs 0 for "
                     f"{out.type_name}")
        zero = np.full(n, zero_points[0])
    kept = unpack_fields(encoded, n, 1, what).astype(bool)
    values = table_values(ancillary[HEADER_BYTES:], itemsize, int(kept.sum()), what)
    decoded = zero.astype(f"<i{itemsize}").view(f"<u{itemsize}")
    decoded[kept] = values
    return decoded


def _decode_huffman(ctx: OpContext, encoded: np.ndarray, ancillary: np.ndarray, out: Tensor,
                    what: str) -> np.ndarray:
    """Walk the decode tables once per element. Table entries: a found flag, a bit count and a value
    (16-bit entries: 1, 4, 11 bits; 32-bit: 1, 4, 27). Not found: read count + 1 more bits and jump to
    this entry + value + those bits. Found: the value's low bits are the symbol, and the bits read at
    this level beyond the count are put back."""
    wide = bool(ancillary[5] & 0x01)
    if not wide and out.type_name != "INT8":
        ctx.fail(f"{what}: 16-bit Huffman tables decode INT8 only, the output is {out.type_name}")
    if out.type_name not in ("INT8", "INT16"):
        ctx.unsupported(f"{what}: Huffman decoding writes INT8 or INT16, the output is {out.type_name}")
    entry_bits = 32 if wide else 16
    raw_table = ancillary[HEADER_BYTES:]
    table = table_values(raw_table, entry_bits // 8, raw_table.size // (entry_bits // 8), what).astype(np.int64)
    found_flag, count_shift = 1 << (entry_bits - 1), entry_bits - 5
    value_mask = (1 << count_shift) - 1
    first_bits = ((int(ancillary[5]) & 0xF0) >> 4) + 1
    n = out.num_elements
    # TFLM reads the codewords as big-endian 32-bit words: a most-significant-bit-first byte stream.
    # Padding lets the last lookups read past the end as TFLM's word reads do; a valid stream never
    # needs those bits, and a cursor that ends past the real data is refused below.
    stream = np.concatenate([np.unpackbits(encoded), np.zeros(64, np.uint8)]).tolist()
    cursor, symbols = 0, []
    for _ in range(n):
        used = first_bits
        offset = int("".join(map(str, stream[cursor:cursor + used])), 2)
        cursor += used
        while True:
            if offset >= table.size or cursor > encoded.size * 8 + 32:
                ctx.fail(f"{what}: the Huffman tables or codewords end before {n} symbols are decoded")
            entry = int(table[offset])
            if entry & found_flag:
                break
            used = ((entry & ~found_flag) >> count_shift) + 1
            offset += (entry & value_mask) + int("".join(map(str, stream[cursor:cursor + used])), 2)
            cursor += used
        symbols.append(entry)
        cursor -= max(0, used - ((entry & ~found_flag) >> count_shift))
    if cursor > encoded.size * 8:
        ctx.fail(f"{what}: {n} symbols need {cursor} bits of codewords, the encoded tensor has {encoded.size * 8}")
    itemsize = out.dtype.itemsize
    return (np.array(symbols, np.int64) & ((1 << (8 * itemsize)) - 1)).astype(f"<u{itemsize}")


_DECODERS = {LUT: _decode_lut, HUFFMAN: _decode_huffman, PRUNE: _decode_prune}


@register_custom("TFLM_DECODE")
def prepare_decode(ctx: OpContext) -> BindFn:
    """Decode every (encoded, ancillary) input pair into its output, once."""
    n_out = len(ctx.op.outputs)
    if n_out == 0 or ctx.num_inputs != 2 * n_out:
        ctx.fail(f"expected 2 inputs per output and at least one output, found {ctx.num_inputs} inputs "
                 f"and {n_out} outputs")
    decoded = []
    for k in range(n_out):
        encoded, ancillary, out = ctx.input(2 * k), ctx.input(2 * k + 1), ctx.output(k)
        what = f"output {k} ({out.describe()})"
        raw = [ctx.expect_constant(t).reshape(-1).view(np.uint8) for t in (encoded, ancillary)]
        anc = raw[1]
        if anc.size < HEADER_BYTES:
            ctx.fail(f"{what}: ancillary data of {anc.size} bytes, expected a {HEADER_BYTES}-byte header")
        kind = int(anc[0])
        if anc[1] != 1 or anc[4] != 1:
            ctx.fail(f"{what}: header version {anc[1]}, decoder version {anc[4]}; expected 1 and 1")
        if kind not in _DECODERS:
            ctx.unsupported(f"{what}: decode type {kind}; microinterp decodes 0 (LUT), 1 (Huffman) and 2 (pruning)")
        if out.type_name not in DECODED_TYPES:
            ctx.unsupported(f"{what}: type {out.type_name}, the decoders write {', '.join(DECODED_TYPES)}")
        values = _DECODERS[kind](ctx, raw[0], anc, out, what)
        decoded.append(values.view(np.uint8))

    def bind(inputs, outputs, scratch):
        targets = [o.reshape(-1).view(np.uint8) for o in outputs]

        def step():
            for target, values in zip(targets, decoded):
                np.copyto(target, values)
        return step
    return bind
