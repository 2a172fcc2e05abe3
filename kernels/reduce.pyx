# cython: language_level=3
"""Reductions (TFLM reference/reduce.h: ReduceGeneric, Mean, QuantizedMeanOrSum) and ARG_MAX / ARG_MIN
(reference/arg_min_max.h).

The reductions walk the input once in C order, as TFLM's Reduce does, over a 6-D geometry from prepare
(microinterp/ops/reduce.py): the input's shape and strides, and the output's strides, 0 along the reduced
axes. So every output folds its inputs in TFLM's order, which float sums need for identical bits.
`reduce_sum` (reduce_rows.pxd) accumulates into int32 (wrapping, quantized inputs) or float32; the requantization of
quantized sums and the float division of means are separate passes. `reduce_extreme` keeps the running
maximum or minimum with TFLM's comparisons (a NaN never replaces the running value).
"""
from libc.float cimport FLT_MAX
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint32_t

from reduce_rows cimport sum_rows, sum_t, value_t
from walk cimport Rows, WALK_DIMS, first_row, next_row

ctypedef fused index_t:
    int32_t
    int64_t


def check_geometry(Py_ssize_t in_size, Py_ssize_t out_size, const Py_ssize_t[::1] shape,
                   const Py_ssize_t[::1] in_strides, const Py_ssize_t[::1] out_strides) -> None:
    """Raise ValueError unless the 6-D geometry walks exactly in_size inputs and stays inside out_size
    outputs (cheap: the last element reached on each side must be inside its view)."""
    if shape.shape[0] != WALK_DIMS or in_strides.shape[0] != WALK_DIMS or out_strides.shape[0] != WALK_DIMS:
        raise ValueError(f"reduce: geometry must have {WALK_DIMS} axes")
    cdef Py_ssize_t last_in = 0, last_out = 0, count = 1, d
    for d in range(WALK_DIMS):
        if shape[d] <= 0 or in_strides[d] < 0 or out_strides[d] < 0:
            raise ValueError("reduce: extents must be positive and strides non-negative")
        last_in += (shape[d] - 1) * in_strides[d]
        last_out += (shape[d] - 1) * out_strides[d]
        count *= shape[d]
    if count != in_size or last_in >= in_size or last_out >= out_size:
        raise ValueError(f"reduce: geometry does not fit input of {in_size} / output of {out_size} elements")


def reduce_sum(const value_t[::1] x, sum_t[::1] sums, const Py_ssize_t[::1] shape,
               const Py_ssize_t[::1] in_strides, const Py_ssize_t[::1] out_strides) -> None:
    """sums[o] = sum of the inputs that reduce to o, from 0, in input order (int32 adds wrap)."""
    check_geometry(x.shape[0], sums.shape[0], shape, in_strides, out_strides)
    with nogil:
        sum_rows(&x[0], x.shape[0], &sums[0], sums.shape[0], &shape[0], &in_strides[0], &out_strides[0])


cdef inline bint _replaces(value_t candidate, value_t current, bint take_max) noexcept nogil:
    # TFLM's reducers: (in > current) ? in : current, and (in < current) ? in : current.
    return candidate > current if take_max else candidate < current


def reduce_extreme(const value_t[::1] x, value_t[::1] out, const Py_ssize_t[::1] shape,
                   const Py_ssize_t[::1] in_strides, const Py_ssize_t[::1] out_strides, bint take_max) -> None:
    """out[o] = maximum (take_max) or minimum of the inputs that reduce to o, starting from the type's
    lowest (largest) value as TFLM does: float32 starts at -FLT_MAX (FLT_MAX), not at an infinity."""
    check_geometry(x.shape[0], out.shape[0], shape, in_strides, out_strides)
    cdef value_t start
    if value_t is float:
        start = -FLT_MAX if take_max else FLT_MAX
    elif value_t is int8_t:
        start = -128 if take_max else 127
    elif value_t is int16_t:
        start = -32768 if take_max else 32767
    else:
        start = (-2147483647 - 1) if take_max else 2147483647
    cdef Py_ssize_t i, row, rows = x.shape[0] // shape[5]
    cdef const value_t* src = &x[0]
    cdef value_t* dst = &out[0]
    cdef value_t v
    cdef Rows r = first_row()
    with nogil:
        for i in range(out.shape[0]):
            dst[i] = start
        for row in range(rows):
            for i in range(shape[5]):
                v = src[r.start1 + i * in_strides[5]]
                if _replaces(v, dst[r.start2 + i * out_strides[5]], take_max):
                    dst[r.start2 + i * out_strides[5]] = v
            next_row(&r, &shape[0], &in_strides[0], &out_strides[0])


def divide_float(float[::1] values, float divisor) -> None:
    """values /= divisor in float32 (MEAN's division of each float sum by the reduced element count)."""
    cdef Py_ssize_t i
    with nogil:
        for i in range(values.shape[0]):
            values[i] = values[i] / divisor


def arg_min_max(const value_t[:, :, ::1] x, index_t[:, ::1] out, bint take_max) -> None:
    """out[o, i] = index along axis 1 of the first maximum (take_max) or minimum of x[o, :, i]
    (ArgMinMax with GreaterFn / LessFn: a later equal value or a NaN never replaces it)."""
    if x.shape[0] != out.shape[0] or x.shape[2] != out.shape[1] or x.shape[1] == 0:
        raise ValueError(f"arg_min_max: input {x.shape[0]}x{x.shape[1]}x{x.shape[2]} vs output "
                         f"{out.shape[0]}x{out.shape[1]}")
    cdef Py_ssize_t outer, inner, i
    cdef value_t best
    cdef index_t best_index
    with nogil:
        for outer in range(x.shape[0]):
            for inner in range(x.shape[2]):
                best = x[outer, 0, inner]
                best_index = 0
                for i in range(1, x.shape[1]):
                    if _replaces(x[outer, i, inner], best, take_max):
                        best = x[outer, i, inner]
                        best_index = <index_t>i
                out[outer, inner] = best_index
