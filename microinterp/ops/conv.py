"""CONV_2D (TFLM conv.cc, conv_common.cc; reference ConvPerChannel / float Conv).

int8 activations with int8 filters quantized per channel or per tensor (a single scale is broadcast
to every output channel), optional int32 bias; 16x8 (int16 activations, int8 filters) accumulating in
int64 (int64 bias, or none: TFLM's single-rounding int64 requantization) or int32 (int32 bias, or none
with quantized_bias_type INT32: the double-rounding one); float32 with optional float32 bias. Grouped convolution when
the filter's input depth divides the input's channels. The helpers shared with DEPTHWISE_CONV_2D,
FULLY_CONNECTED and TRANSPOSE_CONV (data paths, window geometry, requantization, bias) live here.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from .._kernels import conv as conv_kernels
from .._kernels import steps
from ..model import Tensor
from ..quantization import (activation_range_float, activation_range_quantized, compute_padding,
                            computed_out_size, quantize_multipliers,
                            MAX_INT64_REQUANT_SHIFT)
from .int4 import accepts_int4_filter
from .registry import BindFn, OpContext, register

_PADDING_NAMES = {0: "SAME", 1: "VALID"}
#: TensorType INT32, as the options' quantized_bias_type spells it.
TENSOR_TYPE_INT32 = 2


@dataclass(frozen=True)
class DataPath:
    """The kernel specialization for one TFLM data path: activation, filter and accumulator/bias types."""
    name: str
    activation: str
    weight: str
    accumulator: str
    accumulator_dtype: np.dtype
    bias_type: str

    @property
    def quantized(self) -> bool:
        return self.activation != "float"

    def kernel(self, fused_function):
        """The Cython specialization of fused_function for this path, picked once at bind time."""
        return fused_function[self.activation, self.weight, self.accumulator]


INT8_PATH = DataPath("int8", "int8_t", "int8_t", "int32_t", np.dtype(np.int32), "INT32")
INT16_PATHS = {"INT64": DataPath("16x8", "int16_t", "int8_t", "int64_t", np.dtype(np.int64), "INT64"),
               "INT32": DataPath("16x8 with int32 accumulator", "int16_t", "int8_t", "int32_t",
                                 np.dtype(np.int32), "INT32")}
FLOAT32_PATH = DataPath("float32", "float", "float", "float", np.dtype(np.float32), "FLOAT32")


def data_path(ctx: OpContext, input: Tensor, filter: Tensor, output: Tensor, bias: Tensor | None,
              int16_bias_types: tuple[str, ...] = ("INT64", "INT32"), int16_no_bias: str | None = None) -> DataPath:
    """The data path for the input/filter/output (and, for 16x8, bias) types; anything else is unsupported.

    16x8 accumulates in the bias type (TFLM templates the kernel on it); int16_bias_types lists the bias
    types the op's TFLM kernel dispatches on. Without a bias the accumulator is int16_no_bias's type, or
    by default the options' choice: TFLM accumulates in int32 only when quantized_bias_type says INT32,
    else in int64 (measured on CONV_2D and FULLY_CONNECTED).
    """
    if output.type_code != input.type_code:
        ctx.unsupported(f"input type {input.type_name} with output type {output.type_name}")
    if input.type_name == "INT8" and filter.type_name == "INT8":
        return INT8_PATH
    if input.type_name == "FLOAT32" and filter.type_name == "FLOAT32":
        return FLOAT32_PATH
    if input.type_name == "INT16" and filter.type_name == "INT8":
        if bias is not None:
            accumulator = bias.type_name
        elif int16_no_bias is not None:
            accumulator = int16_no_bias
        else:
            accumulator = "INT32" if ctx.options.get("quantized_bias_type", 0) == TENSOR_TYPE_INT32 else "INT64"
        if accumulator not in int16_bias_types:
            found = f"bias {bias.describe()} has type {bias.type_name}" if bias else f"{accumulator} accumulator"
            ctx.unsupported(f"{found}; 16x8 supports {' or '.join(int16_bias_types)} bias")
        return INT16_PATHS[accumulator]
    ctx.unsupported(f"input type {input.type_name} with filter type {filter.type_name} (supported: INT8 with "
                    f"INT8 filter, INT16 with INT8 filter, FLOAT32 with FLOAT32 filter)")


@dataclass(frozen=True)
class Window:
    """Strides, dilations and the leading padding of a 2-D window op, in the kernels' argument order."""
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    pad_top: int
    pad_left: int

    def args(self) -> tuple[int, ...]:
        return (self.stride_h, self.stride_w, self.dilation_h, self.dilation_w, self.pad_top, self.pad_left)


