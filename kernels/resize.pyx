# cython: language_level=3
"""RESIZE_BILINEAR over NHWC tensors (TFLM reference resize_bilinear.h: ResizeBilinear for float32,
ResizeBilinearInteger for int8).

The per-row and per-column source positions (y0/y1/ys, x0/x1/xs) are computed once at prepare time in
the arithmetic TFLM uses (float32 for float, 10 fractional bits for int8); these loops only blend.
"""
cimport cython
from libc.stdint cimport int8_t, int32_t, int64_t


cdef _check_positions(Py_ssize_t size, const int32_t[::1] lo, const int32_t[::1] hi, Py_ssize_t count):
    # Cheap guard that keeps the unchecked loops inside the input whatever the caller passed.
    if lo.shape[0] != count or hi.shape[0] != count:
        raise ValueError(f"resize: expected {count} source positions, got {lo.shape[0]} and {hi.shape[0]}")
    cdef Py_ssize_t i
    for i in range(count):
        if not (0 <= lo[i] < size and 0 <= hi[i] < size):
            raise ValueError(f"resize: source position {lo[i]}/{hi[i]} outside [0, {size})")


cdef _check_shapes(Py_ssize_t in_n, Py_ssize_t in_c, Py_ssize_t out_n, Py_ssize_t out_c,
                   Py_ssize_t ys_len, Py_ssize_t xs_len, Py_ssize_t out_h, Py_ssize_t out_w):
    if in_n != out_n or in_c != out_c or ys_len != out_h or xs_len != out_w:
        raise ValueError("resize: input/output batch, depth or position counts disagree")


def resize_bilinear_float(const float[:, :, :, ::1] x, float[:, :, :, ::1] out,
                          const int32_t[::1] y0, const int32_t[::1] y1, const float[::1] ys,
                          const int32_t[::1] x0, const int32_t[::1] x1, const float[::1] xs) -> None:
    """out = a*(1-dy)*(1-dx) + b*dy*(1-dx) + c*(1-dy)*dx + d*dy*dx + 0.0f, each step in float32, in TFLM's order."""
    _check_shapes(x.shape[0], x.shape[3], out.shape[0], out.shape[3], ys.shape[0], xs.shape[0],
                  out.shape[1], out.shape[2])
    _check_positions(x.shape[1], y0, y1, out.shape[1])
    _check_positions(x.shape[2], x0, x1, out.shape[2])
    cdef Py_ssize_t b, oy, ox, c
    cdef float dy, wy, dx, wx
    with nogil:
        for b in range(out.shape[0]):
            for oy in range(out.shape[1]):
                dy = ys[oy] - <float>y0[oy]
                wy = <float>1.0 - dy
                for ox in range(out.shape[2]):
                    dx = xs[ox] - <float>x0[ox]
                    wx = <float>1.0 - dx
                    for c in range(out.shape[3]):
                        out[b, oy, ox, c] = (x[b, y0[oy], x0[ox], c] * wy * wx
                                             + x[b, y1[oy], x0[ox], c] * dy * wx
                                             + x[b, y0[oy], x1[ox], c] * wy * dx
                                             + x[b, y1[oy], x1[ox], c] * dy * dx
                                             + <float>0.0)


@cython.cdivision(True)
def resize_bilinear_int8(const int8_t[:, :, :, ::1] x, int8_t[:, :, :, ::1] out,
                         const int32_t[::1] y0, const int32_t[::1] y1, const int32_t[::1] ys,
                         const int32_t[::1] x0, const int32_t[::1] x1, const int32_t[::1] xs) -> None:
    """Weights with 10 fractional bits per axis, an int64 sum, then +-2^19 and a truncating / 2^20."""
    _check_shapes(x.shape[0], x.shape[3], out.shape[0], out.shape[3], ys.shape[0], xs.shape[0],
                  out.shape[1], out.shape[2])
    _check_positions(x.shape[1], y0, y1, out.shape[1])
    _check_positions(x.shape[2], x0, x1, out.shape[2])
    cdef Py_ssize_t b, oy, ox, c
    cdef int32_t dy, dx
    cdef int64_t total
    with nogil:
        for b in range(out.shape[0]):
            for oy in range(out.shape[1]):
                dy = ys[oy] - (1 << 10) * y0[oy]
                for ox in range(out.shape[2]):
                    dx = xs[ox] - (1 << 10) * x0[ox]
                    for c in range(out.shape[3]):
                        total = (<int64_t>x[b, y0[oy], x0[ox], c] * ((1 << 10) - dy) * ((1 << 10) - dx)
                                 + <int64_t>x[b, y1[oy], x0[ox], c] * dy * ((1 << 10) - dx)
                                 + <int64_t>x[b, y0[oy], x1[ox], c] * ((1 << 10) - dy) * dx
                                 + <int64_t>x[b, y1[oy], x1[ox], c] * dy * dx)
                        total += (1 << 19) if total > 0 else -(1 << 19)
                        out[b, oy, ox, c] = <int8_t>(total / (1 << 20))
