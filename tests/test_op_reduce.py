"""MEAN, SUM, REDUCE_MAX, REDUCE_MIN (float32, int8, int16) and ARG_MAX, ARG_MIN: bit-exact with TFLM, with
TFLM's scratch buffers in the planned head. What TFLM has no kernel for (int16 REDUCE_MAX / REDUCE_MIN;
ARG_* with int64 output or axis, or int32 input) is checked against LiteRT's reference kernels instead.
"""
from __future__ import annotations

import numpy as np
import pytest

from microinterp import InconsistentModelError, Interpreter, UnsupportedOperatorError
from opmodels import (Case, Op, T, assert_bit_exact, compare_cases_with_tflm, graph_input_tensors, graph_model,
                      random_values, single_op_model)

REDUCERS = ("MEAN", "SUM", "REDUCE_MAX", "REDUCE_MIN")


def reduced_shape(shape, axes, keep_dims: bool) -> tuple[int, ...]:
    resolved = {a % len(shape) for a in axes}
    if keep_dims:
        return tuple(1 if d in resolved else n for d, n in enumerate(shape))
    return tuple(n for d, n in enumerate(shape) if d not in resolved)


def reduce_case(kind: str, dtype: str, shape, axes, keep_dims=False, in_quant=(0.05, 3), out_quant=None,
                out_shape=None) -> Case:
    """A reducer over constant int32 axes; extremes default to the input's quantization (TFLM requires it)."""
    quantized = dtype in ("INT8", "INT16")
    out_q = (out_quant or (in_quant if kind.startswith("REDUCE") else (in_quant[0] * 1.3, in_quant[1] // 2))
             if quantized else (None, None))
    in_q = in_quant if quantized else (None, None)
    out_shape = reduced_shape(shape, axes, keep_dims) if out_shape is None else out_shape
    axis = T("INT32", (len(axes),), data=np.array(axes, np.int32), name="axis")
    return Case(f"{kind} {dtype} {list(shape)} axes {list(axes)} keep {keep_dims} quant {in_q} -> {out_q}",
                Op(kind, "ReducerOptions", {"keep_dims": keep_dims}),
                [T(dtype, shape, *in_q), axis], [T(dtype, out_shape, *out_q)])


# (shape, axes, keep_dims): global pooling, negative and duplicate axes, every axis, rank 1 to 6, dims of 1.
GEOMETRIES = [
    ((1, 7, 6, 5), (1, 2), True),
    ((2, 5, 4, 3), (-1,), False),
    ((3, 4, 5), (0, 2, -3), False),
    ((2, 3, 4), (0, 1, 2), True),
    ((40,), (0,), False),
    ((2, 1, 3, 1, 4), (1, 3, 4), True),
    ((2, 2, 3, 2, 2, 3), (0, 2, 5), False),
    ((1, 1, 9, 1), (2,), False),
    ((4, 300), (1,), True),
]
# Input (scale, zero point) per type: MEAN/SUM requantize to a slightly larger scale; int16 is symmetric.
QUANTS = {"INT8": [(0.05, 3), (0.02, -128), (0.1, 127)], "INT16": [(3e-4, 0), (1e-3, 0), (2e-5, 0)]}


def geometry_cases(kind: str, dtypes) -> list[Case]:
    return [reduce_case(kind, dtype, shape, axes, keep, in_quant=QUANTS[dtype][i % 3] if dtype != "FLOAT32" else None)
            for dtype in dtypes for i, (shape, axes, keep) in enumerate(GEOMETRIES)]


@pytest.mark.parametrize("kind", REDUCERS)
def test_reductions_match_tflm_for_every_type_and_geometry(oracle, kind):
    # TFLM's reference REDUCE_MAX / REDUCE_MIN have no int16 kernel (tested against LiteRT below).
    dtypes = ("INT8", "FLOAT32") if kind.startswith("REDUCE") else ("INT8", "INT16", "FLOAT32")
    compare_cases_with_tflm(oracle, geometry_cases(kind, dtypes), seeds=(0, 1, 2))


def compare_with_litert_reference(oracle, cases: list[Case], values=random_values, seeds=(0, 1)) -> None:
    """All cases in one model, run through microinterp and LiteRT's BUILTIN_REF kernels; bit-exact."""
    nodes = [(c.op, c.inputs, c.outputs) for c in cases]
    model = graph_model(nodes)
    interp = Interpreter(model_content=model)
    interp.allocate_tensors()
    for seed in seeds:
        rng = np.random.default_rng(seed)
        inputs = [values(rng, t) for t in graph_input_tensors(nodes)]
        theirs = oracle.run(model, [inputs], backend="litert_ref").outputs[0]
        for detail, value in zip(interp.get_input_details(), inputs):
            interp.set_tensor(detail["index"], value)
        interp.invoke()
        for case, detail, expected in zip(cases, interp.get_output_details(), theirs):
            assert_bit_exact(interp.get_tensor(detail["index"]), expected, f"{case.label} seed {seed}")


def test_int16_max_and_min_match_litert_reference_kernels(oracle):
    compare_with_litert_reference(oracle, geometry_cases("REDUCE_MAX", ("INT16",))
                                  + geometry_cases("REDUCE_MIN", ("INT16",)))


def test_quantized_mean_and_sum_saturate_and_requantize_like_tflm(oracle):
    # Output scales far below and above the input's, zero points at both ends: clamps on both sides and
    # MEAN's multiplier folding with counts that are and are not powers of two.
    cases = [reduce_case(kind, "INT8", (2, 16, 3), (1,), False, (0.05, zp), (scale, out_zp))
             for kind in ("MEAN", "SUM") for zp, scale, out_zp in [(-128, 0.004, 100), (127, 0.9, -128), (0, 0.05, 0)]]
    cases += [reduce_case(kind, "INT16", (2, 6, 7), (1, 2), True, (1e-4, 0), (scale, 0))
              for kind in ("MEAN", "SUM") for scale in (1e-6, 1e-4, 3e-2)]
    compare_cases_with_tflm(oracle, cases, seeds=(0, 1, 2))


def test_float_reductions_handle_infinities_and_nan_like_tflm(oracle):
    cases = [reduce_case(kind, "FLOAT32", (4, 3), (1,)) for kind in REDUCERS]

    def values(rng, t):
        v = rng.standard_normal(tuple(t.shape)).astype(np.float32)
        v[0] = [np.inf, 1.0, -2.0]
        v[1] = [-np.inf, -np.inf, -np.inf]
        v[2] = [np.nan, 3.0, -1.0]
        v[3] = [1.0, np.nan, 5.0]
        return v
    compare_cases_with_tflm(oracle, cases, seeds=(0,), values=values)


@pytest.mark.parametrize("kind, dtype", [("MEAN", "INT8"), ("MEAN", "FLOAT32"), ("SUM", "INT16"), ("SUM", "FLOAT32"),
                                         ("REDUCE_MAX", "INT8"), ("REDUCE_MIN", "FLOAT32"), ("REDUCE_ALL", "BOOL")])
def test_planned_head_with_scratch_buffers_equals_tflm(oracle, kind, dtype):
    case = reduce_case(kind, dtype, (2, 5, 4, 3), (1, 2), True, in_quant=QUANTS.get(dtype, [None])[0])
    model = single_op_model(case.op, case.inputs, case.outputs)
    interp = Interpreter(model_content=model)
    interp.allocate_tensors()
    assert interp.memory_plan.head == oracle.tflm_arena(model).head


def mostly_true(rng: np.random.Generator, t: T) -> np.ndarray:
    """Bools that are 95% true, so that some reductions come out true."""
    return rng.random(tuple(t.shape)) < 0.95


def test_reduce_all_matches_tflm_for_every_geometry(oracle):
    cases = [reduce_case("REDUCE_ALL", "BOOL", shape, axes, keep) for shape, axes, keep in GEOMETRIES]
    compare_cases_with_tflm(oracle, cases, seeds=(0, 1, 2), values=mostly_true)


def arg_case(kind: str, dtype: str, shape, axis: int, out_type="INT32", axis_type="INT32") -> Case:
    quant = (0.1, -3) if dtype == "INT8" else (None, None)
    out_shape = tuple(n for d, n in enumerate(shape) if d != axis % len(shape))
    options_type = "ArgMaxOptions" if kind == "ARG_MAX" else "ArgMinOptions"
    axis_t = T(axis_type, (1,), data=np.array([axis], T(axis_type, ()).dtype), name="axis")
    return Case(f"{kind} {dtype} {list(shape)} axis {axis} -> {out_type}",
                Op(kind, options_type, {"output_type": {"INT32": 2, "INT64": 4}[out_type]}),
                [T(dtype, shape, *quant), axis_t], [T(out_type, out_shape)])


def ties(rng: np.random.Generator, t: T) -> np.ndarray:
    """Values from a small set, so maxima and minima repeat (the first one must win)."""
    if t.type == "FLOAT32":
        return rng.integers(-3, 4, tuple(t.shape)).astype(np.float32) * np.float32(0.5)
    return rng.integers(-3, 4, tuple(t.shape)).astype(t.dtype) * 40


ARG_GEOMETRIES = [((5, 7), 1), ((5, 7), 0), ((2, 3, 4, 5), -1), ((2, 3, 4, 5), 1), ((64,), 0), ((3, 1, 4), 1)]


@pytest.mark.parametrize("values", [random_values, ties], ids=["random", "ties"])
def test_arg_min_max_match_tflm(oracle, values):
    cases = [arg_case(kind, dtype, shape, axis) for kind in ("ARG_MAX", "ARG_MIN") for dtype in ("INT8", "FLOAT32")
             for shape, axis in ARG_GEOMETRIES]
    compare_cases_with_tflm(oracle, cases, seeds=(0, 1, 2), values=values)


def test_arg_min_max_with_int64_or_int32_input_match_litert_reference_kernels(oracle):
    # TFLM only has int32 axis and output with float32 / int8 input; LiteRT BUILTIN_REF covers the rest.
    cases = [arg_case(kind, dtype, shape, axis, out_type, axis_type)
             for kind in ("ARG_MAX", "ARG_MIN")
             for dtype, out_type, axis_type in [("FLOAT32", "INT64", "INT32"), ("INT8", "INT64", "INT64"),
                                                ("INT32", "INT32", "INT32"), ("INT32", "INT64", "INT64")]
             for shape, axis in ARG_GEOMETRIES[:4]]
    compare_with_litert_reference(oracle, cases, values=ties)


def _allocate(case: Case) -> None:
    Interpreter(model_content=single_op_model(case.op, case.inputs, case.outputs)).allocate_tensors()


def test_axis_out_of_range_is_inconsistent():
    case = reduce_case("MEAN", "INT8", (2, 3), (2,), out_shape=(2, 3))
    with pytest.raises(InconsistentModelError, match=r"op 0 \(MEAN\).*axis 2 is out of range"):
        _allocate(case)


def test_output_size_not_matching_the_reduction_is_inconsistent():
    case = reduce_case("SUM", "FLOAT32", (2, 3, 4), (1,), out_shape=(2, 3))
    with pytest.raises(InconsistentModelError, match=r"op 0 \(SUM\).*6 elements, but reducing .* leaves 8"):
        _allocate(case)


def test_quantized_max_with_requantization_is_inconsistent():
    case = reduce_case("REDUCE_MAX", "INT8", (2, 3), (1,), out_quant=(0.06, 3))
    with pytest.raises(InconsistentModelError, match=r"op 0 \(REDUCE_MAX\).*quantization must be equal"):
        _allocate(case)


def test_arg_max_output_shape_must_drop_the_axis():
    case = arg_case("ARG_MAX", "FLOAT32", (3, 4), 1)
    case.outputs[0].shape = (4,)
    with pytest.raises(InconsistentModelError, match=r"op 0 \(ARG_MAX\).*must have shape \[3\]"):
        _allocate(case)


def test_non_constant_axes_and_unsupported_types_are_unsupported():
    case = reduce_case("MEAN", "FLOAT32", (2, 3), (1,))
    case.inputs[1] = T("INT32", (1,))
    with pytest.raises(UnsupportedOperatorError, match=r"op 0 \(MEAN\).*must be a constant"):
        _allocate(case)
    case = reduce_case("SUM", "INT32", (2, 3), (1,), in_quant=(1.0, 0), out_quant=(1.0, 0))
    with pytest.raises(UnsupportedOperatorError, match=r"op 0 \(SUM\).*INT32"):
        _allocate(case)
    case = arg_case("ARG_MIN", "INT16", (2, 3), 1)
    with pytest.raises(UnsupportedOperatorError, match=r"op 0 \(ARG_MIN\).*INT16"):
        _allocate(case)
    case = reduce_case("REDUCE_ALL", "INT8", (2, 3), (1,))
    with pytest.raises(UnsupportedOperatorError, match=r"op 0 \(REDUCE_ALL\).*INT8"):
        _allocate(case)
