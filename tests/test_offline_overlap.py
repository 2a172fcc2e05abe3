"""Overlapped `inplace` plans written as TFLM offline plans and run by unmodified tflite-micro.

Every shared and bundled model whose plan (for TFLM's reference kernels, the tflm-reference schedule)
places tensors over each other is written with that plan; TFLM must report the planned head and give
the original model's outputs on 50 random inputs and the two edge inputs, all in one worker call. The
original's outputs come from microinterp (bit-exact with TFLM on these models, test_conformance_shared
and test_reference_models; floats within 1e-5), which runs them 20x faster than TFLM's reference
kernels. A plan nudged one kernel step past an op's smallest safe lag must change TFLM's outputs (the
comparison can fail), and a plan made for microinterp's kernels that TFLM's would break is refused,
naming the op.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from conftest import REFERENCE_MODELS, shared_models_dir
from microinterp import Interpreter, UnsupportedOperatorError, load_model
from microinterp.cli.arena_report import plan_arena
from microinterp.model import TENSOR_TYPES, Model
from microinterp.planning import MemoryPlan, PlanError
from microinterp.planning.check import Sharing, check_plan
from microinterp.planning.greedy import BufferRequest
from microinterp.planning.lifetimes import OFFLINE_METADATA
from microinterp.planning.schedules import TFLM_REFERENCE, kernel_schedule, op_access
from microinterp.writer import rewrite_model, with_offline_plan
from opmodels import Op, T, graph_model, single_op_model
from oracle_checks import assert_same_outputs, run_sequence
from test_arena_models import MLPERF_INT8, MLPERF_INT8_TFLM_HEADS, microinterp
from test_op_depthwise_conv import depthwise_case
from test_op_fully_connected import fc_case

_SHARED = shared_models_dir()
MODELS = sorted([*(f"shared/{p.relative_to(_SHARED)}" for p in _SHARED.rglob("*.tflite")),
                 *(f"reference/{p.relative_to(REFERENCE_MODELS)}" for p in REFERENCE_MODELS.rglob("*.tflite"))])
RANDOM_INPUTS = 50
FLOAT_EDGE = 4.0
#: Search time per plan: any valid plan serves here (TFLM must match it); MLPerf plans are proven optimal fast.
TIME_BUDGET = 1.0
#: Models whose 52 invocations take TFLM's reference kernels over 10 s; run with MICROINTERP_SLOW_TESTS=1.
SLOW_IN_TFLM = {"shared/bench/mobilenet_v2_quantized_1x3x224x224.tflite": "1.3 s per TFLM invoke",
                "shared/bench/pretrainedResnet_large_int8.tflite": "0.22 s per TFLM invoke"}
#: The issue's goal: the MLPerf Tiny int8 heads TFLM reports for our written models, at least 40% below its own.
MLPERF_INT8_GOAL = int(0.6 * MLPERF_INT8_TFLM_HEADS)


def model_path(name: str) -> Path:
    folder, rest = name.split("/", 1)
    return (shared_models_dir() if folder == "shared" else REFERENCE_MODELS) / rest


@functools.cache
def written_model(name: str) -> tuple[Model, MemoryPlan, bytes]:
    """The model, its inplace plan for TFLM's reference kernels, and the model carrying that plan."""
    model = load_model(model_path(name))
    try:
        _, plan = plan_arena(model, "inplace", time_budget=TIME_BUDGET, schedule=TFLM_REFERENCE)
    except UnsupportedOperatorError as e:
        pytest.skip(f"microinterp cannot plan this model: {e}")
    return model, plan, with_offline_plan(model, plan)


def random_and_edge_inputs(model: Model) -> list[list[np.ndarray]]:
    """RANDOM_INPUTS seeded random invocations, then every input at its minimum, then at its maximum: the
    integer type's range; for floats -FLOAT_EDGE and FLOAT_EDGE (the type's own extremes overflow to
    inf and NaN, which compare as equal whatever was computed)."""
    rng = np.random.default_rng(12)
    tensors = [model.main.tensors[i] for i in model.main.inputs]

    def edge(t, side: int) -> np.ndarray:
        if np.issubdtype(t.dtype, np.integer):
            info = np.iinfo(t.dtype)
            return np.full(t.shape, info.max if side > 0 else info.min, t.dtype)
        return np.full(t.shape, side * FLOAT_EDGE, t.dtype)
    random = [[rng.integers(np.iinfo(t.dtype).min, np.iinfo(t.dtype).max, t.shape, t.dtype, endpoint=True)
               if np.issubdtype(t.dtype, np.integer) else rng.standard_normal(t.shape).astype(t.dtype)
               for t in tensors] for _ in range(RANDOM_INPUTS)]
    return [*random, [edge(t, -1) for t in tensors], [edge(t, 1) for t in tensors]]


