"""The Python API behind the `microinterp` command, in process: MACs, the op resolver, the first divergence,
error-to-exit-code mapping (a missing oracle included) and the two output modes."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest

from conftest import REFERENCE_MODELS
from opmodels import Op, T, graph_model
from microinterp import cli, load_model
from microinterp.cli.compare import CompareReport, TensorDiff, diff_arrays
from microinterp.errors import UnsupportedOperatorError
from microinterp.cli.inspection import inspect_model, op_macs, resolver_method, resolver_snippet
from microinterp.oracles import PIP_HINT, OracleError, OracleUnavailable
from microinterp.cli.profiling import live_bytes_per_op
from microinterp.cli.render import Column, Output, count_text, jsonable, plain_table
from microinterp.interpreter import Interpreter

MANIFEST = json.loads((REFERENCE_MODELS / "manifest.json").read_text())["models"]


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_macs_and_tflm_head_match_the_manifest(name):
    report = inspect_model(REFERENCE_MODELS / name)
    assert report.macs == MANIFEST[name]["macs"]
    assert report.memory.arena_head == MANIFEST[name]["tflm_arena"]["head"]
    assert [op.op for op in report.ops] == MANIFEST[name]["ops"]
    assert not report.unsupported and report.memory.exact


def test_transpose_conv_macs_count_input_elements_times_kernel_times_output_channels():
    from opmodels import Op, T, single_op_model
    out_shape = T("INT32", (4,), data=np.array([1, 6, 6, 5], np.int32))
    weights = T("FLOAT32", (5, 3, 2, 4), data=np.zeros((5, 3, 2, 4), np.float32))
    model = load_model(single_op_model(Op("TRANSPOSE_CONV"), [out_shape, weights, T("FLOAT32", (1, 3, 3, 4))],
                                       [T("FLOAT32", (1, 6, 6, 5))]))
    assert op_macs(model.main, model.main.operators[0]) == (1 * 3 * 3 * 4) * 3 * 2 * 5


@pytest.mark.parametrize("op_name, call", [
    ("CONV_2D", "AddConv2D()"), ("L2_POOL_2D", "AddL2Pool2D()"), ("BATCH_TO_SPACE_ND", "AddBatchToSpaceNd()"),
    ("PADV2", "AddPadV2()"), ("CUMSUM", "AddCumSum()"), ("BATCH_MATMUL", "AddBatchMatMul()"),
    ("UNIDIRECTIONAL_SEQUENCE_LSTM", "AddUnidirectionalSequenceLSTM()"), ("RELU6", "AddRelu6()"),
    ("REVERSE_V2", "AddReverseV2()"), ("ADD_N", "AddAddN()"),
    ("CUSTOM(TFLite_Detection_PostProcess)", "AddDetectionPostprocess()"),
    ("CUSTOM(SignalWindow)", "AddWindow()"), ("CUSTOM(my.op)", 'AddCustom("my.op", Register_my_op())'),
    ("RELU_N1_TO_1", None), ("LSH_PROJECTION", None),
])
def test_resolver_methods_are_tflm_names(op_name, call):
    assert resolver_method(op_name) == call


def test_resolver_snippet_registers_each_op_once_and_counts_them():
    code, n = resolver_snippet(["SOFTMAX", "CONV_2D", "CONV_2D", "CUSTOM(Foo)", "HASHTABLE_LOOKUP"], "m.tflite")
    assert n == 3 and "tflite::MicroMutableOpResolver<3>;" in code
    calls = [line.strip() for line in code.splitlines() if "TF_LITE_ENSURE_STATUS" in line]
    assert calls == ['TF_LITE_ENSURE_STATUS(op_resolver.AddConv2D());',
                     'TF_LITE_ENSURE_STATUS(op_resolver.AddCustom("Foo", Register_Foo()));',
                     'TF_LITE_ENSURE_STATUS(op_resolver.AddSoftmax());']
    assert "// HASHTABLE_LOOKUP: TFLM has no kernel for this operator" in code


def test_live_bytes_follow_the_plan_lifetimes():
    interp = Interpreter(model_path=REFERENCE_MODELS / "kws_ds_cnn_int8.tflite")
    interp.allocate_tensors()
    plan = interp.memory_plan
    live = [live_bytes_per_op(plan)[k] for k in range(len(interp.model.main.operators))]
    # Op 0 reads the 490-byte input (496 aligned) and writes 8,000 bytes; the pooled and later
    # tensors are small, and the 12-byte softmax output is live with its 12-byte input at the end.
    assert live[0] == 496 + 8000 and live[-1] == 16 + 16
    assert max(live) <= plan.head


def test_op_times_and_live_bytes_skip_the_ops_an_inplace_plan_aliases():
    x, y, z, w = (T("FLOAT32", shape) for shape in ((2, 8), (2, 8), (16,), (16,)))
    content = graph_model([(Op("RELU"), [x], [y]), (Op("RESHAPE"), [y], [z]), (Op("RELU"), [z], [w])],
                          outputs=[w])
    interp = Interpreter(model_content=content, memory_strategy="inplace")
    interp.allocate_tensors()
    assert interp.memory_plan.skipped_ops == {1} and interp.executed_ops == (0, 2)
    interp.set_tensor(interp.get_input_details()[0]["index"], np.ones((2, 8), np.float32))
    times: list[float] = []
    interp.invoke(op_times=times)
    assert len(times) == 2
    assert sorted(live_bytes_per_op(interp.memory_plan)) == [0, 1, 2]


def diff(index: int, op: int, worst: float | None) -> TensorDiff:
    return TensorDiff(index, f"t{index}", op, "CONV_2D", "INT8", (2,), worst, 0 if not worst else 1, 2)


def test_first_divergence_is_the_first_tensor_in_op_order_beyond_atol():
    layers = [diff(5, 0, 0.0), diff(6, 1, 1.0), diff(7, 2, None), diff(8, 3, 3.0)]
    report = CompareReport("m", "tflm", [0], 0.0, [layers[-1]], layers)
    assert report.first_divergence is layers[1] and not report.ok
    lenient = CompareReport("m", "tflm", [0], 1.0, [layers[-1]], layers)
    assert lenient.first_divergence is layers[3]
    only_outputs = CompareReport("m", "tflm", [0], 0.0, [diff(8, 3, 0.0)], None)
    assert only_outputs.ok and only_outputs.first_divergence is None


def test_diff_treats_nan_pairs_as_equal_and_reports_what_cannot_be_compared():
    a = np.array([1.0, np.nan, 2.0], np.float32)
    assert diff_arrays([a], [a.copy()]) == (0.0, 0, 3, "")
    assert diff_arrays([a], [np.array([1.0, 0.0, 2.5], np.float32)])[:2] == (np.inf, 2)
    assert diff_arrays([a], [None])[0] is None
    assert diff_arrays([a], [a[:2]])[3] == "shape 3 vs 2"


@pytest.mark.parametrize("error, code, text", [
    (OracleUnavailable(f"the tflm oracle needs tflite-micro; install it with:\n{PIP_HINT}"), 2, PIP_HINT),
    (ModuleNotFoundError("No module named 'tflite_micro'", name="tflite_micro.python"), 2, PIP_HINT),
    (UnsupportedOperatorError(["op 0 (SIN): no kernel"]), 2, "1 unsupported operator(s): - op 0 (SIN)"),
    (FileNotFoundError(2, "No such file or directory", "x.tflite"), 2, "No such file"),
    (OracleError("tflm failed on m: RuntimeError: bad\nmore"), 2, "bad more"),
])
def test_errors_map_to_exit_2_with_one_line(error, code, text):
    got = cli.error_exit(error)
    assert got is not None and got[0] == code and text in got[1] and "\n" not in got[1]


@pytest.mark.parametrize("error", [RuntimeError("a bug"), ModuleNotFoundError("x", name="microinterp._kernels"),
                                   KeyError(3)])
def test_unexpected_errors_keep_their_traceback(error):
    assert cli.error_exit(error) is None


def test_a_missing_oracle_exits_2_with_the_pip_command(monkeypatch, capsys):
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: None)
    code = cli.main(["compare", str(REFERENCE_MODELS / "hello_world_sine_int8.tflite")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "needs the tflite-micro package" in err and PIP_HINT in err
    assert cli.main(["bench", str(REFERENCE_MODELS / "hello_world_sine_int8.tflite"), "--against", "litert"]) == 2
    assert "ai-edge-litert" in capsys.readouterr().err


def test_plain_tables_align_numbers_right():
    lines = plain_table([Column("op"), Column("MACs", True)], [["CONV_2D", "1,000"], ["ADD", ""]])
    assert lines == ["op        MACs", "-------  -----", "CONV_2D  1,000", "ADD"]


def test_rich_output_draws_tables_progress_and_code():
    stream = io.StringIO()
    out = Output(stream, use_rich=True)
    assert out.rich
    out.table([Column("op"), Column("MACs", True)], [["CONV_2D", "[1, 2]"]], title="ops")
    assert list(out.progress([1, 2], str)) == [1, 2]
    out.code("int x = 1;", "cpp")
    text = stream.getvalue()
    assert "ops" in text and "CONV_2D" in text and "[1, 2]" in text and "int x = 1;" in text


def test_output_is_plain_when_not_a_terminal():
    assert not Output(io.StringIO()).rich


def test_json_conversion_of_reports():
    assert jsonable({"a": np.array([1.0, np.inf]), "b": np.int8(3), "c": (1, 2)}) == \
        {"a": [1.0, "inf"], "b": 3, "c": [1, 2]}
    assert jsonable(diff(1, 0, 0.0))["exact"] is True


def test_count_text_uses_si_suffixes():
    assert [count_text(n) for n in (0, 288, 2_656_768, 1.08e9)] == ["0", "288", "2.66M", "1.08G"]


def test_lstm_and_svdf_macs_count_the_gate_and_filter_products():
    from test_op_lstm import lstm_case
    from test_op_svdf import svdf_int8_case
    from opmodels import single_op_model
    batch, steps, size, state = 2, 3, 5, 4
    lstm = lstm_case("INT8", batch=batch, steps=steps, input_size=size, state=state)
    model = load_model(single_op_model(lstm.op, lstm.inputs, lstm.outputs))
    # Per step and batch row: four gates of (input + hidden) x state products, then f*c, i*g and o*tanh(c).
    assert op_macs(model.main, model.main.operators[0]) == batch * steps * (4 * state * (size + state) + 3 * state)
    filters, memory = 6, 3
    svdf = svdf_int8_case(batch=batch, input_size=size, filters=filters, memory=memory, rank=2)
    model = load_model(single_op_model(svdf.op, svdf.inputs, svdf.outputs))
    # Per batch row: the feature FC (filters x input) and each filter's memory x time-weights dot product.
    assert op_macs(model.main, model.main.operators[0]) == batch * filters * (size + memory)


@pytest.mark.parametrize("dtype", ["INT8", "INT16"])
def test_float_inputs_are_quantized_as_tflm_quantize_does(oracle, dtype):
    from opmodels import single_op_model
    from microinterp.inputs import quantize_input
    scale, zero_point = 0.024575, -7
    content = single_op_model(Op("QUANTIZE"), [T("FLOAT32", (1, 64))], [T(dtype, (1, 64), scale, zero_point)])
    steps = np.arange(-32, 32, dtype=np.float64)
    # Exact halves (round away from zero), near-halves, and values beyond the type's range.
    values = np.concatenate([(steps[:40] + 0.5) * np.float32(scale), steps[40:] * 1e4]).astype(np.float32)
    values = values.reshape(1, 64)
    (theirs,), = oracle.run(content, [[values]], backend="tflm").outputs
    detail = {"dtype": np.int8 if dtype == "INT8" else np.int16, "quantization": (scale, zero_point)}
    ours = quantize_input(values.astype(np.float64), detail)
    assert ours.dtype == theirs.dtype and np.array_equal(ours, theirs)


def test_board_fit_is_tflms_head_plus_the_32bit_tail_against_sram_and_the_file_against_flash(oracle):
    from microinterp.cli.boards import board_fits
    from microinterp.planning.tail import estimate_tail
    path = REFERENCE_MODELS / "vww_mobilenet_v1_025_int8.tflite"
    interp = Interpreter(model_path=path)
    interp.allocate_tensors()
    model = interp.model
    esp, f446 = board_fits(["esp32-s3", "STM32F446"], model, interp.memory_plan)
    # The head is TFLM's own (live); the tail is the 32-bit estimate until the exact arena_size lands.
    assert esp.arena_bytes - estimate_tail(model, 4).total == oracle.tflm_arena(path).head
    assert esp.model_bytes == path.stat().st_size
    assert esp.fits and esp.limiting == "SRAM" and esp.margin == 512 * 1024 - esp.arena_bytes
    # 128 KB SRAM, 512 KB flash: the arena uses the larger share (77% against 61%).
    assert f446.fits and f446.limiting == "SRAM" and f446.margin == 128 * 1024 - f446.arena_bytes
    assert f446.flash_margin == 512 * 1024 - f446.model_bytes


def test_a_model_whose_weights_exceed_the_flash_is_limited_by_flash():
    from microinterp.cli.boards import board_fits
    weights = T("FLOAT32", (1000, 300), data=np.zeros((1000, 300), np.float32))  # 1.2 MB of constants
    content = graph_model([(Op("FULLY_CONNECTED"), [T("FLOAT32", (1, 300)), weights], [T("FLOAT32", (1, 1000))])])
    interp = Interpreter(model_content=content)
    interp.allocate_tensors()
    (fit,) = board_fits(["nano33ble"], interp.model, interp.memory_plan)
    assert not fit.fits and fit.limiting == "flash" and fit.margin == (1 << 20) - len(content)


def test_a_model_over_a_boards_sram_does_not_fit_and_says_by_how_much():
    from microinterp.cli.boards import board_fits
    x, y = T("FLOAT32", (1, 256, 256)), T("FLOAT32", (1, 256, 256))
    model = load_model(graph_model([(Op("RELU"), [x], [y])], outputs=[y]))
    interp = Interpreter(model_content=model.content)
    interp.allocate_tensors()
    (fit,) = board_fits(["nano33ble"], model, interp.memory_plan)
    assert not fit.fits and fit.limiting == "SRAM" and fit.margin == 256 * 1024 - fit.arena_bytes < -256 * 1024


def test_unknown_boards_are_refused_with_the_known_names():
    from microinterp.cli.boards import BOARDS, find_board
    with pytest.raises(ValueError, match="unknown board 'uno'; known boards: corstone300, esp32s3"):
        find_board("uno")
    assert all(b.source and b.sram > 0 and b.flash > 0 for b in BOARDS)
