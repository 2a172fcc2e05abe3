# cython: language_level=3
"""The pooling window walk, geometry guard and TFLM's rounded integer average, and the whole pooling
template (pool_all), shared by pooling.pyx and the compiled pooling steps (steps.pyx), which must give its
bits.
"""
cimport cython
from libc.float cimport FLT_MAX
from libc.stdint cimport int8_t, int16_t, int32_t

from fixedpoint cimport clamp32


cdef inline check_pool_geometry(Py_ssize_t in_n, Py_ssize_t in_h, Py_ssize_t in_w, Py_ssize_t in_c,
                                Py_ssize_t out_n, Py_ssize_t out_h, Py_ssize_t out_w, Py_ssize_t out_c,
                                int stride_h, int stride_w, int filter_h, int filter_w, int pad_h, int pad_w):
    # Cheap guard: with these, every index is in the input and every window holds a tap.
    if in_n != out_n or in_c != out_c:
        raise ValueError(f"pooling: input batch/channels {in_n}/{in_c} vs output {out_n}/{out_c}")
    if stride_h <= 0 or stride_w <= 0 or filter_h <= 0 or filter_w <= 0 or pad_h < 0 or pad_w < 0:
        raise ValueError("pooling: strides and filter sizes must be positive, padding non-negative")
    if (out_h > 0 and (in_h == 0 or pad_h >= filter_h or (out_h - 1) * stride_h - pad_h >= in_h)) or \
            (out_w > 0 and (in_w == 0 or pad_w >= filter_w or (out_w - 1) * stride_w - pad_w >= in_w)):
        raise ValueError(f"pooling: output {out_h}x{out_w} has windows outside the {in_h}x{in_w} input")


cdef inline void pool_window(Py_ssize_t o, int stride, int pad, int filter_size, Py_ssize_t in_size,
                             Py_ssize_t* origin, Py_ssize_t* first, Py_ssize_t* end) noexcept nogil:
    # Along one axis, the window of output o: it starts at input index origin; its taps first..end-1 are
    # the ones inside the image.
    origin[0] = o * stride - pad
    first[0] = -origin[0] if origin[0] < 0 else 0
    end[0] = filter_size if filter_size < in_size - origin[0] else in_size - origin[0]


@cython.cdivision(True)
cdef inline int32_t rounded_mean(int32_t acc, int32_t count) noexcept nogil:
    """TFLM's quantized average: C (truncating) division after adding or subtracting count/2, i.e. halves
    rounded away from zero."""
    if acc > 0:
        return (acc + count // 2) // count
    return (acc - count // 2) // count


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


# Channels pooled at a time: each tap adds a contiguous run of them, which the compiler vectorises; every
# channel still takes its taps in (fy, fx) order, so the bits are those of one channel at a time.
cdef enum:
    POOL_CHANNELS = 64


@cython.cdivision(True)
cdef inline void _pooled(pool_kind_t* kind, const pool_t[:, :, :, ::1] x, pool_t* out, Py_ssize_t b,
                         Py_ssize_t y0, Py_ssize_t x0, Py_ssize_t c0, Py_ssize_t n, Py_ssize_t fy0, Py_ssize_t fy1,
                         Py_ssize_t fx0, Py_ssize_t fx1, int32_t lo, int32_t hi, float lo_f,
                         float hi_f) noexcept nogil:
    # Channels c0..c0+n-1 (n <= POOL_CHANNELS) of one output into out[0..n-1]: the window's in-image taps
    # fy0..fy1-1, fx0..fx1-1 from (y0, x0) in image b, reduced, then clamped to the fused activation.
    cdef Py_ssize_t fy, fx, c
    cdef int32_t count = <int32_t>((fy1 - fy0) * (fx1 - fx0))
    cdef float total[POOL_CHANNELS]
    cdef int32_t acc[POOL_CHANNELS]
    cdef pool_t m[POOL_CHANNELS]
    cdef const pool_t* tap
    cdef pool_t v
    if pool_kind_t is AverageTag and pool_t is float:
        for c in range(n):
            total[c] = 0.0
        for fy in range(fy0, fy1):
            for fx in range(fx0, fx1):
                tap = &x[b, y0 + fy, x0 + fx, c0]
                for c in range(n):
                    total[c] = total[c] + tap[c]
        for c in range(n):
            out[c] = _activation_float(total[c] / <float>count, lo_f, hi_f)
    elif pool_kind_t is AverageTag:
        for c in range(n):
            acc[c] = 0
        for fy in range(fy0, fy1):
            for fx in range(fx0, fx1):
                tap = &x[b, y0 + fy, x0 + fx, c0]
                for c in range(n):
                    acc[c] = acc[c] + tap[c]
        for c in range(n):
            out[c] = <pool_t>clamp32(rounded_mean(acc[c], count), lo, hi)
    else:
        for c in range(n):
            if pool_t is float:
                m[c] = -FLT_MAX
            elif pool_t is int8_t:
                m[c] = -128
            else:
                m[c] = -32768
        for fy in range(fy0, fy1):
            for fx in range(fx0, fx1):
                tap = &x[b, y0 + fy, x0 + fx, c0]
                for c in range(n):
                    # std::max(m, v) keeps m unless m < v.
                    v = tap[c]
                    m[c] = v if m[c] < v else m[c]
        for c in range(n):
            if pool_t is float:
                out[c] = _activation_float(m[c], lo_f, hi_f)
            else:
                out[c] = <pool_t>clamp32(m[c], lo, hi)

cdef inline void pool_all(pool_kind_t* kind, const pool_t[:, :, :, ::1] x, pool_t[:, :, :, ::1] out, int stride_h,
                          int stride_w, int filter_h, int filter_w, int pad_h, int pad_w, double act_min,
                          double act_max) noexcept nogil:
    """Every output of a pooling of checked geometry (check_pool_geometry), in (batch, row, column, channel)
    order, clamped to [act_min, act_max]."""
    cdef Py_ssize_t batches = out.shape[0], out_h = out.shape[1], out_w = out.shape[2], depth = out.shape[3]
    cdef Py_ssize_t in_h = x.shape[1], in_w = x.shape[2]
    cdef Py_ssize_t b, oy, ox, c, y0, x0, fy0, fy1, fx0, fx1
    cdef int32_t lo = <int32_t>act_min, hi = <int32_t>act_max
    cdef float lo_f = <float>act_min, hi_f = <float>act_max
    for b in range(batches):
        for oy in range(out_h):
            pool_window(oy, stride_h, pad_h, filter_h, in_h, &y0, &fy0, &fy1)
            for ox in range(out_w):
                pool_window(ox, stride_w, pad_w, filter_w, in_w, &x0, &fx0, &fx1)
                c = 0
                while c < depth:
                    _pooled(kind, x, &out[b, oy, ox, c], b, y0, x0, c, min(<Py_ssize_t>POOL_CHANNELS, depth - c),
                            fy0, fy1, fx0, fx1, lo, hi, lo_f, hi_f)
                    c += POOL_CHANNELS
