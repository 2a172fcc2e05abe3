# cython: language_level=3
"""Compiled execution steps: kernels bound once to typed views of the arena, run by run_steps without
any Python work per op (no argument parsing, no buffer acquisition).

Int8ConvStep and Int8FullyConnectedStep are the int8 fast path of CONV_2D (one group) and
FULLY_CONNECTED: the zero points are subtracted while the input is gathered into an int16 row (out-of-
image taps stay 0, which is TFLM's skipping them), the weights are repacked once, and each output pixel
is one int16 GEMV (int16_gemv.h) followed by the same requantization as the reference template
(accumulate.pxd). Integer sums are exact, so the bits equal TFLM's.

Int8DepthwiseStep (depth multiplier 1) sums a row of pixels at a time with its weights paired by tap
(int8_depthwise.h): out-of-image taps read input-zero-point bytes, which add exactly what TFLM's
skipping them does, and the requantization is the reference template's.

Write order: a conv or depthwise step reads a pixel's whole receptive field before it writes any
channel of that pixel (the depthwise step those of a whole output row before writing the row), and
writes pixels in (batch, row, column) order, so it reads its input no later than the reference loop
does; an output the `inplace` planner overlaps with its dying input stays valid.
"""
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t
from libc.string cimport memset

import numpy as np

from accumulate cimport store_output


cdef extern from "int16_gemv.h" nogil:
    ctypedef void (*mi_gemv_fn)(const int16_t*, const int16_t*, int64_t, int64_t, int32_t*)
    int MI_ROW_BLOCK
    void mi_pack_weights(const int16_t* w, int64_t rows, int64_t depth, int16_t* packed)
    mi_gemv_fn mi_select_gemv(int force_portable)


cdef extern from "requantize.h" nogil:
    ctypedef int64_t (*mi_requantize_fn)(const int32_t*, const int32_t*, const int32_t*, const int32_t*,
                                         const int32_t*, int32_t, int32_t, int32_t, int8_t*, int64_t)
    mi_requantize_fn mi_select_requantize(int force_portable)


cdef extern from "int8_depthwise.h" nogil:
    ctypedef void (*mi_depthwise_fn)(int32_t*, const int8_t* const*, int64_t, int64_t, const int16_t*,
                                     const int32_t*, int64_t, int64_t)
    void mi_depthwise_pack(const int8_t* w, int64_t taps, int64_t channels, int16_t* packed)
    mi_depthwise_fn mi_select_depthwise(int force_portable)


cdef class Step:
    """One op's kernel with everything it needs bound; calling it runs the op once."""

    cdef void run(self) noexcept nogil:
        pass

    def __call__(self):
        self.run()


def run_steps(tuple steps):
    """Run every step in order: compiled Steps directly, any other callable through Python."""
    cdef object step
    for step in steps:
        if isinstance(step, Step):
            (<Step>step).run()
        else:
            step()


cdef class _Int8Gemv:
    """Weights (zero point subtracted) repacked for mi_gemv, and the int16 input row and int32 results."""
    cdef int16_t[::1] packed
    cdef int16_t[::1] row
    cdef int32_t[::1] sums
    cdef int64_t pairs, rows_padded
    cdef mi_gemv_fn gemv

    def __init__(self, weights, int32_t weight_zp, bint portable):
        w = np.ascontiguousarray(weights, dtype=np.int16).reshape(weights.shape[0], -1) - np.int16(weight_zp)
        cdef int64_t rows = w.shape[0], depth = w.shape[1]
        self.pairs = (depth + 1) // 2
        self.rows_padded = (rows + MI_ROW_BLOCK - 1) // MI_ROW_BLOCK * MI_ROW_BLOCK
        self.packed = np.zeros(self.pairs * 2 * self.rows_padded, np.int16)
        cdef int16_t[:, ::1] wv = w
        mi_pack_weights(&wv[0, 0], rows, depth, &self.packed[0])
        self.row = np.zeros(self.pairs * 2, np.int16)  # an odd depth's last pair ends with a 0
        self.sums = np.zeros(self.rows_padded, np.int32)
        self.gemv = mi_select_gemv(portable)

    cdef inline void compute(self) noexcept nogil:
        self.gemv(&self.packed[0], &self.row[0], self.pairs, self.rows_padded, &self.sums[0])


