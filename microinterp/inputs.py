"""Model inputs and outputs: seeded random inputs (the same for microinterp, the CLI, the tests and the
oracles), float inputs quantized as TFLM quantizes them, quantized outputs dequantized."""
from __future__ import annotations

from typing import Any

import numpy as np

from ._kernels import quantize as quantize_kernels


def random_input(shape: tuple[int, ...], dtype: np.dtype, rng: np.random.Generator) -> np.ndarray:
    """Integers uniform over the dtype's whole range; floats standard normal; bools fair coins."""
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    return rng.standard_normal(size=shape).astype(dtype)


def random_inputs(input_details: list[dict[str, Any]], seed: int) -> list[np.ndarray]:
    """One random array per input (tf.lite input details), from one seeded generator."""
    rng = np.random.default_rng(seed)
    return [random_input(tuple(d["shape"]), d["dtype"], rng) for d in input_details]


#: Integer input types a float array can be quantized to, with the kernel's name for each.
_QUANTIZED_TYPES = {np.dtype(np.int8): "int8_t", np.dtype(np.int16): "int16_t"}


def quantize_input(value: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    """A float array converted to a quantized int8/int16 input (a tf.lite input detail) the way TFLM's
    QUANTIZE does it: clamp(int32(roundf(float32(v) / scale)) + zero point), halves away from zero.
    Any other array, or an input without quantization, is returned unchanged."""
    value = np.asarray(value)
    dtype = np.dtype(detail["dtype"])
    scale, zero_point = detail["quantization"]
    if value.dtype.kind != "f" or dtype not in _QUANTIZED_TYPES or scale == 0.0:
        return value
    flat = np.ascontiguousarray(value, dtype=np.float32).reshape(-1)
    out = np.empty(flat.shape, dtype)
    quantize_kernels.quantize_float[_QUANTIZED_TYPES[dtype]](flat, out, np.float32(scale), zero_point)
    return out.reshape(value.shape)


def dequantize(value: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """(q - zero point) x scale as float32, computed in double; arrays that are not integer, or a zero
    scale (no quantization), come back unchanged."""
    if scale == 0.0 or not np.issubdtype(value.dtype, np.integer):
        return value
    return ((value.astype(np.float64) - zero_point) * scale).astype(np.float32)
