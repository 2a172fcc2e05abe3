# Included by steps.pyx: compiled steps of the small ops around the MAC layers, so that a model's invoke
# runs no Python per op.
#
# ByteCopyStep: RESHAPE, SQUEEZE and EXPAND_DIMS when the plan does not alias their output to the input.
# Int8LookupStep: any int8 -> int8 element-wise op (LOGISTIC, TANH, ELU, HARD_SWISH, ...): every output
#   element is a function of its input byte alone, so the op's own kernel run once at bind time on all 256
#   values is a table giving its exact bits.
# StridedCopyStep: the ops whose output is a strided view of the input (TRANSPOSE, SLICE, ...).
# PadStep: PAD/PADV2 of any element type, one pass in output order.
# Int8SoftmaxStep: int8-input SOFTMAX (int8 or int16 output) row by row (softmax_rows.pxd), for rows shorter
#   than 512, whose sum of exponentials stays below 2^28 so that TFLM's abort cannot happen.
# FloatSoftmaxStep: float32 SOFTMAX row by row (softmax_rows.pxd).
# FloatPoolStep: float32 AVERAGE_POOL_2D and MAX_POOL_2D through the pooling template (pooling_common.pxd).
# QuantizedSumStep: int8/int16 MEAN and SUM, TFLM's QuantizedMeanOrSum: int32 sums in input order
#   (reduce_rows.pxd), each requantized.
# Each reads an element (a row for softmax) before writing it, in order, like the reference kernels.

from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.string cimport memmove

from fixedpoint cimport mbqm
from pooling_common cimport AverageTag, MaxTag, pool_all
from reduce_rows cimport sum_rows
from softmax_rows cimport softmax_float_row, softmax_row

from microinterp._kernels.reduce import check_geometry

#: Softmax rows shorter than this cannot make TFLM's reciprocal fail (each exponential is at most 2^19).
INT8_SOFTMAX_SAFE_DEPTH = 512


cdef class ByteCopyStep(Step):
    """A flat byte copy of the input into the output (overlap allowed)."""
    cdef const unsigned char[::1] source
    cdef unsigned char[::1] target

    def __init__(self, input, output):
        """input, output: arrays of the same number of bytes (any shape and type)."""
        self.source = np.reshape(input, -1).view(np.uint8)
        self.target = np.reshape(output, -1).view(np.uint8)
        if self.source.shape[0] != self.target.shape[0]:
            raise ValueError(f"copy of {self.source.shape[0]} bytes into {self.target.shape[0]}")

    cdef void run(self) noexcept nogil:
        if self.target.shape[0]:
            memmove(&self.target[0], &self.source[0], self.target.shape[0])


cdef class Int8LookupStep(Step):
    """out[i] = table[x[i] + 128] over flat int8 views."""
    cdef const int8_t[::1] input
    cdef int8_t[::1] output
    cdef const int8_t[::1] table

    def __init__(self, input, output, table):
        """input, output: int8 arrays of one size; table: the 256 outputs of inputs -128..127."""
        self.input, self.output = np.reshape(input, -1), np.reshape(output, -1)
        self.table = np.ascontiguousarray(table, np.int8)
        if self.input.shape[0] != self.output.shape[0] or self.table.shape[0] != 256:
            raise ValueError(f"lookup of {self.input.shape[0]} values into {self.output.shape[0]} with a table of "
                             f"{self.table.shape[0]}")

    cdef void run(self) noexcept nogil:
        cdef Py_ssize_t i
        cdef const int8_t* table = &self.table[128]
        for i in range(self.output.shape[0]):
            self.output[i] = table[self.input[i]]


