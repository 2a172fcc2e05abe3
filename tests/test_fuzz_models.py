"""Property: for any bytes derived from real models, load + allocate_tensors + invoke either works or
raises a MicrointerpError -- never another exception, a crash or a hang.

Hypothesis draws the mutations: bit flips, byte and word overwrites, truncation, splicing two models,
values written into the flatbuffer's own fields (located with the verifier's schema, so the structure
stays valid and the checks behind the verifier are reached), and single-op models rebuilt with
tests/opmodels.py with one parameter perturbed. Every input runs in one persistent worker process
(fuzz/worker.py) that is restarted after a crash; a crash, a hang or a non-microinterp exception fails
the test with the reproducer saved under a temporary folder named in the message.

Runs are derandomized (same examples on every run, CI included) and sized for about a minute on two
cores; MICROINTERP_FUZZ_SCALE multiplies the example counts for a longer local run. Long runs:
fuzz/long_run.py and fuzz/atheris_harness.py.
"""
from __future__ import annotations

import copy
import math
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.mutations import corpus_paths, field_slots
from fuzz.worker import Worker, save_reproducer
from flatbuffers import flexbuffers

from opmodels import Op, T, custom_op, graph_model

_SCALE = float(os.environ.get("MICROINTERP_FUZZ_SCALE", "1"))