def padded(geometry: Window, top: int, left: int) -> Window:
    """The window over an image with top rows and left columns less in front of it (a PAD's, left out)."""
    return replace(geometry, pad_top=geometry.pad_top + top, pad_left=geometry.pad_left + left)


def column_as_row(input: np.ndarray, filter: np.ndarray, output: np.ndarray,
                  geometry: Window) -> tuple[np.ndarray, np.ndarray, np.ndarray, Window]:
    """A window op over images one pixel wide ([N, H, 1, C], filter [F, KH, 1, D]: a streaming model's
    time axis) as the same op over images one row high: [N, 1, H, C] has the same bytes, so the views
    change, not the data. The compiled steps work a row at a time; a column of H rows was H calls of one
    pixel each (str_ww's depthwise layers: a quarter of its time). Anything else is returned as it is.
    A one-wide window on a one-wide image has no width padding, so pad_left is 0 here; contiguous
    arrays (arena views are) reshape into views, so the step still writes the output's own bytes."""
    if (input.shape[2] != 1 or output.shape[2] != 1 or filter.shape[2] != 1 or output.shape[1] == 1
            or not (input.flags.c_contiguous and filter.flags.c_contiguous and output.flags.c_contiguous)):
        return input, filter, output, geometry
    n, h, _, c = input.shape
    rows = Window(1, geometry.stride_h, 1, geometry.dilation_h, 0, geometry.pad_top)
    return (input.reshape(n, 1, h, c), filter.reshape(filter.shape[0], 1, filter.shape[1], filter.shape[3]),
            output.reshape(output.shape[0], 1, output.shape[1], output.shape[3]), rows)


def window(ctx: OpContext, input: Tensor, filter_h: int, filter_w: int, output: Tensor) -> Window:
    """Validate strides, dilations and padding, and check the model's output H/W against them.

    TFLM loops over the model's output dims and derives only the padding from the options; a model
    whose output size disagrees with its own padding is rejected here rather than guessed at.
    """
    opts = ctx.options
    padding = opts.get("padding", 0)
    if padding not in _PADDING_NAMES:
        ctx.fail(f"unknown padding {padding} (expected 0 = SAME or 1 = VALID)")
    stride_h, stride_w = opts.get("stride_h", 0), opts.get("stride_w", 0)
    dilation_h, dilation_w = opts.get("dilation_h_factor", 1), opts.get("dilation_w_factor", 1)
    for name, value in (("stride_h", stride_h), ("stride_w", stride_w),
                        ("dilation_h_factor", dilation_h), ("dilation_w_factor", dilation_w)):
        if value <= 0:
            ctx.fail(f"{name} must be positive, found {value}")
    in_h, in_w = input.shape[1], input.shape[2]
    expected = (computed_out_size(in_h, filter_h, stride_h, dilation_h, padding),
                computed_out_size(in_w, filter_w, stride_w, dilation_w, padding))
    if tuple(output.shape[1:3]) != expected:
        ctx.fail(f"{output.describe()} has height x width {output.shape[1]} x {output.shape[2]}, but "
                 f"{_PADDING_NAMES[padding]} padding of a {in_h} x {in_w} input with a {filter_h} x {filter_w} "
                 f"filter, strides {stride_h} x {stride_w} and dilations {dilation_h} x {dilation_w} "
                 f"gives {expected[0]} x {expected[1]}")
    return Window(stride_h, stride_w, dilation_h, dilation_w,
                  compute_padding(in_h, filter_h, stride_h, dilation_h, padding),
                  compute_padding(in_w, filter_w, stride_w, dilation_w, padding))


