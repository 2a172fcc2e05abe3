# cython: language_level=3
"""Unary elementwise ops (activations and math): one flat loop, per-element arithmetic by op tag.

The loop in `_unary_loop` serves every op and element type; `_element` holds each op's arithmetic,
chosen at compile time by the op tag type (`unary_op_t`) and the element type. Integer types follow
TFLM: int8 and int16 are quantized (zero points and multipliers in `UnaryParams`, filled by
microinterp/ops/activations.py and math_ops.py), int32 is a plain integer, uint8 stands for bool, float
is float32 with the C math library's float functions (as TFLM calls them). TFLM's own lookup tables are
used where TFLM uses them: ELU int8 (a 256-entry table built at prepare by `elu_int8_table`) and the
int16 LOGISTIC/TANH sigmoid table (activations.pxd).
"""
from libc.math cimport ceilf, cosf, expf, expm1f, fabsf, floorf, logf, roundf, sinf, sqrtf, tanhf
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint32_t

import numpy as np

from fixedpoint cimport mbqm, rdbpot, rdbpot16, saturating_left_shift16, sdhm16, srdhm16
from gemmlowp cimport inv_sqrt_multiplier, logistic, tanh
from activations cimport logistic_float, logistic_int16, tanh_int16

cpdef enum UnaryOp:
    CLAMP = 0            # float RELU/RELU6/RELU_N1_TO_1, quantized RELU6: clamp to [lo, hi], no rescale
    RESCALE_CLAMP = 1    # quantized RELU and RELU_N1_TO_1: rescale to the output, then clamp to [lo, hi]
    LEAKY_RELU = 2
    LOGISTIC = 3
    TANH = 4
    HARD_SWISH = 5
    ELU = 6
    EXP = 7
    LOG = 8
    SQRT = 9
    RSQRT = 10
    ABS = 11             # float, and unquantized integers (C abs, wrapping)
    ABS_RESCALE = 12     # quantized int8/int16: |q - zp| rescaled to the output
    NEG = 13
    LOGICAL_NOT = 14
    FLOOR = 15
    CEIL = 16
    ROUND = 17           # half to even, as TFLM's RoundToNearest
    SIN = 18
    COS = 19
    SQUARE = 20


# Compile-time op tags: a NULL pointer of the tag type selects the specialization.
cdef struct ClampTag:
    char unused
cdef struct RescaleClampTag:
    char unused
cdef struct LeakyReluTag:
    char unused
cdef struct LogisticTag:
    char unused
cdef struct TanhTag:
    char unused
cdef struct HardSwishTag:
    char unused
cdef struct EluTag:
    char unused
cdef struct ExpTag:
    char unused
cdef struct LogTag:
    char unused
cdef struct SqrtTag:
    char unused
cdef struct RsqrtTag:
    char unused
cdef struct AbsTag:
    char unused
cdef struct AbsRescaleTag:
    char unused
cdef struct NegTag:
    char unused
cdef struct LogicalNotTag:
    char unused
cdef struct FloorTag:
    char unused
cdef struct CeilTag:
    char unused
cdef struct RoundTag:
    char unused
cdef struct SinTag:
    char unused
cdef struct CosTag:
    char unused
cdef struct SquareTag:
    char unused

ctypedef fused unary_op_t:
    ClampTag
    RescaleClampTag
    LeakyReluTag
    LogisticTag
    TanhTag
    HardSwishTag
    EluTag
    ExpTag
    LogTag
    SqrtTag
    RsqrtTag
    AbsTag
    AbsRescaleTag
    NegTag
    LogicalNotTag
    FloorTag
    CeilTag
    RoundTag
    SinTag
    CosTag
    SquareTag

# uint8_t stands for bool.
ctypedef fused value_t:
    int8_t
    int16_t
    int32_t
    float
    uint8_t


cdef struct UnaryParams:
    int32_t input_zero_point
    int32_t output_zero_point
    # The main rescale: RELU/ABS/RSQRT to the output, LEAKY_RELU's identity branch, LOGISTIC/TANH's
    # input (int8: to Q4.27; int16: the table multiplier), HARD_SWISH's output (16-bit multiplier).
    int32_t multiplier
    int shift
    # The second rescale: LEAKY_RELU's alpha branch (signed), HARD_SWISH's "relu-ish" (16-bit).
    int32_t multiplier2
    int shift2
    # Integer clamp range (CLAMP, RESCALE_CLAMP), and the int8 LOGISTIC/TANH saturation radius.
    int32_t lo
    int32_t hi
    int32_t radius
    float float_lo
    float float_hi
    float alpha
    # ELU int8: the output for each input byte (index = the input reinterpreted as uint8).
    int8_t table[256]