def fuzz_settings(examples: int) -> settings:
    """Reproducible settings: derandomized, no example database, no per-example deadline."""
    return settings(max_examples=max(1, int(examples * _SCALE)), derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# -- single-op templates, valid as built; the builder tests perturb one parameter -------------------------

def _templates() -> list[tuple[Op, list[T | None], list[T]]]:
    rng = np.random.default_rng(0)

    def const(type_name: str, shape: tuple[int, ...], scale=None, zero_point=None, qdim: int = 0) -> T:
        dtype = T(type_name, shape).dtype
        if np.issubdtype(dtype, np.integer):
            data = rng.integers(-100, 100, size=shape).astype(dtype)
        else:
            data = rng.standard_normal(shape).astype(dtype)
        return T(type_name, shape, scale, zero_point, data=data, quantized_dimension=qdim)

    conv_opts = {"padding": 0, "stride_w": 1, "stride_h": 1, "fused_activation_function": 1,
                 "dilation_w_factor": 1, "dilation_h_factor": 1}
    pool_opts = {"padding": 1, "stride_w": 2, "stride_h": 2, "filter_width": 2, "filter_height": 2,
                 "fused_activation_function": 0}
    q = dict(scale=0.5, zero_point=-1)
    return [
        (Op("CONV_2D", "Conv2DOptions", conv_opts),
         [T("INT8", (1, 5, 5, 2), **q), const("INT8", (3, 3, 3, 2), [0.1, 0.2, 0.3], 0),
          const("INT32", (3,), [0.05, 0.1, 0.15], 0)],
         [T("INT8", (1, 5, 5, 3), 1.0, 2)]),
        (Op("CONV_2D", "Conv2DOptions", conv_opts),
         [T("FLOAT32", (1, 4, 4, 2)), const("FLOAT32", (2, 3, 3, 2)), None], [T("FLOAT32", (1, 4, 4, 2))]),
        (Op("DEPTHWISE_CONV_2D", "DepthwiseConv2DOptions", {**conv_opts, "padding": 1, "depth_multiplier": 2}),
         [T("INT8", (1, 4, 4, 2), **q), const("INT8", (1, 3, 3, 4), [0.1, 0.2, 0.3, 0.4], 0, qdim=3),
          const("INT32", (4,), [0.05, 0.1, 0.15, 0.2], 0)],
         [T("INT8", (1, 2, 2, 4), 1.0, 2)]),
        (Op("FULLY_CONNECTED", "FullyConnectedOptions", {"fused_activation_function": 0}),
         [T("INT8", (2, 3), **q), const("INT8", (4, 3), 0.1, 0), const("INT32", (4,), 0.05, 0)],
         [T("INT8", (2, 4), 1.0, 0)]),
        (Op("AVERAGE_POOL_2D", "Pool2DOptions", pool_opts), [T("INT8", (1, 4, 4, 2), **q)],
         [T("INT8", (1, 2, 2, 2), **q)]),
        (Op("MAX_POOL_2D", "Pool2DOptions", pool_opts), [T("FLOAT32", (1, 4, 4, 2))], [T("FLOAT32", (1, 2, 2, 2))]),
        (Op("ADD", "AddOptions", {"fused_activation_function": 0}),
         [T("INT8", (1, 2, 3), **q), T("INT8", (3,), 0.25, 3)], [T("INT8", (1, 2, 3), 1.0, 0)]),
        (Op("ADD", "AddOptions", {"fused_activation_function": 3}),
         [T("FLOAT32", (2, 1, 3)), T("FLOAT32", (4, 1))], [T("FLOAT32", (2, 4, 3))]),
        (Op("SOFTMAX", "SoftmaxOptions", {"beta": 1.0}), [T("INT8", (2, 5), 0.1, 0)],
         [T("INT8", (2, 5), 1 / 256, -128)]),
        (Op("SOFTMAX", "SoftmaxOptions", {"beta": 0.5}), [T("FLOAT32", (3, 4))], [T("FLOAT32", (3, 4))]),
        (Op("QUANTIZE"), [T("FLOAT32", (2, 3))], [T("INT8", (2, 3), **q)]),
        (Op("QUANTIZE"), [T("INT8", (6,), **q)], [T("INT8", (6,), 0.25, 5)]),
        (Op("DEQUANTIZE"), [T("INT8", (2, 3), **q)], [T("FLOAT32", (2, 3))]),
        (Op("RESHAPE", "ReshapeOptions", {"new_shape": [3, 2]}), [T("INT8", (2, 3), **q)],
         [T("INT8", (3, 2), **q)]),
        # The operators of issue 14: builtins, int4 filters, and custom ops with flexbuffer options.
        (Op("ADD_N"), [T("INT8", (2, 3), **q), T("INT8", (2, 3), 0.25, 0), T("INT8", (2, 3), **q)],
         [T("INT8", (2, 3), 1.0, 0)]),
        (Op("BATCH_MATMUL", "BatchMatMulOptions", {"adj_x": False, "adj_y": True}),
         [T("INT8", (2, 3, 4), **q), T("INT8", (1, 5, 4), 0.25, 0)], [T("INT8", (2, 3, 5), 1.0, 0)]),
        (Op("CUMSUM", "CumsumOptions", {"exclusive": True, "reverse": False}),
         [T("FLOAT32", (2, 5)), T("INT32", (1,), data=np.array([1], np.int32))], [T("FLOAT32", (2, 5))]),
        (Op("REVERSE_V2"), [T("INT16", (2, 3, 4)), T("INT32", (1,), data=np.array([1], np.int32))],
         [T("INT16", (2, 3, 4))]),
        (Op("LOG_SOFTMAX"), [T("INT8", (2, 6), 0.1, 0)], [T("INT8", (2, 6), 16 / 256, 127)]),
        (Op("L2_POOL_2D", "Pool2DOptions", pool_opts), [T("FLOAT32", (1, 4, 4, 2))], [T("FLOAT32", (1, 2, 2, 2))]),
        (Op("FLOOR_MOD"), [T("FLOAT32", (2, 3)), T("FLOAT32", (3,))], [T("FLOAT32", (2, 3))]),
        (Op("DYNAMIC_UPDATE_SLICE"), [T("INT8", (4, 5), **q), T("INT8", (2, 2), **q),
                                      T("INT32", (2,), data=np.array([1, 3], np.int32))], [T("INT8", (4, 5), **q)]),
        (Op("EMBEDDING_LOOKUP"), [T("INT32", (3,), data=np.array([0, 2, 1], np.int32)), const("FLOAT32", (4, 2))],
         [T("FLOAT32", (3, 2))]),
        (Op("REDUCE_ALL", "ReducerOptions", {"keep_dims": False}),
         [T("BOOL", (3, 4)), T("INT32", (1,), data=np.array([1], np.int32))], [T("BOOL", (3,))]),
        (Op("CONV_2D", "Conv2DOptions", conv_opts),
         [T("INT8", (1, 4, 4, 2), **q), T("INT4", (2, 3, 3, 2), [0.1, 0.2], 0, data=rng.integers(-8, 8, (2, 3, 3, 2))),
          const("INT32", (2,), [0.05, 0.1], 0)],
         [T("INT8", (1, 4, 4, 2), 1.0, 2)]),
        (custom_op("SignalWindow", {"shift": 3}), [T("INT16", (2, 8)), const("INT16", (8,))], [T("INT16", (2, 8))]),
        (custom_op("SignalRfft", {"T": 7, "fft_length": 16}),
         [T("INT16", (16,))], [T("INT16", (18,))]),
        (custom_op("SignalFramer", {"frame_size": 4, "frame_step": 2, "prefill": False}),
         [T("INT16", (2, 4))], [T("INT16", (2, 2, 4)), T("BOOL", ())]),
        (custom_op("CIRCULAR_BUFFER", {"cycles_max": 2}), [T("INT8", (1, 1, 1, 3), 0.1, 0)],
         [T("INT8", (1, 3, 1, 3), 0.1, 0)]),
        (custom_op("TFLite_Detection_PostProcess", {
            "max_detections": 3, "max_classes_per_detection": 1, "detections_per_class": 2, "use_regular_nms": False,
            "nms_score_threshold": 0.1, "nms_iou_threshold": 0.5, "num_classes": 2, "y_scale": 10.0,
            "x_scale": 10.0, "h_scale": 5.0, "w_scale": 5.0}),
         [T("FLOAT32", (1, 4, 4)), T("FLOAT32", (1, 4, 3)), const("FLOAT32", (4, 4))],
         [T("FLOAT32", (1, 3, 4)), T("FLOAT32", (1, 3)), T("FLOAT32", (1, 3)), T("FLOAT32", (1,))]),
    ]


TEMPLATES = _templates()
_TYPES = ["INT8", "FLOAT32", "INT16", "INT32", "UINT8", "INT64", "BOOL", "FLOAT16", "STRING"]
_INT_VALUES = [-(1 << 31), -129, -2, -1, 0, 1, 2, 3, 4, 7, 127, 128, 255, 65535, (1 << 31) - 1]
_FLOATS = [0.0, -0.0, 1e-45, 1e-30, 1e-10, 1 / 256, 0.5, 1.0, 3.0, 1e10, 3.4e38, -1.0,
           float("inf"), float("-inf"), float("nan")]


def _set_option(op: Op, key: str, value) -> None:
    op.options[key] = float(value) if isinstance(op.options.get(key), float) else value


def _perturbed_flexbuffer(draw, raw: bytes) -> bytes:
    """Custom options with one key's value changed, a key dropped or added, or the bytes cut short."""
    try:
        options = dict(flexbuffers.Loads(raw))
    except Exception:  # already cut short by an earlier perturbation: cut again
        return raw[:len(raw) // 2]
    how = draw(st.sampled_from(["value", "drop", "add", "truncate"]))
    if how == "truncate":
        return raw[:draw(st.integers(0, len(raw) - 1))]
    if how == "add":
        options[draw(st.sampled_from(["extra", "T", "shift", "num_classes"]))] = draw(st.sampled_from(_INT_VALUES))
    elif options:
        key = draw(st.sampled_from(sorted(options)))
        if how == "drop":
            del options[key]
        else:
            options[key] = draw(st.one_of(st.sampled_from(_INT_VALUES), st.sampled_from(_FLOATS), st.booleans()))
    return bytes(flexbuffers.Dumps(options))


@st.composite
def perturbed_models(draw) -> tuple[bytes, str]:
    """A template single-op model with one or two parameters changed, rebuilt with the builder."""
    op, inputs, outputs = copy.deepcopy(draw(st.sampled_from(TEMPLATES)))
    notes = [op.name]
    tensors = [t for t in inputs + outputs if t is not None]
    for _ in range(draw(st.integers(1, 2))):
        t = draw(st.sampled_from(tensors))
        what = draw(st.sampled_from(["dim", "rank", "type", "scale", "zero_point", "qdim", "option",
                                     "drop_input", "drop_data", "custom_option"]))
        if what == "dim" and t.shape:
            axis = draw(st.integers(0, len(t.shape) - 1))
            shape = list(t.shape)
            shape[axis] = draw(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 9, 64, 4096, (1 << 31) - 1]))
            t.shape = tuple(shape)
            if t.data is not None and draw(st.booleans()):  # keep the constant's size consistent
                t.data = np.resize(t.data, t.shape) if 0 < math.prod(t.shape) < 1 << 16 else t.data
        elif what == "rank":
            t.shape = tuple(draw(st.lists(st.integers(0, 6), max_size=7)))
        elif what == "type":
            t.type = draw(st.sampled_from(_TYPES))
            t.data = None if t.type == "STRING" else t.data
            if t.data is not None:
                t.data = t.data.astype(t.dtype)
        elif what == "scale":
            t.scale = draw(st.one_of(st.sampled_from(_FLOATS), st.lists(st.sampled_from(_FLOATS), max_size=5)))
        elif what == "zero_point" and t.scale is not None:
            t.zero_point = draw(st.sampled_from([-129, -128, -1, 0, 1, 127, 128, 255, 256]))
        elif what == "qdim" and t.scale is not None:
            t.quantized_dimension = draw(st.sampled_from([-1, 0, 1, 2, 3, 4, 100]))
        elif what == "option" and op.options:
            key = draw(st.sampled_from(sorted(op.options)))
            if isinstance(op.options[key], bool):
                op.options[key] = draw(st.booleans())
            elif isinstance(op.options[key], list):
                op.options[key] = draw(st.lists(st.sampled_from(_INT_VALUES), max_size=5))
            elif isinstance(op.options[key], float):
                _set_option(op, key, draw(st.sampled_from(_FLOATS)))
            else:
                op.options[key] = draw(st.sampled_from([-128, -1, 0, 1, 2, 3, 4, 5, 6, 7, 100, 127]))
        elif what == "drop_input" and len(inputs) > 1:
            inputs[draw(st.integers(0, len(inputs) - 1))] = None
        elif what == "drop_data":
            t.data = None
        elif what == "custom_option" and op.custom_options:
            op.custom_options = _perturbed_flexbuffer(draw, op.custom_options)
        notes.append(f"{what} of {t.type}{list(t.shape)}")
    return graph_model([(op, inputs, outputs)]), ", ".join(notes)