cdef class Int8SoftmaxStep(Step):
    """SOFTMAX, int8 input, int8 or int16 output, on [rows, depth] views; depth < INT8_SOFTMAX_SAFE_DEPTH."""
    cdef const int8_t[:, ::1] input
    cdef int8_t[:, ::1] output8
    cdef int16_t[:, ::1] output16
    cdef bint wide
    cdef int32_t multiplier, diff_min
    cdef int left_shift

    def __init__(self, input, output, int32_t multiplier, int left_shift, int32_t diff_min):
        """Arguments as for softmax.softmax_quantized."""
        self.input = input
        self.wide = output.dtype == np.int16
        if self.wide:
            self.output16 = output
        else:
            self.output8 = output
        if tuple(input.shape) != tuple(output.shape) or input.shape[1] >= INT8_SOFTMAX_SAFE_DEPTH:
            raise ValueError(f"softmax of {tuple(input.shape)} into {tuple(output.shape)} (rows of at most "
                             f"{INT8_SOFTMAX_SAFE_DEPTH - 1})")
        if not 0 <= left_shift <= 31:
            raise ValueError(f"softmax: input_left_shift {left_shift} outside [0, 31]")
        self.multiplier, self.left_shift, self.diff_min = multiplier, left_shift, diff_min

    cdef void run(self) noexcept nogil:
        cdef Py_ssize_t i, depth = self.input.shape[1]
        if depth == 0:
            return
        for i in range(self.input.shape[0]):
            if self.wide:
                softmax_row(&self.input[i, 0], &self.output16[i, 0], depth, self.multiplier, self.left_shift,
                            self.diff_min)
            else:
                softmax_row(&self.input[i, 0], &self.output8[i, 0], depth, self.multiplier, self.left_shift,
                            self.diff_min)


cdef inline void fill_elements(unsigned char* dst, const unsigned char* value, Py_ssize_t count,
                               Py_ssize_t itemsize) noexcept nogil:
    """count copies of the itemsize-byte value at dst (one byte value: memset; else doubling copies)."""
    cdef Py_ssize_t done, total = count * itemsize
    if total == 0:
        return
    if itemsize == 1:
        memset(dst, value[0], total)
        return
    memcpy(dst, value, itemsize)
    done = itemsize
    while done < total:
        memcpy(dst + done, dst, min(done, total - done))
        done += min(done, total - done)


def _merge_unpadded_axes(axes):
    """(input dim, output dim, before) per axis, each axis whose inner neighbour is not padded merged into it,
    so that a run copies rows as long as the padding allows (NHWC padded in H and W: whole padded rows of
    W x C elements instead of C at a time)."""
    # (no negative indices: the kernels are compiled without wraparound)
    merged = [axes[len(axes) - 1]] if axes else []
    for i, o, b in reversed(axes[:len(axes) - 1]):
        inner_in, inner_out, _ = merged[0]
        if inner_in == inner_out:
            merged[0] = (i * inner_in, o * inner_in, b * inner_in)
        else:
            merged.insert(0, (i, o, b))
    return merged


