"""SLICE and STRIDED_SLICE bit-exact with TFLM: masks, negative indices and strides, shrink axes, runtime
begin/size, for float32, int8, int16, int32 and bool."""
from __future__ import annotations

import numpy as np
import pytest

from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from microinterp.errors import IndexOutOfRangeError
from microinterp.ops.slice import strided_axis
from movement_helpers import assert_invoke_fails, const, error_message, tensor, values
from opmodels import Case, Op, T, compare_cases_with_tflm, single_op_model

TYPES = ["FLOAT32", "INT8", "INT16", "INT32", "BOOL"]


def strided_case(dtype, shape, begin, end, strides, begin_mask=0, end_mask=0, shrink=0) -> Case:
    """The output shape comes from numpy's slicing, which agrees with TFLM on everything used here."""
    slices = []
    for axis, (b, e, s) in enumerate(zip(begin, end, strides)):
        if shrink >> axis & 1:
            slices.append(b)
        else:
            slices.append(slice(None if begin_mask >> axis & 1 else b, None if end_mask >> axis & 1 else e, s))
    out_shape = np.zeros(shape)[tuple(slices)].shape
    options = {"begin_mask": begin_mask, "end_mask": end_mask, "shrink_axis_mask": shrink}
    return Case(f"STRIDED_SLICE {dtype} {list(shape)} {begin}:{end}:{strides} masks {begin_mask}/{end_mask}/{shrink}",
                Op("STRIDED_SLICE", "StridedSliceOptions", options),
                [tensor(dtype, shape), const(begin), const(end), const(strides)], [tensor(dtype, out_shape)])


def slice_case(dtype, shape, begin, size, index_type="INT32", runtime=False) -> Case:
    out_shape = [n - b if s == -1 else s for n, b, s in zip(shape, begin, size)]
    index = ((lambda v: T(index_type, (len(shape),))) if runtime else (lambda v: const(v, index_type)))
    return Case(f"SLICE {dtype} {list(shape)} begin {begin} size {size}{' runtime' if runtime else ''}", Op("SLICE"),
                [tensor(dtype, shape), index(begin), index(size)], [tensor(dtype, out_shape)])


def strided_cases(dtype):
    return [
        strided_case(dtype, (4, 5), [1, 0], [3, 5], [1, 2]),
        strided_case(dtype, (4, 5), [-1, -2], [0, -6], [-1, -2]),  # negative indices and strides
        strided_case(dtype, (2, 3, 4), [0, 1, 0], [0, 0, 0], [1, 1, 3], begin_mask=0b101, end_mask=0b111),
        strided_case(dtype, (2, 3, 4), [5, 7, 0], [-9, -9, 4], [-1, -2, 1]),  # clamped out-of-range starts
        strided_case(dtype, (1, 3, 4, 2), [0, 2, -3, 1], [1, 3, 4, 2], [1, 1, 1, 1], shrink=0b1010),
        strided_case(dtype, (1, 3, 4, 2), [0, 1, 3, 0], [1, 3, 0, 2], [1, 1, -1, 1], end_mask=0b0100, shrink=0b0001),
        strided_case(dtype, (3, 2), [1, 0], [2, 2], [1, 1], shrink=0b11),  # scalar result
    ]


def test_strided_slice_matches_tflm_with_masks_and_negative_strides(oracle):
    compare_cases_with_tflm(oracle, [c for dtype in TYPES for c in strided_cases(dtype)], values=values)


