"""TFLM_DECODE against TFLM, live: models compressed in memory by the `compression` tool that ships in
the tflite-micro package (LUT: per tensor, per channel along the first axis, and interleaved along the
last; index widths 1 to 7; int8, int32 and float32 tables), and pruned and Huffman-coded weights
encoded here (the tool's pruning and Huffman compressors are stubs). Outputs bit for bit, and the arena head: decoded tensors are
ordinary arena tensors, each living from its DECODE to its consumer."""
from __future__ import annotations

from typing import Callable, Sequence

import flatbuffers
import numpy as np
import pytest

from microinterp import InconsistentModelError, Interpreter, MalformedModelError, load_model

from opmodels import Op, T, compare_with_tflm, graph_model

compression = pytest.importorskip("tflite_micro.tensorflow.lite.micro.compression")
spec = compression.spec
# Small test tensors grow when compressed (the tool warns); the decoding is what is under test.
pytestmark = pytest.mark.filterwarnings("ignore:Compression of tensor")


def lut(width: int, axis: int | None = None):
    mode = spec.PerTensor() if axis is None else spec.PerChannel(axis=axis)
    return [spec.LookUpTableCompression(index_bitwidth=width, mode=mode)]


def few_values(rng, shape, width: int, dtype, axis: int | None = None) -> np.ndarray:
    """Values drawn from 2**width distinct ones (per slice along `axis`, each slice its own set)."""
    if np.issubdtype(dtype, np.floating):
        pool = rng.uniform(-1, 1, (shape[axis] if axis is not None else 1, 1 << width)).astype(dtype)
    else:
        info = np.iinfo(dtype)
        lo, hi = max(info.min + 1, -1000), min(info.max, 1000)
        pool = rng.integers(lo, hi, (shape[axis] if axis is not None else 1, 1 << width)).astype(dtype)
    picks = rng.integers(0, 1 << width, shape)
    rows = np.zeros(shape, int) if axis is None else np.moveaxis(
        np.broadcast_to(np.arange(shape[axis]).reshape([-1] + [1] * (len(shape) - 1)),
                        [shape[axis]] + [s for i, s in enumerate(shape) if i != axis]), 0, axis)
    return pool[rows, picks]


def conv_model(rng, width: int, out_ch: int = 6, in_ch: int = 5):
    """An int8 CONV_2D with per-channel weights (each channel 2**width values) and an int32 bias."""
    x = T("INT8", (1, 6, 6, in_ch), 0.5, 3)
    w = few_values(rng, (out_ch, 3, 3, in_ch), width, np.int8, axis=0)
    scales = rng.uniform(0.005, 0.02, out_ch)
    filt = T("INT8", w.shape, scales, 0, data=w)
    bias = T("INT32", (out_ch,), scales * 0.5, 0, data=rng.integers(-500, 500, out_ch).astype(np.int32))
    y = T("INT8", (1, 6, 6, out_ch), 0.8, -4)
    op = Op("CONV_2D", "Conv2DOptions", {"padding": 0, "stride_w": 1, "stride_h": 1})
    return graph_model([(op, [x, filt, bias], [y])]), x


def depthwise_model(rng, width: int, channels: int = 12):
    """An int8 DEPTHWISE_CONV_2D: its filter's channels are its last axis (LUT channels interleaved)."""
    x = T("INT8", (1, 5, 5, channels), 0.5, -1)
    w = few_values(rng, (1, 3, 3, channels), width, np.int8, axis=3)
    scales = rng.uniform(0.005, 0.02, channels)
    filt = T("INT8", w.shape, scales, 0, data=w, quantized_dimension=3)
    bias = T("INT32", (channels,), scales * 0.5, 0, data=rng.integers(-500, 500, channels).astype(np.int32))
    y = T("INT8", (1, 5, 5, channels), 0.7, 2)
    op = Op("DEPTHWISE_CONV_2D", "DepthwiseConv2DOptions",
            {"padding": 0, "stride_w": 1, "stride_h": 1, "depth_multiplier": 1})
    return graph_model([(op, [x, filt, bias], [y])]), x


