"""SOFTMAX (TFLM softmax.cc, softmax_common.cc; reference Softmax, SoftmaxInt16) over the last axis, any rank.

int8 -> int8 and int8 -> int16 in gemmlowp fixed point, int16 -> int16 with TFLM's interpolated LUTs,
and float32. TFLM fixes the output quantization (int8: zero point -128, scale exactly 1/256; int8 ->
int16: zero point -32768, scale 1/65536 within 0.1%; int16: zero point 0, scale 1/32768 within 0.1%)
and derives the input multiplier from beta * input scale.
"""
from __future__ import annotations

import functools

import numpy as np

from .._kernels import softmax as softmax_kernels
from .._kernels import steps
from ..errors import SoftmaxOverflowError
from ..quantization import calculate_input_radius, quantize_multiplier, quantize_multiplier_greater_than_one
from .conv import check_int16_zero_points
from .registry import BindFn, OpContext, register

# The scaled input difference is Q5.26 (TFLM's kScaledDiffIntegerBits).
SCALED_DIFF_INTEGER_BITS = 5
#: Output (zero point, scale, relative tolerance of the scale) TFLM requires, by (input, output) type.
#: int8 -> int8 compares the float32 scale exactly with 1/256.
OUTPUT_QUANTIZATION = {("INT8", "INT8"): (-128, 1 / 256, 0.0), ("INT8", "INT16"): (-32768, 1 / 65536, 0.001),
                       ("INT16", "INT16"): (0, 1 / 32768, 0.001)}
#: SoftmaxInt16 rescales differences so that [-65535, 0] spans [-10, 0], the exp LUT's input range.
INT16_DIFF_SCALE = 10.0 / 65535.0
#: Longest int16 row whose Q16.15 sum of exponentials (each <= 32767) cannot overflow int32.
MAX_INT16_ROW = (2 ** 31 - 1) // 32767
_INT16_RANGE = np.float32(65535)


def preprocess_softmax_scaling(beta: float, input_scale: float, input_integer_bits: int) -> tuple[int, int]:
    """PreprocessSoftmaxScaling (double-rounding build): multiplier and left shift of beta * s_in in Q5.26."""
    real = min(beta * input_scale * (1 << (31 - input_integer_bits)), (1 << 31) - 1.0)
    return quantize_multiplier_greater_than_one(real)


@register("SOFTMAX")
def prepare_softmax(ctx: OpContext) -> BindFn:
    """Validate a SOFTMAX and precompute the input multiplier and shift (and cut-off difference or LUTs)."""
    ctx.expect_io(1)
    input, output = ctx.input(0), ctx.output(0)
    ctx.expect_type(input, "INT8", "INT16", "FLOAT32")
    pair = (input.type_name, output.type_name)
    if output.type_code != input.type_code and pair != ("INT8", "INT16"):
        ctx.unsupported(f"input type {input.type_name} with output type {output.type_name}")
    if len(input.shape) < 1:
        ctx.fail(f"{input.describe()} must have rank >= 1")
    if tuple(output.shape) != tuple(input.shape):
        ctx.fail(f"{output.describe()} must have the shape of {input.describe()}")
    beta = float(ctx.options.get("beta", 0.0))
    depth = input.shape[-1]
    rows = input.num_elements // depth if depth else 0

    if input.type_name == "FLOAT32":
        def bind_float(inputs, outputs, scratch):
            return steps.FloatSoftmaxStep(inputs[0].reshape(rows, depth), outputs[0].reshape(rows, depth), beta)
        return bind_float

    s_in, _ = ctx.per_tensor(input)
    check_int16_zero_points(ctx, input)
    _check_output_quantization(ctx, pair)
    if input.type_name == "INT16":
        return _prepare_int16(ctx, float(s_in), beta, rows, depth)
    try:
        multiplier, left_shift = preprocess_softmax_scaling(beta, float(s_in), SCALED_DIFF_INTEGER_BITS)
    except ValueError as e:
        ctx.fail(f"beta {beta!r} x input scale {s_in!r} is too small for TFLM's fixed-point softmax: {e}")
    diff_min = -calculate_input_radius(SCALED_DIFF_INTEGER_BITS, left_shift)
    kernel = softmax_kernels.softmax_quantized["int8_t" if output.type_name == "INT8" else "int16_t"]
    where = ctx.op.describe()

    def bind(inputs, outputs, scratch):
        if depth < steps.INT8_SOFTMAX_SAFE_DEPTH:
            return steps.Int8SoftmaxStep(inputs[0].reshape(rows, depth), outputs[0].reshape(rows, depth),
                                         multiplier, left_shift, diff_min)
        run = functools.partial(kernel, inputs[0].reshape(rows, depth), outputs[0].reshape(rows, depth),
                                multiplier, left_shift, diff_min)

        def step() -> None:
            row = run()
            if row >= 0:
                raise SoftmaxOverflowError(
                    f"{where}: row {row} sums to 2^28 or more in Q12.19 (e.g. 512+ values equal to the row "
                    f"maximum); TFLM's fixed-point reciprocal cannot represent it and TFLM aborts")
        return step
    return bind