def run_in_microinterp(content: bytes, inputs) -> list[list[np.ndarray]]:
    interp = Interpreter(model_content=content)
    interp.allocate_tensors()
    return run_sequence(interp, inputs)


def assert_written_model_gives_the_original_outputs(oracle, original: bytes, written: bytes, inputs,
                                                    what: str) -> None:
    """TFLM running `written`, then microinterp running it, compute what the original model computes (in
    microinterp), invocation by invocation without reset."""
    expected = run_in_microinterp(original, inputs)
    assert_same_outputs(oracle.run(written, inputs, backend="tflm").outputs, expected, f"{what} in TFLM")
    assert_same_outputs(run_in_microinterp(written, inputs), expected, f"{what} in microinterp")


@pytest.mark.parametrize("name", MODELS)
def test_overlapped_plans_run_in_tflm_with_the_planned_head_and_the_original_outputs(oracle, name):
    if not model_path(name).is_file():
        pytest.skip("shared models absent")
    if name in SLOW_IN_TFLM and not os.environ.get("MICROINTERP_SLOW_TESTS"):
        pytest.skip(f"{SLOW_IN_TFLM[name]}; set MICROINTERP_SLOW_TESTS=1 to run it")
    model, plan, written = written_model(name)
    if not plan.shared:
        pytest.skip("the plan places no tensor over another")
    assert oracle.tflm_arena(written).head == plan.head
    assert_written_model_gives_the_original_outputs(oracle, model.content, written, random_and_edge_inputs(model),
                                                    name)


def test_mlperf_tiny_int8_heads_in_tflm_are_at_least_40_percent_below_tflms_own(shared_models, oracle):
    heads = {}
    for name in MLPERF_INT8:
        _, plan, written = written_model(f"shared/mlperf_tiny/{name}.tflite")
        heads[name] = oracle.tflm_arena(written).head
        assert heads[name] == plan.head, name
    assert sum(heads.values()) <= MLPERF_INT8_GOAL, heads
    # Part 1's minimal arena_size (planning/arena_size.py) of each written model is to be checked here too.


def _one_step_too_close(model: Model, plan: MemoryPlan) -> tuple[MemoryPlan, str]:
    """The plan with one overlapped output moved to its op's smallest safe lag (unrounded) minus one kernel
    step of TFLM's reference schedule, for the first op where that breaks nothing but that op's own
    overlap (our checker says so); and the op's name."""
    kernels = kernel_schedule(TFLM_REFERENCE)
    index = {(a.entry.subgraph, a.entry.index): i for i, a in enumerate(plan.allocations) if a.entry.kind == "tensor"}
    requests = [BufferRequest(a.entry.aligned_size, a.entry.first, a.entry.last, None) for a in plan.allocations]
    accesses = {s: (None if s.kind == "alias" else
                    op_access(model, model.main.operators[s.op], model.main.operators[s.op].inputs.index(s.input),
                              kernels)[1]) for s in plan.shared}
    sharing = [Sharing(index[(0, s.input)], index[(0, s.output)], a) for s, a in accesses.items()]
    for s, access in accesses.items():
        if access is None:
            continue
        step = TENSOR_TYPES[model.main.tensors[s.output].type_code][2]
        shift = access.max_shift() + step
        assert access.first_clobber(shift) is not None
        offsets = [a.offset for a in plan.allocations]
        offsets[index[(0, s.output)]] = offsets[index[(0, s.input)]] + shift
        try:
            check_plan(requests, offsets, max(o + r.size for o, r in zip(offsets, requests)), sharing)
        except PlanError as e:
            problems = [p for p in str(e).splitlines()[1:] if "is not a multiple of" not in p]
            if len(problems) != 1 or f"at shift {shift}:" not in problems[0]:
                continue
        moved = tuple(dataclasses.replace(a, offset=o) for a, o in zip(plan.allocations, offsets))
        nudged = tuple(dataclasses.replace(t, shift=shift) if t == s else t for t in plan.shared)
        return dataclasses.replace(plan, allocations=moved, shared=nudged), model.main.operators[s.op].name
    raise AssertionError("no overlapped op can be moved alone")


def test_one_step_less_than_the_smallest_safe_lag_changes_tflms_outputs(shared_models, oracle):
    name = "shared/mlperf_tiny/kws_ref_model.tflite"
    model, plan, written = written_model(name)
    broken, op_name = _one_step_too_close(model, plan)
    with pytest.raises(ValueError, match=op_name):
        with_offline_plan(model, broken)
    offsets = [-1 if (a := broken.tensor_allocation(0, t.index)) is None else a.offset for t in model.main.tensors]
    words = [1, 1, len(offsets), *offsets]
    order = list(broken.op_order)
    too_close = rewrite_model(model.content, metadata={OFFLINE_METADATA: struct.pack(f"<{len(words)}i", *words)},
                              operator_order=None if order == sorted(order) else order)
    inputs = random_and_edge_inputs(model)
    assert_written_model_gives_the_original_outputs(oracle, model.content, written, inputs, "safe plan")
    with pytest.raises(AssertionError, match="one step too close in TFLM"):
        assert_written_model_gives_the_original_outputs(oracle, model.content, too_close, inputs, "one step too close")


