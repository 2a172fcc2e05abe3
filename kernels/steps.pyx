# cython: language_level=3
"""Compiled execution steps: kernels bound once to typed views of the arena, run by a StepProgram without
any Python work per op (no argument parsing, no buffer acquisition).

Int8ConvStep and Int8FullyConnectedStep are the int8 fast path of CONV_2D (one group) and
FULLY_CONNECTED: the weights are repacked once, the input is copied into the layout of the int8 path
(below; for a conv into a padded image whose border adds nothing, which is TFLM's skipping out-of-image
taps), and up to MI_GEMM_ROWS output pixels (or batches) at a time go through one GEMM that also
requantizes what its vector step can as the reference template does (accumulate.pxd, for the rest); a
conv whose GEMM writes every channel passes each whole output row of its image to a strip GEMM (on AVX-512
VNNI compiled for the windows' step, one of a few; on AVX2 for any). Weights above PANELS_FROM bytes are
packed in panels that each tile streams. Integer sums are exact, so the bits equal TFLM's.

The int8 path (int8_paths(); MICROINTERP_INT8_PATH or a step's `path` argument forces one) decides the
layout: the pair paths (int16_gemm.h: portable, avx2) read the input minus its zero point as int16, the
quad paths (vnni_gemm.h: vnni_emulated, avx_vnni, avx512_vnni) the input plus 128 as unsigned bytes,
the zero-point term being a per-channel start value computed at bind time.

Int8DepthwiseStep (depth multiplier 1) sums a row of pixels at a time with its weights grouped by tap
in pairs or quads as the int8 path reads them (int8_depthwise.h): out-of-image taps read input-zero-point
bytes, which add exactly what TFLM's skipping them does, and the requantization is the reference
template's.

Int8AddStep is int8 ADD and SUB without broadcasting: 16 to 64 elements at a time (int8_add.h), the rest
through the reference template's scalar arithmetic (quantized_binary.pxd).

Int8AveragePoolStep sums each pixel's in-image window 8 channels at a time (int8_pool.h), then divides
and clamps like the reference template (pooling_common.pxd).

Write order: a conv, depthwise or pooling step reads a pixel's whole receptive field before it writes
any channel of that pixel, and writes pixels in (batch, row, column) order; a conv gathers the next few
pixels' fields (a depthwise step those of a span of an output row) before writing the first of them, which
only reads earlier (a conv even copies its whole input before writing). So it reads its input no later
than the reference loop does and writes no earlier; an output the `inplace` planner overlaps with its
dying input stays valid.
"""
from libc.stdint cimport int8_t, int16_t, int32_t, int64_t, uint8_t, uint64_t
from libc.string cimport memcpy, memset
from cpython.mem cimport PyMem_Free, PyMem_Malloc
from cpython.ref cimport PyObject

import os

import numpy as np

INT32_MIN = -(1 << 31)

from accumulate cimport store_output
from fixedpoint cimport clamp32
from pooling_common cimport check_pool_geometry, pool_window, rounded_mean
from quantized_binary cimport Params, quantized_add_sub, rescaled1, rescaled2


cdef extern from "simd.h" nogil:
    ctypedef enum mi_int8_path:
        MI_INT8_PORTABLE, MI_INT8_AVX2, MI_INT8_VNNI_EMULATED, MI_INT8_AVX_VNNI, MI_INT8_AVX512_VNNI
    int mi_cpu_runs(mi_int8_path path)
    int mi_path_uses_quads(mi_int8_path path)
    int MI_ISA_EMULATED


cdef extern from "vnni_gemm.h" nogil:
    ctypedef struct mi_gemm_shape:
        const int64_t* seg_offsets
        const int32_t* init
        int64_t segments, seg_groups, rows_padded, channels, panel_rows
        int panel_shift, pairs
    ctypedef int64_t (*mi_gemm_fn)(const int8_t*, const void* const*, int64_t, const mi_gemm_shape*,
                                   const mi_requant*, int8_t* const*, int32_t*)
    enum: MI_GEMM_ROWS
    enum: MI_AVX2_ROWS
    enum: MI_ROW_BLOCK
    enum: MI_VNNI_ROW_BLOCK
    void mi_pack_weights(const int8_t* w, int64_t rows, int64_t depth, int64_t group, int64_t panel_rows,
                         int8_t* packed)
    mi_gemm_fn mi_select_gemm(mi_int8_path path)
    ctypedef void (*mi_strip_fn)(const int8_t*, const uint8_t*, int64_t, int64_t, const mi_gemm_shape*,
                                 const mi_requant*, int8_t*, int64_t)
    mi_strip_fn mi_select_strip(mi_int8_path path, int64_t step)
    int64_t mi_gemm_row_block(mi_int8_path path, int64_t channels)
    ctypedef void (*mi_quad_bytes_fn)(uint8_t* dst, const int8_t* src, int64_t n)
    mi_quad_bytes_fn mi_select_quad_bytes(mi_int8_path path)


cdef extern from "channel_expand.h" nogil:
    ctypedef struct mi_expand:
        int64_t channels
        const uint64_t* live
        const int64_t* first
        const int8_t* constants
        const uint8_t* shuffles
        const int8_t* fills
        const int64_t* shuffle_first
    ctypedef void (*mi_expand_fn)(int8_t* out, const int8_t* compact, const mi_expand* e)
    mi_expand_fn mi_select_expand(mi_int8_path path)


cdef extern from "requantize.h" nogil:
    ctypedef struct mi_requant:
        const int32_t* bias
        const int32_t* multiplier
        const int32_t* left
        const int8_t* shift8
        const int64_t* rounding
        const uint8_t* shifts
        const int8_t* outputs
        const uint8_t* round_down
        int32_t output_zp, act_min, act_max
        int clamp_low, clamp_high
        int uniform
        int32_t uniform_multiplier, uniform_left, uniform_e
        int any_left
    ctypedef int64_t (*mi_requantize_fn)(const int32_t*, const mi_requant*, int8_t*, int64_t, int64_t)
    mi_requantize_fn mi_select_requantize(mi_int8_path path)
    void mi_requant_expand(mi_requant* q, int64_t* rounding, int64_t channels)


cdef extern from "int8_depthwise.h" nogil:
    ctypedef void (*mi_depthwise_fn)(int32_t*, const int8_t* const*, int64_t, int64_t, const void*,
                                     const int32_t*, int64_t, int64_t, const mi_requant*, int8_t*)
    void mi_depthwise_pack(const int8_t* w, int64_t taps, int64_t channels, int64_t group, int8_t* packed)
    void mi_depthwise_widen(const int8_t* packed, int16_t* wide, int64_t n)
    mi_depthwise_fn mi_select_depthwise(mi_int8_path path)
    int64_t mi_depthwise_group(mi_int8_path path)


cdef extern from "int8_add.h" nogil:
    ctypedef struct mi_add_params:
        int32_t input1_offset, input2_offset, left_shift
        int32_t input1_multiplier, input1_exponent, input2_multiplier, input2_exponent
        int32_t output_multiplier, output_exponent, output_offset, act_min, act_max
        const int8_t* planes
        int32_t separable, table_shift
    ctypedef int64_t (*mi_add_fn)(const int8_t*, const int8_t*, int8_t*, int64_t, const mi_add_params*)
    mi_add_fn mi_select_add(int subtract, mi_int8_path path)


cdef extern from "int8_pool.h" nogil:
    ctypedef void (*mi_pool_sum_fn)(int32_t*, const int8_t*, int64_t, int64_t, int64_t, int64_t, int64_t)
    mi_pool_sum_fn mi_select_pool_sum(int force_portable)


cdef extern from "float_mac.h" nogil:
    ctypedef struct mi_fmac:
        const float* weights
        const float* bias
        int64_t filter_w, taps, depth, channels
        int64_t pixel_step, row_step, col_step
        float act_min, act_max
    ctypedef void (*mi_fmac_fn)(const mi_fmac*, const float*, int64_t, int64_t, int64_t, int64_t, int64_t,
                                float*)
    enum: MI_FMAC_LANES
    ctypedef enum mi_fmac_kind:
        MI_FMAC_CONV, MI_FMAC_DEPTHWISE, MI_FMAC_DENSE
    mi_fmac_fn mi_select_fmac(mi_fmac_kind kind, int force_portable)


#: The int8 dot-product paths by name, fastest first.
_INT8_PATHS = {"avx512_vnni": MI_INT8_AVX512_VNNI, "avx_vnni": MI_INT8_AVX_VNNI, "avx2": MI_INT8_AVX2,
               "vnni_emulated": MI_INT8_VNNI_EMULATED, "portable": MI_INT8_PORTABLE}
#: Whether this build runs every path's instructions in emulation (isa_emulation.h), not on the CPU.
ISA_EMULATED = bool(MI_ISA_EMULATED)
#: The environment variable that forces an int8 path on every step bound afterwards (tests, comparisons).
INT8_PATH_VARIABLE = "MICROINTERP_INT8_PATH"


def int8_paths() -> tuple:
    """The names of the int8 conv / depthwise / FC paths this CPU runs, fastest first (the emulation of
    the VNNI layout and the portable path run everywhere)."""
    return tuple(name for name, path in _INT8_PATHS.items() if mi_cpu_runs(path))


cdef mi_int8_path _int8_path(name) except *:
    """The path a step binds: `name`, else the environment's choice, else the fastest this CPU runs."""
    name = name or os.environ.get(INT8_PATH_VARIABLE) or int8_paths()[0]
    if name not in _INT8_PATHS:
        raise ValueError(f"unknown int8 path {name!r}; known: {', '.join(_INT8_PATHS)}")
    if not mi_cpu_runs(_INT8_PATHS[name]):
        raise ValueError(f"this CPU does not run the int8 path {name!r}; it runs {', '.join(int8_paths())}")
    return _INT8_PATHS[name]


cdef inline bint _simd(mi_int8_path path) noexcept nogil:
    """Whether the path's companions (vector requantization) may use SIMD too."""
    return path != MI_INT8_PORTABLE and path != MI_INT8_VNNI_EMULATED


cdef extern from "workspace.h" nogil:
    uint8_t* mi_workspace_get(size_t size)
    size_t mi_workspace_size()


# The working memory of the int8 steps lives per thread (workspace.h): the steps run without the GIL,
# so interpreters in two threads must not share it. Before a step runs, its thread's workspace is grown
# to the step's need (with the GIL, so that running out of memory raises); the run then reads it.
cdef uint8_t* _workspace_for(Py_ssize_t nbytes) except NULL:
    cdef uint8_t* data = mi_workspace_get(<size_t>nbytes)
    if data == NULL:
        raise MemoryError(f"the compiled steps' working memory of {nbytes} bytes cannot be allocated")
    return data


def workspace_bytes() -> int:
    """The size of the working memory of the compiled steps in the calling thread (outside every arena)."""
    return mi_workspace_size()


cdef inline Py_ssize_t _aligned(Py_ssize_t nbytes) noexcept nogil:
    return (nbytes + 63) // 64 * 64


def _zeros_aligned(Py_ssize_t count, dtype):
    """count zeros of dtype starting on a 64-byte boundary. numpy aligns to 16 bytes only, and a 512-bit
    weight load from a misaligned array spans two cache lines: the batch-1 FULLY_CONNECTED layers, which
    stream their weights once per invoke, ran about 2% slower that way."""
    itemsize = np.dtype(dtype).itemsize
    raw = np.zeros(count * itemsize + 64, np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start:start + count * itemsize].view(dtype)


def _nbytes(*buffers) -> int:
    """The bytes of arrays or typed memoryviews (None counts 0)."""
    return sum(np.asarray(b).nbytes for b in buffers if b is not None)


# A conv with at least this many output channels without weights computes only the others (one 512-bit
# block of sums saved at least; channel_expand.h writes the pixels).
cdef enum:
    DEAD_CHANNELS_SKIPPED = 16

# A conv's padded image is written and read in bands of output rows whose image rows take at most this
# many bytes (one band of a filter's rows if that is more): half of a 32 KB L1 data cache, so a band is
# read from L1 while it is fresh, and the workspace stays small whatever the image (the AVX2 path's
# image of 16-bit elements is twice the input).
cdef enum:
    IMAGE_BAND_BYTES = 16384


# A 1x1 conv on a pair path loads each GEMM call's pixels (Int8ConvStep.loads_pixels) when they have at
# least this many channels: for fewer, a load per 8 pixels cost 4-8% of the step against a band's loads.
cdef enum:
    PIXEL_LOADS_FROM = 32


