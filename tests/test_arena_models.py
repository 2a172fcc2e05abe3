"""Memory strategies on real models: every plan checked, outputs unchanged, optimal at the fixed-order
lower bound, the MLPerf Tiny saving; offline plans and reordered models loaded by tflite-micro; the
`microinterp plan` command."""
from __future__ import annotations

import importlib.util
import json
import struct
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import REFERENCE_MODELS, shared_models_dir
from microinterp import Interpreter, UnsupportedOperatorError, load_model
from microinterp.cli.arena_report import compare_strategies, parse_size, plan_arena
from microinterp.planning.lifetimes import OFFLINE_METADATA
from microinterp.writer import rewrite_model, with_offline_plan
from opmodels import Op, T, graph_model
from oracle_checks import assert_same_outputs, run_sequence, seeded_sequence

STRATEGIES = ("optimal", "reorder", "inplace")
REFERENCE = sorted(str(p.relative_to(REFERENCE_MODELS)) for p in REFERENCE_MODELS.rglob("*.tflite"))
_SHARED = shared_models_dir()
SHARED = sorted(str(p.relative_to(_SHARED)) for p in _SHARED.rglob("*.tflite")) if _SHARED.is_dir() else [
    "mlperf_tiny/kws_ref_model.tflite"]
MLPERF_INT8 = ("kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8")
MLPERF = (*MLPERF_INT8, "vww_96_float")
#: TFLM's heads for MLPERF_INT8 (spec/arena-planning.md §6), summed.
MLPERF_INT8_TFLM_HEADS = 139_648


def check_every_strategy(content: bytes, name: str) -> None:
    try:
        base = Interpreter(model_content=content)
        base.allocate_tensors()
    except UnsupportedOperatorError:
        pytest.skip("microinterp does not support this model")
    sequence = seeded_sequence(base)
    expected = run_sequence(base, sequence)
    tflm_plan = base.memory_plan
    for strategy in STRATEGIES:
        interp = Interpreter(model_content=content, memory_strategy=strategy)
        interp.allocate_tensors()  # the plan checker runs here: an invalid plan raises PlanError
        plan = interp.memory_plan
        assert plan.lower_bound <= plan.head <= tflm_plan.head, strategy
        assert interp.arena.size == plan.arena_size
        assert_same_outputs(run_sequence(interp, sequence), expected, f"{name} {strategy}")
        if strategy == "optimal":
            assert (plan.head, plan.proven_optimal) == (tflm_plan.lower_bound, True)


@pytest.mark.parametrize("name", REFERENCE)
def test_every_strategy_on_reference_models(name):
    check_every_strategy((REFERENCE_MODELS / name).read_bytes(), name)


@pytest.mark.parametrize("name", SHARED)
def test_every_strategy_on_shared_models(shared_models, name):
    check_every_strategy((shared_models / name).read_bytes(), name)


def test_mlperf_tiny_int8_arenas_shrink_by_more_than_a_third(shared_models):
    heads = {}
    for name in MLPERF_INT8:
        report, _ = plan_arena(shared_models / "mlperf_tiny" / f"{name}.tflite", "inplace")
        heads[name] = report.head
        assert report.proven_optimal
    tflm = sum(plan_arena(shared_models / "mlperf_tiny" / f"{n}.tflite")[0].head for n in MLPERF_INT8)
    assert tflm == MLPERF_INT8_TFLM_HEADS
    assert sum(heads.values()) <= 0.65 * MLPERF_INT8_TFLM_HEADS, heads


