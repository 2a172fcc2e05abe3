"""QUANTIZE (float32 -> int8/int16, integer requantization between TFLM's type pairs) and DEQUANTIZE
(int8/int16 -> float32), bit-exact with TFLM."""
from __future__ import annotations

import numpy as np
import pytest

from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from microinterp.ops.quantize import REQUANTIZE_PAIRS
from opmodels import Case, Op, T, compare_cases_with_tflm, prepare_op, single_op_model

N = 256
# (scale, zero point) pairs: tiny to coarse scales, zero points across the range.
QUANTS = [(0.02, 3), (0.0039215689, -128), (0.3, 127), (1.7e-4, -5), (1.0, 0)]
# (scale, zero point) per type for the requantization sweep: int16 is usually symmetric, but TFLM's
# requantization honours any zero point; int32 inputs are accumulators with tiny scales.
TYPE_QUANTS = {"INT8": [(0.02, 3), (0.3, -128)], "UINT8": [(0.02, 128), (0.011, 3)],
               "INT16": [(6e-4, 0), (3e-5, 12), (0.02, -300)], "INT32": [(1e-6, 0), (2.3e-8, -1000)]}


def quantize_case(in_dtype: str, in_quant, out_quant, out_dtype: str = "INT8", shape=(N,)) -> Case:
    return Case(f"QUANTIZE {in_dtype} {in_quant} -> {out_dtype} {out_quant}", Op("QUANTIZE"),
                [T(in_dtype, shape, *in_quant)], [T(out_dtype, shape, *out_quant)])


def dequantize_case(in_quant, shape=(N,), dtype="INT8") -> Case:
    return Case(f"DEQUANTIZE {dtype} {in_quant}", Op("DEQUANTIZE"), [T(dtype, shape, *in_quant)],
                [T("FLOAT32", shape)])


def float_values(scale: float, spread: int = 60):
    """Random values over about +-spread steps, exact halves of the scale, saturating and non-finite values."""
    def make(rng: np.random.Generator, t: T) -> np.ndarray:
        step = np.float32(scale)
        v = (rng.standard_normal(N) * step * spread).astype(np.float32)
        # Halves of the step (exact when the scale is a power of two): roundf sends them away from zero.
        v[:64] = (rng.integers(-spread * 5 // 2, spread * 5 // 2, 64) + np.float32(0.5)) * step
        v[64:72] = [np.inf, -np.inf, np.nan, 3e9, -3e9, 1e38, -0.0, 1e-45]
        return v
    return make


def test_float_to_int8_matches_tflm_on_ties_saturation_and_non_finite_values(oracle):
    quants = QUANTS + [(0.25, -3), (2.0 ** -7, 100)]
    cases = []
    for q in quants:
        case = quantize_case("FLOAT32", (None, None), q)
        case.values = float_values(q[0])
        cases.append(case)
    compare_cases_with_tflm(oracle, cases, seeds=(0, 1))


def test_float_to_int16_matches_tflm_on_ties_saturation_and_non_finite_values(oracle):
    cases = []
    for q in [(6e-4, 0), (2.0 ** -12, 0), (3e-5, 7), (1.0, -20)]:
        case = quantize_case("FLOAT32", (None, None), q, out_dtype="INT16")
        case.values = float_values(q[0], spread=15000)
        cases.append(case)
    compare_cases_with_tflm(oracle, cases, seeds=(0, 1))


def test_int8_requantize_matches_tflm_for_growing_and_shrinking_scales(oracle):
    pairs = [(QUANTS[i], QUANTS[j]) for i in range(len(QUANTS)) for j in range(len(QUANTS)) if i != j]
    compare_cases_with_tflm(oracle, [quantize_case("INT8", a, b) for a, b in pairs], seeds=(0, 1))


def test_requantize_between_every_type_pair_tflm_supports_matches_tflm(oracle):
    # Full-range inputs: saturation at both ends of every output type, zero-point wrap for int32.
    cases = [quantize_case(a, qa, qb, out_dtype=b)
             for a, b in sorted(REQUANTIZE_PAIRS) for qa in TYPE_QUANTS[a] for qb in TYPE_QUANTS[b]]
    compare_cases_with_tflm(oracle, cases, seeds=(0, 1))


def test_dequantize_matches_tflm(oracle):
    cases = [dequantize_case(q, shape=(2, N // 2)) for q in QUANTS]
    cases += [dequantize_case(q, dtype="INT16") for q in TYPE_QUANTS["INT16"]]
    cases += [dequantize_case(q, dtype="UINT8") for q in TYPE_QUANTS["UINT8"]]
    compare_cases_with_tflm(oracle, cases, seeds=(0, 1))


def _error(case: Case, error: type) -> str:
    with pytest.raises(error) as info:
        prepare_op(single_op_model(case.op, case.inputs, case.outputs))
    return str(info.value)


def test_element_count_mismatch_is_rejected():
    case = quantize_case("FLOAT32", (None, None), (0.1, 0))
    case.outputs = [T("INT8", (N + 1,), 0.1, 0)]
    assert "op 0 (QUANTIZE)" in _error(case, InconsistentModelError)
    case = dequantize_case((0.1, 0))
    case.outputs = [T("FLOAT32", (3,))]
    assert "op 0 (DEQUANTIZE)" in _error(case, InconsistentModelError)


def test_missing_or_per_channel_output_quantization_is_rejected():
    assert "no quantization" in _error(quantize_case("FLOAT32", (None, None), (None, None)), InconsistentModelError)
    assert "per tensor" in _error(quantize_case("FLOAT32", (None, None), ([0.1, 0.2], [0, 0]), shape=(2,)),
                                  InconsistentModelError)


def test_unsupported_types_and_per_channel_dequantize():
    assert "FLOAT32 to INT32" in _error(quantize_case("FLOAT32", (None, None), (0.1, 0), out_dtype="INT32"),
                                        UnsupportedOperatorError)
    assert "INT32 to INT32" in _error(quantize_case("INT32", (0.1, 0), (0.1, 0), out_dtype="INT32"),
                                      UnsupportedOperatorError)
    assert "UINT8 to INT16" in _error(quantize_case("UINT8", (0.1, 0), (0.1, 0), out_dtype="INT16"),
                                      UnsupportedOperatorError)
    assert "INT32" in _error(dequantize_case((0.1, 0), dtype="INT32"), UnsupportedOperatorError)
    case = Case("dq", Op("DEQUANTIZE"), [T("INT8", (2, 3), [0.1, 0.2], [0, 0], quantized_dimension=0)],
                [T("FLOAT32", (2, 3))])
    assert "per channel" in _error(case, UnsupportedOperatorError)