cdef class _Requantize:
    """The output step of a pixel or row: bias, per-channel requantization, zero point, clamp.

    Blocks of 8 channels go through requantize.h's vector step when the CPU has one and every shift is
    in its range; the rest through the reference template's store_output (same bits).
    """
    cdef const int32_t[::1] bias
    cdef const int32_t[::1] multiplier
    cdef const int32_t[::1] shift
    cdef int32_t[::1] left
    cdef int32_t[::1] right
    cdef int32_t output_zp, act_min, act_max
    cdef mi_requantize_fn vector

    def __init__(self, bias, multiplier, shift, int32_t output_zp, int32_t act_min, int32_t act_max,
                 bint portable):
        self.bias, self.multiplier, self.shift = bias, multiplier, shift
        shifts = np.asarray(shift, np.int32)
        self.left, self.right = np.maximum(shifts, 0), np.maximum(-shifts, 0)
        self.output_zp, self.act_min, self.act_max = output_zp, act_min, act_max
        in_range = shifts.size == 0 or (shifts.min() >= -31 and shifts.max() <= 31)
        self.vector = mi_select_requantize(portable or not in_range)

    cdef inline void write(self, const int32_t* acc, int8_t* out, Py_ssize_t channels) noexcept nogil:
        cdef Py_ssize_t c = self.vector(acc, &self.bias[0], &self.multiplier[0], &self.left[0], &self.right[0],
                                        self.output_zp, self.act_min, self.act_max, out, channels)
        while c < channels:
            store_output(&out[c], acc[c], self.bias[c], self.multiplier[c], self.shift[c], self.output_zp,
                         self.act_min, self.act_max)
            c += 1


cdef class Int8ConvStep(Step):
    """CONV_2D, int8 activations and weights, int32 bias, one group (filter depth == input channels)."""
    cdef const int8_t[:, :, :, ::1] input
    cdef int8_t[:, :, :, ::1] output
    cdef int stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, filter_h, filter_w
    cdef int16_t input_zp
    cdef _Int8Gemv gemv
    cdef _Requantize requantize

    def __init__(self, input, filter, bias, output, int stride_h, int stride_w, int dilation_h,
                 int dilation_w, int pad_top, int pad_left, int32_t input_zp, int32_t output_zp,
                 multiplier, shift, int32_t act_min, int32_t act_max, bint portable=False):
        """Arguments as for conv.conv_2d; portable forces the non-SIMD paths (same bits)."""
        self.input, self.output = input, output
        self.stride_h, self.stride_w, self.dilation_h, self.dilation_w = stride_h, stride_w, dilation_h, dilation_w
        self.pad_top, self.pad_left = pad_top, pad_left
        self.filter_h, self.filter_w = filter.shape[1], filter.shape[2]
        self.input_zp = <int16_t>input_zp
        self.gemv = _Int8Gemv(filter, 0, portable)
        self.requantize = _Requantize(bias, multiplier, shift, output_zp, act_min, act_max, portable)

    cdef void run(self) noexcept nogil:
        cdef Py_ssize_t batches = self.output.shape[0], out_h = self.output.shape[1]
        cdef Py_ssize_t out_w = self.output.shape[2], out_c = self.output.shape[3]
        cdef Py_ssize_t in_h = self.input.shape[1], in_w = self.input.shape[2], depth = self.input.shape[3]
        cdef Py_ssize_t b, oy, ox, ky, kx, ic, y0, x0, iy, ix
        cdef int16_t* tap
        cdef const int8_t* x
        cdef int16_t zp = self.input_zp
        for b in range(batches):
            for oy in range(out_h):
                y0 = oy * self.stride_h - self.pad_top
                for ox in range(out_w):
                    x0 = ox * self.stride_w - self.pad_left
                    tap = &self.gemv.row[0]
                    for ky in range(self.filter_h):
                        iy = y0 + ky * self.dilation_h
                        for kx in range(self.filter_w):
                            ix = x0 + kx * self.dilation_w
                            if iy < 0 or iy >= in_h or ix < 0 or ix >= in_w:
                                memset(tap, 0, depth * sizeof(int16_t))
                            else:
                                x = &self.input[b, iy, ix, 0]
                                for ic in range(depth):
                                    tap[ic] = x[ic] - zp
                            tap += depth
                    self.gemv.compute()
                    self.requantize.write(&self.gemv.sums[0], &self.output[b, oy, ox, 0], out_c)


