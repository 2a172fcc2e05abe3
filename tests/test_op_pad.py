"""PAD, PADV2 and MIRROR_PAD bit-exact with TFLM: pad values per type, every rank up to 5, both mirror modes."""
from __future__ import annotations

import numpy as np
import pytest

from microinterp import Interpreter
from microinterp.errors import InconsistentModelError, UnsupportedOperatorError
from movement_helpers import const, error_message, tensor, values
from opmodels import Case, Op, T, compare_cases_with_tflm, compare_with_tflm, graph_model, single_op_model

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


def _read_through_graph() -> bytes:
    """Three branches, each an int8 image PADded with its zero point into a VALID window op: a stride-1
    depthwise conv (padding all round), a stride-2 one (bottom and right only, as TF pads for stride 2)
    and a 3x3 conv; only the window ops' outputs are graph outputs."""
    from dataclasses import replace

    from test_op_conv import conv_case
    from test_op_depthwise_conv import depthwise_case
    VALID = 1
    branches = [
        (depthwise_case("DEPTHWISE_CONV_2D", 1, input_shape=(1, 9, 8, 16), padding=VALID, activation="RELU6"),
         [[0, 0], [1, 1], [1, 1], [0, 0]]),
        (depthwise_case("DEPTHWISE_CONV_2D", 2, input_shape=(1, 11, 11, 24), strides=(2, 2), padding=VALID),
         [[0, 0], [0, 1], [0, 1], [0, 0]]),
        (conv_case("CONV_2D", 3, input_shape=(1, 8, 7, 3), out_channels=8, padding=VALID),
         [[0, 0], [1, 1], [1, 1], [0, 0]]),
    ]
    nodes, outputs = [], []
    for case, pads in branches:
        image = case.inputs[0]
        source = replace(image, shape=tuple(n - a - b for n, (a, b) in zip(image.shape, pads)), name="")
        nodes += [(Op("PAD"), [source, const(pads)], [image]), (case.op, case.inputs, case.outputs)]
        outputs += case.outputs
    return graph_model(nodes, outputs=outputs)


def test_a_zero_point_image_pad_is_read_through_by_its_window_op_with_tflm_bits(oracle):
    """An int8 PAD of height and width with the zero point, read only by the next op (a CONV_2D or
    DEPTHWISE_CONV_2D), runs no step of its own: the window op reads the unpadded image with the
    padding as out-of-image taps, and the outputs keep TFLM's bits."""
    model = _read_through_graph()
    rng = np.random.default_rng(5)
    interp = Interpreter(model_content=model)
    interp.allocate_tensors()
    inputs = [[rng.integers(-128, 128, d["shape"], dtype=np.int8) for d in interp.get_input_details()]
              for _ in range(2)]
    compare_with_tflm(oracle, model, inputs, "PADs read through")
    names = [op.name for op in interp.model.main.operators]
    assert [names[k] for k in interp.executed_ops] == ["DEPTHWISE_CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D"]


def test_every_pad_runs_when_all_tensors_are_preserved():
    """experimental_preserve_all_tensors promises every tensor's value after invoke(): the PADs then run
    and their outputs hold the padded images."""
    model = _read_through_graph()
    interp = Interpreter(model_content=model, experimental_preserve_all_tensors=True)
    interp.allocate_tensors()
    assert len(interp.executed_ops) == 6
    rng = np.random.default_rng(6)
    for d in interp.get_input_details():
        interp.set_tensor(d["index"], rng.integers(-128, 128, d["shape"], dtype=np.int8))
    interp.invoke()
    for op in interp.model.main.operators:
        if op.name == "PAD":
            source, padded_image = interp.get_tensor(op.inputs[0]), interp.get_tensor(op.outputs[0])
            zero_point = int(np.ravel(interp.model.main.tensors[op.outputs[0]].quantization.zero_point)[0])
            pads = np.asarray(interp.model.main.tensors[op.inputs[1]].data).reshape(4, 2)
            expected = np.pad(source, pads, constant_values=zero_point)
            np.testing.assert_array_equal(padded_image, expected)


def test_mobilenet_v2_reads_through_its_pads_with_tflm_bits(shared_models, oracle):
    """mobilenet_v2 224 (int8) pads the image before each strided or VALID depthwise conv: its 18 PADs
    are read through (most of its depthwise convs then write their output over their unpadded input,
    which the step saves row by row where needed), and the output keeps TFLM's bits."""
    path = shared_models / "bench" / "mobilenet_v2_quantized_1x3x224x224.tflite"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    interp = Interpreter(model_path=str(path))
    interp.allocate_tensors()
    names = [op.name for op in interp.model.main.operators]
    assert names.count("PAD") == 18 and "PAD" not in [names[k] for k in interp.executed_ops]
    detail = interp.get_input_details()[0]
    image = np.random.default_rng(7).integers(-128, 128, detail["shape"], dtype=np.int8)
    compare_with_tflm(oracle, path.read_bytes(), [[image]], "mobilenet_v2")