cdef class PadStep(Step):
    """PAD/PADV2 of a rank <= 5 array (shapes given at rank 5, leading 1s added), any element size, in one pass
    in output order: rows of the last axis are the pad value, or before-padding, an input row, after-padding.
    The pad value is read from its view on every run (PADV2's constant_values input)."""
    cdef const unsigned char[::1] input
    cdef unsigned char[::1] output
    cdef const unsigned char[::1] value
    cdef Py_ssize_t itemsize
    cdef Py_ssize_t in_shape[5]
    cdef Py_ssize_t out_shape[5]
    cdef Py_ssize_t before[5]

    def __init__(self, input, output, value, pairs):
        """input, output: arrays of one type; value: an array of one element of it; pairs: (before, after)
        per axis, output dim = input dim + before + after."""
        rank = np.ndim(input)
        if rank > 5 or len(pairs) != rank or np.ndim(output) != rank or np.size(value) != 1 or any(
                o != i + b + a for o, i, (b, a) in zip(np.shape(output), np.shape(input), pairs)):
            raise ValueError(f"pad of {np.shape(input)} by {pairs} into {np.shape(output)}")
        self.itemsize = output.dtype.itemsize
        if input.dtype.itemsize != self.itemsize or value.dtype.itemsize != self.itemsize:
            raise ValueError(f"pad of {input.dtype} with {value.dtype} into {output.dtype}")
        self.input = np.reshape(input, -1).view(np.uint8)
        self.output = np.reshape(output, -1).view(np.uint8)
        self.value = np.reshape(value, -1).view(np.uint8)
        axes = _merge_unpadded_axes([(i, o, b) for i, o, (b, _) in zip(np.shape(input), np.shape(output), pairs)])
        for axis, (i, o, b) in enumerate([(1, 1, 0)] * (5 - len(axes)) + axes):
            self.in_shape[axis], self.out_shape[axis], self.before[axis] = i, o, b

    cdef void run(self) noexcept nogil:
        cdef Py_ssize_t a, b, c, d, e = self.itemsize, row = self.out_shape[4] * e
        cdef Py_ssize_t in_row = self.in_shape[4] * e, head = self.before[4] * e
        cdef unsigned char* out
        cdef const unsigned char* src
        cdef const unsigned char* value = &self.value[0]
        cdef Py_ssize_t ia, ib, ic, id_
        if self.output.shape[0] == 0:
            return
        out = &self.output[0]
        for a in range(self.out_shape[0]):
            ia = a - self.before[0]
            for b in range(self.out_shape[1]):
                ib = b - self.before[1]
                for c in range(self.out_shape[2]):
                    ic = c - self.before[2]
                    for d in range(self.out_shape[3]):
                        id_ = d - self.before[3]
                        if (0 <= ia < self.in_shape[0] and 0 <= ib < self.in_shape[1] and
                                0 <= ic < self.in_shape[2] and 0 <= id_ < self.in_shape[3] and in_row):
                            src = &self.input[(((ia * self.in_shape[1] + ib) * self.in_shape[2] + ic)
                                               * self.in_shape[3] + id_) * in_row]
                            fill_elements(out, value, self.before[4], e)
                            memcpy(out + head, src, in_row)
                            fill_elements(out + head + in_row, value, (row - head - in_row) // e, e)
                        else:
                            fill_elements(out, value, row // e, e)
                        out += row


#: The most axes a StridedCopyStep walks (SPACE_TO_DEPTH views have 6).
STRIDED_COPY_MAX_RANK = 8

ctypedef fused element_t:
    uint8_t
    uint16_t
    uint32_t


cdef inline void gather_typed(element_t* out, Py_ssize_t out_step, const unsigned char* src, Py_ssize_t src_step,
                              Py_ssize_t count) noexcept nogil:
    """count elements src_step bytes apart into out, out_step elements apart."""
    cdef Py_ssize_t i
    for i in range(count):
        out[i * out_step] = (<const element_t*>(src + i * src_step))[0]


cdef inline void gather(unsigned char* out, Py_ssize_t out_step, const unsigned char* src, Py_ssize_t src_step,
                        Py_ssize_t count, Py_ssize_t itemsize) noexcept nogil:
    """gather_typed for elements of any size (out_step in elements)."""
    cdef Py_ssize_t i
    if itemsize == 1:
        gather_typed(<uint8_t*>out, out_step, src, src_step, count)
    elif itemsize == 2:
        gather_typed(<uint16_t*>out, out_step, src, src_step, count)
    elif itemsize == 4:
        gather_typed(<uint32_t*>out, out_step, src, src_step, count)
    else:
        for i in range(count):
            memcpy(out + i * out_step * itemsize, src + i * src_step, itemsize)


def _merged_view_axes(shape, strides):
    """(extent, byte stride) per axis of a view, size-1 axes dropped and each axis merged into the next outer
    one where that one steps over it exactly, at least 2 axes (leading (1, 0)): the same elements in the same
    order with fewer, longer runs (a TRANSPOSE of NCHW to NHWC becomes [C, H x W] read along H x W)."""
    merged = []  # (no negative indices: the kernels are compiled without wraparound)
    for n, s in zip(shape, strides):
        if n == 1:
            continue
        if merged and merged[len(merged) - 1][1] == n * s:
            merged[len(merged) - 1] = (merged[len(merged) - 1][0] * n, s)
        else:
            merged.append((n, s))
    return [(1, 0)] * max(0, 2 - len(merged)) + merged


cdef extern from "interleave.h" nogil:
    ctypedef int64_t (*mi_interleave_fn)(uint8_t* out, const uint8_t* src, int64_t plane_step, int64_t inner,
                                         int64_t count)
    mi_interleave_fn mi_select_interleave(int64_t inner)


cdef class StridedCopyStep(Step):
    """The output, contiguous, set to a strided view of the input (TRANSPOSE, SLICE, STRIDED_SLICE,
    BROADCAST_TO, SPACE_TO_DEPTH, DEPTH_TO_SPACE) in the view's C order. The view's byte offset and strides
    are checked once at bind time to stay inside the input's bytes. The two innermost axes are copied as a
    block, along whichever of them the input is contiguous in (the output does not overlap the input, so
    the order of the copies does not matter)."""
    cdef const unsigned char[::1] source
    cdef unsigned char[::1] target
    cdef Py_ssize_t offset, itemsize, rank
    cdef bint across  # the block is read along its outer axis (contiguous there, not along the inner one)
    cdef mi_interleave_fn interleave  # bytes read across from 2-4 planes: interleave.h's SIMD loop, or NULL
    cdef Py_ssize_t shape[8]
    cdef Py_ssize_t strides[8]

    def __init__(self, input, view, output):
        """input: a C-contiguous array; view: a numpy view of it (any strides, broadcasting included);
        output: a C-contiguous array of the view's size and type, not overlapping the input."""
        if not input.flags.c_contiguous or not output.flags.c_contiguous or (
                view.size and not np.may_share_memory(view, input)):
            raise ValueError("strided copy needs a contiguous input and output and a view of the input")
        if view.size != output.size or view.dtype.itemsize != output.dtype.itemsize or view.ndim > 8:
            raise ValueError(f"strided copy of a {view.shape} {view.dtype} view into {output.shape} {output.dtype}")
        self.source = np.reshape(input, -1).view(np.uint8)
        self.target = np.reshape(output, -1).view(np.uint8)
        self.itemsize = view.dtype.itemsize
        self.offset = view.__array_interface__["data"][0] - input.__array_interface__["data"][0]
        if view.size:
            low = self.offset + sum(min(0, (n - 1) * s) for n, s in zip(view.shape, view.strides))
            high = self.offset + sum(max(0, (n - 1) * s) for n, s in zip(view.shape, view.strides))
            if low < 0 or high + self.itemsize > input.nbytes:
                raise ValueError(f"view bytes [{low}, {high + self.itemsize}) outside the input's {input.nbytes}")
        axes = _merged_view_axes(view.shape, view.strides)
        self.rank = len(axes)
        for axis, (n, s) in enumerate(axes):
            self.shape[axis], self.strides[axis] = n, s
        self.across = self.strides[self.rank - 1] != self.itemsize and self.strides[self.rank - 2] == self.itemsize
        if self.across and self.itemsize == 1:
            self.interleave = mi_select_interleave(self.shape[self.rank - 1])

    cdef void run(self) noexcept nogil:
        cdef Py_ssize_t index[8]
        cdef Py_ssize_t axis, i, done, e = self.itemsize, position = self.offset
        cdef Py_ssize_t outer = self.shape[self.rank - 2], outer_step = self.strides[self.rank - 2]
        cdef Py_ssize_t inner = self.shape[self.rank - 1], inner_step = self.strides[self.rank - 1]
        cdef const unsigned char* src
        cdef unsigned char* out
        if self.target.shape[0] == 0:
            return
        out = &self.target[0]
        memset(index, 0, sizeof(index))
        while True:
            src = &self.source[0] + position
            if inner_step == e:
                for i in range(outer):
                    memcpy(out + i * inner * e, src + i * outer_step, inner * e)
            elif self.across:
                # a leading run by interleave.h's byte permutes where they apply, the rest element by element
                done = self.interleave(out, src, inner_step, inner, outer) if self.interleave != NULL else 0
                for i in range(inner):
                    gather(out + (done * inner + i) * e, inner, src + i * inner_step + done * outer_step,
                           outer_step, outer - done, e)
            else:
                for i in range(outer):
                    gather(out + i * inner * e, 1, src + i * outer_step, inner_step, inner, e)
            out += outer * inner * e
            # Next block: an odometer over the axes outside it.
            axis = self.rank - 3
            while axis >= 0:
                index[axis] += 1
                position += self.strides[axis]
                if index[axis] < self.shape[axis]:
                    break
                position -= self.strides[axis] * self.shape[axis]
                index[axis] = 0
                axis -= 1
            if axis < 0:
                return


cdef class FloatSoftmaxStep(Step):
    """SOFTMAX, float32, on [rows, depth] views."""
    cdef const float[:, ::1] input
    cdef float[:, ::1] output
    cdef float beta

    def __init__(self, input, output, float beta):
        """Arguments as for softmax.softmax_float."""
        self.input, self.output, self.beta = input, output, beta
        if tuple(input.shape) != tuple(output.shape):
            raise ValueError(f"softmax of {tuple(input.shape)} into {tuple(output.shape)}")

    cdef void run(self) noexcept nogil:
        cdef Py_ssize_t i, depth = self.input.shape[1]
        if depth == 0:
            return
        for i in range(self.input.shape[0]):
            softmax_float_row(&self.input[i, 0], &self.output[i, 0], depth, self.beta)


cdef class QuantizedSumStep(Step):
    """MEAN or SUM of int8 or int16 values over a 6-D geometry (reduce.pyx): int32 sums (wrapping) into the
    scratch `sums`, then out = clamp(MBQM(sum - offset, multiplier, shift) + output zero point); a MEAN's
    1 / count is folded into the multiplier at prepare (ops/reduce.py)."""
    cdef const int8_t[::1] input8
    cdef const int16_t[::1] input16
    cdef int8_t[::1] output8
    cdef int16_t[::1] output16
    cdef int32_t[::1] sums
    cdef bint wide
    cdef Py_ssize_t shape[6]
    cdef Py_ssize_t in_strides[6]
    cdef Py_ssize_t out_strides[6]
    cdef int32_t multiplier, offset, output_zp
    cdef int shift

    def __init__(self, input, sums, output, shape, in_strides, out_strides, int32_t multiplier, int shift,
                 int32_t offset, int32_t output_zp):
        """input, output: int8 or int16 arrays of one type; sums: an int32 array of the output's size;
        shape, in_strides, out_strides: the walk's geometry (6 axes each, in elements)."""
        self.wide = input.dtype == np.int16
        if input.dtype != output.dtype or input.dtype not in (np.int8, np.int16):
            raise ValueError(f"quantized sum of {input.dtype} into {output.dtype}")
        if self.wide:
            self.input16, self.output16 = np.reshape(input, -1), np.reshape(output, -1)
        else:
            self.input8, self.output8 = np.reshape(input, -1), np.reshape(output, -1)
        self.sums = np.reshape(sums, -1)
        if self.sums.shape[0] != output.size:
            raise ValueError(f"{self.sums.shape[0]} sums for {output.size} outputs")
        geometry = [np.ascontiguousarray(g, np.intp) for g in (shape, in_strides, out_strides)]
        check_geometry(input.size, output.size, *geometry)
        for d in range(6):
            self.shape[d], self.in_strides[d], self.out_strides[d] = geometry[0][d], geometry[1][d], geometry[2][d]
        self.multiplier, self.shift, self.offset, self.output_zp = multiplier, shift, offset, output_zp

    cdef void run(self) noexcept nogil:
        cdef Py_ssize_t i, n = self.sums.shape[0]
        cdef int32_t lo = -32768 if self.wide else -128, hi = 32767 if self.wide else 127, value
        if self.wide:
            sum_rows(&self.input16[0], self.input16.shape[0], &self.sums[0], n, self.shape, self.in_strides,
                     self.out_strides)
        else:
            sum_rows(&self.input8[0], self.input8.shape[0], &self.sums[0], n, self.shape, self.in_strides,
                     self.out_strides)
        for i in range(n):
            # the zero-point terms are int32 operations that wrap, as in TFLM
            value = <int32_t>(<uint32_t>mbqm(<int32_t>(<uint32_t>self.sums[i] - <uint32_t>self.offset),
                                             self.multiplier, self.shift) + <uint32_t>self.output_zp)
            value = clamp32(value, lo, hi)
            if self.wide:
                self.output16[i] = <int16_t>value
            else:
                self.output8[i] = <int8_t>value


cdef class FloatPoolStep(Step):
    """AVERAGE_POOL_2D or MAX_POOL_2D, float32, NHWC: the pooling template's bits (float sums in (fy, fx) order)."""
    cdef const float[:, :, :, ::1] input
    cdef float[:, :, :, ::1] output
    cdef bint average
    cdef int stride_h, stride_w, filter_h, filter_w, pad_h, pad_w
    cdef double act_min, act_max

    def __init__(self, input, output, bint average, int stride_h, int stride_w, int filter_h, int filter_w,
                 int pad_h, int pad_w, double act_min, double act_max):
        """average: AVERAGE_POOL_2D, else MAX_POOL_2D; the rest as for pooling.average_pool."""
        self.input, self.output, self.average = input, output, average
        check_pool_geometry(self.input.shape[0], self.input.shape[1], self.input.shape[2], self.input.shape[3],
                            self.output.shape[0], self.output.shape[1], self.output.shape[2],
                            self.output.shape[3], stride_h, stride_w, filter_h, filter_w, pad_h, pad_w)
        self.stride_h, self.stride_w, self.filter_h, self.filter_w = stride_h, stride_w, filter_h, filter_w
        self.pad_h, self.pad_w, self.act_min, self.act_max = pad_h, pad_w, act_min, act_max

    cdef void run(self) noexcept nogil:
        if self.average:
            pool_all(<AverageTag*>NULL, self.input, self.output, self.stride_h, self.stride_w, self.filter_h,
                     self.filter_w, self.pad_h, self.pad_w, self.act_min, self.act_max)
        else:
            pool_all(<MaxTag*>NULL, self.input, self.output, self.stride_h, self.stride_w, self.filter_h,
                     self.filter_w, self.pad_h, self.pad_w, self.act_min, self.act_max)
