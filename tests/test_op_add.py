"""ADD: int8, int16 and float32 with numpy broadcasting up to 6-D, bit-exact with TFLM; the shared broadcast geometry."""
from __future__ import annotations

import numpy as np
import pytest

from microinterp import Interpreter
from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from microinterp.ops.elementwise import broadcast_geometry, broadcast_shape
from opmodels import (Case, Op, T, check_ops_on_tflm_intermediates, compare_cases_with_tflm, compare_with_tflm,
                      prepare_op, single_op_model)

NONE, RELU, RELU_N1_TO_1, RELU6 = 0, 1, 2, 3


def add_case(dtype: str, shape1, shape2, activation: int = NONE, quant1=(0.05, 3), quant2=(0.03, -20),
             quant_out=(0.08, -5), out_shape=None, out_dtype=None) -> Case:
    out_shape = broadcast_shape(shape1, shape2) if out_shape is None else out_shape
    q = (lambda quant: quant) if dtype != "FLOAT32" else (lambda quant: (None, None))
    return Case(f"ADD {dtype} {list(shape1)} + {list(shape2)} act {activation} quant {quant1} {quant2} -> {quant_out}",
                Op("ADD", "AddOptions", {"fused_activation_function": activation}),
                [T(dtype, shape1, *q(quant1)), T(dtype, shape2, *q(quant2))],
                [T(out_dtype or dtype, out_shape, *q(quant_out))])


# (shape1, shape2, activation, input1/input2/output scale and zero point)
CASES = [
    ((4, 5), (4, 5), NONE, (0.05, 3), (0.03, -20), (0.08, -5)),
    ((2, 3, 4, 5), (5,), RELU, (0.02, 0), (0.02, 0), (0.03, 10)),
    ((1, 3, 1, 5), (2, 1, 4, 1), RELU6, (0.1, -128), (0.007, 127), (0.05, -100)),
    ((), (3, 2), NONE, (0.5, 10), (0.01, -3), (0.5, 0)),
    ((2, 1, 3, 1, 2, 2), (1, 2, 1, 2, 1, 2), RELU_N1_TO_1, (0.01, -1), (0.02, 1), (0.008, 2)),
    ((3, 1, 1, 1, 1, 4), (1, 1), NONE, (0.25, 50), (0.004, -60), (1.1, -7)),
    ((2, 2, 2), (2, 1, 2), NONE, (0.003, -128), (0.003, -128), (0.004, -128)),
]


@pytest.mark.parametrize("dtype", ["INT8", "INT16", "FLOAT32"])
def test_add_matches_tflm_with_broadcasting_and_activations(oracle, dtype):
    cases = [add_case(dtype, s1, s2, act, q1, q2, qo) for s1, s2, act, q1, q2, qo in CASES]
    compare_cases_with_tflm(oracle, cases, seeds=(0, 1, 2))


def test_float_add_clamps_infinities_to_float_max_like_tflm(oracle):
    case = add_case("FLOAT32", (4,), (4,))
    model = single_op_model(case.op, case.inputs, case.outputs)
    a = np.array([np.inf, -np.inf, np.nan, 3e38], np.float32)
    b = np.array([1.0, 1.0, 1.0, 3e38], np.float32)
    compare_with_tflm(oracle, model, [[a, b]], "float add specials")


@pytest.mark.parametrize("relative", ["tflm_examples/simple_add_model.tflite",
                                      "mlperf_tiny/pretrainedResnet_quant.tflite"])
def test_add_in_real_models_matches_tflm_on_its_own_inputs(oracle, shared_models, relative):
    assert check_ops_on_tflm_intermediates(oracle, shared_models / relative, {"ADD"}) > 0


def test_broadcast_geometry_merges_axes_that_walk_memory_alike():
    assert broadcast_geometry((2, 3, 4), (2, 3, 4), (2, 3, 4)) == ([1, 1, 1, 1, 1, 24], [0] * 5 + [1], [0] * 5 + [1])
    # A trailing vector: the outer axes merge, the broadcast one keeps stride 0.
    assert broadcast_geometry((2, 3, 4), (4,), (2, 3, 4)) == ([1, 1, 1, 1, 6, 4], [0, 0, 0, 0, 4, 1],
                                                               [0, 0, 0, 0, 0, 1])
    assert broadcast_geometry((), (), ()) == ([1] * 6, [0] * 6, [0] * 6)


def test_broadcast_iteration_agrees_with_numpy_on_random_shapes():
    # Float32 addition is exact and order-free, so numpy is a fair reference for the index walk itself.
    rng = np.random.default_rng(7)
    for _ in range(150):
        rank = int(rng.integers(0, 7))
        out = [int(rng.integers(1, 4)) for _ in range(rank)]
        shapes = []
        for _ in range(2):
            keep = int(rng.integers(0, rank + 1))
            shapes.append([d if rng.random() < 0.6 else 1 for d in out[rank - keep:]])
        case = add_case("FLOAT32", *shapes)
        interp = Interpreter(model_content=single_op_model(case.op, case.inputs, case.outputs))
        interp.allocate_tensors()
        a = rng.standard_normal(shapes[0]).astype(np.float32)
        b = rng.standard_normal(shapes[1]).astype(np.float32)
        interp.set_tensor(0, a)
        interp.set_tensor(1, b)
        interp.invoke()
        np.testing.assert_array_equal(interp.get_tensor(2), a + b, err_msg=f"{shapes}")


def _error(case: Case, error: type) -> str:
    with pytest.raises(error) as info:
        prepare_op(single_op_model(case.op, case.inputs, case.outputs))
    return str(info.value)


def test_output_shape_other_than_the_broadcast_is_rejected():
    message = _error(add_case("INT8", (2, 3), (3,), out_shape=(2, 4)), InconsistentModelError)
    assert "op 0 (ADD)" in message and "[2, 3]" in message


def test_incompatible_input_shapes_are_rejected():
    message = _error(add_case("FLOAT32", (2, 3), (2,), out_shape=(2, 3)), InconsistentModelError)
    assert "op 0 (ADD)" in message and "cannot be broadcast" in message


def test_output_scale_that_makes_the_rescale_factor_reach_one_is_rejected():
    # 2 * max(s1, s2) / (2^20 * s_out) >= 1: QuantizeMultiplierSmallerThanOneExp would abort TFLM.
    message = _error(add_case("INT8", (2,), (2,), quant_out=(1e-8, 0)), InconsistentModelError)
    assert "op 0 (ADD)" in message and "output rescale" in message


def test_per_channel_input_is_rejected():
    case = add_case("INT8", (1, 2), (1, 2))
    case.inputs[0].scale, case.inputs[0].zero_point, case.inputs[0].quantized_dimension = [0.1, 0.2], [0, 0], 1
    assert "per tensor" in _error(case, InconsistentModelError)


def test_int64_mixed_types_and_rank_7_are_unsupported():
    assert "INT64" in _error(add_case("INT64", (2,), (2,), quant1=(None, None), quant2=(None, None),
                                      quant_out=(None, None)), UnsupportedOperatorError)
    assert "FLOAT32" in _error(add_case("INT8", (2,), (2,), out_dtype="FLOAT32"), UnsupportedOperatorError)
    assert "rank 7" in _error(add_case("FLOAT32", (1,) * 7, (1,)), UnsupportedOperatorError)