cdef inline int32_t _clamp(int32_t v, int32_t lo, int32_t hi) noexcept nogil:
    return lo if v < lo else (hi if v > hi else v)


cdef inline int32_t _hard_swish(int32_t x, const UnaryParams* p) noexcept nogil:
    # reference_ops::HardSwish (quantized), in int16 as TFLM computes it.
    cdef int16_t value = <int16_t>(<int16_t>(x - p.input_zero_point) * 128)
    cdef int16_t preshift_output = srdhm16(value, <int16_t>p.multiplier)
    cdef int16_t reluish = value
    if p.shift2 > 0:
        reluish = saturating_left_shift16(reluish, p.shift2 - 1)
    reluish = srdhm16(reluish, <int16_t>p.multiplier2)
    if p.shift2 > 0:
        reluish = saturating_left_shift16(reluish, 1)
    elif p.shift2 < 0:
        reluish = rdbpot16(reluish, -p.shift2)
    reluish = <int16_t>((<int32_t>reluish + (1 << 15)) >> 1)
    cdef int16_t output = rdbpot16(sdhm16(reluish, preshift_output), -p.shift)
    return <int16_t>(output + p.output_zero_point)


cdef inline float _round_to_nearest(float x) noexcept nogil:
    # TFLM's RoundToNearest: ties go to the even neighbour; NaN and infinities fall to the last branch.
    cdef float below = floorf(x)
    cdef float diff = x - below
    if diff < <float>0.5 or (diff == <float>0.5 and (<int32_t>below) % 2 == 0):
        return below
    return below + <float>1.0


