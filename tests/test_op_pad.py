"""PAD, PADV2 and MIRROR_PAD bit-exact with TFLM: pad values per type, every rank up to 5, both mirror modes."""
from __future__ import annotations

import numpy as np
import pytest

from microinterp import Interpreter
from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from movement_helpers import const, error_message, tensor, values
from opmodels import Case, Op, T, compare_cases_with_tflm, single_op_model

REFLECT, SYMMETRIC = 0, 1


def padded(shape, pads):
    return [n + a + b for n, (a, b) in zip(shape, pads)]


def pad_case(dtype, shape, pads, quant=None, constant_value=None, runtime_value=False) -> Case:
    """PAD, or PADV2 when a constant value (or a runtime one) is given."""
    out = tensor(dtype, padded(shape, pads), quant)
    inputs = [tensor(dtype, shape, quant), const(pads)]
    if runtime_value:
        inputs.append(tensor(dtype, (), quant))
    elif constant_value is not None:
        value = const(constant_value, dtype)
        value.scale, value.zero_point = out.scale, out.zero_point
        inputs.append(value)
    name = "PADV2" if len(inputs) == 3 else "PAD"
    return Case(f"{name} {dtype} {list(shape)} {pads} quant {quant} value {constant_value}", Op(name), inputs, [out])


def mirror_case(dtype, shape, pads, mode, pad_type="INT32") -> Case:
    return Case(f"MIRROR_PAD {dtype} {list(shape)} {pads} mode {mode}",
                Op("MIRROR_PAD", "MirrorPadOptions", {"mode": mode}),
                [tensor(dtype, shape), const(pads, pad_type)], [tensor(dtype, padded(shape, pads))])


def test_pad_fills_with_the_zero_point_for_int8_and_zero_for_other_types(oracle):
    cases = [
        pad_case("INT8", (2, 3), [[1, 0], [0, 2]], quant=(0.1, 3)),
        pad_case("INT8", (1, 4, 5, 2), [[0, 0], [1, 2], [2, 1], [0, 0]], quant=(0.02, -128)),
        pad_case("INT8", (1, 2, 1, 2, 3), [[1, 0], [0, 1], [2, 2], [0, 0], [1, 1]], quant=(0.3, 127)),
        # TFLM pads int16 with 0 even when the zero point is not 0.
        pad_case("INT16", (2, 3, 4), [[1, 1], [0, 0], [2, 0]], quant=(0.001, 5)),
        pad_case("INT32", (1, 2, 1, 2, 3), [[0, 1], [1, 0], [0, 0], [3, 0], [0, 2]]),
        pad_case("FLOAT32", (5,), [[3, 4]]),
        pad_case("FLOAT32", (1, 1, 1, 1), [[0, 0], [0, 0], [0, 0], [0, 0]]),
        pad_case("FLOAT32", (1, 3, 2, 1), [[0, 0], [0, 2], [1, 0], [0, 0]]),
    ]
    compare_cases_with_tflm(oracle, cases, values=values)


def test_padv2_uses_the_constant_or_runtime_pad_value(oracle):
    cases = [
        pad_case("INT8", (2, 3), [[1, 1], [2, 0]], quant=(0.05, -4), constant_value=[-100]),
        pad_case("INT8", (1, 2, 2, 3), [[0, 0], [1, 1], [1, 1], [0, 0]], quant=(0.05, 10), runtime_value=True),
        pad_case("INT16", (3, 2), [[0, 2], [1, 1]], quant=(0.001, 0), constant_value=-32768),
        pad_case("INT32", (2, 2), [[1, 0], [0, 1]], runtime_value=True),
        pad_case("FLOAT32", (2, 1, 3), [[0, 1], [2, 0], [1, 1]], constant_value=[-0.0]),
        pad_case("FLOAT32", (4,), [[2, 2]], runtime_value=True),
    ]
    compare_cases_with_tflm(oracle, cases, values=values)


def test_mirror_pad_reflect_and_symmetric_up_to_the_widest_padding(oracle):
    cases = [
        mirror_case("FLOAT32", (3, 4), [[2, 2], [3, 1]], REFLECT),
        mirror_case("INT8", (2, 3, 2), [[2, 2], [0, 3], [1, 0]], SYMMETRIC),
        mirror_case("INT8", (1, 3, 3, 2), [[0, 0], [1, 1], [2, 2], [0, 0]], REFLECT, pad_type="INT64"),
        mirror_case("FLOAT32", (1,), [[1, 1]], SYMMETRIC),
        mirror_case("FLOAT32", (2, 1, 2, 1, 3), [[1, 1], [0, 0], [1, 0], [0, 0], [2, 2]], REFLECT),
        mirror_case("INT8", (5,), [[0, 0]], REFLECT),
    ]
    compare_cases_with_tflm(oracle, cases, values=values)


def test_mirror_pad_requests_tflm_scratch_so_the_arena_head_matches(oracle):
    case = mirror_case("INT8", (1, 3, 3, 2), [[0, 0], [1, 1], [2, 2], [0, 0]], REFLECT)
    model = single_op_model(case.op, case.inputs, case.outputs)
    interp = Interpreter(model_content=model)
    interp.allocate_tensors()
    assert interp.memory_plan.head == oracle.tflm_arena(model).head


def test_inconsistent_pads_are_rejected_naming_the_op():
    case = pad_case("INT8", (2, 3), [[1, 0], [0, 2]])
    case.outputs[0].shape = (3, 6)
    assert "op 0 (PAD)" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    case = pad_case("INT8", (2, 3), [[1, 0], [0, 2]], constant_value=[1])
    case.inputs[2].scale = 0.5
    assert "scale and zero point" in error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    case = mirror_case("FLOAT32", (3, 4), [[3, 0], [0, 0]], REFLECT)
    message = error_message(case.op, case.inputs, case.outputs, InconsistentModelError)
    assert "op 0 (MIRROR_PAD)" in message and "REFLECT" in message


@pytest.mark.parametrize("case", [
    pad_case("BOOL", (2,), [[1, 1]]),
    pad_case("INT8", (1,) * 6, [[0, 0]] * 6),
    mirror_case("INT16", (3,), [[1, 1]], REFLECT),
    Case("runtime paddings", Op("PAD"), [tensor("FLOAT32", (2,)), T("INT32", (1, 2))], [tensor("FLOAT32", (4,))]),
    pad_case("FLOAT32", (3,), [[-1, 2]]),
], ids=["bool", "rank 6", "mirror int16", "runtime paddings", "negative"])
def test_unsupported_pads_are_reported(case):
    error_message(case.op, case.inputs, case.outputs, UnsupportedOperatorError)


def test_int8_pad_value_sits_in_the_border():
    # A direct look at the layout: border = zero point, interior = input (TFLM agrees, see above).
    case = pad_case("INT8", (1, 2), [[1, 0], [1, 1]], quant=(0.1, -7))
    interp = Interpreter(model_content=single_op_model(case.op, case.inputs, case.outputs))
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], np.array([[5, 6]], np.int8))
    interp.invoke()
    np.testing.assert_array_equal(interp.get_tensor(interp.get_output_details()[0]["index"]),
                                  [[-7, -7, -7, -7], [-7, 5, 6, -7]])