@dataclass(frozen=True)
class Requantization:
    """Per-output-channel requantization and clamp range, in the kernels' argument order."""
    input_zp: int
    output_zp: int
    multiplier: np.ndarray
    shift: np.ndarray
    act_min: int | float
    act_max: int | float

    def args(self) -> tuple:
        return (self.input_zp, self.output_zp, self.multiplier, self.shift, self.act_min, self.act_max)


def requantization(ctx: OpContext, path: DataPath, input: Tensor, filter: Tensor, output: Tensor,
                   channels: int) -> Requantization:
    """PopulateConvolutionQuantizationParams: one multiplier per channel, double(s_in) * double(s_w) / double(s_out).

    A single filter scale is broadcast to every channel; more must match the size of the filter's
    quantized_dimension and the channel count. The filter zero point is not used here (conv ignores
    it, as TFLM's per-channel kernels do). On the float path the arrays are placeholders the kernel
    never reads and the clamp bounds are float.
    """
    activation = ctx.options.get("fused_activation_function", 0)
    if not path.quantized:
        lo, hi = activation_range_float(activation)
        return Requantization(0, 0, np.zeros(channels, np.int32), np.zeros(channels, np.int32), lo, hi)
    s_in, zp_in = ctx.per_tensor(input)
    s_out, zp_out = ctx.per_tensor(output)
    check_int16_zero_points(ctx, input, output)
    q = ctx.quantization(filter)
    if q.scales.size not in (1, channels):
        ctx.fail(f"{filter.describe()} has {q.scales.size} quantization scales, expected 1 or {channels} "
                 f"(one per output channel)")
    if q.per_channel:
        dim = q.quantized_dimension
        if not 0 <= dim < len(filter.shape) or filter.shape[dim] != q.scales.size:
            ctx.fail(f"{filter.describe()} has {q.scales.size} scales along quantized_dimension {dim}, "
                     f"which does not index a dimension of that size")
    filter_scales = np.broadcast_to(q.scales.astype(np.float64), (channels,))
    multiplier, shift = quantize_multipliers(float(s_in) * filter_scales / float(s_out))
    if path.accumulator == "int64_t" and shift.max() > MAX_INT64_REQUANT_SHIFT:
        ctx.unsupported(f"effective scale s_in * s_w / s_out reaches 2^{int(shift.max()) - 1}; TFLM's int64 "
                        f"requantization shifts by 15 - shift and is undefined beyond shift "
                        f"{MAX_INT64_REQUANT_SHIFT}")
    lo, hi = activation_range_quantized(activation, s_out, zp_out, input.dtype)
    return Requantization(zp_in, zp_out, multiplier, shift, lo, hi)


def check_int16_zero_points(ctx: OpContext, *tensors: Tensor) -> None:
    """int16 activations are symmetric (zero point 0) in the quantization spec. Some TFLM kernels check
    it (SOFTMAX); its 16x8 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED / TRANSPOSE_CONV kernels assume
    it without checking and silently drop any other zero point. LiteRT rejects such models, and so do
    we rather than compute a result that ignores part of the quantization."""
    for t in tensors:
        if t.type_name == "INT16" and t.quantization is not None and t.quantization.zero_point != 0:
            ctx.fail(f"int16 {t.describe()} has zero point {t.quantization.zero_point}, expected 0 "
                     f"(int16 quantization is symmetric)")


def check_bias(ctx: OpContext, path: DataPath, bias: Tensor | None, channels: int) -> None:
    """The optional bias must have the path's type and one value per output channel (any rank; TFLM
    reads it flat and ignores its quantization)."""
    if bias is None:
        return
    if bias.type_name != path.bias_type:
        ctx.unsupported(f"bias {bias.describe()} has type {bias.type_name}, expected {path.bias_type} "
                        f"for {path.name} activations")
    if bias.num_elements != channels:
        ctx.fail(f"bias {bias.describe()} has {bias.num_elements} elements, expected {channels} "
                 f"(one per output channel)")


def has_fixed_weights(filter: Tensor) -> bool:
    """Whether the filter's values are known at bind time (a constant, not a variable), so a fast kernel
    may repack them once."""
    return filter.is_constant and not filter.is_variable


