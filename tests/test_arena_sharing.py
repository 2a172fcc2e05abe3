"""Sharing arena bytes: kernel schedules (planning/access.py) against a literal replay of the kernels'
loops, and kernels run on overlapping input/output views giving bit-identical outputs.

The replay walks the loops of kernels/conv.pyx, pooling.pyx and the elementwise kernels (and of TFLM's
reference broadcasting and fully connected kernels) step by step in one byte arena (input at 0,
output at `shift`) and reports whether a read ever sees a byte the output already overwrote; the
vectorised schedule must agree on every shift.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microinterp import Interpreter
from microinterp.planning.access import BroadcastAccess, ElementwiseAccess, RowsAccess, WindowAccess
from microinterp.planning.schedules import kernel_schedule
from microinterp.quantization import compute_padding, computed_out_size
from opmodels import Op, T, graph_model, single_op_model
from oracle_checks import run_sequence, seeded_sequence
from test_op_conv import conv_case
from test_op_depthwise_conv import depthwise_case
from test_op_pooling import pool_case

SAME, VALID = 0, 1


def replay_is_safe(a, shift: int) -> bool:
    """Run the kernel's loops over one arena holding the input at 0 and the output at `shift`."""
    in_bytes = a.last_reads().size
    clobbered = set()  # input bytes an output write has reached

    def read(element: int) -> bool:
        return not any(element * a.in_itemsize + k in clobbered for k in range(a.in_itemsize))

    def write(element: int) -> None:
        for k in range(a.out_itemsize):
            x = shift + element * a.out_itemsize + k
            if 0 <= x < in_bytes:
                clobbered.add(x)

    if isinstance(a, ElementwiseAccess):
        for i in range(a.count):
            if not read(i):
                return False
            write(i)
        return True
    if isinstance(a, BroadcastAccess):  # TFLM's BroadcastBinaryFunction6DSlow: output order, broadcast index
        source = np.broadcast_to(np.arange(int(np.prod(a.in_shape))).reshape(a.in_shape), a.out_shape).ravel()
        for i, j in enumerate(source):
            if not read(int(j)):
                return False
            write(i)
        return True
    if isinstance(a, RowsAccess):  # TFLM's FullyConnected: per batch row, per output channel, the whole row
        for b in range(a.batches):
            for c in range(a.out_depth):
                if not all(read(b * a.depth + d) for d in range(a.depth)):
                    return False
                write(b * a.out_depth + c)
        return True
    n, h, w, c = a.in_shape
    _, oh, ow, oc = a.out_shape

    def window(b, oy, ox):
        for ky in range(a.filter_hw[0]):
            iy = oy * a.stride[0] - a.pad[0] + ky * a.dilation[0]
            for kx in range(a.filter_hw[1]):
                ix = ox * a.stride[1] - a.pad[1] + kx * a.dilation[1]
                if 0 <= iy < h and 0 <= ix < w:
                    yield ((b * h + iy) * w + ix) * c

    for b in range(n):
        for oy in range(oh):
            for ox in range(ow):
                pixel = ((b * oh + oy) * ow + ox) * oc
                if a.kind == "depthwise":  # the whole window, every channel, then every output channel
                    if not all(read(base + ic) for base in window(b, oy, ox) for ic in range(c)):
                        return False
                    for o in range(oc):
                        write(pixel + o)
                    continue
                for o in range(oc):
                    if a.kind == "pool":
                        channels = [o]
                    else:
                        depth, per_group = c // a.groups, oc // a.groups
                        channels = range(o // per_group * depth, (o // per_group + 1) * depth)
                    if not all(read(base + ic) for base in window(b, oy, ox) for ic in channels):
                        return False
                    write(pixel + o)
    return True


@st.composite
def window_accesses(draw):
    kind = draw(st.sampled_from(["conv", "depthwise", "pool"]))
    n, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    dh, dw = (1, 1) if kind == "pool" else (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(st.sampled_from([SAME, VALID]))
    oh, ow = (computed_out_size(h, kh, sh, dh, padding), computed_out_size(w, kw, sw, dw, padding))
    if oh == 0 or ow == 0:
        padding, oh, ow = SAME, computed_out_size(h, kh, sh, dh, SAME), computed_out_size(w, kw, sw, dw, SAME)
    groups = 1
    c = draw(st.integers(1, 3))
    if kind == "conv":
        groups = draw(st.sampled_from([1, c]))
        oc = groups * draw(st.integers(1, 2))
    elif kind == "depthwise":
        oc = c * draw(st.integers(1, 2))
    else:
        oc = c
    pad = (compute_padding(h, kh, sh, dh, padding), compute_padding(w, kw, sw, dw, padding))
    size_in, size_out = draw(st.sampled_from([(1, 1), (4, 4), (1, 4)]))
    return WindowAccess(kind, (n, h, w, c), (n, oh, ow, oc), (kh, kw), (sh, sw), (dh, dw), pad, size_in, size_out,
                        groups)


@st.composite
def broadcast_accesses(draw):
    out_shape = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
    in_shape = tuple(d if draw(st.booleans()) else 1 for d in out_shape)[draw(st.integers(0, len(out_shape))):]
    return BroadcastAccess(in_shape, out_shape, draw(st.sampled_from([1, 2, 4])), draw(st.sampled_from([1, 2, 4])))


@st.composite
def rows_accesses(draw):
    batches, depth = draw(st.integers(1, 3)), draw(st.integers(1, 6))
    return RowsAccess(batches, depth, draw(st.integers(1, 6)), batches * depth + draw(st.integers(0, 2)),
                      draw(st.sampled_from([1, 4])), draw(st.sampled_from([1, 4])))


def _accesses():
    return st.one_of(window_accesses(), st.builds(ElementwiseAccess, st.integers(1, 12), st.sampled_from([1, 2, 4]),
                                                  st.sampled_from([1, 2, 4])), broadcast_accesses(), rows_accesses())


@settings(max_examples=60, deadline=None)
@given(_accesses())
def test_schedule_agrees_with_a_replay_of_the_kernel_loops_at_every_shift(a):
    n_in, n_out = a.last_reads().size, a.write_steps().size
    for shift in range(-n_out - 1, n_in + 2):
        assert (a.first_clobber(shift) is None) == replay_is_safe(a, shift), shift
    safe_up_to = a.max_shift()
    if safe_up_to is not None:
        for shift in range(-n_out - 1, safe_up_to + 1):
            assert replay_is_safe(a, shift), (safe_up_to, shift)


def test_depthwise_3x3_lags_one_row_and_one_pixel():
    # Output pixel p is written after reading input pixel p + W + 1 (the tap below right).
    a = WindowAccess("depthwise", (1, 25, 5, 64), (1, 25, 5, 64), (3, 3), (1, 1), (1, 1), (1, 1), 1, 1)
    assert a.max_shift() == -(5 + 1) * 64


def test_pointwise_conv_lags_one_pixel_and_pooling_can_start_over_its_input():
    pointwise = WindowAccess("conv", (1, 12, 12, 64), (1, 12, 12, 64), (1, 1), (1, 1), (1, 1), (0, 0), 1, 1)
    # Channel oc of pixel p is written while channels after it still read the pixel: only the last
    # channel's byte may land on the pixel's last input byte.
    assert pointwise.max_shift() == -63
    pool = WindowAccess("pool", (1, 8, 8, 16), (1, 4, 4, 16), (2, 2), (2, 2), (1, 1), (0, 0), 1, 1)
    assert pool.max_shift() >= 0


# -- kernels on overlapping views ---------------------------------------------------------------------

def _same_outputs_with_sharing(content: bytes, kinds=("window",)) -> list:
    """Run under tflm and inplace; assert identical outputs and an inplace head at its lower bound (a
    sharing that saves bytes is used); return the inplace plan's shared pairs of the given kinds."""
    base = Interpreter(model_content=content)
    base.allocate_tensors()
    sequence = seeded_sequence(base)
    expected = run_sequence(base, sequence)
    shared = Interpreter(model_content=content, memory_strategy="inplace")
    shared.allocate_tensors()
    got = run_sequence(shared, sequence)
    assert shared.memory_plan.head == shared.memory_plan.lower_bound
    for a_list, b_list in zip(got, expected):
        for a, b in zip(a_list, b_list):
            np.testing.assert_array_equal(a, b)
    return [s for s in shared.memory_plan.shared if s.kind in kinds]


@st.composite
def window_cases(draw):
    kind = draw(st.sampled_from(["conv", "depthwise", "pool"]))
    dtype = draw(st.sampled_from(["INT8", "INT16", "FLOAT32"]))
    shape = (draw(st.integers(1, 2)), draw(st.integers(2, 8)), draw(st.integers(2, 8)), draw(st.integers(1, 5)))
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    strides = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    seed = draw(st.integers(0, 1000))
    if kind == "pool":
        case = pool_case(draw(st.sampled_from(["AVERAGE_POOL_2D", "MAX_POOL_2D"])), dtype, shape, kernel, strides,
                         SAME)
    elif kind == "conv":
        case = conv_case("overlap", seed, input_shape=shape, out_channels=draw(st.integers(1, 6)), kernel=kernel,
                         strides=strides, dilation=(draw(st.integers(1, 2)), 1), dtype=dtype)
    else:
        case = depthwise_case("overlap", seed, input_shape=shape, multiplier=draw(st.integers(1, 2)), kernel=kernel,
                              strides=strides, dtype=dtype)
    return single_op_model(case.op, case.inputs, case.outputs)


@settings(max_examples=40, deadline=None)
@given(window_cases())
def test_window_kernels_writing_over_their_input_give_identical_outputs(content):
    _same_outputs_with_sharing(content)


def test_mlperf_convolution_shapes_overlap_and_stay_bit_exact():
    shared = _same_outputs_with_sharing(single_op_model(*_conv_op((1, 25, 5, 64), 64, (3, 3))))
    assert shared and shared[0].shift < 0


def _conv_op(shape, out_channels, kernel):
    case = conv_case("kws block", 0, input_shape=shape, out_channels=out_channels, kernel=kernel)
    return case.op, case.inputs, case.outputs


ELEMENTWISE_OPS = kernel_schedule("microinterp").elementwise_ops
UNARY_FLOAT = sorted(ELEMENTWISE_OPS - {"ADD", "SUB", "MUL", "DIV", "SQUARED_DIFFERENCE", "MAXIMUM", "MINIMUM",
                                        "PRELU", "LEAKY_RELU"})


@pytest.mark.parametrize("name", sorted(ELEMENTWISE_OPS))
def test_every_elementwise_op_may_write_over_its_input(name):
    x = T("FLOAT32", (1, 3, 4, 5))
    y = T("FLOAT32", (1, 3, 4, 5))
    if name in UNARY_FLOAT:
        op, inputs = Op(name), [x]
    elif name == "LEAKY_RELU":
        op, inputs = Op(name, "LeakyReluOptions", {"alpha": 0.25}), [x]
    elif name == "PRELU":
        op, inputs = Op(name), [x, T("FLOAT32", (1, 1, 5), data=np.linspace(-1, 1, 5, dtype=np.float32))]
    else:  # binary, the second input broadcast along all but the last axis
        op, inputs = Op(name), [x, T("FLOAT32", (5,), data=np.linspace(0.5, 2, 5, dtype=np.float32))]
    shared = _same_outputs_with_sharing(single_op_model(op, inputs, [y]), ("elementwise",))
    assert [(s.input, s.output, s.shift) for s in shared] == [(0, len(inputs), 0)]


def test_reshape_squeeze_and_expand_dims_alias_their_input_and_are_skipped():
    a, b, c, d = T("INT8", (1, 2, 1, 8), 0.5, 1), T("INT8", (2, 8), 0.5, 1), T("INT8", (2, 1, 8), 0.5, 1), \
        T("INT8", (2, 1, 8), 0.5, 1)
    axis = T("INT32", (1,), data=np.array([1], np.int32))
    content = graph_model([(Op("SQUEEZE", "SqueezeOptions", {"squeeze_dims": [0, 2]}), [a], [b]),
                           (Op("EXPAND_DIMS"), [b, axis], [c]), (Op("RESHAPE"), [c], [d])], outputs=[d])
    shared = _same_outputs_with_sharing(content, ("alias",))
    assert sorted(s.op for s in shared) == [0, 1, 2]
    interp = Interpreter(model_content=content, memory_strategy="inplace")
    interp.allocate_tensors()
    assert interp.memory_plan.skipped_ops == {0, 1, 2}
    assert len({a.offset for a in interp.memory_plan.allocations}) == 1
    assert interp.memory_plan.head == 16
