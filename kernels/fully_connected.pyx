# cython: language_level=3
"""FULLY_CONNECTED, bit-exact with TFLM's reference kernels (spec §2), one template over the data
path (see accumulate.pxd).

The input is read as a flat [batches, accum] matrix and each output is a dot product summed in
index order, as TFLM does (float32 needs that order for identical bits).
"""
from libc.stdint cimport int32_t

from accumulate cimport acc_t, act_t, store_output, weight_t


def fully_connected(const act_t[:, ::1] input, const weight_t[:, ::1] filter, const acc_t[::1] bias,
                    act_t[:, ::1] output, int32_t input_zp, int32_t filter_zp, int32_t output_zp,
                    const int32_t[::1] multiplier, const int32_t[::1] shift,
                    acc_t act_min, acc_t act_max):
    """output[b, o] = act(requant(sum_d (filter[o, d] - filter_zp) * (input[b, d] - input_zp) + bias[o])).

    Zero points apply to quantized paths only; TFLM subtracts filter_zp on its per-tensor path, so
    per-channel callers pass 0. bias, multiplier and shift hold one entry per output unit.
    """
    cdef Py_ssize_t batches = output.shape[0], units = output.shape[1], depth = filter.shape[1]
    cdef Py_ssize_t b, o, d
    cdef const act_t* x
    cdef const weight_t* w
    cdef acc_t acc
    with nogil:
        for b in range(batches):
            x = &input[b, 0]
            for o in range(units):
                w = &filter[o, 0]
                acc = 0
                for d in range(depth):
                    if acc_t is float:
                        acc += x[d] * w[d]
                    else:
                        acc += (<acc_t>w[d] - filter_zp) * (<acc_t>x[d] - input_zp)
                store_output(&output[b, o], acc, bias[o], multiplier[o], shift[o],
                             output_zp, act_min, act_max)