def float_fc_model(rng, width: int):
    x, y = T("FLOAT32", (2, 20)), T("FLOAT32", (2, 7))
    w = T("FLOAT32", (7, 20), data=few_values(rng, (7, 20), width, np.float32))
    b = T("FLOAT32", (7,), data=rng.uniform(-1, 1, 7).astype(np.float32))
    return graph_model([(Op("FULLY_CONNECTED", "FullyConnectedOptions"), [x, w, b], [y])]), x


def _inputs(rng, t: T, count: int = 2):
    if t.type == "FLOAT32":
        return [[rng.uniform(-2, 2, t.shape).astype(np.float32)] for _ in range(count)]
    return [[rng.integers(-128, 128, t.shape, dtype=np.int8)] for _ in range(count)]


def check_against_tflm(oracle, content: bytes, x: T, what: str, rng) -> None:
    compare_with_tflm(oracle, content, _inputs(rng, x), what)
    interp = Interpreter(model_content=content)
    interp.allocate_tensors()
    assert interp.memory_plan.head == oracle.tflm_arena(content).head, what


@pytest.mark.parametrize("width", [1, 2, 3, 4, 5, 6, 7])
def test_lut_per_channel_conv_weights_and_bias_decode_like_tflm(oracle, width):
    rng = np.random.default_rng(width)
    model, x = conv_model(rng, width, out_ch=3 if width > 5 else 6)
    compressed = bytes(compression.compress(model, [spec.Tensor(0, 1, lut(width, axis=0)),
                                                    spec.Tensor(0, 2, lut(width, axis=0))]))
    assert [op.name for op in load_model(compressed).main.operators] == ["CUSTOM(TFLM_DECODE)", "CONV_2D"]
    check_against_tflm(oracle, compressed, x, f"conv LUT {width} bits", rng)


@pytest.mark.parametrize("width", [2, 3, 4])
def test_lut_interleaved_depthwise_channels_decode_like_tflm(oracle, width):
    rng = np.random.default_rng(10 + width)
    model, x = depthwise_model(rng, width)
    compressed = bytes(compression.compress(model, [spec.Tensor(0, 1, lut(width, axis=3))]))
    check_against_tflm(oracle, compressed, x, f"depthwise LUT {width} bits", rng)


@pytest.mark.parametrize("width", [1, 4, 7])
def test_lut_per_tensor_float_weights_decode_like_tflm(oracle, width):
    rng = np.random.default_rng(20 + width)
    model, x = float_fc_model(rng, width)
    compressed = bytes(compression.compress(model, [spec.Tensor(0, 1, lut(width))]))
    check_against_tflm(oracle, compressed, x, f"float FC LUT {width} bits", rng)


# -- pruning: the encoding written by hand (bit mask, then the kept values) ----------------------------