@st.composite
def random_graphs(draw):
    """A float32 graph of 2..8 steps on 1x6x5xC tensors: each reads one or two earlier tensors (the
    graph input included), so there are branches, residual ADDs and dead ends; RESHAPE round trips give
    aliases, 1x1 convolutions through 4C channels big intermediates. Every tensor nobody reads is a
    graph output."""
    rng = np.random.default_rng(draw(st.integers(0, 1 << 16)))

    def weights(*shape: int) -> T:
        return T("FLOAT32", shape, data=rng.normal(size=shape).astype(np.float32))
    channels = draw(st.sampled_from([1, 3, 4]))
    shape = (1, 6, 5, channels)
    tensors = [T("FLOAT32", shape)]
    nodes = []
    for _ in range(draw(st.integers(2, 8))):
        kind = draw(st.sampled_from(["conv", "depthwise", "pool", "add", "relu", "reshape", "expand"]))
        x = tensors[draw(st.integers(0, len(tensors) - 1))]
        y = T("FLOAT32", shape)
        same = dict(padding=0, stride_h=1, stride_w=1)
        if kind == "conv":
            k = draw(st.sampled_from([1, 3]))
            nodes.append((Op("CONV_2D", "Conv2DOptions", same), [x, weights(channels, k, k, channels)], [y]))
        elif kind == "depthwise":
            nodes.append((Op("DEPTHWISE_CONV_2D", "DepthwiseConv2DOptions", {**same, "depth_multiplier": 1}),
                          [x, weights(1, 3, 3, channels)], [y]))
        elif kind == "pool":
            pool = {**same, "filter_height": 2, "filter_width": 2}
            nodes.append((Op("MAX_POOL_2D", "Pool2DOptions", pool), [x], [y]))
        elif kind == "add":
            nodes.append((Op("ADD"), [x, tensors[draw(st.integers(0, len(tensors) - 1))]], [y]))
        elif kind == "relu":
            nodes.append((Op("RELU"), [x], [y]))
        elif kind == "reshape":
            flat = T("FLOAT32", (1, 30 * channels))
            nodes.append((Op("RESHAPE"), [x], [flat]))
            nodes.append((Op("RESHAPE"), [flat], [y]))
        else:
            wide = T("FLOAT32", (*shape[:3], 4 * channels))
            nodes.append((Op("CONV_2D", "Conv2DOptions", same), [x, weights(4 * channels, 1, 1, channels)], [wide]))
            nodes.append((Op("CONV_2D", "Conv2DOptions", same), [wide, weights(channels, 1, 1, 4 * channels)], [y]))
        tensors.append(y)
    read = {id(t) for _, ins, _ in nodes for t in ins}
    return graph_model(nodes, outputs=[t for _, _, outs in nodes for t in outs if id(t) not in read])


@settings(max_examples=30, deadline=None)
@given(random_graphs())
def test_every_strategy_on_random_graphs(content):
    check_every_strategy(content, "random graph")


def branchy_model() -> bytes:
    """x -> two FULLY_CONNECTED branches (16 -> 1024 -> 16 bytes each) -> ADD. Stored breadth-first, both
    1024-byte intermediates are live together; depth-first, one at a time."""
    rng = np.random.default_rng(5)

    def fc(n_in, n_out):
        w = T("INT8", (n_out, n_in), 0.02, 0, data=rng.integers(-100, 100, (n_out, n_in), dtype=np.int8))
        b = T("INT32", (n_out,), 0.02 * 0.1, 0, data=rng.integers(-500, 500, n_out, dtype=np.int32))
        return w, b
    x = T("INT8", (1, 16), 0.1, 3)
    a1, b1 = T("INT8", (1, 1024), 0.3, -2), T("INT8", (1, 1024), 0.3, 1)
    a2, b2, y = T("INT8", (1, 16), 0.5, 0), T("INT8", (1, 16), 0.5, 4), T("INT8", (1, 16), 0.7, -1)
    op = Op("FULLY_CONNECTED")
    return graph_model([(op, [x, *fc(16, 1024)], [a1]), (op, [x, *fc(16, 1024)], [b1]),
                        (op, [a1, *fc(1024, 16)], [a2]), (op, [b1, *fc(1024, 16)], [b2]),
                        (Op("ADD"), [a2, b2], [y])], outputs=[y])


def test_reordering_a_branchy_graph_runs_it_depth_first_with_the_same_outputs():
    content = branchy_model()
    check_every_strategy(content, "branchy")
    comparison = compare_strategies(load_model(content))
    assert comparison.head("reorder") < comparison.head("optimal") == comparison.fixed_order_bound
    assert comparison.savings["reordering"] == comparison.head("optimal") - comparison.head("reorder")
    report, plan = plan_arena(load_model(content), "reorder")
    assert plan.op_order in ((0, 2, 1, 3, 4), (1, 3, 0, 2, 4))
    assert [o.op for o in report.ops] == list(plan.op_order)


# -- models written for TFLM ------------------------------------------------------------------------

def test_rewriting_keeps_every_tensor_op_and_constant_and_adds_or_replaces_metadata(shared_models):
    content = (shared_models / "mlperf_tiny" / "kws_ref_model.tflite").read_bytes()
    order = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    once = rewrite_model(content, metadata={"a": b"first", OFFLINE_METADATA: b"\x00" * 8})
    twice = rewrite_model(once, metadata={"a": b"second"}, operator_order=order)
    before, after = load_model(content), load_model(twice)
    assert after.metadata == {**before.metadata, "a": b"second", OFFLINE_METADATA: b"\x00" * 8}
    for t, u in zip(before.main.tensors, after.main.tensors):
        assert (t.name, t.shape, t.type_code, t.is_variable) == (u.name, u.shape, u.type_code, u.is_variable)
        assert (t.data is None and u.data is None) or np.array_equal(t.data, u.data)
        if u.data is not None:
            assert u.data.ctypes.data % 16 == 0 or u.data.nbytes == 0  # buffer alignment survives
    assert [(o.name, o.inputs, o.outputs, o.options) for o in before.main.operators] == \
        [(o.name, o.inputs, o.outputs, o.options) for o in after.main.operators]
    with pytest.raises(ValueError, match="permutation"):
        rewrite_model(content, operator_order=[0, 0])


