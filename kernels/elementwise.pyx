# cython: language_level=3
"""Binary elementwise ops with numpy broadcasting up to 6-D (TFLM's BroadcastAdd6DSlow and friends).

One broadcast iteration serves every binary op and element type: the output is walked in C order over a
6-D shape while each input advances by its own strides (0 along broadcast axes). Shape and strides come
from prepare (microinterp/ops/elementwise.py), already coalesced so that same-shape operands run as one
flat loop. The per-element arithmetic is a small inline function chosen at compile time by the op tag
type (`binary_op_t`) and the element type (`element_t`).

Adding an op (SUB, MUL, ...): a tag struct, its member in `binary_op_t`, a code in `BinaryOp`, its
arithmetic in `_quantized_element` / `_float_element`, and a branch in `binary`.
"""
from libc.float cimport FLT_MAX
from libc.stdint cimport int8_t, int16_t, int32_t, uint32_t

from fixedpoint cimport rdbpot, srdhm

cdef enum:
    MAX_DIMS = 6


cpdef enum BinaryOp:
    ADD = 0


# Compile-time op tags: a NULL pointer of the tag type selects the specialization.
cdef struct AddTag:
    char unused

ctypedef fused binary_op_t:
    AddTag

ctypedef fused element_t:
    int8_t
    int16_t
    float


cdef struct QuantizedParams:
    # TFLM's ArithmeticParams: offsets are the negated input zero points and the output zero point.
    int32_t input1_offset
    int32_t input2_offset
    int32_t output_offset
    int left_shift
    int32_t input1_multiplier
    int input1_shift
    int32_t input2_multiplier
    int input2_shift
    int32_t output_multiplier
    int output_shift
    int32_t activation_min
    int32_t activation_max


cdef struct Geometry:
    Py_ssize_t shape[MAX_DIMS]
    Py_ssize_t strides1[MAX_DIMS]
    Py_ssize_t strides2[MAX_DIMS]


cdef inline int32_t _wrapping_add(int32_t a, int32_t b) noexcept nogil:
    return <int32_t>(<uint32_t>a + <uint32_t>b)


cdef inline int32_t _add_quantized(int32_t x, int32_t y, const QuantizedParams* p) noexcept nogil:
    # Both inputs are lifted by 2^left_shift, rescaled to a common scale, summed, then rescaled to the
    # output (MultiplyByQuantizedMultiplierSmallerThanOneExp = RDBPOT(SRDHM(x, m), -shift), shift <= 0).
    cdef int32_t a = (x + p.input1_offset) * (<int32_t>1 << p.left_shift)
    cdef int32_t b = (y + p.input2_offset) * (<int32_t>1 << p.left_shift)
    a = rdbpot(srdhm(a, p.input1_multiplier), -p.input1_shift)
    b = rdbpot(srdhm(b, p.input2_multiplier), -p.input2_shift)
    return _wrapping_add(rdbpot(srdhm(_wrapping_add(a, b), p.output_multiplier), -p.output_shift),
                         p.output_offset)


cdef inline int32_t _quantized_element(binary_op_t* op, int32_t x, int32_t y, const QuantizedParams* p) noexcept nogil:
    if binary_op_t is AddTag:
        return _add_quantized(x, y, p)


cdef inline float _float_element(binary_op_t* op, float x, float y) noexcept nogil:
    if binary_op_t is AddTag:
        return x + y


cdef inline element_t _element(binary_op_t* op, element_t x, element_t y, const QuantizedParams* p,
                               float float_min, float float_max) noexcept nogil:
    cdef int32_t q
    cdef float v
    if element_t is float:
        # ActivationFunctionWithMinMax: std::min(std::max(v, lo), hi); a NaN passes through.
        v = _float_element(op, x, y)
        v = float_min if v < float_min else v
        return float_max if float_max < v else v
    else:
        q = _quantized_element(op, x, y, p)
        q = p.activation_min if q < p.activation_min else q
        return <element_t>(p.activation_max if q > p.activation_max else q)