# -- the corpus and the worker ------------------------------------------------------------------------------

def _builder_corpus() -> list[bytes]:
    return [graph_model([node]) for node in TEMPLATES]


CORPUS: list[bytes] = _builder_corpus() + [p.read_bytes() for p in corpus_paths()]


@pytest.fixture(scope="module")
def worker():
    """One persistent worker process for the module (restarted by Worker.run after a crash)."""
    with Worker(timeout=20.0) as w:
        yield w


@pytest.fixture(scope="module")
def runnable(worker) -> list[int]:
    """Corpus indices of the models that run end to end: their mutants reach the kernels."""
    found = [i for i, content in enumerate(CORPUS) if worker.run(content).status == "ok"]
    assert found, "no corpus model runs end to end"
    return found


@pytest.fixture(scope="module")
def reproducers(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz-reproducers")


def check(worker: Worker, reproducers: Path, content: bytes, how: str) -> None:
    """Fail with the saved reproducer unless the input ran or was refused with a MicrointerpError."""
    outcome = worker.run(content)
    if outcome.failed:
        path = save_reproducer(content, outcome, reproducers, how)
        pytest.fail(f"{outcome.status} ({outcome.error}) on {how}; reproducer: {path}\n{outcome.message}",
                    pytrace=False)


def draw_model(data, runnable: list[int]) -> tuple[int, bytes]:
    """Half the time a model that runs end to end, else any corpus model."""
    indices = runnable if data.draw(st.booleans(), label="runnable") else range(len(CORPUS))
    index = data.draw(st.sampled_from(list(indices)), label="model")
    return index, CORPUS[index]


def flip_bits(data, content: bytes, max_flips: int) -> tuple[bytes, list[tuple[int, int]]]:
    """The content with 1 to max_flips drawn bits flipped, and the (byte, bit) flips."""
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(content) - 1), st.integers(0, 7)), min_size=1,
                               max_size=max_flips), label="flips")
    out = bytearray(content)
    for pos, bit in flips:
        out[pos] ^= 1 << bit
    return bytes(out), flips