# Runs of steps of at most this many MACs in all (about a microsecond) keep the GIL: releasing and
# retaking it would cost a noticeable share of their run, and another thread waits at most that long.
cdef enum:
    BRIEF_MACS = 1 << 17


cdef class Step:
    """One op's kernel with everything it needs bound; calling it runs the op once.

    workspace_need: the bytes of its thread's workspace the step uses (workspace_bytes() is the largest).
    macs: its multiply-accumulates per run, where counted (conv, depthwise, FC), else -1 (never brief).
    """
    cdef readonly Py_ssize_t workspace_need
    cdef readonly int64_t macs
    cdef uint8_t* _workspace  # the running thread's workspace, set before each run
    cdef Py_ssize_t expanded_at  # where a requantization's parameters are expanded in it, or -1

    def __cinit__(self):
        self.macs = -1
        self.expanded_at = -1

    cdef void reserve(self, Py_ssize_t nbytes, Py_ssize_t expanded=0) except *:
        """nbytes of the workspace, then, if `expanded`, that many more from expanded_at (64-byte aligned)
        for a requantization's expanded parameters (_Requantize.expand)."""
        self.expanded_at = _aligned(nbytes) if expanded else -1
        self.workspace_need = self.expanded_at + expanded if expanded else nbytes
        _workspace_for(self.workspace_need)  # out of memory shows at bind time, not at the first invoke

    cdef void count_macs(self, macs) except *:
        self.macs = macs

    cdef void run(self) noexcept nogil:
        pass

    def buffer_bytes(self) -> int:
        """Bytes of the working buffers the step owns outside the arena (repacked weights, copies)."""
        return 0

    def __call__(self):
        self._workspace = _workspace_for(self.workspace_need)
        if 0 <= self.macs <= BRIEF_MACS:
            self.run()
        else:
            with nogil:
                self.run()


cdef class StepProgram:
    """A subgraph's steps in order, grouped once into segments: a run of consecutive compiled Steps, or
    one other callable (a kernel partial, run through Python). Calling the program runs them all.

    A segment of compiled steps gets its thread's workspace once, then runs without the GIL (one release
    per segment, not per step, so that interpreters in other threads run meanwhile however small the
    steps are), unless it is brief: every step's MACs counted and at most BRIEF_MACS in all.
    """
    cdef readonly tuple steps
    cdef list _segments  # (first, end, workspace bytes, brief) of a compiled run, or (index, -1, 0, False)
    cdef PyObject** _compiled  # borrowed from `steps`, which keeps them alive
    cdef tuple _copy_buffers  # the buffers of the copies (kept alive: the pointers below are theirs)
    cdef uint8_t** _copy_to
    cdef const uint8_t** _copy_from
    cdef Py_ssize_t* _copy_bytes
    cdef Py_ssize_t _copies

    def __cinit__(self, tuple steps):
        self.steps = steps
        self._compiled = <PyObject**>PyMem_Malloc(max(1, len(steps)) * sizeof(PyObject*))
        if self._compiled == NULL:
            raise MemoryError()
        self._segments = []
        cdef Py_ssize_t k = 0, first, n = len(steps)
        cdef int64_t macs
        while k < n:
            if not isinstance(steps[k], Step):
                self._segments.append((k, -1, 0, False))
                k += 1
                continue
            first, need, macs, brief = k, 0, 0, True
            while k < n and isinstance(steps[k], Step):
                self._compiled[k] = <PyObject*>steps[k]
                need = max(need, (<Step>steps[k]).workspace_need)
                brief = brief and (<Step>steps[k]).macs >= 0
                macs += max((<Step>steps[k]).macs, 0)
                k += 1
            self._segments.append((first, k, need, brief and macs <= BRIEF_MACS))

    def __dealloc__(self):
        PyMem_Free(self._compiled)
        PyMem_Free(self._copy_to)
        PyMem_Free(self._copy_from)
        PyMem_Free(self._copy_bytes)

    def copy_first(self, pairs):
        """Byte copies made at the start of every run, before the first step: (target, source) pairs of
        contiguous buffers of one size (the interpreter's staged inputs; a copy from Python costs a tenth
        of a small model's run)."""
        cdef Py_ssize_t n, i
        cdef uint8_t[::1] target
        cdef const uint8_t[::1] source
        buffers = tuple((memoryview(t).cast("B"), memoryview(s).cast("B")) for t, s in pairs)
        for t, s in buffers:
            if t.nbytes != s.nbytes:
                raise ValueError(f"copy of {s.nbytes} bytes into {t.nbytes}")
        buffers = tuple((t, s) for t, s in buffers if t.nbytes)
        n = len(buffers)
        copy_to = <uint8_t**>PyMem_Malloc(max(1, n) * sizeof(uint8_t*))
        copy_from = <const uint8_t**>PyMem_Malloc(max(1, n) * sizeof(uint8_t*))
        copy_bytes = <Py_ssize_t*>PyMem_Malloc(max(1, n) * sizeof(Py_ssize_t))
        if copy_to == NULL or copy_from == NULL or copy_bytes == NULL:
            PyMem_Free(copy_to)
            PyMem_Free(copy_from)
            PyMem_Free(copy_bytes)
            raise MemoryError()
        for i in range(n):
            target, source = buffers[i]
            copy_to[i], copy_from[i], copy_bytes[i] = &target[0], &source[0], target.shape[0]
        PyMem_Free(self._copy_to)
        PyMem_Free(self._copy_from)
        PyMem_Free(self._copy_bytes)
        self._copy_to, self._copy_from, self._copy_bytes = copy_to, copy_from, copy_bytes
        self._copy_buffers, self._copies = buffers, n

    def __call__(self):
        cdef Py_ssize_t first, end, k, need
        cdef bint brief
        cdef uint8_t* workspace
        for k in range(self._copies):
            memcpy(self._copy_to[k], self._copy_from[k], self._copy_bytes[k])
        for first, end, need, brief in self._segments:
            if end < 0:
                self.steps[first]()
                continue
            workspace = _workspace_for(need)
            for k in range(first, end):
                (<Step>self._compiled[k])._workspace = workspace
            if brief:
                _run_segment(self._compiled, first, end)
            else:
                with nogil:
                    _run_segment(self._compiled, first, end)


cdef inline void _run_segment(PyObject** compiled, Py_ssize_t first, Py_ssize_t end) noexcept nogil:
    cdef Py_ssize_t k
    for k in range(first, end):
        (<Step>compiled[k]).run()


def _check_per_channel(bias, multiplier, shift, Py_ssize_t channels):
    """The guard of arrays the steps index unchecked: one bias, multiplier and shift per channel."""
    if not len(bias) == len(multiplier) == len(shift) == channels:
        raise ValueError(f"{len(bias)} biases, {len(multiplier)} multipliers and {len(shift)} shifts for "
                         f"{channels} channels")


def _bias_outputs(channels, bias, multiplier, shift, int32_t output_zp, int32_t act_min, int32_t act_max):
    """The reference output step's int8 result for a sum of 0 in each of `channels` (indices): the constant
    output of a channel without weights, whose sum is its bias alone."""
    cdef const int32_t[::1] b = np.asarray(bias, np.int32), m = np.asarray(multiplier, np.int32)
    cdef const int32_t[::1] sh = np.asarray(shift, np.int32)
    indices = np.asarray(channels, np.intp)
    if indices.size and (indices.min() < 0 or indices.max() >= min(b.shape[0], m.shape[0], sh.shape[0])):
        raise ValueError(f"channels up to {indices.max()} for {b.shape[0]} biases, {m.shape[0]} multipliers "
                         f"and {sh.shape[0]} shifts")
    cdef int8_t[::1] values = np.zeros(indices.size, np.int8)
    cdef Py_ssize_t i, c
    for i in range(indices.size):
        c = indices[i]
        store_output(&values[i], <int32_t>0, b[c], m[c], sh[c], output_zp, act_min, act_max)
    return np.asarray(values)


def _add_wrapping(int32_t[::1] start, values):
    """start[:len(values)] += values modulo 2^32."""
    n = len(values)
    total = np.asarray(start[:n], np.int64) + np.asarray(values, np.int64)
    np.asarray(start)[:n] = (total & 0xFFFFFFFF).astype(np.uint32).view(np.int32)


def _panel_rows(Py_ssize_t rows_padded, Py_ssize_t depth, Py_ssize_t main_rows, bint quads) -> int:
    """The weight panels (int16_gemm.h): as many row blocks as the main tile for main_rows input rows spans
    (quads, mi_vnni512_rows: 8 blocks of 16 rows for 1-2 rows, 4 for 3-4, 2 for more; pairs,
    mi_gemm_avx2_rows: 4 blocks of 8 for 1-2 rows, else 2), or the largest power of two below that which
    divides the blocks. Weights of at most PANELS_FROM bytes, which the caches keep, stay one panel (the
    tiles of the first panel find their weights faster), as do rows of one block or less (the VNNI paths'
    8-row GEMMs of at most 8 channels)."""
    block = MI_VNNI_ROW_BLOCK if quads else MI_ROW_BLOCK
    if rows_padded * depth <= PANELS_FROM or rows_padded <= block:
        return rows_padded
    blocks = rows_padded // block
    wide = (8 if main_rows <= 2 else 4 if main_rows <= 4 else 2) if quads else (4 if main_rows <= 2 else 2)
    while blocks % wide:
        wide //= 2
    return wide * block


#: Packed int8 weights above this many bytes are cut into panels (_panel_rows).
PANELS_FROM = 64 * 1024


