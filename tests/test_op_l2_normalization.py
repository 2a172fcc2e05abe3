"""L2_NORMALIZATION: int8 (fixed-point inverse square root) and float32, bit-exact with TFLM over the last
axis of ranks 1 to 4."""
from __future__ import annotations

import numpy as np
import pytest

from microinterp import InconsistentModelError, Interpreter, UnsupportedOperatorError
from opmodels import Case, Op, T, compare_cases_with_tflm, single_op_model

OUT_INT8 = (1 / 128, 0)


def l2_case(dtype: str, shape, in_quant=(0.05, 0), out_quant=OUT_INT8) -> Case:
    quant = in_quant if dtype == "INT8" else (None, None)
    out_q = out_quant if dtype == "INT8" else (None, None)
    return Case(f"L2_NORMALIZATION {dtype} {list(shape)} quant {quant}",
                Op("L2_NORMALIZATION", "L2NormOptions", {"fused_activation_function": 0}),
                [T(dtype, shape, *quant)], [T(dtype, shape, *out_q)])


def rows(rng: np.random.Generator, t: T) -> np.ndarray:
    """Random rows, then rows equal to the zero point (zero norm), a single non-zero value, all extremes,
    and tiny values (the float epsilon)."""
    flat_shape = (-1, t.shape[-1])
    if t.type == "INT8":
        zp = 0 if t.zero_point is None else int(t.zero_point)
        v = rng.integers(-128, 128, tuple(t.shape), dtype=np.int8)
        r = v.reshape(flat_shape)
        specials = [np.full(r.shape[1], zp), np.where(np.arange(r.shape[1]) == 0, min(zp + 1, 127), zp),
                    np.full(r.shape[1], -128), np.full(r.shape[1], 127)]
    else:
        v = (rng.standard_normal(tuple(t.shape)) * rng.choice([0.01, 1.0, 300.0])).astype(np.float32)
        r = v.reshape(flat_shape)
        specials = [np.zeros(r.shape[1]), np.full(r.shape[1], 1e-9), np.full(r.shape[1], -2.5)]
    for i, special in zip(range(1, r.shape[0]), specials):
        r[i] = special
    return v


SHAPES = [(6, 10), (1, 3, 5, 16), (5, 1), (7, 255), (2, 3, 4), (40,), (5, 2000)]


def test_int8_l2_normalization_matches_tflm(oracle):
    quants = [(0.05, 0), (0.1, -128), (0.02, 127), (0.3, 5), (0.01, -20), (1.0, 0), (0.05, 3)]
    cases = [l2_case("INT8", shape, quant) for shape, quant in zip(SHAPES, quants)]
    compare_cases_with_tflm(oracle, cases, seeds=(0, 1, 2), values=rows)


def test_float_l2_normalization_matches_tflm(oracle):
    compare_cases_with_tflm(oracle, [l2_case("FLOAT32", shape) for shape in SHAPES], seeds=(0, 1, 2), values=rows)


def _allocate(case: Case) -> None:
    Interpreter(model_content=single_op_model(case.op, case.inputs, case.outputs)).allocate_tensors()


@pytest.mark.parametrize("out_quant", [(1 / 128, 1), (1 / 127, 0)])
def test_int8_output_quantization_other_than_1_over_128_is_inconsistent(out_quant):
    with pytest.raises(InconsistentModelError, match=r"op 0 \(L2_NORMALIZATION\).*1/128"):
        _allocate(l2_case("INT8", (2, 4), out_quant=out_quant))


def test_shape_mismatch_is_inconsistent():
    case = l2_case("FLOAT32", (2, 4))
    case.outputs[0].shape = (2, 5)
    with pytest.raises(InconsistentModelError, match=r"op 0 \(L2_NORMALIZATION\).*shape"):
        _allocate(case)


def test_int16_rank_5_and_fused_activation_are_unsupported():
    with pytest.raises(UnsupportedOperatorError, match=r"op 0 \(L2_NORMALIZATION\).*INT16"):
        _allocate(l2_case("INT16", (2, 4), (0.001, 0), (1 / 32768, 0)))
    with pytest.raises(UnsupportedOperatorError, match=r"op 0 \(L2_NORMALIZATION\).*rank 5"):
        _allocate(l2_case("FLOAT32", (1, 1, 1, 2, 4)))
    case = l2_case("FLOAT32", (2, 4))
    case.op.options["fused_activation_function"] = 1
    with pytest.raises(UnsupportedOperatorError, match=r"op 0 \(L2_NORMALIZATION\).*activation"):
        _allocate(case)