cdef class Int8FullyConnectedStep(Step):
    """FULLY_CONNECTED, int8 activations and weights, int32 bias, on [batches, depth] views."""
    cdef const int8_t[:, ::1] input
    cdef int8_t[:, ::1] output
    cdef int16_t input_zp
    cdef _Int8Gemv gemv
    cdef _Requantize requantize

    def __init__(self, input, filter, bias, output, int32_t input_zp, int32_t filter_zp, int32_t output_zp,
                 multiplier, shift, int32_t act_min, int32_t act_max, bint portable=False):
        """Arguments as for fully_connected.fully_connected; portable forces the non-SIMD paths."""
        self.input, self.output = input, output
        self.input_zp = <int16_t>input_zp
        self.gemv = _Int8Gemv(filter, filter_zp, portable)
        self.requantize = _Requantize(bias, multiplier, shift, output_zp, act_min, act_max, portable)

    cdef void run(self) noexcept nogil:
        cdef Py_ssize_t batches = self.output.shape[0], units = self.output.shape[1]
        cdef Py_ssize_t depth = self.input.shape[1], b, d
        cdef int16_t* row = &self.gemv.row[0]
        cdef const int8_t* x
        cdef int16_t zp = self.input_zp
        for b in range(batches):
            x = &self.input[b, 0]
            for d in range(depth):
                row[d] = x[d] - zp
            self.gemv.compute()
            self.requantize.write(&self.gemv.sums[0], &self.output[b, 0], units)


