# cython: language_level=3
"""The summing walk of TFLM's Reduce (reference/reduce.h), shared by reduce.pyx and the compiled MEAN / SUM
step: the input once in C order over a 6-D geometry (walk.pxd), each value added to its output, so that
every output folds its inputs in TFLM's order (float sums need it for identical bits)."""
from libc.stdint cimport int8_t, int16_t, int32_t, uint32_t

from walk cimport Rows, first_row, next_row

ctypedef fused value_t:
    int8_t
    int16_t
    int32_t
    float

ctypedef fused sum_t:
    int32_t
    float


cdef inline void sum_rows(const value_t* src, Py_ssize_t in_size, sum_t* dst, Py_ssize_t out_size,
                          const Py_ssize_t* shape, const Py_ssize_t* in_strides,
                          const Py_ssize_t* out_strides) noexcept nogil:
    """dst[o] = sum of the inputs that reduce to o, from 0, in input order (int32 adds wrap); the geometry
    was checked to fit both sides."""
    cdef Py_ssize_t i, row, rows = in_size // shape[5]
    cdef Rows r = first_row()
    for i in range(out_size):
        dst[i] = 0
    for row in range(rows):
        for i in range(shape[5]):
            if sum_t is float:
                dst[r.start2 + i * out_strides[5]] = (dst[r.start2 + i * out_strides[5]]
                                                      + src[r.start1 + i * in_strides[5]])
            else:
                dst[r.start2 + i * out_strides[5]] = <int32_t>(
                    <uint32_t>dst[r.start2 + i * out_strides[5]]
                    + <uint32_t><int32_t>src[r.start1 + i * in_strides[5]])
        next_row(&r, shape, in_strides, out_strides)
