"""TFLM signal library, spectrum to features: SignalFilterBank, SignalFilterBankSquareRoot,
SignalFilterBankSpectralSubtraction, SignalPCAN and SignalFilterBankLog
(signal/micro/kernels/filter_bank*.cc, pcan.cc), bit-exact.

SpectralSubtraction keeps its noise estimate across invokes (TFLM's persistent buffer, zeroed by its
Reset): here an OpContext.persistent array, zeroed by reset_all_variables(). The filter bank's
channel tables must be constants, so every index they make is checked once at prepare (TFLM reads
wherever they point); shift counts from the options are checked against the width they shift.
"""
from __future__ import annotations

import functools

import numpy as np

from .._kernels import signal_frontend
from ..model import Tensor
from .signal_common import option_in_range, read_options, typed_io
from .registry import BindFn, OpContext, register_custom

#: WideDynamicFunction reads lut[4 * 32 - 6 + 2] for the largest noise estimates.
_PCAN_LUT_ENTRIES = 125


def _vectors(ctx: OpContext, inputs: tuple[str, ...], outputs: tuple[str, ...]) -> tuple[list[Tensor], list[Tensor]]:
    """typed_io, every tensor of rank 1."""
    ins, outs = typed_io(ctx, inputs, outputs)
    for t in ins + outs:
        ctx.expect_rank(t, 1)
    return ins, outs


def _check_channel_tables(ctx: OpContext, tables: list[np.ndarray], bins: int, weights: int,
                          channels: int) -> None:
    """Every channel's bins and weights lie inside the spectrum and the weight tables."""
    freq_starts, weight_starts, widths = (t.astype(np.int64) for t in tables)
    for name, table in (("frequency starts", freq_starts), ("weight starts", weight_starts),
                        ("channel widths", widths)):
        if table.size < channels + 1:
            ctx.fail(f"channel {name} hold {table.size} entries, num_channels + 1 = {channels + 1} needed")
    freq_starts, weight_starts, widths = freq_starts[:channels + 1], weight_starts[:channels + 1], \
        widths[:channels + 1]
    used = widths > 0
    span = np.where(used, widths, 0)
    if (used & ((freq_starts < 0) | (freq_starts + span > bins))).any():
        ctx.fail(f"a filter bank channel reads spectrum bins outside the {bins} of the input")
    if (used & ((weight_starts < 0) | (weight_starts + span > weights))).any():
        ctx.fail(f"a filter bank channel reads weights outside the {weights} of the weight tables")


@register_custom("SignalFilterBank")
def prepare_filter_bank(ctx: OpContext) -> BindFn:
    """Triangular mel filters over an energy spectrum: uint64 channel sums."""
    (input, *tables), (output,) = _vectors(ctx, ("UINT32",) + ("INT16",) * 5, ("UINT64",))
    channels = option_in_range(ctx, read_options(ctx, ("num_channels",)), "num_channels", 1, 1 << 20)
    if output.num_elements > channels:
        ctx.fail(f"{output.describe()} has more than num_channels = {channels} entries")
    weights, unweights = (ctx.expect_constant(t) for t in tables[:2])
    if weights.size != unweights.size:
        ctx.fail(f"weights {tables[0].describe()} and unweights {tables[1].describe()} differ in length")
    _check_channel_tables(ctx, [ctx.expect_constant(t) for t in tables[2:]], input.num_elements, weights.size,
                          channels)
    work = np.zeros(channels + 1, np.uint64)  # TFLM's persistent work area, rewritten every invoke

    def bind(inputs, outputs, scratch):
        freq_starts, weight_starts, widths = (x[:channels + 1] for x in inputs[3:6])
        return functools.partial(signal_frontend.filter_bank, inputs[0], inputs[1], inputs[2], freq_starts,
                                 weight_starts, widths, work, outputs[0])
    return bind


