# cython: language_level=3
"""AVERAGE_POOL_2D and MAX_POOL_2D over NHWC tensors (TFLM reference/pooling.h, integer_ops/pooling.h).

The window is clipped to the image: padded taps are neither read nor counted. Quantized input and output
share scale and zero point, so the kernels work on raw values (no zero point subtracted). One window walk
serves both pooling kinds and int8, int16 and float32; the per-output reduction is chosen at compile time by
the kind's tag type and the element type. The walk (pooling_common.pxd) is shared with the compiled pooling
steps (steps.pyx).
"""
from pooling_common cimport AverageTag, MaxTag, check_pool_geometry, pool_all, pool_kind_t, pool_t


cdef _pool(pool_kind_t* kind, const pool_t[:, :, :, ::1] x, pool_t[:, :, :, ::1] out, int stride_h, int stride_w,
           int filter_h, int filter_w, int pad_h, int pad_w, double act_min, double act_max):
    check_pool_geometry(x.shape[0], x.shape[1], x.shape[2], x.shape[3], out.shape[0], out.shape[1], out.shape[2],
                        out.shape[3], stride_h, stride_w, filter_h, filter_w, pad_h, pad_w)
    with nogil:
        pool_all(kind, x, out, stride_h, stride_w, filter_h, filter_w, pad_h, pad_w, act_min, act_max)


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
