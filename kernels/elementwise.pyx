# cython: language_level=3
"""Binary elementwise ops with numpy broadcasting up to 6-D (TFLM's BroadcastBinaryOpSimple and friends).

One broadcast iteration serves every binary op and element type: the output is walked in C order over a
6-D shape while each input advances by its own strides (0 along broadcast axes). Shape and strides come
from prepare (microinterp/ops/elementwise.py), already coalesced so that same-shape operands run as one
flat loop. The per-element arithmetic is a small inline function chosen at compile time by the op tag
type (`binary_op_t`) and the input and output element types.

Two entry points share that loop: `binary` (arithmetic, output type = input type) and `compare`
(comparisons and logical ops, bool output seen as uint8). Integer types follow TFLM: int8 and int16 are
quantized (rescaled through `Params`; quantized_binary.pxd), int32 and int64 are plain integers with C
wrap-around, float is float32. Adding an op: a tag struct, its member in `binary_op_t`, a code in
`BinaryOp`, its arithmetic in `_apply`, and a branch in `binary` or `compare`.
"""
from libc.math cimport floor, fmodf
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint32_t

from fixedpoint cimport clamp32, count_leading_zeros, mbqm, rdbpot, srdhm
from gemmlowp cimport one_over_one_plus_x_for_x_in_0_1
from gemmlowp cimport wrapping_add, wrapping_sub
from quantized_binary cimport Params, quantized_add_sub, rescaled1, rescaled2, wrap_mul
from walk cimport Rows, WALK_DIMS, first_row, next_row


cpdef enum BinaryOp:
    ADD = 0
    SUB = 1
    MUL = 2
    DIV = 3
    SQUARED_DIFFERENCE = 4
    MAXIMUM = 5
    MINIMUM = 6
    PRELU = 7
    EQUAL = 8
    NOT_EQUAL = 9
    LESS = 10
    LESS_EQUAL = 11
    GREATER = 12
    GREATER_EQUAL = 13
    LOGICAL_AND = 14
    LOGICAL_OR = 15
    FLOOR_DIV = 16
    FLOOR_MOD = 17


# Compile-time op tags: a NULL pointer of the tag type selects the specialization.
cdef struct AddTag:
    char unused
cdef struct SubTag:
    char unused
cdef struct MulTag:
    char unused
cdef struct DivTag:
    char unused
cdef struct SquaredDifferenceTag:
    char unused
cdef struct MaximumTag:
    char unused
cdef struct MinimumTag:
    char unused
cdef struct PreluTag:
    char unused
cdef struct EqualTag:
    char unused
cdef struct NotEqualTag:
    char unused
cdef struct LessTag:
    char unused
cdef struct LessEqualTag:
    char unused
cdef struct GreaterTag:
    char unused
cdef struct GreaterEqualTag:
    char unused
cdef struct LogicalAndTag:
    char unused
cdef struct LogicalOrTag:
    char unused
cdef struct FloorDivTag:
    char unused
cdef struct FloorModTag:
    char unused

ctypedef fused binary_op_t:
    AddTag
    SubTag
    MulTag
    DivTag
    SquaredDifferenceTag
    MaximumTag
    MinimumTag
    PreluTag
    EqualTag
    NotEqualTag
    LessTag
    LessEqualTag
    GreaterTag
    GreaterEqualTag
    LogicalAndTag
    LogicalOrTag
    FloorDivTag
    FloorModTag

# Arithmetic: output type = input type (int64: MAXIMUM/MINIMUM only).
ctypedef fused element_t:
    int8_t
    int16_t
    int32_t
    int64_t
    float

# Comparison inputs (uint8_t is bool); the output is always bool.
ctypedef fused compared_t:
    int8_t
    int16_t
    int32_t
    int64_t
    float
    uint8_t

# Every input type of the loop, and every output type.
ctypedef fused in_t:
    int8_t
    int16_t
    int32_t
    int64_t
    float
    uint8_t

ctypedef fused out_t:
    int8_t
    int16_t
    int32_t
    int64_t
    float
    uint8_t