def test_plans_for_microinterps_kernels_that_tflms_would_break_are_refused_naming_the_op(tmp_path):
    # Depthwise with multiplier 2: microinterp reads a whole pixel before writing it; TFLM writes
    # output channel 2c before it reads input channel c + 1 of the same pixel.
    case = depthwise_case("multiplier 2", 1, input_shape=(1, 4, 4, 16), multiplier=2, kernel=(1, 1))
    model = load_model(single_op_model(case.op, case.inputs, case.outputs))
    _, ours = plan_arena(model, "inplace")
    _, theirs = plan_arena(model, "inplace", schedule=TFLM_REFERENCE)
    assert ours.shared[0].shift > theirs.shared[0].shift
    with pytest.raises(ValueError, match=r"op 0 \(DEPTHWISE_CONV_2D\).*writes output byte"):
        with_offline_plan(model, ours)
    assert load_model(with_offline_plan(model, theirs)).metadata[OFFLINE_METADATA]
    path = tmp_path / "depthwise.tflite"
    path.write_bytes(model.content)
    refused = microinterp(path, "--strategy", "inplace", "--schedule", "microinterp", "--write-offline-plan",
                          tmp_path / "out.tflite")
    assert refused.returncode == 2 and "op 0 (DEPTHWISE_CONV_2D)" in refused.stderr
    assert microinterp(path, "--strategy", "inplace", "--write-offline-plan", tmp_path / "out.tflite").returncode == 0


@pytest.mark.parametrize("dtype", ["INT8", "FLOAT32"])
def test_fully_connected_rows_overlap_in_tflm_and_microinterp_computes_them_aside(oracle, dtype):
    # Four rows: TFLM finishes reading input row b before it writes output row b, so output row b may
    # lie over input row b - 1. The microinterp schedule does not model its own fully connected kernels
    # (the float one loops otherwise and would read overwritten rows), so it computes this op aside.
    case = fc_case("four rows", 3, input_shape=(4, 64), units=64, dtype=dtype)
    model = load_model(single_op_model(case.op, case.inputs, case.outputs))
    _, ours = plan_arena(model, "inplace")
    _, theirs = plan_arena(model, "inplace", schedule=TFLM_REFERENCE)
    row = 64 * TENSOR_TYPES[model.main.tensors[0].type_code][2]
    assert not ours.shared and [(s.op, s.shift) for s in theirs.shared] == [(0, -row)]
    written = with_offline_plan(model, theirs)
    assert oracle.tflm_arena(written).head == theirs.head == 5 * row  # 4 + 4 rows, 3 shared
    assert_written_model_gives_the_original_outputs(oracle, model.content, written, random_and_edge_inputs(model),
                                                    f"{dtype} fully connected")
    interp = Interpreter(model_content=written)
    interp.allocate_tensors()
    assert interp.memory_plan.staged_ops == {0}


def test_squeeze_is_not_aliased_for_tflm_whose_memcpy_onto_itself_is_undefined(oracle):
    a, b, c, d = (T("INT8", (1, 2, 1, 8), 0.5, 1), T("INT8", (2, 8), 0.5, 1), T("INT8", (2, 1, 8), 0.5, 1),
                  T("INT8", (2, 1, 8), 0.5, 1))
    axis = T("INT32", (1,), data=np.array([1], np.int32))
    model = load_model(graph_model([(Op("SQUEEZE", "SqueezeOptions", {"squeeze_dims": [0, 2]}), [a], [b]),
                                    (Op("EXPAND_DIMS"), [b, axis], [c]), (Op("RESHAPE"), [c], [d])], outputs=[d]))
    _, ours = plan_arena(model, "inplace")
    _, theirs = plan_arena(model, "inplace", schedule=TFLM_REFERENCE)
    assert sorted(s.op for s in ours.shared) == [0, 1, 2] and sorted(s.op for s in theirs.shared) == [1, 2]
    with pytest.raises(ValueError, match=r"op 0 \(SQUEEZE\).*order is not modelled"):
        with_offline_plan(model, ours)
    written = with_offline_plan(model, theirs)
    assert oracle.tflm_arena(written).head == theirs.head
    assert_written_model_gives_the_original_outputs(oracle, model.content, written, random_and_edge_inputs(model),
                                                    "squeeze, expand_dims, reshape")