@register_custom("SignalFilterBankSquareRoot")
def prepare_filter_bank_square_root(ctx: OpContext) -> BindFn:
    """Integer square root of each channel, shifted right by the scale bits input (FftAutoScale's)."""
    (input, scale_bits), (output,) = typed_io(ctx, ("UINT64", "INT32"), ("UINT32",))
    ctx.expect_rank(input, 1)
    ctx.expect_rank(output, 1)
    ctx.expect_rank(scale_bits, 0)
    if output.num_elements != input.num_elements:
        ctx.fail(f"{output.describe()} must have the {input.num_elements} channels of {input.describe()}")

    def bind(inputs, outputs, scratch):
        return functools.partial(signal_frontend.filter_bank_square_root, inputs[0], inputs[1].reshape(1),
                                 outputs[0])
    return bind


_SUBTRACTION_KEYS = ("alternate_one_minus_smoothing", "alternate_smoothing", "clamping", "min_signal_remaining",
                     "num_channels", "one_minus_smoothing", "smoothing", "smoothing_bits",
                     "spectral_subtraction_bits")


@register_custom("SignalFilterBankSpectralSubtraction")
def prepare_spectral_subtraction(ctx: OpContext) -> BindFn:
    """Subtract a running noise estimate per channel; output 1 is the estimate, kept across invokes."""
    (input,), (output, noise_output) = _vectors(ctx, ("UINT32",), ("UINT32", "UINT32"))
    options = read_options(ctx, _SUBTRACTION_KEYS)
    channels = options["num_channels"]
    for t in (input, output, noise_output):
        if t.num_elements != channels:
            ctx.fail(f"{t.describe()} must have num_channels = {channels} entries")
    smoothing_bits = option_in_range(ctx, options, "smoothing_bits", 0, 31)
    subtraction_bits = option_in_range(ctx, options, "spectral_subtraction_bits", 0, 63)
    # TFLM stores the int32 options in uint32 fields.
    coefficients = [options[k] & 0xFFFFFFFF for k in ("smoothing", "one_minus_smoothing", "alternate_smoothing",
                                                      "alternate_one_minus_smoothing", "min_signal_remaining")]
    noise = ctx.persistent(channels, np.uint32)

    def bind(inputs, outputs, scratch):
        return functools.partial(signal_frontend.spectral_subtraction, inputs[0], outputs[0], outputs[1], noise,
                                 *coefficients, smoothing_bits, subtraction_bits, bool(options["clamping"]))
    return bind


@register_custom("SignalPCAN")
def prepare_pcan(ctx: OpContext) -> BindFn:
    """Per-channel energy normalization: a gain looked up from the noise estimate, then compression."""
    (input, noise, lut), (output,) = _vectors(ctx, ("UINT32", "UINT32", "INT16"), ("UINT32",))
    if input.num_elements == 0 or not input.num_elements == noise.num_elements == output.num_elements:
        ctx.fail(f"{input.describe()}, noise estimate {noise.describe()} and {output.describe()} must have "
                 f"the same positive length")
    if lut.num_elements < _PCAN_LUT_ENTRIES:
        ctx.fail(f"gain table {lut.describe()} must hold at least {_PCAN_LUT_ENTRIES} entries")
    snr_shift = option_in_range(ctx, read_options(ctx, ("snr_shift",)), "snr_shift", 0, 63)

    def bind(inputs, outputs, scratch):
        return functools.partial(signal_frontend.pcan, inputs[0], inputs[1], inputs[2], outputs[0], snr_shift)
    return bind


@register_custom("SignalFilterBankLog")
def prepare_filter_bank_log(ctx: OpContext) -> BindFn:
    """Fixed-point natural log of each channel, times output_scale, capped at INT16_MAX."""
    (input,), (output,) = _vectors(ctx, ("UINT32",), ("INT16",))
    if output.num_elements != input.num_elements:
        ctx.fail(f"{output.describe()} must have the {input.num_elements} channels of {input.describe()}")
    options = read_options(ctx, ("input_correction_bits", "output_scale"))
    correction_bits = option_in_range(ctx, options, "input_correction_bits", 0, 31)

    def bind(inputs, outputs, scratch):
        return functools.partial(signal_frontend.filter_bank_log, inputs[0], outputs[0],
                                 options["output_scale"] & 0xFFFFFFFF, correction_bits)
    return bind