cdef void _broadcast(binary_op_t* op, const element_t* in1, const element_t* in2, element_t* out,
                     const Geometry* g, const QuantizedParams* p, float float_min, float float_max) noexcept nogil:
    cdef Py_ssize_t i0, i1, i2, i3, i4, i5, a0, a1, a2, a3, a4, b0, b1, b2, b3, b4
    cdef Py_ssize_t n = 0
    for i0 in range(g.shape[0]):
        a0 = i0 * g.strides1[0]
        b0 = i0 * g.strides2[0]
        for i1 in range(g.shape[1]):
            a1 = a0 + i1 * g.strides1[1]
            b1 = b0 + i1 * g.strides2[1]
            for i2 in range(g.shape[2]):
                a2 = a1 + i2 * g.strides1[2]
                b2 = b1 + i2 * g.strides2[2]
                for i3 in range(g.shape[3]):
                    a3 = a2 + i3 * g.strides1[3]
                    b3 = b2 + i3 * g.strides2[3]
                    for i4 in range(g.shape[4]):
                        a4 = a3 + i4 * g.strides1[4]
                        b4 = b3 + i4 * g.strides2[4]
                        for i5 in range(g.shape[5]):
                            out[n] = _element(op, in1[a4 + i5 * g.strides1[5]], in2[b4 + i5 * g.strides2[5]],
                                              p, float_min, float_max)
                            n += 1


cdef class BinaryKernel:
    """A prepared binary op: its code, broadcast geometry (6 dims) and arithmetic parameters.

    shape/strides1/strides2: 6 output extents and each input's element strides (0 = broadcast).
    quantized: a dict with every QuantizedParams field (integer ops), or None for float ops.
    float_activation: the float output's clamp range.
    """
    cdef readonly int op
    cdef Geometry geometry
    cdef QuantizedParams quantized
    cdef float float_min, float_max
    cdef readonly Py_ssize_t size1, size2, size_out

    def __init__(self, int op, shape, strides1, strides2, quantized=None,
                 float_activation=(-FLT_MAX, FLT_MAX)):
        if op != ADD:
            raise ValueError(f"unknown binary op code {op}")
        if not len(shape) == len(strides1) == len(strides2) == MAX_DIMS:
            raise ValueError(f"shape and strides must have {MAX_DIMS} entries")
        self.op = op
        self.size_out = 1
        cdef Py_ssize_t last1 = 0, last2 = 0
        for d in range(MAX_DIMS):
            if shape[d] < 0 or strides1[d] < 0 or strides2[d] < 0:
                raise ValueError("negative extent or stride")
            self.geometry.shape[d] = shape[d]
            self.geometry.strides1[d] = strides1[d]
            self.geometry.strides2[d] = strides2[d]
            self.size_out *= shape[d]
            if shape[d] > 0:
                last1 += (shape[d] - 1) * strides1[d]
                last2 += (shape[d] - 1) * strides2[d]
        # Elements each input view must hold for the walk to stay inside it.
        self.size1 = last1 + 1 if self.size_out else 0
        self.size2 = last2 + 1 if self.size_out else 0
        if quantized is not None:
            self.quantized = quantized
        self.float_min, self.float_max = float_activation


def binary(BinaryKernel kernel, const element_t[::1] in1, const element_t[::1] in2, element_t[::1] out) -> None:
    """out = op(in1, in2) elementwise with broadcasting, on flat C-order views of the three tensors."""
    if in1.shape[0] < kernel.size1 or in2.shape[0] < kernel.size2 or out.shape[0] != kernel.size_out:
        raise ValueError(f"binary op: views of {in1.shape[0]}, {in2.shape[0]} -> {out.shape[0]} elements, "
                         f"geometry needs {kernel.size1}, {kernel.size2} -> {kernel.size_out}")
    if kernel.size_out == 0:
        return
    with nogil:
        if kernel.op == ADD:
            _broadcast(<AddTag*>NULL, &in1[0], &in2[0], &out[0], &kernel.geometry, &kernel.quantized,
                       kernel.float_min, kernel.float_max)
