# cython: language_level=3
"""The pooling window walk, geometry guard and TFLM's rounded integer average, shared by the pooling
template (pooling.pyx) and the compiled int8 AVERAGE_POOL_2D step (steps.pyx), which must give its bits.
"""
cimport cython
from libc.stdint cimport int32_t


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