# -- the properties ------------------------------------------------------------------------------------------

@fuzz_settings(800)
@given(data=st.data())
def test_bit_flips(worker, runnable, reproducers, data):
    index, content = draw_model(data, runnable)
    out, flips = flip_bits(data, content, 8)
    check(worker, reproducers, out, f"model {index} bit flips {flips}")


@fuzz_settings(800)
@given(data=st.data())
def test_byte_and_word_overwrites(worker, runnable, reproducers, data):
    index, content = draw_model(data, runnable)
    out = bytearray(content)
    writes = data.draw(st.lists(st.tuples(st.integers(0, len(content) // 4 - 1),
                                          st.one_of(st.sampled_from(_INT_VALUES), st.integers(-(1 << 31), (1 << 31) - 1)),
                                          st.booleans()), min_size=1, max_size=4), label="writes")
    for word, value, one_byte in writes:
        pos = 4 * word
        if one_byte:
            out[pos] = value & 0xFF
        else:
            out[pos:pos + 4] = struct.pack("<i", value)
    check(worker, reproducers, bytes(out), f"model {index} overwrites {writes}")


@fuzz_settings(300)
@given(data=st.data())
def test_truncation(worker, runnable, reproducers, data):
    index, content = draw_model(data, runnable)
    cut = data.draw(st.integers(0, len(content) - 1), label="cut")
    check(worker, reproducers, content[:cut], f"model {index} cut to {cut} bytes")


@fuzz_settings(400)
@given(data=st.data())
def test_splicing_two_models(worker, runnable, reproducers, data):
    (i, a), (j, b) = draw_model(data, runnable), draw_model(data, runnable)
    cut_a = data.draw(st.integers(0, len(a)), label="cut_a")
    cut_b = data.draw(st.integers(0, len(b)), label="cut_b")
    if data.draw(st.booleans(), label="paste"):
        chunk = b[cut_b:cut_b + data.draw(st.integers(4, 512), label="length")]
        spliced, how = a[:cut_a] + chunk + a[cut_a + len(chunk):], f"model {j}[{cut_b}:+{len(chunk)}] pasted at {cut_a}"
    else:
        spliced, how = a[:cut_a] + b[cut_b:], f"model {i}[:{cut_a}] + model {j}[{cut_b}:]"
    check(worker, reproducers, spliced, f"model {i} {how}")


@fuzz_settings(1500)
@given(data=st.data())
def test_values_written_into_fields(worker, runnable, reproducers, data):
    index, content = draw_model(data, runnable)
    slots = field_slots(content)
    out = bytearray(content)
    notes = []
    for _ in range(data.draw(st.integers(1, 3), label="patches")):
        slot = slots[data.draw(st.integers(0, len(slots) - 1), label="slot")]
        pos = slot.pos + slot.size * data.draw(st.integers(0, slot.count - 1), label="element")
        if slot.is_float:
            raw = struct.pack("<f", data.draw(st.sampled_from(_FLOATS), label="float"))
        else:
            bits = 8 * slot.size
            value = data.draw(st.one_of(st.sampled_from(_INT_VALUES), st.integers(-(1 << (bits - 1)),
                                                                                   (1 << bits) - 1)), label="value")
            raw = (value & ((1 << bits) - 1)).to_bytes(slot.size, "little")
        out[pos:pos + slot.size] = raw
        notes.append(f"{slot.path}@{pos}={raw.hex()}")
    check(worker, reproducers, bytes(out), f"model {index} fields {notes}")


@fuzz_settings(1200)
@given(model=perturbed_models())
def test_rebuilt_models_with_perturbed_parameters(worker, reproducers, model):
    content, how = model
    check(worker, reproducers, content, f"rebuilt {how}")


def test_a_crash_and_a_hang_are_caught_and_reported(tmp_path):
    """The harness itself: a worker that dies or stalls is reported, and the next input gets a new one."""
    with Worker(timeout=2.0, env={"MICROINTERP_FUZZ_SELF_TEST": "1"}) as w:
        crash = w.run(b"crash")
        assert crash.status == "crash" and crash.error == "SIGSEGV", crash
        hang = w.run(b"hang")
        assert hang.status == "hang", hang
        assert w.run(CORPUS[0]).status in ("ok", "rejected")
        assert w.restarts == 2
        path = save_reproducer(b"crash", crash, tmp_path, "label")
        assert path.read_bytes() == b"crash" and "SIGSEGV" in path.with_suffix(".txt").read_text()
