# cython: language_level=3
"""TRANSPOSE_CONV, bit-exact with TFLM's reference kernels (spec §2), one template over the data path
(see accumulate.pxd).

TFLM scatters: every input pixel adds its products to the output positions its filter window covers,
in the order (input row, input column, input channel, filter row, filter column, output channel),
into zeroed accumulators (an int32 / int64 scratch buffer, or the float output itself). The bias,
requantization and clamp follow in a second pass. Extents come from the views; their relations are
checked by the op's prepare function.
"""
from libc.stdint cimport int32_t
from libc.string cimport memset

from accumulate cimport acc_t, act_t, store_output, weight_t


def transpose_conv(const act_t[:, :, :, ::1] input, const weight_t[:, :, :, ::1] filter,
                   const acc_t[::1] bias, act_t[:, :, :, ::1] output, acc_t[:, :, :, ::1] accumulators,
                   int stride_h, int stride_w, int pad_top, int pad_left, int32_t input_zp, int32_t output_zp,
                   const int32_t[::1] multiplier, const int32_t[::1] shift, acc_t act_min, acc_t act_max):
    """Transpose convolution, NHWC input, filter [out_channels, kh, kw, in_channels].

    accumulators has the output's shape (on the float path it may be the output itself). bias,
    multiplier and shift hold one entry per output channel; input_zp is subtracted from quantized inputs.
    """
    cdef Py_ssize_t batches = input.shape[0], in_h = input.shape[1], in_w = input.shape[2]
    cdef Py_ssize_t in_c = input.shape[3]
    cdef Py_ssize_t out_h = output.shape[1], out_w = output.shape[2], out_c = output.shape[3]
    cdef Py_ssize_t filter_h = filter.shape[1], filter_w = filter.shape[2]
    cdef Py_ssize_t b, iy, ix, ic, ky, kx, oc, oy, ox
    cdef acc_t value
    cdef acc_t* acc
    cdef Py_ssize_t total = batches * out_h * out_w * out_c
    if total == 0:
        return
    with nogil:
        memset(&accumulators[0, 0, 0, 0], 0, total * sizeof(acc_t))
        for b in range(batches):
            for iy in range(in_h):
                for ix in range(in_w):
                    for ic in range(in_c):
                        if acc_t is float:
                            value = input[b, iy, ix, ic]
                        else:
                            value = <acc_t>input[b, iy, ix, ic] - input_zp
                        for ky in range(filter_h):
                            oy = iy * stride_h - pad_top + ky
                            if oy < 0 or oy >= out_h:
                                continue
                            for kx in range(filter_w):
                                ox = ix * stride_w - pad_left + kx
                                if ox < 0 or ox >= out_w:
                                    continue
                                acc = &accumulators[b, oy, ox, 0]
                                for oc in range(out_c):
                                    acc[oc] += value * <acc_t>filter[oc, ky, kx, ic]
        for b in range(batches):
            for oy in range(out_h):
                for ox in range(out_w):
                    for oc in range(out_c):
                        store_output(&output[b, oy, ox, oc], accumulators[b, oy, ox, oc], bias[oc],
                                     multiplier[oc], shift[oc], output_zp, act_min, act_max)