cdef class _Int8Gemm:
    """Weights repacked for the int8 path's GEMM, the shape of its input rows, the per-channel start values
    (the quad paths' zero-point correction); the int32 sums of MI_GEMM_ROWS rows (sums_bytes) are the
    caller's.

    runs: [rows, segments, run] int8 weights with the zero point already subtracted; an input row is
    `segments` runs at seg_offsets (in elements) from the row's pointer. Each run is padded with zero
    weights to the path's group (2 or 4 elements), so its reader needs group - 1 readable elements past
    a row's last run. An input element is `itemsize` bytes as load() writes them; `pad_byte` is the byte
    whose elements add nothing (TFLM's skipping of out-of-image taps).
    """
    cdef int8_t[::1] packed
    cdef int64_t[::1] seg_offsets
    cdef int32_t[::1] init
    cdef mi_gemm_shape shape
    cdef mi_gemm_fn gemm
    cdef mi_quad_bytes_fn quad_bytes
    cdef readonly bint quads
    cdef mi_int8_path path
    cdef readonly Py_ssize_t group, itemsize, depth
    cdef readonly uint8_t pad_byte
    cdef int16_t input_zp

    def __init__(self, runs, seg_offsets, mi_int8_path path, int32_t input_zp, Py_ssize_t main_rows=MI_GEMM_ROWS):
        """main_rows: the input rows of most calls (a conv's MI_GEMM_ROWS pixels, an FC's batches), whose
        tile width the quad paths' weight panels take."""
        runs = np.asarray(runs, np.int8)
        rows, segments, run = runs.shape
        self.quads = mi_path_uses_quads(path)
        self.path = path
        self.group, self.itemsize = (4, 1) if self.quads else (2, 2)
        self.input_zp = <int16_t>input_zp
        self.pad_byte = (input_zp + 128) & 0xFF if self.quads else 0
        self.seg_offsets = np.ascontiguousarray(seg_offsets, dtype=np.int64)
        if self.seg_offsets.shape[0] != segments:
            raise ValueError(f"{segments} runs of weights for {self.seg_offsets.shape[0]} offsets")
        padded = np.zeros((rows, segments, -(-run // self.group) * self.group), np.int8)
        padded[:, :, :run] = runs
        cdef const int8_t[:, ::1] w = padded.reshape(rows, -1)
        self.depth = w.shape[1]
        self.shape.seg_offsets = &self.seg_offsets[0]
        self.shape.segments = segments
        self.shape.seg_groups = padded.shape[2] // self.group
        block = mi_gemm_row_block(path, rows)
        self.shape.rows_padded = (rows + block - 1) // block * block
        self.shape.channels = rows
        self.shape.panel_rows = _panel_rows(self.shape.rows_padded, self.depth, main_rows, self.quads)
        # log2 of the panel rows where there are several panels (each 16 x a power of two rows)
        self.shape.panel_shift = (self.shape.panel_rows.bit_length() - 1
                                  if self.shape.panel_rows < self.shape.rows_padded else 0)
        self.packed = _zeros_aligned(self.depth * self.shape.rows_padded, np.int8)
        mi_pack_weights(&w[0, 0], rows, self.depth, self.group, self.shape.panel_rows, &self.packed[0])
        # the quad paths read x + 128: each sum starts at -(128 + zp) * its weights' sum (wrapping int32);
        # the pair paths' sums start at 0 (no array)
        init = np.zeros(self.shape.rows_padded if self.quads else 0, np.int64)
        if self.quads:
            init[:rows] = -(128 + input_zp) * padded.reshape(rows, -1).astype(np.int64).sum(axis=1)
        self.init = (init & 0xFFFFFFFF).astype(np.uint32).view(np.int32)
        self.shape.init = &self.init[0] if self.quads else NULL
        self.gemm = mi_select_gemm(path)
        self.quad_bytes = mi_select_quad_bytes(path)

    def nbytes(self) -> int:
        return _nbytes(self.packed, self.seg_offsets, self.init)

    @property
    def panel_rows(self) -> int:
        """The rows of each panel of the packed weights (rows_padded: one panel)."""
        return self.shape.panel_rows

    def start_with(self, values):
        """Adds values (one per channel) to the start values of the sums, wrapping as the sums do (the quad
        paths only: the pair paths' sums start at 0)."""
        if not self.quads:
            raise ValueError("the pair paths' GEMM sums start at 0")
        _add_wrapping(self.init, values)

    cdef Py_ssize_t sums_bytes(self, _Requantize requantize, Py_ssize_t rows=MI_GEMM_ROWS):
        """The caller's sums of up to `rows` input rows per call: none where the GEMM requantizes every
        channel itself (AVX-512 VNNI; the other vector paths, which store the sums of a block of 8 that is
        not whole, when no row is padding)."""
        if requantize.fused != NULL and (self.path == MI_INT8_AVX512_VNNI
                                         or self.shape.rows_padded == self.shape.channels):
            return 0
        return rows * self.shape.rows_padded * sizeof(int32_t)

    cdef inline void load(self, uint8_t* dst, const int8_t* src, Py_ssize_t n) noexcept nogil:
        """n input values into the path's elements at dst: x - zp as int16, or x + 128 as a byte."""
        cdef Py_ssize_t i
        cdef int16_t* wide = <int16_t*>dst
        cdef int16_t zp = self.input_zp  # a local: a store through wide could alias the field
        if self.quads:
            self.quad_bytes(dst, src, n)
        else:
            for i in range(n):
                wide[i] = src[i] - zp

    cdef inline void compute(self, const void* const* rows, Py_ssize_t n, _Requantize requantize,
                             int8_t* const* outputs, int32_t* sums) noexcept nogil:
        """n <= MI_GEMM_ROWS input rows to their output rows: the GEMM writes what it can requantize
        itself, the scalar step the other channels from their sums."""
        cdef Py_ssize_t i, channels = self.shape.channels
        cdef Py_ssize_t done = self.gemm(&self.packed[0], rows, n, &self.shape, requantize.fused, outputs, sums)
        if done < channels:
            for i in range(n):
                requantize.finish(sums + i * self.shape.rows_padded, outputs[i], done, channels)


def _check_window_step(str op, input, output, Py_ssize_t in_channels, Py_ssize_t out_channels, int stride_h,
                       int stride_w, int dilation_h, int dilation_w, int pad_top, int pad_left):
    """The guard of the int8 window steps, whose loops index without bounds checks: NHWC views that agree
    with the filter on batch and channels, positive strides and dilations, no negative padding."""
    if input.ndim != 4 or output.ndim != 4 or input.shape[0] != output.shape[0]:
        raise ValueError(f"{op}: input {tuple(input.shape)} and output {tuple(output.shape)} must be NHWC "
                         f"with one batch count")
    if input.shape[3] != in_channels or output.shape[3] != out_channels:
        raise ValueError(f"{op}: filter needs {in_channels} input and {out_channels} output channels, views "
                         f"have {input.shape[3]} and {output.shape[3]}")
    if min(stride_h, stride_w, dilation_h, dilation_w) <= 0 or min(pad_top, pad_left) < 0:
        raise ValueError(f"{op}: strides and dilations must be positive, padding non-negative")


def _even_then_odd(values, Py_ssize_t blocks):
    """Per-channel values (blocks * 16 of them) ordered per block of 16: the even channels, then the odd."""
    lanes = np.asarray(values).reshape(blocks, 16)
    return np.ascontiguousarray(np.concatenate([lanes[:, 0::2], lanes[:, 1::2]], axis=1).ravel())


cdef class _Requantize:
    """The output step of a pixel or row: bias, per-channel requantization, zero point, clamp.

    Channels go through the int8 path's vector step (requantize.h: blocks of 8 on AVX2, all on AVX-512)
    when every shift and multiplier is in its domain (`fused` is then the parameters a GEMM may apply
    itself, else NULL); the rest through the reference template's store_output (same bits). Only the
    per-channel arrays of the path's vector step are built. Every user takes the bias into its sums
    (take_bias), which the AVX-512 step does not add. The AVX-512 step's rounding offsets and shifts are
    kept as 2 bytes per channel: its user expands them into the workspace at the start of each run
    (expand, with expanded_bytes reserved), or once into an array of its own (keep_expanded).
    """
    cdef const int32_t[::1] bias
    cdef const int32_t[::1] multiplier
    cdef const int32_t[::1] shift
    cdef object arrays  # the vector step's own per-channel arrays, which params points into
    cdef int32_t output_zp, act_min, act_max
    cdef mi_requant params
    cdef const mi_requant* fused
    cdef mi_requantize_fn vector
    cdef bint avx512  # the AVX-512 step applies every channel
    cdef Py_ssize_t expanded_channels  # whose rounding offsets and shifts expand() writes (AVX-512's)

    def __init__(self, bias, multiplier, shift, int32_t output_zp, int32_t act_min, int32_t act_max,
                 int path, Py_ssize_t channels, constant=None):
        """Per-channel bias, multiplier and shift, `channels` of each (the scalar step indexes them
        unchecked); constant: the channels whose sums are always their bias (all their weights zero), or
        None."""
        _check_per_channel(bias, multiplier, shift, channels)
        constant = np.zeros(channels, bool) if constant is None else np.asarray(constant, bool)
        self.bias, self.multiplier, self.shift = bias, multiplier, shift
        self.output_zp, self.act_min, self.act_max = output_zp, act_min, act_max
        self.params = mi_requant(bias=NULL, multiplier=NULL, left=NULL, shift8=NULL, rounding=NULL,
                                 shifts=NULL, outputs=NULL, round_down=NULL, output_zp=output_zp,
                                 act_min=act_min, act_max=act_max, clamp_low=act_min > -128,
                                 clamp_high=act_max < 127, uniform=0, uniform_multiplier=0, uniform_left=0,
                                 uniform_e=0, any_left=0)
        self.arrays = {}
        shifts = np.asarray(shift, np.int32)
        # the vector step's domain: shifts it can apply, multipliers for which SRDHM never saturates
        # (AVX-512 folds the zero point into its 64-bit rounding offsets: right shifts up to 23 and zero
        # points in int8 keep those sums below 2^63, see _bind_avx512; the channels with larger shifts in
        # real models have no weights, and a constant channel takes its output as the offset)
        in_range = channels > 0 and (shifts.min() >= -31 and shifts.max() <= 31
                                     and np.asarray(multiplier, np.int32).min() > INT32_MIN)
        if path == MI_INT8_AVX512_VNNI:
            in_range = in_range and (shifts >= -23)[~constant].all() and -128 <= output_zp <= 127
        vector = in_range and _simd(<mi_int8_path>path)
        self.vector = mi_select_requantize(<mi_int8_path>path if vector else MI_INT8_PORTABLE)
        self.fused = &self.params if vector else NULL
        if not vector:
            return
        self.params.bias, self.params.multiplier = &self.bias[0], &self.multiplier[0]
        left, right = np.maximum(shifts, 0), np.maximum(-shifts, 0)
        self.params.any_left = bool(left.any())
        self.avx512 = path == MI_INT8_AVX512_VNNI
        m = np.asarray(multiplier, np.int32)
        if not constant.any() and (m == m[0]).all() and (shifts == shifts[0]).all():
            # per-tensor quantization (most FULLY_CONNECTED layers): scalars the vector step broadcasts, no
            # per-channel array of its own
            self.params.uniform = 1
            self.params.uniform_multiplier, self.params.uniform_left, self.params.uniform_e = m[0], left[0], right[0]
        elif self.avx512:
            self._bind_avx512(left, right, constant)
        else:
            self._bind_avx2(shifts)

    def _bind_avx2(self, shifts):
        # a signed byte per shift (-31..31); the step reads whole blocks of 8 channels only
        cdef const int8_t[::1] shift8 = np.ascontiguousarray(shifts, np.int8)
        self.arrays = {"shift8": shift8.base}
        self.params.shift8 = &shift8[0]

    def _bind_avx512(self, left, right, constant):
        # per block of 16 channels (the last completed with e = 0 lanes), the bytes from which the step
        # builds its rounding offsets and shifts (requantize.h)
        self.expanded_channels = right.size
        blocks = (right.size + 15) // 16
        e = np.zeros(blocks * 16, np.int64)
        e[:right.size] = np.where(constant, 0, right)
        # the zero point's share: |product| < 2^62, and with e <= 23 and |zp| <= 128 the offsets stay below
        # 2^54 and |zp| 2^(31+e) <= 2^61, so no sum reaches 2^63
        outputs = np.full(blocks * 16, self.output_zp, np.int64)
        # a constant channel: multiplier 0, and its output (the scalar step's, of its bias) in the offset
        cdef int32_t[::1] multipliers
        if constant.any():
            multipliers = np.where(constant, 0, np.asarray(self.multiplier, np.int32)).astype(np.int32)
            self.arrays["multiplier"] = multipliers.base
            self.params.multiplier = &multipliers[0]
            left = np.where(constant, 0, left).astype(np.int32)
            dead = np.flatnonzero(constant)
            outputs[dead] = _bias_outputs(dead, self.bias, self.multiplier, self.shift, self.output_zp,
                                          self.act_min, self.act_max)
        cdef const uint8_t[::1] shift_bytes = _even_then_odd(30 + e, blocks).astype(np.uint8)
        cdef const int8_t[::1] output_bytes
        self.arrays["shifts"] = shift_bytes.base
        self.params.shifts = &shift_bytes[0]
        if (outputs != self.output_zp).any():
            output_bytes = _even_then_odd(outputs, blocks).astype(np.int8)
            self.arrays["outputs"] = output_bytes.base
            self.params.outputs = &output_bytes[0]
        cdef int32_t[::1] lefts
        # a byte per 8 lanes in the same order: bit j of byte 2 b the even channel 2 j of block b
        cdef uint8_t[::1] round_down = np.packbits(_even_then_odd(e > 0, blocks).reshape(-1, 8), axis=1,
                                                   bitorder="little").ravel()
        self.arrays["round_down"] = round_down.base
        self.params.round_down = &round_down[0]
        if left.any():
            lefts = left
            self.arrays["left"] = left
            self.params.left = &lefts[0]

    def nbytes(self) -> int:
        """Its own arrays; the per-channel ones it was given belong to the caller."""
        return _nbytes(*self.arrays.values())

    @property
    def expanded_bytes(self) -> int:
        """The workspace bytes that expand() writes (0 unless the step is AVX-512's)."""
        return (self.expanded_channels + 15) // 16 * 32 * sizeof(int64_t)

    def keep_expanded(self):
        """Expands the parameters once into an array of its own (16 bytes per channel instead of 2), for
        a caller that loads each block of them only once per run."""
        if not self.expanded_channels:
            return
        cdef int64_t[::1] rounding = _zeros_aligned(self.expanded_bytes // sizeof(int64_t), np.int64)
        mi_requant_expand(&self.params, &rounding[0], self.expanded_channels)
        self.params.shifts, self.params.outputs = NULL, NULL
        self.arrays = {k: v for k, v in self.arrays.items() if k not in ("shifts", "outputs")}
        self.arrays["rounding"] = np.asarray(rounding)
        self.expanded_channels = 0

    cdef inline void expand(self, uint8_t* workspace) noexcept nogil:
        """The AVX-512 step's rounding offsets and shifts, built from their bytes (requantize.h), into
        expanded_bytes of the workspace, where the step reads them until the next expand: its caller
        expands at the start of each run, as the workspace is shared by all steps."""
        if self.expanded_channels:
            mi_requant_expand(&self.params, <int64_t*>workspace, self.expanded_channels)

    def take_bias(self):
        """The bias (int64) that the caller must put into the start values of its sums when the step is
        AVX-512's, which never adds it (one instruction fewer of about fifteen per 16 outputs); else None,
        and the bias stays here."""
        if not self.avx512:
            return None
        self.params.bias = NULL
        return np.asarray(self.bias, np.int64)

    cdef inline void finish(self, const int32_t* acc, int8_t* out, Py_ssize_t first,
                            Py_ssize_t channels) noexcept nogil:
        """The scalar step for channels [first, channels)."""
        cdef Py_ssize_t c
        for c in range(first, channels):
            store_output(&out[c], acc[c], self.bias[c], self.multiplier[c], self.shift[c], self.output_zp,
                         self.act_min, self.act_max)

    cdef inline void write(self, const int32_t* acc, int8_t* out, Py_ssize_t channels,
                           Py_ssize_t pixels) noexcept nogil:
        """pixels x channels sums (the vector step loads each block's parameters once for all the pixels)."""
        cdef Py_ssize_t done = self.vector(acc, &self.params, out, channels, pixels), p
        if done < channels:
            for p in range(pixels):
                self.finish(acc + p * channels, out + p * channels, done, channels)


def conv_image_shape(input_shape, output_shape, filter_h, filter_w, stride_h, stride_w, dilation_h,
                     dilation_w, pad_top, pad_left):
    """[batches, height, width, depth] of Int8ConvStep's int16 image: the input with its zero padding
    around it, as far as the windows reach."""
    batches, in_h, in_w, depth = input_shape
    _, out_h, out_w, _ = output_shape
    height = max(pad_top + in_h, (out_h - 1) * stride_h + (filter_h - 1) * dilation_h + 1)
    width = max(pad_left + in_w, (out_w - 1) * stride_w + (filter_w - 1) * dilation_w + 1)
    return batches, height, width, depth


cdef class Int8ConvStep(Step):
    """CONV_2D, int8 activations and weights, int32 bias, one group (filter depth == input channels).

    The input goes into a padded image in the int8 path's elements (_Int8Gemm.load), whose border holds
    the element that adds nothing (TFLM's skipping of out-of-image taps); the GEMM then reads every window
    in place, one run per filter row (per tap under a width dilation). The image is written one band of
    output rows at a time (IMAGE_BAND_BYTES; the filter's overlap rows twice), each band's image ending
    with slack for the last run's padding to the path's group. The band and the GEMM's sums live in the
    shared workspace. A 1x1 conv at stride 1 without padding on a quad path whose input is one band
    reads the input itself (reads_input_in_place): x + 128 is x with its sign bit flipped, done in place
    before the run and undone after it. A 1x1 conv without padding on a pair path loads only the pixels of
    each GEMM call (loads_pixels): its 16-bit image would be twice the input.
    """
    cdef const int8_t[:, :, :, ::1] input
    cdef int8_t[:, :, :, ::1] output
    cdef Py_ssize_t image_w, row_bytes, image_bytes, stride_h, stride_w, pad_top, pad_left
    cdef Py_ssize_t band_rows, band_span  # output rows per band; image rows per band, less stride_h
    cdef readonly _Int8Gemm gemm
    cdef _Requantize requantize
    # with dead channels skipped: the GEMM's compact rows (live channels) in the workspace from
    # compact_at, compact_stride bytes apart, then expanded into the output pixels
    cdef mi_expand expand
    cdef mi_expand_fn expand_fn
    cdef object expand_arrays
    cdef Py_ssize_t compact_at, compact_stride
    # where the GEMM requantizes every channel into the output and the windows' step has a strip
    # GEMM (vnni_gemm.h): one call per output row, else NULL
    cdef mi_strip_fn strip
    cdef readonly Py_ssize_t strip_step  # the windows' step in bytes where strip is set, else 0
    # whether the GEMM reads the input, its sign bits flipped for the run, instead of an image (the
    # workspace then holds none): two passes over the input instead of one copy, for the memory
    cdef readonly bint reads_input_in_place
    # whether each GEMM call's pixels are loaded into consecutive slots of pixel_bytes instead of an image
    # band being filled (a 1x1 conv without padding on a pair path: the same loads, a workspace of
    # MI_GEMM_ROWS pixels)
    cdef readonly bint loads_pixels
    cdef Py_ssize_t pixel_bytes

    def __init__(self, input, filter, bias, output, int stride_h, int stride_w, int dilation_h,
                 int dilation_w, int pad_top, int pad_left, int32_t input_zp, int32_t output_zp,
                 multiplier, shift, int32_t act_min, int32_t act_max, path=None):
        """Arguments as for conv.conv_2d; path: the int8 path by name (int8_paths(); None: the
        environment's MICROINTERP_INT8_PATH or the fastest), all giving the same bits."""
        cdef mi_int8_path int8_path = _int8_path(path)
        out_c, filter_h, filter_w, depth = filter.shape
        _check_window_step("int8 conv step", input, output, depth, out_c, stride_h, stride_w, dilation_h,
                           dilation_w, pad_top, pad_left)
        self.input, self.output = input, output
        self.stride_h, self.stride_w, self.pad_top, self.pad_left = stride_h, stride_w, pad_top, pad_left
        shape = conv_image_shape(input.shape, output.shape, filter_h, filter_w, stride_h, stride_w,
                                 dilation_h, dilation_w, pad_top, pad_left)
        self.image_w = width = shape[2]
        if dilation_w == 1:  # a filter row is one run of the image row
            runs = np.asarray(filter, np.int8).reshape(out_c, filter_h, filter_w * depth)
            offsets = [ky * dilation_h * width * depth for ky in range(filter_h)]
        else:
            runs = np.asarray(filter, np.int8).reshape(out_c, filter_h * filter_w, depth)
            offsets = [(ky * dilation_h * width + kx * dilation_w) * depth
                       for ky in range(filter_h) for kx in range(filter_w)]
        constant = ~runs.reshape(out_c, -1).any(axis=1)
        if DEAD_CHANNELS_SKIPPED <= constant.sum() < out_c:
            _check_per_channel(bias, multiplier, shift, out_c)  # before the live channels are picked out
            live = ~constant
            self._bind_expand(live, bias, multiplier, shift, output_zp, act_min, act_max, int8_path)
            runs, bias, multiplier, shift = (np.ascontiguousarray(np.asarray(a)[live]) for a in
                                             (runs, np.asarray(bias, np.int32), np.asarray(multiplier, np.int32),
                                              np.asarray(shift, np.int32)))
            self.expand_arrays += [bias, multiplier, shift]
            out_c, constant = runs.shape[0], constant[live]
        self.gemm = _Int8Gemm(runs, offsets, int8_path, input_zp)
        self.row_bytes = width * depth * self.gemm.itemsize
        self.band_span = (filter_h - 1) * dilation_h + 1 - stride_h
        out_h = output.shape[1]
        self.band_rows = max(1, min(out_h, (IMAGE_BAND_BYTES // self.row_bytes - self.band_span) // stride_h)
                             if self.row_bytes else out_h)
        self.image_bytes = ((self.band_rows * stride_h + self.band_span) * self.row_bytes
                            + self.gemm.group * self.gemm.itemsize)
        # the image would be the whole input, unpadded, its runs whole groups: flipped in place instead,
        # where the input is writable, contiguous and apart from the output
        arrays = np.asarray(input), np.asarray(output)
        self.reads_input_in_place = (self.gemm.quads and filter_h == filter_w == stride_h == stride_w == 1
                                     and pad_top == pad_left == 0 and depth % self.gemm.group == 0
                                     and self.band_rows >= out_h and arrays[0].size > 0
                                     and arrays[0].flags.writeable and arrays[0].flags.c_contiguous
                                     and not np.may_share_memory(*arrays))
        if self.reads_input_in_place:
            self.image_bytes = 0
        self.loads_pixels = (not self.gemm.quads and filter_h == filter_w == 1 and pad_top == pad_left == 0
                             and depth >= PIXEL_LOADS_FROM)
        if self.loads_pixels:  # the slots end with slack for the last run's padding to the group
            self.pixel_bytes = depth * self.gemm.itemsize
            self.band_rows = out_h
            self.image_bytes = MI_GEMM_ROWS * self.pixel_bytes + self.gemm.group * self.gemm.itemsize
        self.requantize = _Requantize(bias, multiplier, shift, output_zp, act_min, act_max, int8_path,
                                      out_c, constant)
        if int8_path == MI_INT8_AVX512_VNNI and out_c <= 8 and self.requantize.fused != NULL:
            self._bind_pairs(runs, offsets, input_zp, bias, multiplier, shift, output_zp, act_min, act_max,
                             constant)
        _start_with_bias(self.gemm, self.requantize)
        # where the GEMM writes every channel of the image's windows itself (an output row shorter than a
        # tile would give only partial tiles: rows are then grouped across output rows, as on AVX2 rows
        # that are no whole number of its 4-pixel tiles; AVX-512's strips take tiles of 16 channels, not
        # its narrow or pair layouts)
        if (self.requantize.fused != NULL and self.expand_fn == NULL and not self.loads_pixels
                and self.gemm.sums_bytes(self.requantize) == 0 and output.shape[2] >= MI_GEMM_ROWS
                and (int8_path != MI_INT8_AVX512_VNNI
                     or not self.gemm.shape.pairs and self.gemm.shape.rows_padded >= MI_VNNI_ROW_BLOCK)
                and (int8_path != MI_INT8_AVX2 or output.shape[2] % MI_AVX2_ROWS == 0)):
            window_step = stride_w * depth * self.gemm.itemsize
            self.strip = mi_select_strip(int8_path, window_step)
            self.strip_step = window_step if self.strip != NULL else 0
        self.compact_at = _aligned(self.image_bytes) + self.gemm.sums_bytes(self.requantize)
        self.compact_stride = _aligned(out_c) if self.expand_fn != NULL else 0
        self.reserve(self.compact_at + MI_GEMM_ROWS * self.compact_stride, self.requantize.expanded_bytes)
        # the model's MACs (a skipped dead channel's too), as for the other steps and the reference
        self.count_macs(int(np.prod(output.shape)) * filter_h * filter_w * depth)

    def _bind_expand(self, live, bias, multiplier, shift, int32_t output_zp, int32_t act_min, int32_t act_max,
                     mi_int8_path path):
        """The expansion of the live channels' compact outputs (channel_expand.h), with each dead channel's
        constant: its bias through the reference template's output step."""
        channels = live.shape[0]
        cdef int8_t[::1] constants = np.zeros(channels, np.int8)
        dead = np.flatnonzero(~live)
        np.asarray(constants)[dead] = _bias_outputs(dead, bias, multiplier, shift, output_zp, act_min, act_max)
        blocks = np.zeros((channels + 63) // 64 * 64, bool)
        blocks[:channels] = live
        cdef const uint64_t[::1] bits = np.packbits(blocks.reshape(-1, 64), axis=1, bitorder="little").view(np.uint64).ravel()
        before = np.concatenate([[0], np.cumsum(blocks)]).astype(np.int64)  # live channels before each one
        cdef const int64_t[::1] first = np.ascontiguousarray(before[:-1:64])
        # whole blocks of 16 for the AVX2 expansion: where each block's live values start in the compact
        # row, the place of each live channel among them (0x80 at dead ones), the constants elsewhere
        whole = channels // 16
        cdef const int64_t[::1] shuffle_first = np.ascontiguousarray(before[np.arange(whole + 1) * 16])
        block_live = live[:whole * 16].reshape(whole, 16)
        ranks = np.cumsum(block_live, axis=1) - 1
        cdef const uint8_t[::1] shuffles = np.where(block_live, ranks, 0x80).astype(np.uint8).ravel()
        cdef const int8_t[::1] fills = np.where(block_live, 0, np.asarray(constants)[:whole * 16].reshape(whole, 16)
                                                ).astype(np.int8).ravel()
        if whole == 0:  # nothing to point at otherwise
            shuffles, fills = np.zeros(1, np.uint8), np.zeros(1, np.int8)
        self.expand_arrays = [constants.base, bits.base, first.base, shuffle_first.base, shuffles.base, fills.base]
        self.expand = mi_expand(channels=channels, live=&bits[0], first=&first[0], constants=&constants[0],
                                shuffles=&shuffles[0], fills=&fills[0], shuffle_first=&shuffle_first[0])
        self.expand_fn = mi_select_expand(path)

    def _bind_pairs(self, runs, offsets, int32_t input_zp, bias, multiplier, shift, int32_t output_zp,
                    int32_t act_min, int32_t act_max, constant):
        """Two pixels per vector (vnni_gemm.h, mi_vnni512_pairs): the channels, completed to 8 by ones that
        are never stored (in the vector step's domain), packed twice over with their parameters."""
        out_c = runs.shape[0]
        def twice(values, fill):
            eight = np.full((8,) + np.shape(values)[1:], fill, np.asarray(values).dtype)
            eight[:out_c] = values
            return np.ascontiguousarray(np.concatenate([eight, eight]))
        self.gemm = _Int8Gemm(twice(runs, 0), offsets, MI_INT8_AVX512_VNNI, input_zp)
        self.gemm.shape.channels, self.gemm.shape.pairs = out_c, 1
        self.requantize = _Requantize(twice(np.asarray(bias, np.int32), 0), twice(np.asarray(multiplier, np.int32), 1 << 30),
                                      twice(np.asarray(shift, np.int32), 0), output_zp, act_min, act_max,
                                      MI_INT8_AVX512_VNNI, 16, twice(constant, False))

    def buffer_bytes(self) -> int:
        return self.gemm.nbytes() + self.requantize.nbytes() + _nbytes(*(self.expand_arrays or ()))

    @property
    def dead_channels_skipped(self) -> int:
        """Output channels without weights that the GEMM skips (their constant is written instead)."""
        return self.expand.channels - self.gemm.shape.channels if self.expand_fn != NULL else 0

    cdef void fill_band(self, uint8_t* image, Py_ssize_t b, Py_ssize_t top, Py_ssize_t rows) noexcept nogil:
        """Image rows [top, top + rows) of batch b (padded coordinates) from the image's start: the input in
        the path's elements inside the border, the padding element around it, then the slack."""
        cdef Py_ssize_t in_h = self.input.shape[1], in_w = self.input.shape[2], depth = self.input.shape[3]
        cdef Py_ssize_t left = self.pad_left * depth * self.gemm.itemsize
        cdef Py_ssize_t inside = in_w * depth * self.gemm.itemsize, y
        cdef uint8_t pad = self.gemm.pad_byte
        for y in range(top, top + rows):
            if self.pad_top <= y < self.pad_top + in_h:
                memset(image, pad, left)
                self.gemm.load(image + left, &self.input[b, y - self.pad_top, 0, 0], in_w * depth)
                memset(image + left + inside, pad, self.row_bytes - left - inside)
            else:
                memset(image, pad, self.row_bytes)
            image += self.row_bytes
        memset(image, pad, self.gemm.group * self.gemm.itemsize)

    cdef void run(self) noexcept nogil:
        cdef Py_ssize_t batches = self.output.shape[0], out_h = self.output.shape[1]
        cdef Py_ssize_t out_w = self.output.shape[2]
        cdef Py_ssize_t b, band, oy, ox, n = 0
        # per pixel, pointers that move by constant steps: the loop runs once per output pixel, and
        # recomputing both addresses from the indices cost about as much as a small conv's GEMM
        cdef Py_ssize_t depth = self.input.shape[3]
        cdef Py_ssize_t image_step = self.stride_w * depth * (1 if self.loads_pixels else self.gemm.itemsize)
        cdef Py_ssize_t out_step = self.output.strides[2]
        cdef const void* rows[MI_GEMM_ROWS]
        cdef int8_t* outputs[MI_GEMM_ROWS]
        cdef int8_t* pixels[MI_GEMM_ROWS]
        cdef uint8_t* image = self._workspace
        cdef const uint8_t* window
        cdef int8_t* out
        cdef int8_t* compact = <int8_t*>(self._workspace + self.compact_at)
        cdef int32_t* sums = <int32_t*>(self._workspace + _aligned(self.image_bytes))
        cdef uint8_t* flipped = <uint8_t*>&self.input[0, 0, 0, 0] if self.reads_input_in_place else NULL
        cdef Py_ssize_t plane = self.input.shape[1] * self.input.shape[2] * self.input.shape[3]
        if self.expanded_at >= 0:
            self.requantize.expand(self._workspace + self.expanded_at)
        if flipped != NULL:
            self.gemm.quad_bytes(flipped, <const int8_t*>flipped, batches * plane)
        for b in range(batches):
            band = 0
            while band < out_h:
                if n:  # the pending pixels read the band about to be overwritten
                    self.compute(rows, n, outputs, pixels, sums)
                    n = 0
                if flipped != NULL:
                    image = flipped + b * plane
                elif not self.loads_pixels:
                    self.fill_band(image, b, band * self.stride_h,
                                   min(self.band_rows, out_h - band) * self.stride_h + self.band_span)
                for oy in range(band, min(band + self.band_rows, out_h)):
                    if self.loads_pixels:  # the input pixels themselves, which compute() loads
                        window = <const uint8_t*>&self.input[b, oy * self.stride_h, 0, 0] if out_w else NULL
                    else:
                        window = image + (oy - band) * self.stride_h * self.row_bytes
                    out = &self.output[b, oy, 0, 0] if out_w else NULL
                    if self.strip != NULL:  # bound only for rows of at least MI_GEMM_ROWS pixels
                        self.strip(&self.gemm.packed[0], window, out_w, self.strip_step, &self.gemm.shape,
                                   self.requantize.fused, out, out_step)
                        continue
                    for ox in range(out_w):
                        rows[n], pixels[n] = window, out  # with loads_pixels, compute() loads the pixel
                        outputs[n] = compact + n * self.compact_stride if self.expand_fn != NULL else out
                        window += image_step
                        out += out_step
                        n += 1
                        if n == MI_GEMM_ROWS:
                            self.compute(rows, n, outputs, pixels, sums)
                            n = 0
                band += self.band_rows
        if n:
            self.compute(rows, n, outputs, pixels, sums)
        if flipped != NULL:  # the input as it was
            self.gemm.quad_bytes(flipped, <const int8_t*>flipped, batches * plane)

    cdef inline void load_pixels(self, const void** rows, Py_ssize_t n) noexcept nogil:
        """The n input pixels at rows into the workspace's slots, rows then pointing there: each run of
        pixels adjacent in the input (stride 1) in one load."""
        cdef Py_ssize_t depth = self.input.shape[3], first = 0, end, i
        cdef uint8_t* slots = self._workspace
        while first < n:
            end = first + 1
            while end < n and <const int8_t*>rows[end] == <const int8_t*>rows[end - 1] + depth:
                end += 1
            self.gemm.load(slots + first * self.pixel_bytes, <const int8_t*>rows[first], (end - first) * depth)
            for i in range(first, end):
                rows[i] = slots + i * self.pixel_bytes
            first = end

    cdef inline void compute(self, const void** rows, Py_ssize_t n, int8_t** outputs, int8_t** pixels,
                             int32_t* sums) noexcept nogil:
        """n pixels through the GEMM, then, with dead channels skipped, their compact rows expanded."""
        cdef Py_ssize_t i
        if self.loads_pixels:
            self.load_pixels(rows, n)
        self.gemm.compute(rows, n, self.requantize, outputs, sums)
        if self.expand_fn != NULL:
            for i in range(n):
                self.expand_fn(pixels[i], outputs[i], &self.expand)


def _start_with_bias(_Int8Gemm gemm, _Requantize requantize):
    """The bias into the GEMM's start values where the requantization gives it up (take_bias)."""
    taken = requantize.take_bias()
    if taken is not None:
        gemm.start_with(taken)


def centered_weights(weights, int32_t zero_point):
    """weights - zero_point as int8, or None where a value leaves int8 (the fast GEMM keeps weights int8)."""
    centered = np.asarray(weights, np.int32) - zero_point
    if centered.size and (centered.min() < -128 or centered.max() > 127):
        return None
    return centered.astype(np.int8)


cdef class Int8FullyConnectedStep(Step):
    """FULLY_CONNECTED, int8 activations and weights, int32 bias, on [batches, depth] views."""
    cdef const int8_t[:, ::1] input
    cdef int8_t[:, ::1] output
    cdef Py_ssize_t row_bytes
    cdef readonly _Int8Gemm gemm
    cdef _Requantize requantize

    def __init__(self, input, filter, bias, output, int32_t input_zp, int32_t filter_zp, int32_t output_zp,
                 multiplier, shift, int32_t act_min, int32_t act_max, path=None):
        """Arguments as for fully_connected.fully_connected (centered_weights(filter, filter_zp) must not be
        None); path as for Int8ConvStep."""
        cdef mi_int8_path int8_path = _int8_path(path)
        units, depth = filter.shape
        batches = input.shape[0]
        if input.shape[0] != output.shape[0] or input.shape[1] != depth or output.shape[1] != units:
            raise ValueError(f"int8 fully connected step: input {tuple(input.shape)}, filter {tuple(filter.shape)}, "
                             f"output {tuple(output.shape)}")
        self.input, self.output = input, output
        centered = centered_weights(filter, filter_zp)
        if centered is None:
            raise ValueError(f"filter values minus the zero point {filter_zp} leave int8")
        self.gemm = _Int8Gemm(centered.reshape(units, 1, depth), [0], int8_path, input_zp, min(batches, MI_GEMM_ROWS))
        self.requantize = _Requantize(bias, multiplier, shift, output_zp, act_min, act_max, int8_path,
                                      units, ~centered.any(axis=1))
        _start_with_bias(self.gemm, self.requantize)
        # the input rows (whose padding to the group meets weights 0) and the sums, in the workspace
        self.row_bytes = _aligned(self.gemm.depth * self.gemm.itemsize)
        # each block of parameters is loaded once per run of a batch: expanding them at each run would
        # only add work
        self.requantize.keep_expanded()
        rows = min(batches, MI_GEMM_ROWS)
        self.reserve(rows * self.row_bytes + self.gemm.sums_bytes(self.requantize, rows))
        self.count_macs(batches * units * depth)

    def buffer_bytes(self) -> int:
        return self.gemm.nbytes() + self.requantize.nbytes()

    cdef void run(self) noexcept nogil:
        cdef Py_ssize_t batches = self.output.shape[0], depth = self.input.shape[1], b, n, first = 0
        cdef const void* rows[MI_GEMM_ROWS]
        cdef int8_t* outputs[MI_GEMM_ROWS]
        cdef int32_t* sums = <int32_t*>(self._workspace + min(batches, <Py_ssize_t>MI_GEMM_ROWS) * self.row_bytes)
        cdef uint8_t* row
        while first < batches:
            n = min(<Py_ssize_t>MI_GEMM_ROWS, batches - first)
            for b in range(n):
                row = self._workspace + b * self.row_bytes  # past depth: any element, its weights are 0
                self.gemm.load(row, &self.input[first + b, 0], depth)
                rows[b] = row
                outputs[b] = &self.output[first + b, 0]
            self.gemm.compute(rows, n, self.requantize, outputs, sums)
            first += n


cdef class _DepthwiseWeights:
    """Depthwise weights packed for an int8 path (int8_depthwise.h) with the start value of each channel:
    the zero-point term, and on the quad paths the correction of their x + 128. The pair paths read them
    as int16: widened (wide_bytes) into the workspace by use() at the start of each run."""
    cdef int8_t[::1] packed
    cdef int32_t[::1] init
    cdef Py_ssize_t channels
    cdef readonly Py_ssize_t wide_bytes

    def __init__(self, w, Py_ssize_t group, Py_ssize_t groups, int32_t input_zp):
        """w: [taps, channels] int8."""
        cdef const int8_t[:, ::1] wv = np.ascontiguousarray(w, dtype=np.int8)
        self.channels = wv.shape[1]
        # 64 bytes of slack on the quad paths, whose last channels read whole vectors of weights
        self.packed = _zeros_aligned(groups * group * self.channels + (64 if group == 4 else 0), np.int8)
        mi_depthwise_pack(&wv[0, 0], wv.shape[0], self.channels, group, &self.packed[0])
        self.wide_bytes = self.packed.shape[0] * sizeof(int16_t) if group == 2 else 0
        correction = -(input_zp + 128 * (group == 4)) * np.asarray(w, np.int64).sum(axis=0)
        self.init = (correction & 0xFFFFFFFF).astype(np.uint32).view(np.int32)

    def nbytes(self) -> int:
        return _nbytes(self.packed, self.init)

    cdef inline const void* use(self, uint8_t* workspace) noexcept nogil:
        """The weights as the path reads them: on the pair paths widened into wide_bytes of the workspace."""
        if self.wide_bytes:
            mi_depthwise_widen(&self.packed[0], <int16_t*>workspace, self.packed.shape[0])
            return workspace
        return &self.packed[0]

    def start_with(self, values):
        """Adds values (one per channel) to the start values of the sums, wrapping as the sums do."""
        _add_wrapping(self.init, values)


# The channels of a wide run: a row's interior pixels, contiguous under stride 1, summed as pixels of
# this many channels (fewer channels tiled to fill them), so narrow layers fill whole vectors.
cdef enum:
    DEPTHWISE_WIDE_RUN = 64
    # The sums a depthwise step keeps before requantizing them (a span of a row's pixels, at least one
    # chunk): at most this many (2 KB), or as many bytes as the layer's output if more. Whole rows took
    # 12 KB in a streaming model's layer of 24 pixels (3 KB of output); spans of 512 sums in every layer
    # made vww_96_int8 7-9% and mobilenet_v2 5% slower (more calls). Of the benchmark models' other layers
    # only vww_96_int8's last (3 x 3 x 256) is split.
    DEPTHWISE_SPAN_VALUES = 512


# Input rows a depthwise step keeps aside at once where its output overwrites its input: 2 for an output
# over its own stride-1 input (the row being overwritten and the one above it), none for stride 2 (the
# output falls behind the rows still to be read).
DEPTHWISE_SAVED_ROWS = 4


class DepthwiseOverlapError(ValueError):
    """The output of a depthwise step overwrites more input rows still to be read than it may save."""


def depthwise_row_saves(input, output, Py_ssize_t filter_h, int stride_h, int dilation_h, int pad_top):
    """The input rows a depthwise step must copy aside before it writes each output row over them, where the
    output views overlap the input's bytes (an output placed over a PAD's input when the PAD is left out,
    execution.py): (output row, input row, slot) triples in output row order, rows counted across batches,
    the rows a later output row still reads; [] when the views do not overlap, None when the saved rows
    would need more than DEPTHWISE_SAVED_ROWS slots at once. Output row o is written after its saves and
    after all its reads (which take saved rows from their slots), so a row is saved at the first output row
    whose bytes reach it, and its slot is free again once the last output row reading it is done."""
    source, target = np.asarray(input), np.asarray(output)
    if not np.shares_memory(source, target):
        return []
    if not (source.flags.c_contiguous and target.flags.c_contiguous):
        return None
    batches, in_h, in_w, channels = source.shape
    out_h = target.shape[1]
    in_row, out_row = in_w * channels, target.shape[2] * target.shape[3]
    in_base, out_base = source.ctypes.data, target.ctypes.data
    rows = batches * in_h
    last_use = [-1] * rows
    for o in range(batches * out_h):
        b, oy = divmod(o, out_h)
        for ky in range(filter_h):
            iy = oy * stride_h - pad_top + ky * dilation_h
            if 0 <= iy < in_h:
                last_use[b * in_h + iy] = o
    saves, free, release, saved = [], list(range(DEPTHWISE_SAVED_ROWS)), {}, set()
    for o in range(batches * out_h):
        start = out_base + o * out_row
        for g in range(max(0, (start - in_base) // in_row), min(rows, (start + out_row - 1 - in_base) // in_row + 1)):
            if g not in saved and last_use[g] >= o:
                if not free:
                    return None
                slot = free.pop()
                saved.add(g)
                saves.append((o, g, slot))
                release.setdefault(last_use[g], []).append(slot)
        free.extend(release.pop(o, ()))
    return saves


cdef class Int8DepthwiseStep(Step):
    """DEPTHWISE_CONV_2D, int8 activations and weights, int32 bias, depth multiplier 1.

    Each span of an output row (the whole row unless its sums would pass DEPTHWISE_SPAN_VALUES) is summed
    first (int8_depthwise.h) into accumulators, then requantized in one call (each block's parameters
    loaded once for the span; where the channels are no whole blocks of 8, in chunks of about 64 values
    whose per-channel parameters repeat for their pixels); on AVX-512
    VNNI the kernel requantizes its sums itself and writes the output directly (`fused`). Where the
    output overlaps the input (an in-place plan, or a PAD's input read through), the input rows an output
    row reaches that it or a later row still reads are copied into the workspace before the row starts
    (depthwise_row_saves), and read from there. Out-of-image taps read a run of
    input-zero-point bytes, so border pixels take the same kernel as interior ones; the interior
    columns of a span, whose taps all move by one stride per pixel, take one kernel call. Under stride 1
    with fewer channels than DEPTHWISE_WIDE_RUN (and dividing it), the interior's channels are
    contiguous across pixels: it is summed as pixels of DEPTHWISE_WIDE_RUN channels with the weights
    tiled to match, which fills the vectors that a few channels would leave mostly empty.
    """
    cdef const int8_t[:, :, :, ::1] input
    cdef int8_t[:, :, :, ::1] output
    cdef _DepthwiseWeights narrow
    cdef _DepthwiseWeights wide
    cdef int32_t* accumulators  # a row's, in the workspace during a run
    # the weights as the kernel reads them during a run, and where the pair paths widen them
    cdef const void* narrow_weights
    cdef const void* wide_weights
    cdef Py_ssize_t narrow_at, wide_at
    cdef int8_t[::1] zero_points
    cdef object taps_owner
    cdef const int8_t** taps
    # where each input row is read from during a run (all batches' rows): its bytes in the input, or, once
    # an output row is about to overwrite them, a slot of the workspace (depthwise_row_saves); rows_owner
    # holds the table and, where rows are saved, its initial state after it, restored at each run
    cdef object rows_owner
    cdef const int8_t** rows
    cdef Py_ssize_t[::1] save_at  # output row o's saves: save_rows / save_slots [save_at[o], save_at[o + 1])
    cdef Py_ssize_t[::1] save_rows
    cdef Py_ssize_t[::1] save_slots
    cdef Py_ssize_t slots_at, slot_bytes
    cdef bint saving
    cdef int stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, filter_h, filter_w
    cdef Py_ssize_t groups, all_taps, interior_begin, interior_end, chunk, span
    cdef _Requantize requantize
    cdef const mi_requant* fused
    cdef mi_depthwise_fn pixels

    def __init__(self, input, filter, bias, output, int stride_h, int stride_w, int dilation_h,
                 int dilation_w, int pad_top, int pad_left, int32_t input_zp, int32_t output_zp, multiplier,
                 shift, int32_t act_min, int32_t act_max, path=None):
        """Arguments as for conv.depthwise_conv_2d without the accumulators and depth_multiplier (which
        is 1); path as for Int8ConvStep."""
        cdef mi_int8_path int8_path = _int8_path(path)
        if not -128 <= input_zp <= 127:
            raise ValueError(f"input zero point {input_zp} is outside int8")  # the zero-point run is int8
        _check_window_step("int8 depthwise step", input, output, filter.shape[3], filter.shape[3], stride_h,
                           stride_w, dilation_h, dilation_w, pad_top, pad_left)
        self.input, self.output = input, output
        self.stride_h, self.stride_w, self.dilation_h, self.dilation_w = stride_h, stride_w, dilation_h, dilation_w
        self.pad_top, self.pad_left = pad_top, pad_left
        self.filter_h, self.filter_w = filter.shape[1], filter.shape[2]
        cdef Py_ssize_t channels = output.shape[3], out_w = output.shape[2], in_w = input.shape[2]
        w = np.ascontiguousarray(filter[0], dtype=np.int8).reshape(-1, channels)
        group = mi_depthwise_group(int8_path)
        self.groups = (w.shape[0] + group - 1) // group
        self.all_taps = self.groups * group
        self.narrow = _DepthwiseWeights(w, group, self.groups, input_zp)
        if stride_w == 1 and channels < DEPTHWISE_WIDE_RUN and DEPTHWISE_WIDE_RUN % channels == 0:
            self.wide = _DepthwiseWeights(np.tile(w, DEPTHWISE_WIDE_RUN // channels), group, self.groups, input_zp)
        self.count_macs(int(np.prod(output.shape)) * w.shape[0])
        saves = depthwise_row_saves(input, output, self.filter_h, stride_h, dilation_h, pad_top)
        if saves is None:
            raise DepthwiseOverlapError(f"int8 depthwise step: the output overwrites more than "
                                        f"{DEPTHWISE_SAVED_ROWS} input rows that later output rows still read")
        self.saving = bool(saves)
        cdef Py_ssize_t in_h = input.shape[1], all_rows = input.shape[0] * in_h, g
        self.rows_owner = np.zeros(max(1, (2 if self.saving else 1) * all_rows), np.uintp)  # 1: an empty image
        cdef size_t[::1] rows = self.rows_owner
        self.rows = <const int8_t**>&rows[0]
        for g in range(all_rows):
            self.rows[g] = &self.input[g // in_h, g % in_h, 0, 0]
        if self.saving:
            memcpy(self.rows + all_rows, self.rows, all_rows * sizeof(self.rows[0]))
        if saves:
            self.save_at = np.searchsorted([o for o, _, _ in saves], np.arange(output.shape[0] * output.shape[1] + 1))
            self.save_rows = np.array([g for _, g, _ in saves], np.intp)
            self.save_slots = np.array([slot for _, _, slot in saves], np.intp)
        self.slot_bytes = _aligned(in_w * channels)
        # writing each pixel's output as it is summed: safe over the input too, whose rows that a row's
        # output reaches and that it or a later row reads are saved before the row starts
        fuse = int8_path == MI_INT8_AVX512_VNNI
        # a row's pixels requantized in one call; where the channels are no whole blocks of 8, the per-channel
        # arrays repeated for the pixels of a chunk of about 64 values, so that the vector step covers them.
        # The fused kernel indexes them by the channel within its pixel: a wide pixel's span all of them.
        if fuse:
            self.chunk = DEPTHWISE_WIDE_RUN // channels if self.wide is not None else 1
        else:
            self.chunk = 1 if channels % 8 == 0 else max(1, min(out_w, 64 // channels))
        # whole chunks of pixels, as many as the span's sums hold; the fused kernel keeps no sums
        span_values = max(DEPTHWISE_SPAN_VALUES, int(np.prod(output.shape)) // sizeof(int32_t))
        self.span = out_w if fuse else min(out_w, max(1, span_values // (self.chunk * channels)) * self.chunk)
        # Runs of several pixels (the interior of a row) read it only through the taps of filter rows above
        # or below the image, all moving by one stride per pixel: then long enough for a span of them;
        # else (the border pixels, one at a time) one pixel's channels.
        bottom = (output.shape[1] - 1) * stride_h - pad_top + (self.filter_h - 1) * dilation_h
        rows_outside = pad_top > 0 or bottom >= input.shape[1]
        self.zero_points = np.full(((self.span - 1) * stride_w + 1 if rows_outside else 1) * channels, input_zp,
                                   np.int8)
        self.taps_owner = np.zeros(self.all_taps, np.uintp)
        cdef size_t[::1] taps = self.taps_owner
        self.taps = <const int8_t**>&taps[0]
        # the columns whose taps all lie inside the image: pad_left <= ox * stride_w <= last
        last = in_w - 1 - (self.filter_w - 1) * dilation_w + pad_left
        begin = min((pad_left + stride_w - 1) // stride_w, out_w)  # C division: operands >= 0
        end = min(last // stride_w + 1, out_w) if last >= 0 else 0
        self.interior_begin, self.interior_end = begin, max(begin, end)
        self.pixels = mi_select_depthwise(int8_path)
        bias, multiplier, shift = (np.tile(np.asarray(a, np.int32), self.chunk) if self.chunk > 1
                                   else np.asarray(a, np.int32) for a in (bias, multiplier, shift))
        self.requantize = _Requantize(bias, multiplier, shift, output_zp, act_min, act_max, int8_path,
                                      self.chunk * channels, np.tile(~w.any(axis=0), self.chunk))
        # a span's sums, the weights widened for the pair paths, then the requantization's parameters
        # expanded for the run (loaded for every pixel)
        self.narrow_at = 0 if fuse else _aligned(self.span * channels * sizeof(int32_t))
        self.wide_at = self.narrow_at + _aligned(self.narrow.wide_bytes)
        self.slots_at = self.wide_at + _aligned(self.wide.wide_bytes if self.wide is not None else 0)
        self.reserve(self.slots_at + (1 + max(slot for _, _, slot in saves) if saves else 0) * self.slot_bytes,
                     self.requantize.expanded_bytes)
        taken = self.requantize.take_bias()
        if taken is not None:
            self.narrow.start_with(taken[:channels])
            if self.wide is not None:
                self.wide.start_with(np.tile(taken[:channels], DEPTHWISE_WIDE_RUN // channels))
        self.fused = self.requantize.fused if fuse else NULL

    def buffer_bytes(self) -> int:
        # the requantization's bias, multiplier and shift are this step's too when tiled for a chunk
        cdef _Requantize q = self.requantize
        tiled = _nbytes(q.bias, q.multiplier, q.shift) if self.chunk > 1 else 0
        return (self.narrow.nbytes() + (self.wide.nbytes() if self.wide is not None else 0) + q.nbytes() + tiled
                + _nbytes(self.zero_points, self.taps_owner, self.rows_owner)
                # (unset typed memoryviews are not None to Python: read only when set)
                + (_nbytes(self.save_at, self.save_rows, self.save_slots) if self.saving else 0))

    cdef inline void sum_pixels(self, const int8_t** image, int8_t* out, Py_ssize_t y0, Py_ssize_t ox,
                                Py_ssize_t count, Py_ssize_t first) noexcept nogil:
        """Accumulators (or, fused, the outputs in the row `out`) of count pixels of a row from column ox, in
        the span from column `first`; more than one only in the interior."""
        cdef Py_ssize_t channels = self.output.shape[3], wide_pixels
        if self.wide is not None and count * channels >= DEPTHWISE_WIDE_RUN:
            wide_pixels = DEPTHWISE_WIDE_RUN // channels
            self.sum_wide(image, out, y0, ox, count // wide_pixels, first)
            # the rest as one more wide pixel ending at the last one: it recomputes a few pixels, which
            # gives the same values (the rows it reads are not written meanwhile: the sums go to the
            # accumulators, a fused output only over input rows saved aside), at the cost of one vector
            # block instead of a narrow pass per pixel
            if count % wide_pixels:
                self.sum_wide(image, out, y0, ox + count - wide_pixels, 1, first)
            return
        self.set_taps(image, y0, ox)
        self.pixels(self.accumulators + (ox - first) * channels, self.taps, self.stride_w * channels, count,
                    self.narrow_weights, &self.narrow.init[0], self.groups, channels, self.fused, out + ox * channels)

    cdef inline void sum_wide(self, const int8_t** image, int8_t* out, Py_ssize_t y0, Py_ssize_t ox,
                              Py_ssize_t count, Py_ssize_t first) noexcept nogil:
        """count wide pixels (DEPTHWISE_WIDE_RUN channels, stride 1) from column ox, in the span from `first`."""
        cdef Py_ssize_t channels = self.output.shape[3]
        self.set_taps(image, y0, ox)
        self.pixels(self.accumulators + (ox - first) * channels, self.taps, DEPTHWISE_WIDE_RUN, count,
                    self.wide_weights, &self.wide.init[0], self.groups, DEPTHWISE_WIDE_RUN, self.fused,
                    out + ox * channels)

    cdef inline void sum_span(self, const int8_t** image, int8_t* out, Py_ssize_t y0, Py_ssize_t first,
                              Py_ssize_t last) noexcept nogil:
        """The pixels of columns [first, last) of a row: the borders one at a time, the interior in one call."""
        cdef Py_ssize_t ox, begin = max(first, self.interior_begin), end = min(last, self.interior_end)
        for ox in range(first, min(begin, last)):
            self.sum_pixels(image, out, y0, ox, 1, first)
        if end > begin:
            self.sum_pixels(image, out, y0, begin, end - begin, first)
        for ox in range(max(end, first), last):
            self.sum_pixels(image, out, y0, ox, 1, first)

    cdef inline void set_taps(self, const int8_t** image, Py_ssize_t y0, Py_ssize_t ox) noexcept nogil:
        """The taps of the pixel at column ox: in the image (its rows image[0 ..]), or the zero-point run."""
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
                # the row index is 0 outside the image, so both choices can be formed without a branch
                self.taps[t] = image[iy * inside] + ix * channels if inside else zero_points
                t += 1
        # the zero-weight taps completing the last group read the first tap's bytes, which move with the run
        while t < self.all_taps:
            self.taps[t] = self.taps[0]
            t += 1

    cdef void run(self) noexcept nogil:
        cdef Py_ssize_t batches = self.output.shape[0], out_h = self.output.shape[1]
        cdef Py_ssize_t out_w = self.output.shape[2], channels = self.output.shape[3]
        cdef Py_ssize_t in_h = self.input.shape[1], row_bytes = self.input.shape[2] * self.input.shape[3]
        cdef Py_ssize_t b, oy, ox, y0, first, last, count, i
        cdef const int8_t** image
        cdef int8_t* out
        cdef uint8_t* slot
        self.accumulators = <int32_t*>self._workspace
        self.narrow_weights = self.narrow.use(self._workspace + self.narrow_at)
        if self.wide is not None:
            self.wide_weights = self.wide.use(self._workspace + self.wide_at)
        if self.expanded_at >= 0:
            self.requantize.expand(self._workspace + self.expanded_at)
        if self.saving:  # the table as bound: the last run pointed the saved rows at their slots
            memcpy(self.rows, self.rows + batches * in_h, batches * in_h * sizeof(self.rows[0]))
        for b in range(batches):
            image = self.rows + b * in_h
            for oy in range(out_h):
                if self.saving:
                    for i in range(self.save_at[b * out_h + oy], self.save_at[b * out_h + oy + 1]):
                        slot = self._workspace + self.slots_at + self.save_slots[i] * self.slot_bytes
                        memcpy(slot, self.rows[self.save_rows[i]], row_bytes)
                        self.rows[self.save_rows[i]] = <const int8_t*>slot
                y0 = oy * self.stride_h - self.pad_top
                out = &self.output[b, oy, 0, 0]
                last = 0
                while last < out_w:
                    first, last = last, min(last + self.span, out_w)
                    self.sum_span(image, out, y0, first, last)
                    if self.fused != NULL:
                        continue
                    # the whole span was read above, before any of its pixels is written: its whole chunks
                    # in one call (each chunk a pixel of chunk * channels values), then the rest
                    count = last - first
                    self.requantize.write(self.accumulators, out + first * channels, self.chunk * channels,
                                          count // self.chunk)
                    if count % self.chunk:
                        ox = count - count % self.chunk
                        self.requantize.write(self.accumulators + ox * channels, out + (first + ox) * channels,
                                              (count - ox) * channels, 1)


cdef tuple _separable_add_tables(const Params* p, bint subtract):
    """Tables t1, t2 over the 256 byte values and a shift with clamp((t1[x1] + t2[x2]) >> shift) equal to
    the reference ADD/SUB (clamped) for every one of the 65,536 input pairs, or, when no such tables are
    found, the two inputs' exact rescales and shift -1 (int8_add.h then computes the output rescale).

    The output rescale is floor((s M + 2^30 + 2^(30+e) [e > 0] - 2^31 [s < 0]) / 2^(31+e)) + zp of
    s = a + b or a - b (requantize.h): linear in s but for the sign term, which only moves ties. Each
    input's share of the numerator, shifted right by the fewest bits that keep the sum in int32, is its
    table (so any two add inside int32); the floors of the shares, the sign term and int32 wrapping may
    each change a result, so every pair is checked and one mismatch rejects the tables.
    """
    cdef int32_t[:, ::1] exact = np.empty((2, 256), np.int32)
    cdef Py_ssize_t u, v
    for u in range(256):
        exact[0, u], exact[1, u] = rescaled1(<int8_t>u, p), rescaled2(<int8_t>u, p)
    # Python integers: the shares need up to 70 bits
    cdef object e = -p.output_shift, multiplier = p.output_multiplier, zp = p.output_offset
    rounding = (1 << 30) + ((1 << (30 + e)) if e > 0 else 0) + (zp << (31 + e))
    sign = -1 if subtract else 1
    shares = ([a * multiplier + rounding for a in exact[0]], [sign * b * multiplier for b in exact[1]])
    drop = 0
    while max(abs(x >> drop) for x in shares[0]) + max(abs(x >> drop) for x in shares[1]) >= 1 << 31:
        drop += 1
    cdef int shift = 31 + e - drop
    if shift < 0 or shift > 31:
        return exact, -1
    cdef int32_t[:, ::1] tables = np.array([[x >> drop for x in share] for share in shares], np.int32)
    cdef bint same = True
    with nogil:
        for u in range(256):
            for v in range(256):
                same = same and (clamp32((tables[0, u] + tables[1, v]) >> shift, p.activation_min,
                                         p.activation_max)
                                 == clamp32(quantized_add_sub(<int8_t>u, <int8_t>v, subtract, p),
                                            p.activation_min, p.activation_max))
    return (tables, shift) if same else (exact, -1)


cdef class Int8AddStep(Step):
    """ADD or SUB of two int8 tensors with the output's element count, on flat views.

    Blocks go through int8_add.h's vector step when the CPU has one, every shift is in its range and
    the clamp range is in int8; the rest through the reference template's arithmetic (same bits).
    """
    cdef const int8_t[::1] input1
    cdef const int8_t[::1] input2
    cdef int8_t[::1] output
    cdef Params params
    cdef mi_add_params lanes
    cdef int8_t[::1] planes
    cdef bint subtract
    cdef mi_add_fn vector

    def __init__(self, input1, input2, output, dict params, bint subtract, path=None):
        """params: every field of the template's `Params` (elementwise.binary_params); path as for
        Int8ConvStep (its vector step: AVX-512, AVX2, or none on the portable paths; same bits)."""
        cdef mi_int8_path int8_path = _int8_path(path)
        self.input1, self.input2, self.output = input1, input2, output
        if not self.input1.shape[0] == self.input2.shape[0] == self.output.shape[0]:
            raise ValueError(f"int8 ADD/SUB step: {self.input1.shape[0]} and {self.input2.shape[0]} elements "
                             f"-> {self.output.shape[0]}, need equal counts")
        self.params, self.subtract = params, subtract
        cdef Params p = self.params
        self.lanes = mi_add_params(
            input1_offset=p.input1_offset, input2_offset=p.input2_offset, left_shift=p.left_shift,
            input1_multiplier=p.input1_multiplier, input1_exponent=-p.input1_shift,
            input2_multiplier=p.input2_multiplier, input2_exponent=-p.input2_shift,
            output_multiplier=p.output_multiplier, output_exponent=-p.output_shift,
            output_offset=p.output_offset, act_min=p.activation_min, act_max=p.activation_max, planes=NULL,
            separable=0, table_shift=-1)
        shifts = (p.left_shift, -p.input1_shift, -p.input2_shift, -p.output_shift)
        in_range = (all(0 <= s <= 31 for s in shifts) and -128 <= p.activation_min <= p.activation_max <= 127
                    and INT32_MIN not in (p.input1_multiplier, p.input2_multiplier, p.output_multiplier))
        self.vector = mi_select_add(subtract, int8_path if in_range else MI_INT8_PORTABLE)
        # int8_add.h's byte planes of each input's rescale, computed by the scalar step's own arithmetic; on
        # 64-byte boundaries: every block of 64 elements loads all 32 vectors of them, and from numpy's
        # 16-byte alignment each load spanned two cache lines (ResNet large's first ADD 10.0 -> 6.8 us)
        cdef bint lookup = in_range and int8_path == MI_INT8_AVX512_VNNI
        self.planes = _zeros_aligned(2 * 4 * 256 if lookup else 0, np.int8)
        cdef int32_t rescale1, rescale2
        cdef Py_ssize_t u, k
        cdef int32_t[:, ::1] tables
        if lookup:
            tables, self.lanes.table_shift = _separable_add_tables(&p, subtract)
            self.lanes.separable = self.lanes.table_shift >= 0
            for u in range(256):
                rescale1, rescale2 = tables[0, u], tables[1, u]
                for k in range(4):
                    self.planes[k * 256 + u] = <int8_t>(rescale1 >> (8 * k))
                    self.planes[(4 + k) * 256 + u] = <int8_t>(rescale2 >> (8 * k))
            self.lanes.planes = &self.planes[0]

    def buffer_bytes(self) -> int:
        return _nbytes(self.planes)

    @property
    def separable(self) -> bool:
        """Whether the blocks of 64 run from separable tables (int8_add.h), checked on every input pair."""
        return bool(self.lanes.separable)

    cdef void run(self) noexcept nogil:
        cdef Py_ssize_t n = self.output.shape[0], i
        if n == 0:
            return
        # locals, so that the int8 stores (which may alias anything) do not force reloads
        cdef Params p = self.params
        cdef const int8_t* x1 = &self.input1[0]
        cdef const int8_t* x2 = &self.input2[0]
        cdef int8_t* out = &self.output[0]
        cdef bint subtract = self.subtract
        i = self.vector(x1, x2, out, n, &self.lanes)
        while i < n:
            out[i] = <int8_t>clamp32(quantized_add_sub(x1[i], x2[i], subtract, &p), p.activation_min, p.activation_max)
            i += 1


cdef class Int8AveragePoolStep(Step):
    """AVERAGE_POOL_2D, int8, NHWC (input and output share scale and zero point, so raw values are pooled)."""
    cdef const int8_t[:, :, :, ::1] input
    cdef int8_t[:, :, :, ::1] output
    cdef int32_t[::1] sums
    cdef int stride_h, stride_w, filter_h, filter_w, pad_h, pad_w
    cdef int32_t act_min, act_max
    cdef mi_pool_sum_fn window_sums

    def __init__(self, input, output, int stride_h, int stride_w, int filter_h, int filter_w, int pad_h,
                 int pad_w, int32_t act_min, int32_t act_max, bint portable=False):
        """Arguments as for pooling.average_pool; portable forces the non-SIMD sums (same bits)."""
        self.input, self.output = input, output
        check_pool_geometry(self.input.shape[0], self.input.shape[1], self.input.shape[2], self.input.shape[3],
                            self.output.shape[0], self.output.shape[1], self.output.shape[2],
                            self.output.shape[3], stride_h, stride_w, filter_h, filter_w, pad_h, pad_w)
        self.stride_h, self.stride_w, self.filter_h, self.filter_w = stride_h, stride_w, filter_h, filter_w
        self.pad_h, self.pad_w, self.act_min, self.act_max = pad_h, pad_w, act_min, act_max
        self.sums = _zeros_aligned(max(1, self.output.shape[3]), np.int32)
        self.window_sums = mi_select_pool_sum(portable)

    def buffer_bytes(self) -> int:
        return _nbytes(self.sums)

    cdef void run(self) noexcept nogil:
        cdef Py_ssize_t batches = self.output.shape[0], out_h = self.output.shape[1]
        cdef Py_ssize_t out_w = self.output.shape[2], channels = self.output.shape[3]
        cdef Py_ssize_t in_h = self.input.shape[1], in_w = self.input.shape[2]
        cdef Py_ssize_t b, oy, ox, c, y0, x0, fy0, fy1, fx0, fx1
        cdef int32_t count
        cdef int32_t* acc = &self.sums[0]
        cdef int8_t* out
        if channels == 0:
            return
        for b in range(batches):
            for oy in range(out_h):
                pool_window(oy, self.stride_h, self.pad_h, self.filter_h, in_h, &y0, &fy0, &fy1)
                for ox in range(out_w):
                    pool_window(ox, self.stride_w, self.pad_w, self.filter_w, in_w, &x0, &fx0, &fx1)
                    self.window_sums(acc, &self.input[b, y0 + fy0, x0 + fx0, 0], in_w * channels, channels,
                                     fy1 - fy0, fx1 - fx0, channels)
                    count = <int32_t>((fy1 - fy0) * (fx1 - fx0))
                    out = &self.output[b, oy, ox, 0]
                    for c in range(channels):
                        out[c] = <int8_t>clamp32(rounded_mean(acc[c], count), self.act_min, self.act_max)


cdef class _FloatMac:
    """float32 weights packed for float_mac.h with the bias, clamp and input geometry: one kernel call sums a
    run of pixels sharing a tap range into their outputs (all channels)."""
    cdef float[::1] packed
    cdef const float[::1] bias
    cdef mi_fmac params
    cdef mi_fmac_fn kernel

    def __init__(self, weights, bias, mi_fmac_kind kind, int64_t filter_w, int64_t pixel_step, int64_t row_step,
                 int64_t col_step, float act_min, float act_max, bint portable):
        """weights: [channels, taps, depth] (conv, FC) or, depthwise, [taps, channels]; bias: one per channel;
        kind: conv and depthwise sum with fused multiply-adds, dense (FC) with TFLM's roundings (float_mac.h)."""
        cdef bint depthwise = kind == MI_FMAC_DEPTHWISE
        w = np.asarray(weights, np.float32)
        if depthwise:
            w = w.T[:, :, None]
        channels, taps, depth = w.shape
        blocks = (channels + MI_FMAC_LANES - 1) // MI_FMAC_LANES
        padded = np.zeros((blocks * MI_FMAC_LANES, taps, depth), np.float32)
        padded[:channels] = w
        # [block][tap][depth][lane]: a block's 8 channels' weights for one input value are one vector, on
        # 64-byte boundaries (numpy's 16 made every other 256-bit weight load span two cache lines)
        self.packed = _zeros_aligned(padded.size, np.float32)
        np.asarray(self.packed)[:] = padded.reshape(blocks, MI_FMAC_LANES, taps, depth).transpose(0, 2, 3, 1).reshape(-1)
        self.bias = bias
        if self.bias.shape[0] != channels:
            raise ValueError(f"{self.bias.shape[0]} bias values for {channels} channels")
        self.params = mi_fmac(&self.packed[0], &self.bias[0], filter_w, taps, depth, channels, pixel_step,
                              row_step, col_step, act_min, act_max)
        self.kernel = mi_select_fmac(kind, portable)


def _tap_range(Py_ssize_t out, int stride, int pad, int dilation, Py_ssize_t taps, Py_ssize_t size):
    """[first, last) taps of output row/column `out` that fall inside the image (first == last if none)."""
    inside = [k for k in range(taps) if 0 <= out * stride - pad + k * dilation < size]
    return (min(inside), max(inside) + 1) if inside else (0, 0)


cdef class FloatConvStep(Step):
    """CONV_2D, float32, one group (filter depth == input channels).

    Each output row is summed in runs of columns whose in-image filter columns are the same (the borders
    and the interior). When the output may overlap the input (the `inplace` planner), a row goes to a
    buffer first and is copied out once all its inputs are read; otherwise it is written in place, and a
    1x1 conv with stride 1 and no padding is one run over the whole image (more pixels per weight load).
    """
    cdef const float[:, :, :, ::1] input
    cdef float[:, :, :, ::1] output
    cdef float[::1] row
    cdef bint buffered
    cdef int64_t[:, ::1] rows  # per output row: first and last in-image filter row
    cdef int64_t[:, ::1] runs  # per run of columns: first column, count, first and last filter column
    cdef int stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left
    cdef _FloatMac mac

    def __init__(self, input, filter, bias, output, int stride_h, int stride_w, int dilation_h, int dilation_w,
                 int pad_top, int pad_left, float act_min, float act_max, bint portable=False):
        """Geometry as for conv.conv_2d, clamp [act_min, act_max]; portable forces the non-SIMD kernel (same
        bits)."""
        out_c, filter_h, filter_w, depth = filter.shape
        if input.shape[3] != depth:
            raise ValueError(f"filter depth {depth} for {input.shape[3]} input channels: grouped conv")
        self._bind(input, output, np.reshape(filter, (out_c, filter_h * filter_w, depth)), bias, False,
                   filter_h, filter_w, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, act_min,
                   act_max, portable)

    def _bind(self, input, output, weights, bias, bint depthwise, int filter_h, int filter_w, int stride_h,
              int stride_w, int dilation_h, int dilation_w, int pad_top, int pad_left, float act_min,
              float act_max, bint portable):
        self.buffered = np.may_share_memory(input, output)
        pointwise = filter_h == filter_w == stride_h == stride_w == 1 and pad_top == pad_left == 0
        if pointwise and not self.buffered and input.shape[:3] == output.shape[:3]:
            input, output = (np.reshape(a, (1, 1, -1, a.shape[3])) for a in (input, output))
        self.input, self.output = input, output
        self.stride_h, self.stride_w, self.dilation_h, self.dilation_w = stride_h, stride_w, dilation_h, dilation_w
        self.pad_top, self.pad_left = pad_top, pad_left
        _, in_h, in_w, in_c = input.shape
        _, out_h, out_w, out_c = output.shape
        if weights.shape[0 if not depthwise else 1] != out_c:
            raise ValueError(f"{out_c} output channels for filter {filter_h} x {filter_w} x {weights.shape}")
        self.rows = np.array([_tap_range(oy, stride_h, pad_top, dilation_h, filter_h, in_h) for oy in range(out_h)],
                             np.int64).reshape(out_h, 2)
        columns = [_tap_range(ox, stride_w, pad_left, dilation_w, filter_w, in_w) for ox in range(out_w)]
        starts = [ox for ox in range(out_w) if ox == 0 or columns[ox] != columns[ox - 1]]
        runs = [(ox, end - ox, *columns[ox]) for ox, end in zip(starts, starts[1:] + [out_w])]
        self.runs = np.array(runs, np.int64).reshape(-1, 4)
        self.row = np.zeros(out_w * out_c if self.buffered else 1, np.float32)
        self.mac = _FloatMac(weights, bias, MI_FMAC_DEPTHWISE if depthwise else MI_FMAC_CONV, filter_w,
                             stride_w * in_c, dilation_h * in_w * in_c,
                             dilation_w * in_c, act_min, act_max, portable)

    def buffer_bytes(self) -> int:
        return _nbytes(self.row, self.rows, self.runs, self.mac.packed)

    cdef void run(self) noexcept nogil:
        cdef Py_ssize_t batches = self.output.shape[0], out_h = self.output.shape[1]
        cdef Py_ssize_t in_w = self.input.shape[2], in_c = self.input.shape[3], channels = self.output.shape[3]
        cdef Py_ssize_t b, oy, r, ox, y, x, ky0, ky1, kx0, kx1
        cdef Py_ssize_t row_bytes = self.output.shape[2] * channels * sizeof(float)
        cdef const float* image
        cdef const float* start
        cdef float* row
        for b in range(batches):
            image = &self.input[b, 0, 0, 0]
            for oy in range(out_h):
                row = &self.row[0] if self.buffered else &self.output[b, oy, 0, 0]
                ky0, ky1 = self.rows[oy, 0], self.rows[oy, 1]
                y = oy * self.stride_h - self.pad_top + ky0 * self.dilation_h
                for r in range(self.runs.shape[0]):
                    ox, kx0, kx1 = self.runs[r, 0], self.runs[r, 2], self.runs[r, 3]
                    x = ox * self.stride_w - self.pad_left + kx0 * self.dilation_w
                    # the first pixel's first in-image tap; with no such tap nothing is read
                    start = image + (y * in_w + x) * in_c if ky0 < ky1 and kx0 < kx1 else image
                    self.mac.kernel(&self.mac.params, start, self.runs[r, 1], ky0, ky1, kx0, kx1,
                                    row + ox * channels)
                if self.buffered:
                    memcpy(&self.output[b, oy, 0, 0], row, row_bytes)


cdef class FloatDepthwiseStep(FloatConvStep):
    """DEPTHWISE_CONV_2D, float32, depth multiplier 1: FloatConvStep's rows and runs, each channel summing
    its own input channel."""

    def __init__(self, input, filter, bias, output, int stride_h, int stride_w, int dilation_h,
                 int dilation_w, int pad_top, int pad_left, float act_min, float act_max, bint portable=False):
        """Arguments as for FloatConvStep; filter [1, kh, kw, channels]."""
        _, filter_h, filter_w, channels = filter.shape
        if input.shape[3] != channels:
            raise ValueError(f"{input.shape[3]} input channels for {channels} filter channels: depth multiplier")
        self._bind(input, output, np.reshape(filter, (filter_h * filter_w, channels)), bias, True, filter_h,
                   filter_w, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, act_min, act_max,
                   portable)


cdef class FloatFullyConnectedStep(Step):
    """FULLY_CONNECTED, float32, on [batches, depth] views: a 1x1 conv whose pixels are the batch rows."""
    cdef const float[:, ::1] input
    cdef float[:, ::1] output
    cdef _FloatMac mac

    def __init__(self, input, filter, bias, output, float act_min, float act_max, bint portable=False):
        """Arguments as for fully_connected.fully_connected on the float path; portable forces the non-SIMD
        kernel (same bits)."""
        self.input, self.output = input, output
        units, depth = filter.shape
        if self.input.shape[1] != depth or self.output.shape[1] != units or self.input.shape[0] != self.output.shape[0]:
            raise ValueError(f"input {tuple(input.shape)}, filter {tuple(filter.shape)}, output {tuple(output.shape)}")
        self.mac = _FloatMac(np.reshape(filter, (units, 1, depth)), bias, MI_FMAC_DENSE, 1, depth, 0, 0, act_min, act_max,
                             portable)

    def buffer_bytes(self) -> int:
        return _nbytes(self.mac.packed)

    cdef void run(self) noexcept nogil:
        self.mac.kernel(&self.mac.params, &self.input[0, 0], self.output.shape[0], 0, 1, 0, 1, &self.output[0, 0])


include "steps_lstm.pxi"
include "steps_misc.pxi"