# What comparisons compare: rescaled int8/int16 values (int32), or the raw inputs of other types.
ctypedef fused compared_value_t:
    int32_t
    int64_t
    float
    uint8_t


cdef struct Geometry:
    Py_ssize_t shape[WALK_DIMS]
    Py_ssize_t strides1[WALK_DIMS]
    Py_ssize_t strides2[WALK_DIMS]


cdef inline int32_t _quantized(binary_op_t* op, int32_t x, int32_t y, const Params* p) noexcept nogil:
    # int8/int16 arithmetic before the output clamp.
    cdef int32_t a
    if binary_op_t is AddTag or binary_op_t is SubTag:
        return quantized_add_sub(x, y, binary_op_t is SubTag, p)
    elif binary_op_t is SquaredDifferenceTag:
        a = wrapping_sub(rescaled1(x, p), rescaled2(y, p))
        return wrapping_add(mbqm(wrap_mul(a, a), p.output_multiplier, p.output_shift), p.output_offset)
    elif binary_op_t is MulTag:
        return wrapping_add(mbqm((x + p.input1_offset) * (y + p.input2_offset), p.output_multiplier, p.output_shift),
                         p.output_offset)
    elif binary_op_t is PreluTag:
        a = x + p.input1_offset
        if a >= 0:
            return mbqm(a, p.input1_multiplier, p.input1_shift) + p.output_offset
        return mbqm(a * (y + p.input2_offset), p.output_multiplier, p.output_shift) + p.output_offset


cdef inline int32_t _quantized_div(int32_t x, int32_t y, const Params* p, bint* failed) noexcept nogil:
    # reference_ops::DivElementwise (int8): the quotient through the fixed-point reciprocal of the divisor.
    # A divisor at its zero point is undefined behaviour in TFLM (a DCHECK only): reported as a failure.
    cdef int32_t numerator = x + p.input1_offset, denominator = y + p.input2_offset
    if denominator == 0:
        failed[0] = True
        return 0
    if denominator < 0:
        numerator, denominator = -numerator, -denominator
    # GetReciprocal(denominator, 31): normalise to [1, 2), take 1 / (1 + fraction) in Q0.31.
    cdef int headroom_plus_one = count_leading_zeros(<uint32_t>denominator)
    cdef int reciprocal_shift = 31 - headroom_plus_one
    cdef int32_t reciprocal = one_over_one_plus_x_for_x_in_0_1(
        <int32_t>((<uint32_t>denominator << headroom_plus_one) - (<uint32_t>1 << 31)))
    # CountLeadingSignBits as GCC's __builtin_clrsb (31 for 0 and -1).
    cdef int headroom = count_leading_zeros(<uint32_t>(numerator ^ (numerator >> 31))) - 1
    cdef int32_t unscaled = srdhm(<int32_t>(<uint32_t>numerator << headroom), reciprocal)
    return p.output_offset + rdbpot(srdhm(unscaled, p.output_multiplier),
                                    -(p.output_shift - reciprocal_shift - headroom))


cdef inline int32_t _integer(binary_op_t* op, int32_t x, int32_t y, bint* failed) noexcept nogil:
    # Plain int32 arithmetic, wrapping like TFLM's int32 kernels in practice. A zero divisor fails TFLM's
    # invoke and INT32_MIN / -1 traps (SIGFPE) there: both are reported instead.
    if binary_op_t is AddTag:
        return wrapping_add(x, y)
    elif binary_op_t is SubTag:
        return wrapping_sub(x, y)
    elif binary_op_t is MulTag:
        return wrap_mul(x, y)
    elif binary_op_t is DivTag:
        if y == 0 or (y == -1 and x == -2147483647 - 1):
            failed[0] = True
            return 0
        return x // y  # cdivision: C truncating division
    elif binary_op_t is SquaredDifferenceTag:
        x = wrapping_sub(x, y)
        return wrap_mul(x, x)