def bias_view(path: DataPath, bias: np.ndarray | None, channels: int) -> np.ndarray:
    """The bias as a flat array; an omitted bias is zeros, which is the same arithmetic as TFLM's skip
    (float: TFLM adds 0.0f too)."""
    if bias is None:
        return np.zeros(channels, path.accumulator_dtype)
    return bias.reshape(-1)


def filter_op_dims(ctx: OpContext, input: Tensor, filter: Tensor, output: Tensor) -> tuple[int, ...]:
    """Check the rank-4 NHWC input/output and [out_channels, h, w, depth] filter of a conv-like op agree
    on batch and output channels; returns (batches, in_channels, out_channels, filter_h, filter_w, depth)."""
    for t in (input, filter, output):
        ctx.expect_rank(t, 4)
    batches, _, _, in_channels = input.shape
    out_channels, filter_h, filter_w, filter_depth = filter.shape
    if min(filter.shape) <= 0:
        ctx.fail(f"filter {filter.describe()} has an empty dimension")
    if output.shape[0] != batches:
        ctx.fail(f"{output.describe()} has batch {output.shape[0]}, input has {batches}")
    if output.shape[3] != out_channels:
        ctx.fail(f"{output.describe()} has {output.shape[3]} channels, filter has {out_channels} output channels")
    return batches, in_channels, out_channels, filter_h, filter_w, filter_depth


def padded_image_fits(input: Tensor, output: Tensor, filter_h: int, filter_w: int, geometry: Window) -> bool:
    """Whether the fast kernel's zero-padded int16 copy of the input stays near the input's size: a
    window reach far beyond the image (huge dilations) is left to the reference kernel, which needs no
    copy."""
    shape = steps.conv_image_shape(input.shape, output.shape, filter_h, filter_w, *geometry.args())
    return int(np.prod(shape, dtype=np.int64)) <= 4 * input.num_elements + 65536


@register("CONV_2D")
@accepts_int4_filter
def prepare_conv_2d(ctx: OpContext) -> BindFn:
    """Validate a CONV_2D and precompute padding and per-channel requantization."""
    ctx.expect_io((2, 3))
    input, filter, output = ctx.input(0), ctx.input(1), ctx.output(0)
    bias = ctx.optional_input(2)
    path = data_path(ctx, input, filter, output, bias)
    _, in_channels, out_channels, filter_h, filter_w, filter_depth = filter_op_dims(ctx, input, filter, output)
    if in_channels % filter_depth or in_channels == 0:
        ctx.fail(f"input {input.describe()} has {in_channels} channels, not a positive multiple of the "
                 f"filter's input depth {filter_depth}")
    groups = in_channels // filter_depth
    if out_channels % groups:
        ctx.fail(f"{out_channels} output channels cannot be split into {groups} groups "
                 f"({in_channels} input channels / filter input depth {filter_depth})")
    check_bias(ctx, path, bias, out_channels)
    geometry = window(ctx, input, filter_h, filter_w, output)
    requant = requantization(ctx, path, input, filter, output, out_channels)
    kernel = path.kernel(conv_kernels.conv_2d)
    compiled = groups == 1 and has_fixed_weights(filter) and min(output.shape) > 0
    fast = compiled and path == INT8_PATH and padded_image_fits(input, output, filter_h, filter_w, geometry)
    fast_float = compiled and path == FLOAT32_PATH

    def bind(inputs, outputs, scratch, padding=(0, 0)):
        bias_values = bias_view(path, inputs[2] if len(inputs) > 2 else None, out_channels)
        if fast or fast_float:
            image, weights, out, rows = column_as_row(inputs[0], inputs[1], outputs[0], padded(geometry, *padding))
            if fast:
                return steps.Int8ConvStep(image, weights, bias_values, out, *rows.args(), *requant.args())
            return steps.FloatConvStep(image, weights, bias_values, out, *rows.args(), requant.act_min,
                                       requant.act_max)
        return functools.partial(kernel, inputs[0], inputs[1], bias_values, outputs[0],
                                 *geometry.args(), *requant.args())

    def bind_padded(inputs, outputs, scratch, top, left):
        # the conv step reads its image while writing its output: only apart from it
        if np.shares_memory(inputs[0], outputs[0]):
            return None
        return bind(inputs, outputs, scratch, (top, left))

    if fast:
        ctx.declare_padded_reader(bind_padded)
    return bind
