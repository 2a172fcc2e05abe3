# cython: language_level=3
"""CONV_2D and DEPTHWISE_CONV_2D, bit-exact with TFLM's reference kernels (spec §2).

Both kernels are one template over the data path (see accumulate.pxd). Every output value is summed
in TFLM's order (filter row, filter column, then input channel), which float32 needs for identical
bits. Out-of-image taps are skipped, i.e. the input is padded with its zero point. Extents come
from the views; the relations between them (batches, channel counts, groups, bias and multiplier
lengths) are checked by the ops' prepare functions.
"""
from libc.stdint cimport int32_t

from accumulate cimport acc_t, act_t, store_output, weight_t


def conv_2d(const act_t[:, :, :, ::1] input, const weight_t[:, :, :, ::1] filter,
            const acc_t[::1] bias, act_t[:, :, :, ::1] output,
            int stride_h, int stride_w, int dilation_h, int dilation_w, int pad_top, int pad_left,
            int32_t input_zp, int32_t output_zp,
            const int32_t[::1] multiplier, const int32_t[::1] shift, acc_t act_min, acc_t act_max):
    """Grouped 2-D convolution, NHWC input, filter [out_channels, kh, kw, in_channels / groups].

    bias, multiplier and shift hold one entry per output channel (multiplier/shift unused on the
    float path); input_zp is subtracted from quantized inputs only.
    """
    cdef Py_ssize_t batches = output.shape[0], out_h = output.shape[1], out_w = output.shape[2]
    cdef Py_ssize_t out_c = output.shape[3]
    cdef Py_ssize_t in_h = input.shape[1], in_w = input.shape[2]
    cdef Py_ssize_t filter_h = filter.shape[1], filter_w = filter.shape[2], depth = filter.shape[3]
    cdef Py_ssize_t per_group = out_c // (input.shape[3] // depth)
    cdef Py_ssize_t b, oy, ox, oc, ky, kx, ic, y0, x0, iy, ix, first_channel
    cdef const act_t* x
    cdef const weight_t* w
    cdef acc_t acc
    with nogil:
        for b in range(batches):
            for oy in range(out_h):
                y0 = oy * stride_h - pad_top
                for ox in range(out_w):
                    x0 = ox * stride_w - pad_left
                    for oc in range(out_c):
                        first_channel = (oc // per_group) * depth
                        acc = 0
                        for ky in range(filter_h):
                            iy = y0 + ky * dilation_h
                            if iy < 0 or iy >= in_h:
                                continue
                            for kx in range(filter_w):
                                ix = x0 + kx * dilation_w
                                if ix < 0 or ix >= in_w:
                                    continue
                                x = &input[b, iy, ix, first_channel]
                                w = &filter[oc, ky, kx, 0]
                                for ic in range(depth):
                                    if acc_t is float:
                                        acc += x[ic] * w[ic]
                                    else:
                                        acc += <acc_t>w[ic] * (<acc_t>x[ic] - input_zp)
                        store_output(&output[b, oy, ox, oc], acc, bias[oc], multiplier[oc], shift[oc],
                                     output_zp, act_min, act_max)


def depthwise_conv_2d(const act_t[:, :, :, ::1] input, const weight_t[:, :, :, ::1] filter,
                      const acc_t[::1] bias, act_t[:, :, :, ::1] output, acc_t[::1] accumulators,
                      int depth_multiplier,
                      int stride_h, int stride_w, int dilation_h, int dilation_w, int pad_top, int pad_left,
                      int32_t input_zp, int32_t output_zp,
                      const int32_t[::1] multiplier, const int32_t[::1] shift,
                      acc_t act_min, acc_t act_max):
    """Depthwise 2-D convolution: output channel ic * depth_multiplier + m reads input channel ic.

    Filter [1, kh, kw, out_channels]. accumulators (one per output channel) lets a whole pixel's
    channels be summed tap by tap with contiguous inner loops; each output still adds its taps in
    TFLM's (filter row, filter column) order.
    """
    cdef Py_ssize_t batches = output.shape[0], out_h = output.shape[1], out_w = output.shape[2]
    cdef Py_ssize_t out_c = output.shape[3]
    cdef Py_ssize_t in_h = input.shape[1], in_w = input.shape[2], in_c = input.shape[3]
    cdef Py_ssize_t filter_h = filter.shape[1], filter_w = filter.shape[2]
    cdef Py_ssize_t mult = depth_multiplier
    cdef Py_ssize_t b, oy, ox, oc, ky, kx, ic, m, y0, x0, iy, ix
    cdef const act_t* x
    cdef const weight_t* w
    cdef acc_t* acc = &accumulators[0]
    cdef acc_t value
    with nogil:
        for b in range(batches):
            for oy in range(out_h):
                y0 = oy * stride_h - pad_top
                for ox in range(out_w):
                    x0 = ox * stride_w - pad_left
                    for oc in range(out_c):
                        acc[oc] = 0
                    for ky in range(filter_h):
                        iy = y0 + ky * dilation_h
                        if iy < 0 or iy >= in_h:
                            continue
                        for kx in range(filter_w):
                            ix = x0 + kx * dilation_w
                            if ix < 0 or ix >= in_w:
                                continue
                            x = &input[b, iy, ix, 0]
                            w = &filter[0, ky, kx, 0]
                            for ic in range(in_c):
                                if acc_t is float:
                                    value = x[ic]
                                else:
                                    value = <acc_t>x[ic] - input_zp
                                for m in range(mult):
                                    acc[ic * mult + m] += <acc_t>w[ic * mult + m] * value
                    for oc in range(out_c):
                        store_output(&output[b, oy, ox, oc], acc[oc], bias[oc], multiplier[oc], shift[oc],
                                     output_zp, act_min, act_max)
