"""TFLM signal library, time to spectrum: SignalWindow, SignalFftAutoScale, SignalRfft, SignalIrfft and
SignalEnergy (signal/micro/kernels/{window,fft_auto_scale,rfft,irfft,energy}.cc), bit-exact.

Options are flexbuffer maps (signal_common.py). TFLM checks little beyond types and ranks; here
every size the kernels index with is checked at prepare: a window whose length does not divide the
input, an FFT length that is odd or shorter than the input, output rows of another length than the
kernel writes, or energy bins outside the spectrum fail naming the op.

Rfft requests TFLM's scratch buffer (fft_length samples, the zero-padded frame), so the planned head
stays TFLM's; the FFT plan (twiddles, KISS FFT's work buffers) is TFLM's persistent Init-time state
and lives outside the arena.
"""
from __future__ import annotations

import functools

import numpy as np

from .._kernels import kissfft, signal_frontend
from ..model import Tensor
from .signal_common import option_in_range, read_options, typed_io
from .registry import BindFn, OpContext, register_custom

#: The flexbuffer 'T' of Rfft/Irfft (a TensorType code) -> tensor type name and kernel scalar type.
_FFT_TYPES = {7: ("INT16", "int16_t"), 2: ("INT32", "int32_t"), 0: ("FLOAT32", "float")}


def _same_size(ctx: OpContext, a: Tensor, b: Tensor) -> None:
    if a.num_elements != b.num_elements:
        ctx.fail(f"{b.describe()} must have the {a.num_elements} elements of {a.describe()}")


@register_custom("SignalWindow")
def prepare_window(ctx: OpContext) -> BindFn:
    """Multiply each len(weights) block of the input by the window, shift right, saturate to int16."""
    (input, weights), (output,) = typed_io(ctx, ("INT16", "INT16"), ("INT16",))
    ctx.expect_rank(weights, 1)
    if not input.shape or len(input.shape) != len(output.shape):
        ctx.fail(f"{input.describe()} and {output.describe()} must have the same rank, at least 1")
    _same_size(ctx, input, output)
    shift = option_in_range(ctx, read_options(ctx, ("shift",)), "shift", 0, 31)
    if weights.num_elements == 0 or input.num_elements % weights.num_elements:
        ctx.fail(f"window {weights.describe()} length must divide the {input.num_elements} input samples")

    def bind(inputs, outputs, scratch):
        return functools.partial(signal_frontend.window, inputs[0].reshape(-1), inputs[1], outputs[0].reshape(-1),
                                 shift)
    return bind


@register_custom("SignalFftAutoScale")
def prepare_fft_auto_scale(ctx: OpContext) -> BindFn:
    """Scale a frame up to the full int16 range; output 1 is the left shift applied."""
    (input,), (output, scale_bits) = typed_io(ctx, ("INT16",), ("INT16", "INT32"))
    ctx.expect_rank(input, 1)
    ctx.expect_rank(output, 1)
    ctx.expect_rank(scale_bits, 0)
    _same_size(ctx, input, output)

    def bind(inputs, outputs, scratch):
        return functools.partial(signal_frontend.fft_auto_scale, inputs[0], outputs[0], outputs[1].reshape(1))
    return bind


def _kiss_factors(n: int) -> np.ndarray:
    """KISS FFT's kf_factor: radix 4s first, then 2, then odd factors; the rest as one last radix."""
    factors, p, limit = [], 4, int(np.floor(np.sqrt(n)))
    while True:
        while n % p:
            p = {4: 2, 2: 3}.get(p, p + 2)
            if p > limit:
                p = n
        n //= p
        factors += [p, n]
        if n <= 1:
            return np.array(factors, np.int32)