def check_offline_plan_in_tflm(oracle, content: bytes, strategy: str) -> bytes:
    """Write the plan into the model; TFLM must report our head and compute what we compute."""
    model = load_model(content)
    _, plan = plan_arena(model, strategy)
    written = with_offline_plan(model, plan)
    offsets = struct.unpack(f"<{len(load_model(written).metadata[OFFLINE_METADATA]) // 4}i",
                            load_model(written).metadata[OFFLINE_METADATA])
    assert offsets[2] == sum(len(sg.tensors) for sg in model.subgraphs)
    assert oracle.tflm_arena(written).head == plan.head
    interp = Interpreter(model_content=content)
    interp.allocate_tensors()
    sequence = seeded_sequence(interp)
    assert_same_outputs(oracle.run(written, sequence, backend="tflm").outputs, run_sequence(interp, sequence),
                        f"offline plan ({strategy})")
    return written


@pytest.mark.parametrize("name", MLPERF)
def test_offline_plans_give_tflm_our_smaller_head_and_the_same_outputs(shared_models, oracle, name):
    content = (shared_models / "mlperf_tiny" / f"{name}.tflite").read_bytes()
    written = check_offline_plan_in_tflm(oracle, content, "optimal")
    assert Interpreter(model_content=written).model.metadata[OFFLINE_METADATA]


def test_reordered_models_run_in_tflm_in_the_new_order(oracle):
    written = check_offline_plan_in_tflm(oracle, branchy_model(), "reorder")
    assert [o.inputs[0] for o in load_model(written).main.operators][:2] != \
        [o.inputs[0] for o in load_model(branchy_model()).main.operators][:2]


# -- the command ------------------------------------------------------------------------------------

def microinterp(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "microinterp", "plan", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


def test_plan_command_reports_the_plan_and_checks_the_limit(tmp_path):
    model = REFERENCE_MODELS / "kws_ds_cnn_int8.tflite"
    fits = microinterp(model, "--strategy", "inplace", "--arena-limit", "64K", "--svg", tmp_path / "plan.svg")
    assert fits.returncode == 0, fits.stderr
    assert "<- peak" in fits.stdout and "fits the limit of 65,536 bytes" in fits.stdout
    assert (tmp_path / "plan.svg").read_text().startswith("<svg")
    too_small = microinterp(model, "--arena-limit", "16K", "--json")
    assert too_small.returncode == 1
    report = json.loads(too_small.stdout)
    assert report["fits"] is False and report["total"] == report["head"] + report["tail_estimate"] > 16384
    assert sum(op["peak"] for op in report["ops"]) == 1
    assert microinterp(model, "--arena-limit", "16K").stdout.rstrip().endswith(
        f"bytes over")


def test_plan_command_compares_strategies_and_writes_offline_plans(tmp_path):
    model = REFERENCE_MODELS / "vww_mobilenet_v1_025_int8.tflite"
    compared = microinterp(model, REFERENCE_MODELS / "kws_ds_cnn_int8.tflite", "--compare", "--json")
    vww, kws = json.loads(compared.stdout)
    rows = {r["strategy"]: r for r in vww["rows"]}
    assert rows["optimal"]["head"] < rows["tflm"]["head"] and rows["inplace"]["overhead_percent"] < -30
    assert sum(vww["savings"].values()) == rows["tflm"]["head"] - rows["inplace"]["head"]
    assert kws["savings"]["overlapped windows"] > 0
    table = microinterp(model, REFERENCE_MODELS / "kws_ds_cnn_int8.tflite", "--compare").stdout
    assert table.count("sum") == 2
    out = tmp_path / "planned.tflite"
    written = microinterp(model, "--strategy", "optimal", "--write-offline-plan", out, "--json")
    assert written.returncode == 0, written.stderr
    assert json.loads(written.stdout)["offline_plan_head"] == rows["optimal"]["head"]
    assert Interpreter(model_path=out).model.metadata[OFFLINE_METADATA]
    overlapped = json.loads(microinterp(model, "--strategy", "inplace", "--write-offline-plan", out, "--json").stdout)
    assert overlapped["schedule"] == "tflm-reference" and overlapped["offline_plan_head"] == overlapped["head"]


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="matplotlib is not installed")
def test_plan_command_draws_png(tmp_path):
    result = microinterp(REFERENCE_MODELS / "ic_resnet8_int8.tflite", "--png", tmp_path / "plan.png")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "plan.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sizes_and_strategy_names_are_checked():
    assert parse_size("256K") == parse_size("256KiB") == 262144 and parse_size("1M") == 1 << 20
    with pytest.raises(ValueError, match="byte count"):
        parse_size("lots")
    with pytest.raises(ValueError, match="unknown memory_strategy 'smallest'"):
        Interpreter(model_content=branchy_model(), memory_strategy="smallest")