cdef inline value_t _element(unary_op_t* op, value_t x, const UnaryParams* p, bint* failed) noexcept nogil:
    """op(x); sets failed where TFLM fails the invoke (int8 RSQRT of a negative value).

    Every op/type pair must compile; the pairs `unary` never dispatches fall through to the last line.
    """
    cdef int32_t v, m
    cdef int s
    cdef float f
    if unary_op_t is ClampTag and value_t is float:
        return p.float_hi if x > p.float_hi else (p.float_lo if x < p.float_lo else x)
    elif unary_op_t is ClampTag:
        return <value_t>(p.hi if x > p.hi else (p.lo if x < p.lo else x))
    elif unary_op_t is RescaleClampTag and value_t is not float:
        return <value_t>_clamp(p.output_zero_point + mbqm(x - p.input_zero_point, p.multiplier, p.shift), p.lo, p.hi)
    elif unary_op_t is LeakyReluTag and value_t is float:
        return x if x > 0 else x * p.alpha
    elif unary_op_t is LeakyReluTag:
        v = x - p.input_zero_point
        if v >= 0:
            v = p.output_zero_point + mbqm(v, p.multiplier, p.shift)
        elif p.multiplier2 < 0:
            # A negative alpha: TFLM multiplies by |multiplier| and subtracts (the negation wraps like C).
            v = p.output_zero_point - mbqm(v, <int32_t>(0u - <uint32_t>p.multiplier2), p.shift2)
        else:
            v = p.output_zero_point + mbqm(v, p.multiplier2, p.shift2)
        return <value_t>_clamp(v, p.lo, p.hi)
    elif unary_op_t is LogisticTag and value_t is float:
        return logistic_float(x)
    elif unary_op_t is LogisticTag and value_t is int16_t:
        return logistic_int16(x, p.multiplier, p.shift)
    elif unary_op_t is TanhTag and value_t is float:
        return tanhf(x)
    elif unary_op_t is TanhTag and value_t is int16_t:
        return tanh_int16(x, p.multiplier, p.shift)
    elif (unary_op_t is LogisticTag or unary_op_t is TanhTag) and value_t is int8_t:
        # Saturated outside the radius, else gemmlowp's function of the input rescaled to Q4.27.
        v = x - p.input_zero_point
        if v <= -p.radius:
            return -128
        if v >= p.radius:
            return 127
        v = mbqm(v, p.multiplier, p.shift)
        if unary_op_t is LogisticTag:
            return <value_t>_clamp(rdbpot(logistic(v, 4), 23) - 128, -128, 127)
        return <value_t>_clamp(rdbpot(tanh(v, 4), 24), -128, 127)
    elif unary_op_t is HardSwishTag and value_t is float:
        # x * min(6, max(0, x + 3)) / 6 with std::max/std::min's argument order (a NaN gives 0).
        f = x + <float>3.0
        f = f if <float>0.0 < f else <float>0.0
        f = f if f < <float>6.0 else <float>6.0
        return x * f / <float>6.0
    elif unary_op_t is HardSwishTag and value_t is int8_t:
        return <value_t>_clamp(_hard_swish(x, p), -128, 127)
    elif unary_op_t is EluTag and value_t is float:
        return expm1f(x) if x < 0 else x
    elif unary_op_t is EluTag and value_t is int8_t:
        return p.table[<uint8_t>x]
    elif unary_op_t is ExpTag and value_t is float:
        return expf(x)
    elif unary_op_t is LogTag and value_t is float:
        return logf(x)
    elif unary_op_t is SqrtTag and value_t is float:
        return sqrtf(x)
    elif unary_op_t is RsqrtTag and value_t is float:
        return <float>1.0 / sqrtf(x)
    elif unary_op_t is RsqrtTag and value_t is int8_t:
        v = x - p.input_zero_point
        if v < 0:
            failed[0] = True
            return 0
        if v == 0:
            return 127  # TFLM: a value at the zero point maps to the largest output
        inv_sqrt_multiplier(v, &m, &s)
        return <value_t>_clamp(mbqm(mbqm(1, m, s + 20), p.multiplier, p.shift - 20) + p.output_zero_point,
                               -128, 127)
    elif unary_op_t is AbsTag and value_t is float:
        return fabsf(x)
    elif unary_op_t is AbsTag:
        return <value_t>(-x if x < 0 else x)
    elif unary_op_t is AbsRescaleTag and value_t is not float:
        v = x - p.input_zero_point
        return <value_t>_clamp(mbqm(-v if v < 0 else v, p.multiplier, p.shift) + p.output_zero_point, p.lo, p.hi)
    elif unary_op_t is NegTag and value_t is float:
        return -x
    elif unary_op_t is NegTag:
        return <value_t>(-(<int64_t>x))
    elif unary_op_t is LogicalNotTag:
        return x == 0
    elif unary_op_t is FloorTag and value_t is float:
        return floorf(x)
    elif unary_op_t is CeilTag and value_t is float:
        return ceilf(x)
    elif unary_op_t is RoundTag and value_t is float:
        return _round_to_nearest(x)
    elif unary_op_t is SinTag and value_t is float:
        return sinf(x)
    elif unary_op_t is CosTag and value_t is float:
        return cosf(x)
    elif unary_op_t is SquareTag and value_t is float:
        return x * x
    else:
        return x


cdef Py_ssize_t _unary_loop(unary_op_t* op, const value_t* x, value_t* out, Py_ssize_t n,
                            const UnaryParams* p) noexcept nogil:
    """The elementwise walk; returns the first index where the op failed, or -1."""
    cdef Py_ssize_t i, failed_at = -1
    cdef bint failed = False
    for i in range(n):
        out[i] = _element(op, x[i], p, &failed)
        if failed and failed_at < 0:
            failed_at = i
    return failed_at


cdef class UnaryKernel:
    """A prepared unary op: its code and a dict with every `UnaryParams` field (the table as 256 ints)."""
    cdef readonly int op
    cdef UnaryParams params

    def __init__(self, int op, dict params):
        if not CLAMP <= op <= SQUARE:
            raise ValueError(f"unknown unary op code {op}")
        self.op = op
        self.params = params


