"""Helpers shared by the elementwise op tests: unary op cases, and LiteRT as the oracle where TFLM lacks an op."""
from __future__ import annotations

from opmodels import Case, Op, T, ValuesFn


def unary_case(op: str, dtype: str, shape, quant_in=(None, None), quant_out=(None, None), options_type=None,
               options=None, values: ValuesFn | None = None, out_shape=None, out_dtype=None) -> Case:
    """One unary op; options_type/options as in opmodels.Op; quantizations are (scale, zero point)."""
    return Case(f"{op} {dtype} {list(shape)} {options or ''} quant {quant_in} -> {quant_out}",
                Op(op, options_type, options or {}),
                [T(dtype, shape, *quant_in)], [T(out_dtype or dtype, shape if out_shape is None else out_shape,
                                                 *quant_out)], values)


class LiteRTReference:
    """The oracle worker seen by compare_with_tflm / compare_cases_with_tflm, answering with LiteRT BUILTIN_REF."""

    def __init__(self, oracle):
        self._oracle = oracle

    def run(self, model, invocations, backend: str = "tflm", **fields):
        return self._oracle.run(model, invocations, backend="litert_ref", **fields)