def test_random_strided_slices_match_tflm(oracle):
    # Output shapes come from microinterp's own start/stop logic: TFLM's Prepare checks them independently,
    # so a disagreement fails the model there; values are compared as usual.
    rng = np.random.default_rng(5)
    cases = []
    while len(cases) < 40:
        rank = int(rng.integers(1, 5))
        shape = tuple(int(rng.integers(1, 6)) for _ in range(rank))
        begin, end = ([int(v) for v in rng.integers(-7, 7, rank)] for _ in range(2))
        strides = [int(v) for v in rng.choice([-3, -2, -1, 1, 2, 3], rank)]
        begin_mask, end_mask, shrink = (int(rng.integers(0, 1 << rank)) for _ in range(3))
        strides = [1 if shrink >> axis & 1 else s for axis, s in enumerate(strides)]
        out_shape, usable = [], True
        for axis in range(rank):
            shrunk, stride = bool(shrink >> axis & 1), strides[axis]
            _, _, count = strided_axis(shape[axis], begin[axis], end[axis], stride, bool(begin_mask >> axis & 1),
                                       bool(end_mask >> axis & 1), shrunk)
            if shrunk:
                usable &= count == 1  # a shrunk axis past the end: TFLM copies nothing
            else:
                out_shape.append(count)
                usable &= count > 0  # TFLM rejects empty outputs as dynamic tensors
        if not usable:
            continue
        options = {"begin_mask": begin_mask, "end_mask": end_mask, "shrink_axis_mask": shrink}
        cases.append(Case(f"STRIDED_SLICE {shape} {begin}:{end}:{strides} masks {begin_mask}/{end_mask}/{shrink}",
                          Op("STRIDED_SLICE", "StridedSliceOptions", options),
                          [tensor("INT16", shape), const(begin), const(end), const(strides)],
                          [tensor("INT16", out_shape)]))
    compare_cases_with_tflm(oracle, cases)


def test_slice_matches_tflm_with_constant_and_runtime_begin_and_size(oracle):
    cases = []
    for dtype in TYPES:
        cases += [slice_case(dtype, (3, 4), [1, 0], [2, -1]),
                  slice_case(dtype, (2, 3, 4), [0, 1, 3], [2, 2, 1], "INT64"),
                  slice_case(dtype, (1, 2, 1, 3, 2), [0, 1, 0, 1, 0], [-1, 1, 1, 2, -1])]

    # Runtime begin/size: a different valid slice per invocation (seed), same output shape [1, 2, 2].
    runtime = slice_case("INT8", (2, 3, 4), [0, 0, 0], [1, 2, 2], runtime=True)
    begin_input, size_input = runtime.inputs[1], runtime.inputs[2]

    def runtime_values(rng, t):
        if t is begin_input:
            return np.array([rng.integers(0, 2), rng.integers(0, 2), rng.integers(0, 3)], np.int32)
        return np.array([1, 2, 2], np.int32) if t is size_input else values(rng, t)
    runtime.values = runtime_values
    compare_cases_with_tflm(oracle, cases + [runtime], values=values)


def test_runtime_slice_out_of_range_fails_the_invoke():
    # The tflite-micro wheel reads past the input here (newer TFLM sources fail the invoke).
    case = slice_case("FLOAT32", (2, 3), [0, 0], [1, 2], runtime=True)
    model = single_op_model(case.op, case.inputs, case.outputs)
    inputs = [np.ones((2, 3), np.float32), np.array([1, 2], np.int32), np.array([1, 2], np.int32)]
    assert_invoke_fails(model, inputs, IndexOutOfRangeError, r"op 0 \(SLICE\): size 2 of axis 1")


def test_inconsistent_slices_are_rejected():
    case = strided_case("INT8", (4, 5), [1, 0], [3, 5], [1, 2])
    case.outputs[0].shape = (2, 2)
    assert "op 0 (STRIDED_SLICE)" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    case = strided_case("INT8", (4, 5), [1, 0], [3, 5], [1, 1])
    case.inputs[3] = const([1, 0])
    assert "stride of axis 1 is 0" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    case = slice_case("INT8", (3, 4), [1, 0], [3, 2])
    message = error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    assert "op 0 (SLICE)" in message and "does not fit" in message


@pytest.mark.parametrize("case", [
    strided_case("INT64", (2,), [0], [1], [1]),
    strided_case("FLOAT32", (1, 1, 1, 1, 2), [0] * 5, [1] * 5, [1] * 5),
    strided_case("FLOAT32", (3, 2), [2, 0], [0, 2], [-1, 1], shrink=0b01),
    Case("ellipsis", Op("STRIDED_SLICE", "StridedSliceOptions", {"ellipsis_mask": 1}),
         [tensor("INT8", (2,)), const([0]), const([1]), const([1])], [tensor("INT8", (1,))]),
    slice_case("UINT8", (2,), [0], [1]),
    slice_case("INT8", (1,) * 6, [0] * 6, [1] * 6),
], ids=["int64", "strided rank 5", "shrink negative stride", "ellipsis", "slice uint8", "slice rank 6"])
def test_unsupported_slices_are_reported(case):
    error_message(case.op, case.inputs, case.outputs, UnsupportedOperatorError)
