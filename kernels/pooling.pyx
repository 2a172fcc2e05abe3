# cython: language_level=3
"""AVERAGE_POOL_2D and MAX_POOL_2D over NHWC tensors (TFLM reference/pooling.h, integer_ops/pooling.h).

The window is clipped to the image: padded taps are neither read nor counted. Quantized input and output
share scale and zero point, so the kernels work on raw values (no zero point subtracted). One window walk
serves both pooling kinds and int8, int16 and float32; the per-output reduction (`_pooled`) is chosen at
compile time by the kind's tag type and the element type. The window walk and the integer average are in
pooling_common.pxd, shared with the compiled int8 average step (steps.pyx).
"""
cimport cython
from libc.float cimport FLT_MAX
from libc.stdint cimport int8_t, int16_t, int32_t

from fixedpoint cimport clamp32
from pooling_common cimport check_pool_geometry, pool_window, rounded_mean

ctypedef fused pool_t:
    int8_t
    int16_t
    float


cdef inline float _activation_float(float v, float lo, float hi) noexcept nogil:
    # std::min(std::max(v, lo), hi), comparison for comparison: a NaN passes through as in TFLM.
    v = lo if v < lo else v
    return hi if hi < v else v


# Compile-time pooling kinds: a NULL pointer of the tag type selects the specialization.
cdef struct AverageTag:
    char unused
cdef struct MaxTag:
    char unused

ctypedef fused pool_kind_t:
    AverageTag
    MaxTag


@cython.cdivision(True)
cdef inline pool_t _pooled(pool_kind_t* kind, const pool_t[:, :, :, ::1] x, Py_ssize_t b, Py_ssize_t y0,
                           Py_ssize_t x0, Py_ssize_t c, Py_ssize_t fy0, Py_ssize_t fy1, Py_ssize_t fx0,
                           Py_ssize_t fx1, int32_t lo, int32_t hi, float lo_f, float hi_f) noexcept nogil:
    # One output: the window's in-image taps fy0..fy1-1, fx0..fx1-1 from (y0, x0) in image b, channel c,
    # reduced, then clamped to the fused activation.
    cdef Py_ssize_t fy, fx
    cdef int32_t acc
    cdef float total
    cdef pool_t m, v
    if pool_kind_t is AverageTag and pool_t is float:
        total = 0.0
        for fy in range(fy0, fy1):
            for fx in range(fx0, fx1):
                total = total + x[b, y0 + fy, x0 + fx, c]
        return _activation_float(total / <float>((fy1 - fy0) * (fx1 - fx0)), lo_f, hi_f)
    elif pool_kind_t is AverageTag:
        acc = 0
        for fy in range(fy0, fy1):
            for fx in range(fx0, fx1):
                acc = acc + x[b, y0 + fy, x0 + fx, c]
        return <pool_t>clamp32(rounded_mean(acc, <int32_t>((fy1 - fy0) * (fx1 - fx0))), lo, hi)
    else:
        if pool_t is float:
            m = -FLT_MAX
        elif pool_t is int8_t:
            m = -128
        else:
            m = -32768
        for fy in range(fy0, fy1):
            for fx in range(fx0, fx1):
                # std::max(m, v) keeps m unless m < v.
                v = x[b, y0 + fy, x0 + fx, c]
                if m < v:
                    m = v
        if pool_t is float:
            return _activation_float(m, lo_f, hi_f)
        else:
            return <pool_t>clamp32(m, lo, hi)


cdef _pool(pool_kind_t* kind, const pool_t[:, :, :, ::1] x, pool_t[:, :, :, ::1] out, int stride_h, int stride_w,
           int filter_h, int filter_w, int pad_h, int pad_w, double act_min, double act_max):
    check_pool_geometry(x.shape[0], x.shape[1], x.shape[2], x.shape[3], out.shape[0], out.shape[1], out.shape[2],
                        out.shape[3], stride_h, stride_w, filter_h, filter_w, pad_h, pad_w)
    cdef Py_ssize_t batches = out.shape[0], out_h = out.shape[1], out_w = out.shape[2], depth = out.shape[3]
    cdef Py_ssize_t in_h = x.shape[1], in_w = x.shape[2]
    cdef Py_ssize_t b, oy, ox, c, y0, x0, fy0, fy1, fx0, fx1
    cdef int32_t lo = <int32_t>act_min, hi = <int32_t>act_max
    cdef float lo_f = <float>act_min, hi_f = <float>act_max
    with nogil:
        for b in range(batches):
            for oy in range(out_h):
                pool_window(oy, stride_h, pad_h, filter_h, in_h, &y0, &fy0, &fy1)
                for ox in range(out_w):
                    pool_window(ox, stride_w, pad_w, filter_w, in_w, &x0, &fx0, &fx1)
                    for c in range(depth):
                        out[b, oy, ox, c] = _pooled(kind, x, b, y0, x0, c, fy0, fy1, fx0, fx1, lo, hi, lo_f, hi_f)


def average_pool(const pool_t[:, :, :, ::1] x, pool_t[:, :, :, ::1] out, int stride_h, int stride_w,
                 int filter_h, int filter_w, int pad_h, int pad_w, double act_min, double act_max) -> None:
    """Mean of the in-image taps of each window, then the fused-activation clamp [act_min, act_max].

    Quantized: int32 sum of raw values divided by the tap count with C (truncating) division after adding
    or subtracting count/2, i.e. halves rounded away from zero. Float: float32 sum in (fy, fx) order / count.
    """
    _pool(<AverageTag*>NULL, x, out, stride_h, stride_w, filter_h, filter_w, pad_h, pad_w, act_min, act_max)


def max_pool(const pool_t[:, :, :, ::1] x, pool_t[:, :, :, ::1] out, int stride_h, int stride_w,
             int filter_h, int filter_w, int pad_h, int pad_w, double act_min, double act_max) -> None:
    """Maximum of the in-image taps of each window (raw values), then the fused-activation clamp."""
    _pool(<MaxTag*>NULL, x, out, stride_h, stride_w, filter_h, filter_w, pad_h, pad_w, act_min, act_max)