cdef inline float _float(binary_op_t* op, float x, float y) noexcept nogil:
    if binary_op_t is AddTag:
        return x + y
    elif binary_op_t is SubTag:
        return x - y
    elif binary_op_t is MulTag:
        return x * y
    elif binary_op_t is DivTag:
        return x / y
    elif binary_op_t is SquaredDifferenceTag:
        x = x - y
        return x * x
    elif binary_op_t is PreluTag:
        return x if x >= 0.0 else x * y
    elif binary_op_t is FloorDivTag:
        return <float>floor(<double>x / <double>y)
    elif binary_op_t is FloorModTag:
        # reference_ops::FloorMod: fmod, moved to the divisor's sign.
        x = fmodf(x, y)
        return x + y if x != 0 and ((y < 0) != (x < 0)) else x


cdef inline bint _compare(binary_op_t* op, compared_value_t x, compared_value_t y) noexcept nogil:
    if binary_op_t is EqualTag:
        return x == y
    elif binary_op_t is NotEqualTag:
        return x != y
    elif binary_op_t is LessTag:
        return x < y
    elif binary_op_t is LessEqualTag:
        return x <= y
    elif binary_op_t is GreaterTag:
        return x > y
    elif binary_op_t is GreaterEqualTag:
        return x >= y


cdef inline bint _apply(binary_op_t* op, in_t x, in_t y, out_t* dst, const Params* p) noexcept nogil:
    """Write op(x, y) to dst; True where TFLM fails (a zero divisor of DIV or FLOOR_DIV, INT32_MIN / -1)."""
    cdef int32_t q
    cdef float v
    cdef bint failed = False
    if binary_op_t is LogicalAndTag:
        dst[0] = <out_t>(x != 0 and y != 0)
    elif binary_op_t is LogicalOrTag:
        dst[0] = <out_t>(x != 0 or y != 0)
    elif (binary_op_t is EqualTag or binary_op_t is NotEqualTag or binary_op_t is LessTag
          or binary_op_t is LessEqualTag or binary_op_t is GreaterTag or binary_op_t is GreaterEqualTag):
        if in_t is int8_t or in_t is int16_t:
            # Quantized inputs are compared on a common scale (identity parameters compare raw values).
            dst[0] = <out_t>_compare(op, rescaled1(x, p), rescaled2(y, p))
        else:
            dst[0] = <out_t>_compare(op, x, y)
    elif binary_op_t is MaximumTag:
        # TFLM compares the stored values (no rescaling, no clamp); a comparison with a NaN is false, giving y.
        dst[0] = <out_t>(x if x > y else y)
    elif binary_op_t is MinimumTag:
        dst[0] = <out_t>(x if x < y else y)
    elif in_t is float:
        # FLOOR_DIV fails the invoke on a zero divisor (TFLM checks them all before dividing).
        if binary_op_t is FloorDivTag:
            failed = y == 0
        # ActivationFunctionWithMinMax: std::min(std::max(v, lo), hi); a NaN passes through.
        v = _float(op, x, y)
        v = p.float_min if v < p.float_min else v
        dst[0] = <out_t>(p.float_max if p.float_max < v else v)
    else:
        if in_t is int32_t:
            q = _integer(op, x, y, &failed)
        elif binary_op_t is DivTag:
            q = _quantized_div(x, y, p, &failed)
        else:
            q = _quantized(op, x, y, p)
        q = p.activation_min if q < p.activation_min else q
        dst[0] = <out_t>(p.activation_max if q > p.activation_max else q)
    return failed


cdef Py_ssize_t _broadcast(binary_op_t* op, const in_t* in1, const in_t* in2, out_t* out, const Geometry* g,
                           const Params* p) noexcept nogil:
    """The broadcast walk; returns the first output index where the op failed, or -1."""
    cdef Py_ssize_t row, i, n = 0, failed_at = -1
    cdef Py_ssize_t rows = 1
    for i in range(WALK_DIMS - 1):
        rows *= g.shape[i]
    cdef Rows r = first_row()
    for row in range(rows):
        for i in range(g.shape[5]):
            if (_apply(op, in1[r.start1 + i * g.strides1[5]], in2[r.start2 + i * g.strides2[5]], &out[n], p)
                    and failed_at < 0):
                failed_at = n
            n += 1
        next_row(&r, g.shape, g.strides1, g.strides2)
    return failed_at