cdef class Int8DepthwiseStep(Step):
    """DEPTHWISE_CONV_2D, int8 activations and weights, int32 bias, depth multiplier 1.

    Each output row is summed first (int8_depthwise.h) into a row of accumulators, then requantized in
    one call (the per-channel parameters repeat for every pixel). Out-of-image taps read a run of
    input-zero-point bytes, so border pixels take the same kernel as interior ones; the interior
    columns of a row, whose taps all move by one stride per pixel, take one kernel call.
    """
    cdef const int8_t[:, :, :, ::1] input
    cdef int8_t[:, :, :, ::1] output
    cdef int16_t[::1] weights
    cdef int32_t[::1] init
    cdef int32_t[::1] accumulators
    cdef int8_t[::1] zero_points
    cdef object taps_owner
    cdef const int8_t** taps
    cdef int stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, filter_h, filter_w
    cdef Py_ssize_t pairs, interior_begin, interior_end
    cdef _Requantize requantize
    cdef mi_depthwise_fn pixels

    def __init__(self, input, filter, bias, output, int stride_h, int stride_w, int dilation_h,
                 int dilation_w, int pad_top, int pad_left, int32_t input_zp, int32_t output_zp, multiplier,
                 shift, int32_t act_min, int32_t act_max, bint portable=False):
        """Arguments as for conv.depthwise_conv_2d without the accumulators and depth_multiplier (which
        is 1); portable forces the non-SIMD paths (same bits)."""
        if not -128 <= input_zp <= 127:
            raise ValueError(f"input zero point {input_zp} is outside int8")  # the zero-point run is int8
        if pad_top < 0 or pad_left < 0:
            raise ValueError(f"negative padding {pad_top}, {pad_left}")
        self.input, self.output = input, output
        self.stride_h, self.stride_w, self.dilation_h, self.dilation_w = stride_h, stride_w, dilation_h, dilation_w
        self.pad_top, self.pad_left = pad_top, pad_left
        self.filter_h, self.filter_w = filter.shape[1], filter.shape[2]
        cdef Py_ssize_t channels = output.shape[3], out_w = output.shape[2], in_w = input.shape[2]
        w = np.ascontiguousarray(filter[0], dtype=np.int8).reshape(-1, channels)
        self.pairs = (w.shape[0] + 1) // 2
        self.weights = np.zeros(self.pairs * channels * 2, np.int16)
        cdef const int8_t[:, ::1] wv = w
        mi_depthwise_pack(&wv[0, 0], w.shape[0], channels, &self.weights[0])
        self.init = ((-input_zp * w.astype(np.int64).sum(axis=0)) & 0xFFFFFFFF).astype(np.uint32).view(np.int32)
        self.accumulators = np.zeros(out_w * channels, np.int32)
        # long enough for a run of out_w pixels whose taps all move by one stride
        self.zero_points = np.full(((out_w - 1) * stride_w + 1) * channels, input_zp, np.int8)
        self.taps_owner = np.zeros(self.pairs * 2, np.uintp)
        cdef size_t[::1] taps = self.taps_owner
        self.taps = <const int8_t**>&taps[0]
        self.taps[self.pairs * 2 - 1] = &self.zero_points[0]  # an odd tap count's zero-weight partner
        # the columns whose taps all lie inside the image: pad_left <= ox * stride_w <= last
        last = in_w - 1 - (self.filter_w - 1) * dilation_w + pad_left
        begin = min((pad_left + stride_w - 1) // stride_w, out_w)  # C division: operands >= 0
        end = min(last // stride_w + 1, out_w) if last >= 0 else 0
        self.interior_begin, self.interior_end = begin, max(begin, end)
        self.pixels = mi_select_depthwise(portable)
        # per-channel arrays repeated for every pixel of a row, which is then requantized in one call
        bias, multiplier, shift = (np.tile(np.asarray(a, np.int32), out_w) for a in (bias, multiplier, shift))
        self.requantize = _Requantize(bias, multiplier, shift, output_zp, act_min, act_max, portable)

    cdef inline void sum_pixels(self, const int8_t* image, Py_ssize_t y0, Py_ssize_t ox,
                                Py_ssize_t count) noexcept nogil:
        """Accumulators of count pixels of a row from column ox; more than one only in the interior."""
        cdef Py_ssize_t in_h = self.input.shape[1], in_w = self.input.shape[2], channels = self.output.shape[3]
        cdef Py_ssize_t x0 = ox * self.stride_w - self.pad_left, ky, kx, iy, ix, t = 0
        cdef const int8_t* zero_points = &self.zero_points[0]
        cdef bint inside
        for ky in range(self.filter_h):
            iy = y0 + ky * self.dilation_h
            for kx in range(self.filter_w):
                ix = x0 + kx * self.dilation_w
                # one unsigned comparison per bound and no branch: the pattern changes from pixel to pixel
                inside = (<size_t>iy < <size_t>in_h) & (<size_t>ix < <size_t>in_w)
                self.taps[t] = image + (iy * in_w + ix) * channels if inside else zero_points
                t += 1
        self.pixels(&self.accumulators[ox * channels], self.taps, self.stride_w * channels, count,
                    &self.weights[0], &self.init[0], self.pairs, channels)

    cdef void run(self) noexcept nogil:
        cdef Py_ssize_t batches = self.output.shape[0], out_h = self.output.shape[1]
        cdef Py_ssize_t out_w = self.output.shape[2], channels = self.output.shape[3]
        cdef Py_ssize_t b, oy, ox, y0
        cdef Py_ssize_t begin = self.interior_begin, end = self.interior_end
        cdef const int8_t* image
        for b in range(batches):
            image = &self.input[b, 0, 0, 0]
            for oy in range(out_h):
                y0 = oy * self.stride_h - self.pad_top
                for ox in range(begin):
                    self.sum_pixels(image, y0, ox, 1)
                if end > begin:
                    self.sum_pixels(image, y0, begin, end - begin)
                for ox in range(end, out_w):
                    self.sum_pixels(image, y0, ox, 1)
                # the whole row was read above, before any of its pixels is written
                self.requantize.write(&self.accumulators[0], &self.output[b, oy, 0, 0], out_w * channels)