def _check_output_quantization(ctx: OpContext, pair: tuple[str, str]) -> None:
    """The fixed output quantization TFLM's CalculateSoftmaxParams enforces (scales compared in float32)."""
    output = ctx.output(0)
    s_out, zp_out = ctx.per_tensor(output)
    zero_point, scale, tolerance = OUTPUT_QUANTIZATION[pair]
    expected, found = np.float32(scale), np.float32(s_out)
    if zp_out != zero_point or abs(found - expected) > np.float32(tolerance) * expected:
        exact = "exactly" if tolerance == 0 else f"within {tolerance:.1%} of"
        ctx.fail(f"{pair[1].lower()} output {output.describe()} of a {pair[0].lower()} softmax must have zero "
                 f"point {zero_point} and scale {exact} 1/{round(1 / scale)} (TFLM assumes it), found zero "
                 f"point {zp_out} and scale {s_out!r}")


def int16_softmax_luts() -> tuple[np.ndarray, np.ndarray]:
    """TFLM's exp LUT over [-10, 0] and 1/(1+x) LUT over [0, 1], both with the symmetric output range
    [-1, 1]: LUTPopulate<int16_t> with the float32 scales softmax_common.cc passes."""
    luts = []
    for function, input_scale, input_zero_point in ((0, np.float32(10.0) / _INT16_RANGE, 32767),
                                                    (1, np.float32(1.0) / _INT16_RANGE, -32768)):
        lut = np.empty(softmax_kernels.INT16_LUT_SIZE, np.int16)
        softmax_kernels.populate_int16_lut(function, input_scale, input_zero_point,
                                           np.float32(2.0) / _INT16_RANGE, 0, lut)
        luts.append(lut)
    return luts[0], luts[1]


def _prepare_int16(ctx: OpContext, s_in: float, beta: float, rows: int, depth: int) -> BindFn:
    """SoftmaxInt16: multiplier of s_in * beta / (10 / 65535) (double), and the two LUTs."""
    if depth > MAX_INT16_ROW:
        ctx.unsupported(f"int16 rows of {depth} values: the Q16.15 sum of exponentials can overflow int32 "
                        f"(TFLM's shift is then undefined); at most {MAX_INT16_ROW} are supported")
    multiplier, shift = quantize_multiplier(s_in * float(np.float32(beta)) / INT16_DIFF_SCALE)
    if shift > 30:
        ctx.unsupported(f"beta {beta!r} x input scale {s_in!r} is too large: TFLM's rescaling would shift "
                        f"left by {shift}")
    exp_lut, reciprocal_lut = int16_softmax_luts()
    kernel = softmax_kernels.softmax_int16

    def bind(inputs, outputs, scratch):
        return functools.partial(kernel, inputs[0].reshape(rows, depth), outputs[0].reshape(rows, depth),
                                 multiplier, shift, exp_lut, reciprocal_lut)
    return bind