cdef class BinaryKernel:
    """A prepared binary op: its code, broadcast geometry (6 dims) and arithmetic parameters.

    shape/strides1/strides2: 6 output extents and each input's element strides (0 = broadcast).
    params: a dict with every `Params` field.
    """
    cdef readonly int op
    cdef Geometry geometry
    cdef Params params
    cdef readonly Py_ssize_t size1, size2, size_out

    def __init__(self, int op, shape, strides1, strides2, dict params):
        if not ADD <= op <= FLOOR_MOD:
            raise ValueError(f"unknown binary op code {op}")
        if not len(shape) == len(strides1) == len(strides2) == WALK_DIMS:
            raise ValueError(f"shape and strides must have {WALK_DIMS} entries")
        self.op = op
        self.size_out = 1
        cdef Py_ssize_t last1 = 0, last2 = 0
        for d in range(WALK_DIMS):
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
        self.params = params

    cdef int check(self, Py_ssize_t n1, Py_ssize_t n2, Py_ssize_t n_out) except -1:
        if n1 < self.size1 or n2 < self.size2 or n_out != self.size_out:
            raise ValueError(f"binary op: views of {n1}, {n2} -> {n_out} elements, "
                             f"geometry needs {self.size1}, {self.size2} -> {self.size_out}")
        return 0


def binary(BinaryKernel kernel, const element_t[::1] in1, const element_t[::1] in2, element_t[::1] out) -> int:
    """out = op(in1, in2) for arithmetic ops, on flat C-order views; returns -1 or the first failed index."""
    kernel.check(in1.shape[0], in2.shape[0], out.shape[0])
    if kernel.size_out == 0:
        return -1
    cdef const Geometry* g = &kernel.geometry
    cdef const Params* p = &kernel.params
    cdef int op = kernel.op
    cdef Py_ssize_t failed_at = -1
    with nogil:
        if op == MAXIMUM:
            failed_at = _broadcast(<MaximumTag*>NULL, &in1[0], &in2[0], &out[0], g, p)
        elif op == MINIMUM:
            failed_at = _broadcast(<MinimumTag*>NULL, &in1[0], &in2[0], &out[0], g, p)
        if element_t is not int64_t:
            if op == ADD:
                failed_at = _broadcast(<AddTag*>NULL, &in1[0], &in2[0], &out[0], g, p)
            elif op == SUB:
                failed_at = _broadcast(<SubTag*>NULL, &in1[0], &in2[0], &out[0], g, p)
            elif op == MUL:
                failed_at = _broadcast(<MulTag*>NULL, &in1[0], &in2[0], &out[0], g, p)
            elif op == SQUARED_DIFFERENCE:
                failed_at = _broadcast(<SquaredDifferenceTag*>NULL, &in1[0], &in2[0], &out[0], g, p)
            elif op == DIV:
                if element_t is not int16_t:
                    failed_at = _broadcast(<DivTag*>NULL, &in1[0], &in2[0], &out[0], g, p)
            elif op == PRELU:
                if element_t is not int32_t:
                    failed_at = _broadcast(<PreluTag*>NULL, &in1[0], &in2[0], &out[0], g, p)
            elif op == FLOOR_DIV:
                if element_t is float:
                    failed_at = _broadcast(<FloorDivTag*>NULL, &in1[0], &in2[0], &out[0], g, p)
            elif op == FLOOR_MOD:
                if element_t is float:
                    failed_at = _broadcast(<FloorModTag*>NULL, &in1[0], &in2[0], &out[0], g, p)
    return failed_at