class _FftPlan:
    """What KISS FFT's alloc computes for one length and direction, plus its work buffers."""

    def __init__(self, fft_length: int, dtype: np.dtype, scalar: str, inverse: bool):
        ncfft = fft_length // 2
        self.factors = _kiss_factors(ncfft)
        self.twiddles = np.zeros(2 * ncfft, dtype)
        self.super_twiddles = np.zeros(2 * (ncfft // 2), dtype)
        kissfft.make_plan[scalar](self.twiddles, self.super_twiddles, inverse)
        self.tmpbuf = np.zeros(2 * ncfft, dtype)


def _fft_options(ctx: OpContext, tensor: Tensor) -> tuple[int, str]:
    """(fft_length, kernel scalar type) from the options, checked against the tensor type."""
    options = read_options(ctx, ("T", "fft_length"))
    if options["T"] not in _FFT_TYPES:
        ctx.unsupported(f"custom option 'T' = {options['T']} (supported: INT16, INT32, FLOAT32 type codes)")
    type_name, scalar = _FFT_TYPES[options["T"]]
    if tensor.type_name != type_name:
        ctx.fail(f"{tensor.describe()} must have type {type_name} (custom option 'T' = {options['T']})")
    fft_length = options["fft_length"]
    if fft_length < 2 or fft_length % 2:
        ctx.fail(f"custom option 'fft_length' = {fft_length} must be even and at least 2")
    half = fft_length // 2
    for radix in (2, 3, 5):
        while half % radix == 0:
            half //= radix
    if half != 1 or fft_length == 2:
        # KISS FFT's generic butterfly allocates from the heap, which TFLM does not have: it crashes.
        ctx.unsupported(f"custom option 'fft_length' = {fft_length}: fft_length / 2 must be above 1 with no "
                        f"prime factor above 5 (TFLM crashes on other lengths)")
    return fft_length, scalar


def _rows(ctx: OpContext, input: Tensor, output: Tensor, output_last: int) -> int:
    """Both tensors hold the same rows (leading dimensions); the output's rows hold output_last values."""
    if not input.shape or len(input.shape) != len(output.shape):
        ctx.fail(f"{input.describe()} and {output.describe()} must have the same rank, at least 1")
    if tuple(input.shape[:-1]) != tuple(output.shape[:-1]):
        ctx.fail(f"{output.describe()} must have the leading dimensions of {input.describe()}")
    if output.shape[-1] != output_last:
        ctx.fail(f"{output.describe()} rows must hold {output_last} values")
    return int(np.prod(input.shape[:-1], dtype=np.int64))


@register_custom("SignalRfft")
def prepare_rfft(ctx: OpContext) -> BindFn:
    """Real FFT of each input row zero-padded to fft_length: fft_length / 2 + 1 complex bins per row."""
    ctx.expect_io(1, 1)
    input, output = ctx.input(0), ctx.output(0)
    fft_length, scalar = _fft_options(ctx, input)
    ctx.expect_type(output, input.type_name)
    rows = _rows(ctx, input, output, 2 * (fft_length // 2 + 1))
    length = input.shape[-1]
    if not 0 < length <= fft_length:
        ctx.fail(f"{input.describe()} rows of {length} samples must be 1 to fft_length = {fft_length}")
    dtype = input.dtype
    plan = _FftPlan(fft_length, dtype, scalar, inverse=False)
    ctx.request_scratch(fft_length * dtype.itemsize, like_tflm=True)
    kernel = kissfft.rfft[scalar]

    def bind(inputs, outputs, scratch):
        return functools.partial(kernel, inputs[0].reshape(rows, length), outputs[0].reshape(rows, -1),
                                 scratch[0].view(dtype), plan.tmpbuf, plan.twiddles, plan.super_twiddles,
                                 plan.factors)
    return bind


@register_custom("SignalIrfft")
def prepare_irfft(ctx: OpContext) -> BindFn:
    """Inverse real FFT of each row's first fft_length / 2 + 1 complex bins: fft_length samples per row
    (float results divided by fft_length, fixed point scaled by KISS FFT's per-stage division)."""
    ctx.expect_io(1, 1)
    input, output = ctx.input(0), ctx.output(0)
    fft_length, scalar = _fft_options(ctx, input)
    ctx.expect_type(output, input.type_name)
    rows = _rows(ctx, input, output, fft_length)
    if input.shape[-1] % 2 or input.shape[-1] // 2 < fft_length // 2 + 1:
        ctx.fail(f"{input.describe()} rows must hold at least fft_length / 2 + 1 = {fft_length // 2 + 1} "
                 f"complex values (an even count of scalars)")
    plan = _FftPlan(fft_length, input.dtype, scalar, inverse=True)
    kernel = kissfft.irfft[scalar]

    def bind(inputs, outputs, scratch):
        return functools.partial(kernel, inputs[0].reshape(rows, -1), outputs[0].reshape(rows, fft_length),
                                 plan.tmpbuf, plan.twiddles, plan.super_twiddles, plan.factors)
    return bind


@register_custom("SignalEnergy")
def prepare_energy(ctx: OpContext) -> BindFn:
    """|X|^2 of the complex bins start_index..end_index-1; TFLM leaves the other outputs unwritten."""
    (input,), (output,) = typed_io(ctx, ("INT16",), ("UINT32",))
    ctx.expect_rank(input, 1)
    ctx.expect_rank(output, 1)
    options = read_options(ctx, ("end_index", "start_index"))
    start, end = options["start_index"], options["end_index"]
    bins = min(input.num_elements // 2, output.num_elements)
    if not 0 <= start <= bins or not 0 <= end <= bins:
        ctx.fail(f"energy bins [{start}, {end}) must lie within the {bins} bins of {input.describe()} "
                 f"and {output.describe()}")

    def bind(inputs, outputs, scratch):
        return functools.partial(signal_frontend.energy, inputs[0], outputs[0], start, end)
    return bind
