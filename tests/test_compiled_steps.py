"""The small ops of the benchmark models run as compiled steps (no Python per op) and stay bit-exact with
TFLM: RESHAPE copies, strided copies (TRANSPOSE, STRIDED_SLICE, BROADCAST_TO), PAD/PADV2, int8 element-wise
ops through a 256-entry table of their own kernel, int8 and float32 SOFTMAX rows, int8/int16 MEAN and SUM,
float32 pooling; the cases TFLM can abort on keep the checked kernel."""
from __future__ import annotations

from elementwise_cases import unary_case
from microinterp import Interpreter
from microinterp._kernels import steps
from movement_helpers import const, tensor
from opmodels import Case, Op, T, compare_cases_with_tflm, single_op_model
from test_op_pad import pad_case
from test_op_pooling import RELU6, SAME, VALID, pool_case
from test_op_reduce import reduce_case
from test_op_slice import strided_case


def _step(case: Case):
    interp = Interpreter(model_content=single_op_model(case.op, case.inputs, case.outputs))
    interp.allocate_tensors()
    return interp._exec.steps[0]


def _softmax(shape, out_dtype: str, out_quant) -> Case:
    return Case(f"SOFTMAX INT8->{out_dtype} {list(shape)}", Op("SOFTMAX", "SoftmaxOptions", {"beta": 1.0}),
                [T("INT8", shape, 0.1, 3)], [T(out_dtype, shape, *out_quant)])


CASES = {
    steps.ByteCopyStep: Case("RESHAPE INT8 [2, 3, 5] -> [6, 5]", Op("RESHAPE"),
                             [tensor("INT8", (2, 3, 5)), const((6, 5))], [tensor("INT8", (6, 5))]),
    steps.Int8LookupStep: unary_case("LOGISTIC", "INT8", (3, 257), (0.05, 7), (1 / 256, -128)),
    steps.Int8SoftmaxStep: _softmax((4, 511), "INT8", (1 / 256, -128)),
    steps.FloatSoftmaxStep: Case("SOFTMAX FLOAT32 [3, 10] beta 0.7", Op("SOFTMAX", "SoftmaxOptions", {"beta": 0.7}),
                                 [T("FLOAT32", (3, 10))], [T("FLOAT32", (3, 10))]),
    steps.StridedCopyStep: Case("TRANSPOSE INT8 [1, 3, 4, 5] perm [0, 2, 3, 1]", Op("TRANSPOSE"),
                                [tensor("INT8", (1, 3, 4, 5)), const((0, 2, 3, 1))], [tensor("INT8", (1, 4, 5, 3))]),
    steps.PadStep: pad_case("INT8", (1, 5, 4, 3), [[0, 0], [1, 2], [2, 0], [0, 1]], (0.1, -7)),
    # mobilenet_v2's global average: MEAN over H and W
    steps.QuantizedSumStep: reduce_case("MEAN", "INT8", (1, 7, 7, 40), (1, 2), keep_dims=True, in_quant=(0.02, -128),
                                        out_quant=(0.015, -120)),
    steps.FloatPoolStep: pool_case("AVERAGE_POOL_2D", "FLOAT32", (1, 6, 6, 8), (3, 3), (1, 1), SAME),
}


def test_small_ops_run_as_compiled_steps_and_match_tflm(oracle):
    for step_type, case in CASES.items():
        assert isinstance(_step(case), step_type), case.label
    cases = [*CASES.values(), _softmax((3, 12), "INT16", (1 / 65536, -32768)),
             unary_case("TANH", "INT8", (40,), (0.02, -100), (1 / 128, 0)),
             unary_case("HARD_SWISH", "INT8", (40,), (0.03, -128), (0.02, -90)),
             pad_case("FLOAT32", (2, 3), [[1, 0], [2, 3]], constant_value=-1.5),
             pad_case("INT16", (3, 1, 2, 2, 2), [[0, 1], [1, 1], [0, 0], [2, 0], [1, 1]], runtime_value=True),
             pad_case("INT32", (0, 3), [[1, 1], [0, 2]]),
             strided_case("FLOAT32", (4, 6), [3, 5], [0, 0], [-1, -2]),
             # Merged axes: PAD of H and W only (rows of W x C), TRANSPOSE of NCHW read along H x W per channel.
             pad_case("INT8", (1, 6, 5, 3), [[0, 0], [1, 1], [1, 1], [0, 0]], (0.1, 3)),
             pad_case("INT16", (2, 4, 3), [[1, 0], [0, 0], [0, 0]]),
             Case("TRANSPOSE INT16 [1, 3, 6, 7] perm [0, 2, 3, 1]", Op("TRANSPOSE"),
                  [tensor("INT16", (1, 3, 6, 7)), const((0, 2, 3, 1))], [tensor("INT16", (1, 6, 7, 3))]),
             Case("TRANSPOSE FLOAT32 [2, 3, 4, 5] perm [3, 1, 0, 2]", Op("TRANSPOSE"),
                  [tensor("FLOAT32", (2, 3, 4, 5)), const((3, 1, 0, 2))], [tensor("FLOAT32", (5, 3, 2, 4))]),
             pool_case("MAX_POOL_2D", "FLOAT32", (2, 5, 7, 3), (2, 3), (2, 2), VALID, RELU6),
             reduce_case("SUM", "INT16", (3, 4, 5), (2, 0), in_quant=(0.01, 0), out_quant=(0.2, 0)),
             reduce_case("MEAN", "INT8", (2, 3, 5), (1,), in_quant=(0.1, 127), out_quant=(0.05, -3)),
             Case("BROADCAST_TO INT16 [3, 1] -> [2, 3, 4]", Op("BROADCAST_TO"),
                  [tensor("INT16", (3, 1)), const((2, 3, 4))], [tensor("INT16", (2, 3, 4))])]
    compare_cases_with_tflm(oracle, cases)


def test_int8_softmax_rows_that_can_overflow_keep_the_checked_kernel():
    assert not isinstance(_step(_softmax((1, 512), "INT8", (1 / 256, -128))), steps.Step)