def compare(BinaryKernel kernel, const compared_t[::1] in1, const compared_t[::1] in2, uint8_t[::1] out) -> None:
    """out = op(in1, in2) for comparisons (and logical ops on bool inputs), bool output seen as uint8."""
    kernel.check(in1.shape[0], in2.shape[0], out.shape[0])
    if kernel.size_out == 0:
        return
    cdef const Geometry* g = &kernel.geometry
    cdef const Params* p = &kernel.params
    cdef int op = kernel.op
    with nogil:
        if op == EQUAL:
            _broadcast(<EqualTag*>NULL, &in1[0], &in2[0], &out[0], g, p)
        elif op == NOT_EQUAL:
            _broadcast(<NotEqualTag*>NULL, &in1[0], &in2[0], &out[0], g, p)
        elif op == LESS:
            _broadcast(<LessTag*>NULL, &in1[0], &in2[0], &out[0], g, p)
        elif op == LESS_EQUAL:
            _broadcast(<LessEqualTag*>NULL, &in1[0], &in2[0], &out[0], g, p)
        elif op == GREATER:
            _broadcast(<GreaterTag*>NULL, &in1[0], &in2[0], &out[0], g, p)
        elif op == GREATER_EQUAL:
            _broadcast(<GreaterEqualTag*>NULL, &in1[0], &in2[0], &out[0], g, p)
        elif compared_t is uint8_t:
            if op == LOGICAL_AND:
                _broadcast(<LogicalAndTag*>NULL, &in1[0], &in2[0], &out[0], g, p)
            elif op == LOGICAL_OR:
                _broadcast(<LogicalOrTag*>NULL, &in1[0], &in2[0], &out[0], g, p)


cdef inline int8_t _sum_to_output(int32_t total, const Params* p) noexcept nogil:
    # ADD_N and CUMSUM: a sum of rescaled inputs back to the int8 output (SmallerThanOneExp), clamped.
    return <int8_t>clamp32(wrapping_add(rdbpot(srdhm(total, p.output_multiplier), -p.output_shift), p.output_offset),
                           p.activation_min, p.activation_max)


def add_n_int8(list inputs, int8_t[::1] out, int32_t[::1] accumulator, dict params) -> None:
    """reference_ops::AddN (int8): each input rescaled like ADD's input 1, summed, rescaled to the output.

    TFLM starts each sum from the rescaled raw value 0 (its `x = input1_offset`), then adds every input.
    accumulator: one int32 per output element. params: the `Params` fields (input1_*, output_*, clamp).
    """
    cdef Params p = params
    cdef Py_ssize_t i, n = out.shape[0]
    cdef const int8_t[::1] x
    if accumulator.shape[0] != n:
        raise ValueError(f"add_n_int8: accumulator of {accumulator.shape[0]} elements for {n} outputs")
    for item in inputs:
        x = item
        if x.shape[0] != n:
            raise ValueError(f"add_n_int8: input of {x.shape[0]} elements for {n} outputs")
    cdef int32_t start = rescaled1(0, &p)
    with nogil:
        for i in range(n):
            accumulator[i] = start
    for item in inputs:
        x = item
        with nogil:
            for i in range(n):
                accumulator[i] = wrapping_add(accumulator[i], rescaled1(x[i], &p))
    with nogil:
        for i in range(n):
            out[i] = _sum_to_output(accumulator[i], &p)


def cumsum_int8(const int8_t[:, :, ::1] x, int8_t[:, :, ::1] out, dict params, bint exclusive, bint reverse) -> None:
    """reference_ops::CumSum (int8) along axis 1 of (outer, axis, inner) views: inputs rescaled like ADD_N's,
    summed from the rescaled raw value 0 in (reversed) axis order, each running sum rescaled to the output."""
    if x.shape[0] != out.shape[0] or x.shape[1] != out.shape[1] or x.shape[2] != out.shape[2]:
        raise ValueError("cumsum_int8: input and output views differ in shape")
    cdef Params p = params
    cdef int32_t start = rescaled1(0, &p), total, scaled
    cdef Py_ssize_t i, j, k, step, depth = x.shape[1]
    with nogil:
        for i in range(x.shape[0]):
            for k in range(x.shape[2]):
                total = start
                for step in range(depth):
                    j = depth - 1 - step if reverse else step
                    scaled = rescaled1(x[i, j, k], &p)
                    if exclusive:
                        out[i, j, k] = _sum_to_output(total, &p)
                        total = wrapping_add(total, scaled)
                    else:
                        total = wrapping_add(total, scaled)
                        out[i, j, k] = _sum_to_output(total, &p)