def prune_encode(values: np.ndarray, zero_points: np.ndarray, channel_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    flat = values.reshape(-1)
    kept = flat != zero_points[channel_of]
    header = np.zeros(16, np.uint8)
    header[[0, 1, 4]] = (2, 1, 1)
    return np.packbits(kept), np.concatenate([header, flat[kept].view(np.uint8)])


def decode_node(encoded: np.ndarray, ancillary: np.ndarray, out: T):
    enc = T("UINT8", encoded.shape, data=encoded)
    anc = T("UINT8", ancillary.shape, data=ancillary)
    return Op("CUSTOM", custom_code="TFLM_DECODE"), [enc, anc], [out]


def check_decoded_weights(oracle, encoded: np.ndarray, ancillary: np.ndarray, tensor: Callable[[], T],
                          expected: np.ndarray, what: str) -> None:
    """DECODE into a tensor made by `tensor()`, then RESHAPE to a graph output (a second `tensor()`), so
    TFLM's decoded values are compared with ours directly, and ours with the values encoded."""
    decoded, out = tensor(), tensor()
    content = graph_model([decode_node(encoded, ancillary, decoded), (Op("RESHAPE"), [decoded], [out])],
                          inputs=[], outputs=[out])
    compare_with_tflm(oracle, content, [[]], what)
    interp = Interpreter(model_content=content)
    interp.allocate_tensors()
    interp.invoke()
    np.testing.assert_array_equal(interp.get_tensor(interp.get_output_details()[0]["index"]), expected)


@pytest.mark.parametrize("axis", [0, 3])
def test_pruned_int8_weights_with_per_channel_zero_points_decode_like_tflm(oracle, axis):
    rng = np.random.default_rng(30 + axis)
    shape = (4, 3, 3, 4)
    channels = shape[axis]
    zps = rng.integers(-5, 5, channels)
    w = rng.integers(-100, 100, shape).astype(np.int8)
    channel_of = (np.arange(w.size) // (w.size // channels)) if axis == 0 else np.arange(w.size) % channels
    w.reshape(-1)[:] = np.where(rng.random(w.size) < 0.5, zps[channel_of], w.reshape(-1))
    encoded, ancillary = prune_encode(w, zps, channel_of)
    scales = rng.uniform(0.005, 0.02, channels)
    check_decoded_weights(oracle, encoded, ancillary, lambda: T("INT8", shape, scales, zps, quantized_dimension=axis),
                          w, f"pruned int8 axis {axis}")


def test_pruned_float_weights_decode_like_tflm(oracle):
    rng = np.random.default_rng(40)
    w = rng.uniform(-1, 1, (7, 20)).astype(np.float32)
    w[rng.random(w.shape) < 0.7] = 0
    encoded, ancillary = prune_encode(w, np.zeros(1, np.float32), np.zeros(w.size, int))
    x, y, decoded = T("FLOAT32", (2, 20)), T("FLOAT32", (2, 7)), T("FLOAT32", (7, 20))
    content = graph_model([decode_node(encoded, ancillary, decoded),
                           (Op("FULLY_CONNECTED", "FullyConnectedOptions"), [x, decoded], [y])],
                          inputs=[x], outputs=[y])
    check_against_tflm(oracle, content, x, "pruned float FC", rng)


# -- hostile encodings ---------------------------------------------------------------------------------

def _lut_ancillary(width: int, stride: int, table: np.ndarray) -> np.ndarray:
    header = np.zeros(16, np.uint8)
    header[[0, 1, 4, 5, 6]] = (0, 1, 1, width, stride)
    return np.concatenate([header, table.view(np.uint8)])


@pytest.mark.parametrize("encoded, ancillary, message", [
    (np.zeros(1, np.uint8), _lut_ancillary(4, 16, np.zeros(16, np.int8)), r"1 encoded bytes, 8 elements of 4 bits need 4"),
    (np.full(4, 0xFF, np.uint8), _lut_ancillary(4, 16, np.zeros(8, np.int8)), r"value table holds 8 values, the encoded data reads 16"),
    (np.zeros(4, np.uint8), _lut_ancillary(0, 16, np.zeros(16, np.int8)), r"index width 0"),
    (np.zeros(4, np.uint8), _lut_ancillary(4, 16, np.zeros(16, np.int8))[:10], r"ancillary data of 10 bytes"),
    # Huffman: a first table of 16 entries, of which the ancillary data holds none.
    (np.zeros(4, np.uint8), np.array([1, 1, 0, 0, 1, 0x30] + [0] * 10, np.uint8),
     r"Huffman tables or codewords end before 8 symbols"),
])
def test_malformed_encodings_are_refused_at_prepare_naming_the_output(encoded, ancillary, message):
    out = T("INT8", (8,), 1.0, 0)
    content = graph_model([decode_node(encoded, ancillary, out)], inputs=[], outputs=[out])
    with pytest.raises(InconsistentModelError, match=r"op 0 \(CUSTOM\(TFLM_DECODE\)\): output 0 .*" + message):
        Interpreter(model_content=content).allocate_tensors()


# -- Huffman: canonical codes and Xtensa-format decode tables written here (the tool's compressor is a stub)

def huffman_lengths(counts: dict[int, int]) -> dict[int, int]:
    """Code length per symbol of a Huffman code for these symbol counts."""
    import heapq
    heap = [(c, k, (s,)) for k, (s, c) in enumerate(sorted(counts.items()))]
    heapq.heapify(heap)
    lengths = dict.fromkeys(counts, 0)
    tie = len(heap)
    while len(heap) > 1:
        c1, _, a = heapq.heappop(heap)
        c2, _, b = heapq.heappop(heap)
        for s in a + b:
            lengths[s] += 1
        heapq.heappush(heap, (c1 + c2, tie, a + b))
        tie += 1
    return {s: max(n, 1) for s, n in lengths.items()}


def huffman_encode(values: np.ndarray, first_bits: int, wide: bool) -> tuple[np.ndarray, np.ndarray]:
    """(codewords, ancillary) for `values` with a first table of 2**first_bits entries and one subtable
    for each first-level prefix that longer codes share."""
    symbols, counts = np.unique(values, return_counts=True)
    lengths = huffman_lengths(dict(zip(symbols.tolist(), counts.tolist())))
    codes, code = {}, 0
    for s, n in sorted(lengths.items(), key=lambda kv: (kv[1], kv[0])):  # canonical assignment
        code <<= n - (max(len(c) for c in codes.values()) if codes else n)
        codes[s] = format(code, f"0{n}b")
        code += 1
    shift, found = (27, 1 << 31) if wide else (11, 1 << 15)
    entry = lambda symbol, bits: found | bits << shift | (int(symbol) & ((1 << shift) - 1))
    table = [0] * (1 << first_bits)
    for prefix in range(1 << first_bits):
        p = format(prefix, f"0{first_bits}b")
        short = [s for s, c in codes.items() if len(c) <= first_bits and p.startswith(c)]
        if short:
            table[prefix] = entry(short[0], len(codes[short[0]]))
            continue
        longer = {s: c[first_bits:] for s, c in codes.items() if c.startswith(p)}
        if not longer:
            continue
        sub_bits = max(len(c) for c in longer.values())
        base = len(table)
        table[prefix] = (sub_bits - 1) << shift | (base - prefix)
        for i in range(1 << sub_bits):
            tail = format(i, f"0{sub_bits}b")
            s = next(s for s, c in longer.items() if tail.startswith(c))
            table.append(entry(s, len(longer[s])))
    bits = "".join(codes[v] for v in values.reshape(-1).tolist())
    bits += "0" * (-len(bits) % 32)
    codewords = np.packbits(np.array(list(bits), np.uint8))
    header = np.zeros(16, np.uint8)
    header[[0, 1, 4, 5]] = (1, 1, 1, (first_bits - 1) << 4 | wide)
    return codewords, np.concatenate([header, np.array(table, "<u4" if wide else "<u2").view(np.uint8)])


@pytest.mark.parametrize("dtype, wide, first_bits", [("INT8", False, 2), ("INT8", False, 4), ("INT8", True, 3),
                                                     ("INT16", True, 3)])
def test_huffman_coded_weights_decode_like_tflm(oracle, dtype, wide, first_bits):
    rng = np.random.default_rng(50 + first_bits)
    np_type = np.int8 if dtype == "INT8" else np.int16
    # A skewed distribution of 12 symbols: code lengths from 1 to several bits, some past the first table.
    pool = rng.integers(np.iinfo(np_type).min, np.iinfo(np_type).max, 12).astype(np_type)
    w = pool[np.minimum(rng.geometric(0.35, (6, 10)) - 1, 11)]
    codewords, ancillary = huffman_encode(w, first_bits, wide)
    check_decoded_weights(oracle, codewords, ancillary, lambda: T(dtype, w.shape, 1.0, 0), w,
                          f"Huffman {dtype} {'32' if wide else '16'}-bit tables")


# -- COMPRESSION_METADATA: constants stored LUT-compressed in place, decompressed by TFLM's kernels ------

def lut_metadata(entries: Sequence[tuple[int, int, int]]) -> bytes:
    """A COMPRESSION_METADATA flatbuffer listing (tensor, value buffer, bit width) of subgraph 0."""
    b = flatbuffers.Builder(256)
    luts = []
    for tensor, buffer, width in entries:
        b.StartObject(3)
        b.PrependInt32Slot(0, tensor, 0)
        b.PrependUint32Slot(1, buffer, 0)
        b.PrependUint8Slot(2, width, 0)
        luts.append(b.EndObject())

    def vector(items):
        b.StartVector(4, len(items), 4)
        for item in reversed(items):
            b.PrependUOffsetTRelative(item)
        return b.EndVector()
    luts_vec = vector(luts)
    b.StartObject(1)
    b.PrependUOffsetTRelativeSlot(0, luts_vec, 0)
    subgraphs = vector([b.EndObject()])
    b.StartObject(2)
    b.PrependUint32Slot(0, 1, 1)
    b.PrependUOffsetTRelativeSlot(1, subgraphs, 0)
    b.Finish(b.EndObject())
    return bytes(b.Output())


def lut_compress(values: np.ndarray, width: int, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """(packed indices, value tables) for values whose blocks along axis 0 have 2**width values each."""
    blocks = values.reshape(channels, -1)
    tables = np.zeros((channels, 1 << width), values.dtype)
    indices = np.zeros(blocks.shape, np.int64)
    for c, block in enumerate(blocks):
        uniq, inverse = np.unique(block, return_inverse=True)
        tables[c, :uniq.size] = uniq
        indices[c] = inverse.reshape(-1)
    bits = (indices.reshape(-1)[:, None] >> np.arange(width - 1, -1, -1)) & 1
    return np.packbits(bits.astype(np.uint8).reshape(-1)), tables.reshape(-1)


@pytest.mark.parametrize("width", [2, 4, 5])
def test_compression_metadata_conv_weights_and_bias_run_and_plan_like_tflm(oracle, width):
    rng = np.random.default_rng(60 + width)
    out_ch = 4
    model, x = conv_model(rng, width, out_ch=out_ch)
    plain = load_model(model)
    conv = plain.main.operators[0]
    filt, bias = (plain.main.tensors[i] for i in conv.inputs[1:])
    (f_idx, f_table), (b_idx, b_table) = (lut_compress(np.asarray(t.data), width, out_ch) for t in (filt, bias))
    # Rebuild the same graph with the compressed buffers, the value tables as two more buffers (they
    # follow the constants' buffers: the filter's and the bias', after the empty buffer 0).
    x2, y2 = T("INT8", x.shape, 0.5, 3), T("INT8", (1, 6, 6, out_ch), 0.8, -4)
    f2 = T("INT8", filt.shape, filt.quantization.scales, 0, data=f_idx.view(np.int8))
    b2 = T("INT32", bias.shape, bias.quantization.scales, 0, data=b_idx.view(np.int32) if b_idx.size % 4 == 0
           else np.pad(b_idx, (0, -b_idx.size % 4)).view(np.int32))
    meta = {"filter_values": f_table.view(np.uint8).tobytes(), "bias_values": b_table.view(np.uint8).tobytes()}
    meta["COMPRESSION_METADATA"] = lut_metadata([(1, 3, width), (2, 4, width)])
    content = graph_model([(Op("CONV_2D", "Conv2DOptions", {"padding": 0, "stride_w": 1, "stride_h": 1}),
                            [x2, f2, b2], [y2])], metadata=meta)
    loaded = load_model(content)
    assert set(loaded.compressed) == {(0, 1), (0, 2)}
    np.testing.assert_array_equal(loaded.main.tensors[1].data, filt.data)
    np.testing.assert_array_equal(loaded.main.tensors[2].data, bias.data)
    assert loaded.constant_bytes < plain.constant_bytes + f_table.nbytes + b_table.nbytes
    # The head grows by the decompressed filter and bias TFLM's CONV_2D decodes into scratch buffers.
    check_against_tflm(oracle, content, x2, f"COMPRESSION_METADATA conv {width} bits", rng)


@pytest.mark.parametrize("metadata, error, message", [
    (b"\x00" * 3, MalformedModelError, r"COMPRESSION_METADATA.*outside its 3 bytes"),
    (lut_metadata([(9, 1, 4)]), InconsistentModelError, r"LUT tensor 9: tensor index out of range"),
    (lut_metadata([(0, 99, 4)]), InconsistentModelError, r"value buffer 99 out of range"),
    (lut_metadata([(0, 1, 0)]), InconsistentModelError, r"LUT index width 0"),
])
def test_malformed_compression_metadata_is_refused_when_loading(metadata, error, message):
    w = T("INT8", (4,), 1.0, 0, data=np.zeros(4, np.int8))
    y = T("INT8", (4,), 1.0, 0)
    content = graph_model([(Op("RELU"), [w], [y])], inputs=[], outputs=[y],
                          metadata={"COMPRESSION_METADATA": metadata})
    with pytest.raises(error, match=message):
        load_model(content)