def unary(UnaryKernel kernel, const value_t[::1] x, value_t[::1] out) -> int:
    """out = op(x) on flat views of equal size; returns -1 or the first index where the op failed."""
    if x.shape[0] != out.shape[0]:
        raise ValueError(f"unary op: input view of {x.shape[0]} elements, output of {out.shape[0]}")
    cdef Py_ssize_t n = x.shape[0], failed_at = -1
    if n == 0:
        return -1
    cdef const UnaryParams* p = &kernel.params
    cdef int op = kernel.op
    cdef const value_t* src = &x[0]
    cdef value_t* dst = &out[0]
    with nogil:
        if value_t is uint8_t:
            if op == LOGICAL_NOT:
                failed_at = _unary_loop(<LogicalNotTag*>NULL, src, dst, n, p)
        elif value_t is int32_t:
            if op == NEG:
                failed_at = _unary_loop(<NegTag*>NULL, src, dst, n, p)
        else:
            if op == CLAMP:
                failed_at = _unary_loop(<ClampTag*>NULL, src, dst, n, p)
            elif op == LEAKY_RELU:
                failed_at = _unary_loop(<LeakyReluTag*>NULL, src, dst, n, p)
            elif op == LOGISTIC:
                failed_at = _unary_loop(<LogisticTag*>NULL, src, dst, n, p)
            elif op == TANH:
                failed_at = _unary_loop(<TanhTag*>NULL, src, dst, n, p)
            elif op == ABS:
                failed_at = _unary_loop(<AbsTag*>NULL, src, dst, n, p)
            elif op == NEG:
                failed_at = _unary_loop(<NegTag*>NULL, src, dst, n, p)
            if value_t is not int16_t:
                if op == HARD_SWISH:
                    failed_at = _unary_loop(<HardSwishTag*>NULL, src, dst, n, p)
                elif op == ELU:
                    failed_at = _unary_loop(<EluTag*>NULL, src, dst, n, p)
                elif op == RSQRT:
                    failed_at = _unary_loop(<RsqrtTag*>NULL, src, dst, n, p)
            if value_t is float:
                if op == EXP:
                    failed_at = _unary_loop(<ExpTag*>NULL, src, dst, n, p)
                elif op == LOG:
                    failed_at = _unary_loop(<LogTag*>NULL, src, dst, n, p)
                elif op == SQRT:
                    failed_at = _unary_loop(<SqrtTag*>NULL, src, dst, n, p)
                elif op == FLOOR:
                    failed_at = _unary_loop(<FloorTag*>NULL, src, dst, n, p)
                elif op == CEIL:
                    failed_at = _unary_loop(<CeilTag*>NULL, src, dst, n, p)
                elif op == ROUND:
                    failed_at = _unary_loop(<RoundTag*>NULL, src, dst, n, p)
                elif op == SIN:
                    failed_at = _unary_loop(<SinTag*>NULL, src, dst, n, p)
                elif op == COS:
                    failed_at = _unary_loop(<CosTag*>NULL, src, dst, n, p)
                elif op == SQUARE:
                    failed_at = _unary_loop(<SquareTag*>NULL, src, dst, n, p)
            else:
                if op == RESCALE_CLAMP:
                    failed_at = _unary_loop(<RescaleClampTag*>NULL, src, dst, n, p)
                elif op == ABS_RESCALE:
                    failed_at = _unary_loop(<AbsRescaleTag*>NULL, src, dst, n, p)
    return failed_at


cdef inline int32_t _float_to_int32(float v) noexcept nogil:
    # C's float -> int32 conversion on x86 (cvttss2si): out-of-range values and NaN give INT32_MIN.
    if not (v >= <float>-2147483648.0 and v < <float>2147483648.0):
        return -2147483647 - 1
    return <int32_t>v


def elu_int8_table(float input_scale, int input_zero_point, float output_scale, int output_zero_point):
    """TFLM's ELU lookup table (elu.cc PopulateLookupTable) in float32, indexed by the input as uint8."""
    table = np.empty(256, dtype=np.int8)
    cdef int8_t[::1] t = table
    cdef float inverse_scale = <float>1.0 / output_scale
    cdef float value, transformed
    cdef int32_t q
    cdef int val
    for val in range(-128, 128):
        value = input_scale * <float>(val - input_zero_point)
        transformed = expf(value) - <float>1.0 if value < 0 else value
        q = _float_to_int32(roundf(transformed * inverse_scale) + <float>output_zero_point)
        t[<uint8_t><int8_t>val] = <int8_t>_clamp(q, -128, 127)
    return table
