"""The `microinterp` command, run in a subprocess as a user would: output content and exit codes."""
from __future__ import annotations

import importlib.util
import json
import platform
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import REFERENCE_MODELS
from opmodels import Op, T, graph_model
from test_interpreter_api import reshape_model

KWS = REFERENCE_MODELS / "kws_ds_cnn_int8.tflite"
SINE = REFERENCE_MODELS / "hello_world_sine_int8.tflite"
MANIFEST = json.loads((REFERENCE_MODELS / "manifest.json").read_text())["models"]

needs_oracles = pytest.mark.skipif(
    importlib.util.find_spec("tflite_micro") is None or importlib.util.find_spec("ai_edge_litert") is None,
    reason="the oracles extra (tflite-micro, ai-edge-litert) is not installed")


def microinterp(*args: object) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "microinterp", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


def unsupported_model() -> bytes:
    """RELU (supported) then LSH_PROJECTION, a legacy op neither microinterp nor TFLM has a kernel for."""
    x, y, z = T("FLOAT32", (1, 4)), T("FLOAT32", (1, 4)), T("FLOAT32", (1, 4))
    return graph_model([(Op("RELU"), [x], [y]), (Op("LSH_PROJECTION"), [y], [z])], outputs=[z])


@pytest.fixture
def reshape_path(tmp_path):
    path = tmp_path / "reshape.tflite"
    path.write_bytes(reshape_model())
    return path


@pytest.fixture
def unsupported_path(tmp_path):
    path = tmp_path / "lsh.tflite"
    path.write_bytes(unsupported_model())
    return path


def assert_one_line_error(result: subprocess.CompletedProcess, expected: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert expected in result.stderr


# -- run --------------------------------------------------------------------------------------------

def test_run_prints_outputs_with_dequantized_values_and_latency(reshape_path):
    result = microinterp("run", reshape_path)
    assert result.returncode == 0, result.stderr
    assert "outputs:" in result.stdout and "dequantized (scale 0.5, zero point 1)" in result.stdout
    assert "invoke" in result.stdout and "arena   32 bytes" in result.stdout


def test_run_json_uses_the_given_input_and_writes_the_outputs(reshape_path, tmp_path):
    np.save(tmp_path / "x.npy", np.array([[1, 2, 3, 4]], np.int8))
    result = microinterp("run", reshape_path, "--input", tmp_path / "x.npy", "--output", tmp_path / "o.npz",
                         "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["outputs"][0]["value"] == [[1, 2], [3, 4]]
    assert report["outputs"][0]["dequantized"] == [[0.0, 0.5], [1.0, 1.5]]
    assert report["median_latency"] > 0
    assert np.load(tmp_path / "o.npz")["output_0"].tolist() == [[1, 2], [3, 4]]


def test_run_is_seeded_on_a_reference_model():
    first, again, other = (json.loads(microinterp("run", SINE, "--seed", s, "--json").stdout) for s in (3, 3, 4))
    assert first["inputs"] == again["inputs"] and first["outputs"] == again["outputs"]
    assert first["inputs"] != other["inputs"]


@pytest.mark.parametrize("case", ["missing", "not_tflite", "unsupported", "wrong_input"])
def test_run_bad_input_exits_2_with_a_one_line_reason(case, tmp_path, reshape_path, unsupported_path):
    (tmp_path / "junk.tflite").write_bytes(b"this is not a flatbuffer at all")
    np.save(tmp_path / "bad.npy", np.zeros((1, 4), np.int32))  # floats would be quantized
    args = {"missing": [tmp_path / "nope.tflite"], "not_tflite": [tmp_path / "junk.tflite"],
            "unsupported": [unsupported_path],
            "wrong_input": [reshape_path, "--input", tmp_path / "bad.npy"]}[case]
    expected = {"missing": "No such file", "not_tflite": "TFLite", "unsupported": "op 1 (LSH_PROJECTION)",
                "wrong_input": "int32"}[case]
    assert_one_line_error(microinterp("run", *args), expected)


def test_debug_shows_the_traceback(tmp_path):
    result = microinterp("run", "--debug", tmp_path / "nope.tflite")
    assert result.returncode != 0 and "Traceback" in result.stderr and "FileNotFoundError" in result.stderr


def test_run_quantizes_float_inputs_and_writes_dequantized_outputs(tmp_path):
    real = np.array([[1.5]], np.float32)
    np.save(tmp_path / "real.npy", real)
    result = microinterp("run", SINE, "--input", tmp_path / "real.npy", "--dequantize", "--output",
                         tmp_path / "o.npz", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    (given,), (output,) = report["inputs"], report["outputs"]
    scale, zero_point = given["scale"], given["zero_point"]
    assert given["value"] == [[int(np.floor(1.5 / np.float32(scale) + 0.5)) + zero_point]]
    # The same int8 input given directly produces the same output, written dequantized.
    np.save(tmp_path / "q.npy", np.array(given["value"], np.int8))
    direct = json.loads(microinterp("run", SINE, "--input", tmp_path / "q.npy", "--json").stdout)
    assert direct["outputs"][0]["value"] == output["value"]
    written = np.load(tmp_path / "o.npz")["output_0"]
    assert written.dtype == np.float32 and written.tolist() == output["dequantized"]
    text = microinterp("run", SINE, "--input", tmp_path / "real.npy", "--dequantize").stdout
    assert "float32[1x1] (dequantized, scale" in text


# -- inspect ----------------------------------------------------------------------------------------

def test_inspect_shows_tensors_ops_memory_and_the_op_resolver():
    result = microinterp("inspect", KWS)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "0  CONV_2D            INT8   1x49x10x1 -> 1x25x5x64  kernel 10x4, stride 2x2, SAME, RELU" in out
    assert "MACs       2,656,768 (2.66M)" in out
    assert "scale 1.06031, zero point -3" in out  # input quantization
    assert "arena head (TFLM plan)  16,000 bytes" in out  # manifest: TFLM's head
    assert re.search(r"TFLM arena_size +[\d,]+ bytes \(64-bit host\) / [\d,]+ bytes \(32-bit Cortex-M\), "
                     r"reference kernels", out)
    assert "flash (constant data)" in out and "every operator is supported" in out
    assert "tflite::MicroMutableOpResolver<5>" in out
    for method in ("AddAveragePool2D", "AddConv2D", "AddDepthwiseConv2D", "AddFullyConnected", "AddSoftmax"):
        assert f"TF_LITE_ENSURE_STATUS(op_resolver.{method}());" in out


def test_inspect_flags_unsupported_ops_and_exits_0(unsupported_path):
    result = microinterp("inspect", unsupported_path)
    assert result.returncode == 0, result.stderr
    assert "1  LSH_PROJECTION  FLOAT32  1x4 -> 1x4" in result.stdout and "UNSUPPORTED" in result.stdout
    assert "- op 1 (LSH_PROJECTION): no kernel for this operator" in result.stdout
    assert "(without the scratch of unsupported ops)" in result.stdout
    assert "MicroMutableOpResolver<1>" in result.stdout and "AddRelu()" in result.stdout
    assert "// LSH_PROJECTION: TFLM has no kernel for this operator" in result.stdout


def test_inspect_json_macs_match_the_manifest(unsupported_path):
    report = json.loads(microinterp("inspect", KWS, "--json").stdout)
    assert report["macs"] == MANIFEST["kws_ds_cnn_int8.tflite"]["macs"]
    assert [op["op"] for op in report["ops"]] == MANIFEST["kws_ds_cnn_int8.tflite"]["ops"]
    assert report["memory"]["arena_head"] == MANIFEST["kws_ds_cnn_int8.tflite"]["tflm_arena"]["head"]
    assert report["resolver_size"] == 5 and report["unsupported"] == []
    flagged = json.loads(microinterp("inspect", unsupported_path, "--json").stdout)
    assert [op["supported"] for op in flagged["ops"]] == [True, False]
    assert flagged["memory"]["exact"] is False


@pytest.mark.parametrize("case", ["missing", "not_tflite"])
def test_inspect_bad_file_exits_2(case, tmp_path):
    (tmp_path / "junk.tflite").write_bytes(b"\x00" * 64)
    path = tmp_path / ("nope.tflite" if case == "missing" else "junk.tflite")
    assert_one_line_error(microinterp("inspect", path), "No such file" if case == "missing" else "TFLite")


# -- compare ----------------------------------------------------------------------------------------

@needs_oracles
def test_compare_with_tflm_matches_exactly():
    result = microinterp("compare", KWS, "--seeds", 2)
    assert result.returncode == 0, result.stderr
    assert "against  tflm, seeds 0..1, atol 0" in result.stdout
    assert "StatefulPartitionedCall_1:0  11 SOFTMAX  INT8[1x12]           0        0/24  exact" in result.stdout
    assert "outputs match tflm exactly" in result.stdout


@needs_oracles
def test_compare_layers_with_tflm_reads_every_intermediate_tflm_keeps():
    report = json.loads(microinterp("compare", KWS, "--layers", "--seeds", 1, "--json").stdout)
    assert report["ok"] and report["first_divergence"] is None
    assert [t["op"] for t in report["layers"]] == list(range(12))  # one output per op, in op order
    assert all(t["exact"] and t["note"] == "" for t in report["layers"])


@needs_oracles
def test_compare_layers_names_the_first_op_that_diverges():
    # XNNPACK rounds int8 convolutions differently from TFLM's reference kernels.
    result = microinterp("compare", KWS, "--against", "litert", "--litert", "xnnpack", "--layers", "--seeds", 1,
                         "--json")
    report = json.loads(result.stdout)
    differing = [t for t in report["layers"] if t["max_abs_diff"] != 0]
    assert differing and result.returncode == 1
    assert report["backend"] == "litert" and report["first_divergence"] == differing[0]
    text = microinterp("compare", KWS, "--against", "litert", "--litert", "xnnpack", "--layers", "--seeds", 1)
    first = differing[0]
    assert f"first divergence: tensor {first['index']}" in text.stdout
    assert f"written by op {first['op']} ({first['op_name']})" in text.stdout and text.returncode == 1


@needs_oracles
def test_compare_with_litert_reference_kernels_and_a_tolerance():
    report = json.loads(microinterp("compare", SINE, "--against", "litert", "--atol", 1, "--json").stdout)
    assert report["backend"] == "litert_ref" and report["ok"] and report["atol"] == 1.0


@needs_oracles
def test_a_missing_oracle_hint_installs_the_extra_from_the_checkout():
    from microinterp.oracles import PIP_HINT
    assert PIP_HINT.startswith('python -m pip install -e ".[oracles]"') and "checkout" in PIP_HINT


def test_compare_unsupported_model_exits_2_before_running_an_oracle(unsupported_path):
    assert_one_line_error(microinterp("compare", unsupported_path), "op 1 (LSH_PROJECTION)")


# -- bench ------------------------------------------------------------------------------------------

@needs_oracles
def test_bench_tables_every_model_against_tflm():
    result = microinterp("bench", SINE, KWS, "--against", "tflm", "--repeats", 3)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "median invoke latency (3 runs after 1 warm-up)"
    assert lines[1].split() == ["model", "microinterp", "tflm", "speedup", "vs", "tflm"]
    assert [line.split()[0] for line in lines[3:]] == [SINE.name, KWS.name]
    assert all(line.endswith("x") for line in lines[3:])


def test_bench_json_times_each_run():
    report = json.loads(microinterp("bench", SINE, "--repeats", 4, "--json").stdout)
    (row,) = report["rows"]
    (timing,) = row["timings"]
    assert timing["backend"] == "microinterp" and len(timing["times"]) == 4
    assert timing["best"] <= timing["median"]


def test_bench_reports_a_model_it_cannot_run_as_failed_and_times_the_others(unsupported_path):
    result = microinterp("bench", unsupported_path, SINE, "--repeats", 2)
    assert result.returncode == 2
    lines = result.stdout.splitlines()
    assert lines[3].split() == [unsupported_path.name, "failed"] and lines[4].startswith(SINE.name)
    assert result.stderr == (f"microinterp bench: error: {unsupported_path}: 1 unsupported operator(s): "
                             f"- op 1 (LSH_PROJECTION): no kernel for this operator\n")
    report = json.loads(microinterp("bench", unsupported_path, SINE, "--repeats", 2, "--json").stdout)
    assert report["failed"] == [str(unsupported_path)]
    assert [len(row["timings"]) for row in report["rows"]] == [0, 1]


@needs_oracles
def test_bench_against_litert_times_xnnpack_and_names_the_backend():
    result = microinterp("bench", SINE, "--against", "litert", "--repeats", 2)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].split() == ["model", "microinterp", "litert-xnnpack", "speedup", "vs",
                                                     "litert-xnnpack"]
    chosen = json.loads(microinterp("bench", SINE, "--against", "litert", "--litert", "reference", "--repeats", 2,
                                    "--json").stdout)
    assert [(t["backend"], t["label"]) for t in chosen["rows"][0]["timings"]] == \
        [("microinterp", "microinterp"), ("litert_ref", "litert-reference")]


# -- profile ----------------------------------------------------------------------------------------

def test_profile_times_every_op_with_macs_and_live_arena():
    result = microinterp("profile", KWS, "--repeats", 3)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1].split() == ["#", "op", "time", "share", "MACs", "MAC/s", "peak", "live", "arena"]
    rows = lines[3:3 + 12]
    assert [r.split()[1] for r in rows] == MANIFEST["kws_ds_cnn_int8.tflite"]["ops"]
    # The time takes two words ("812 us"); op 0 has its 490-byte input and 8,000-byte output live.
    assert rows[0].split()[5] == "320k" and rows[0].endswith("8,496")
    assert lines[-1] == "arena head  16,000 bytes, at most 16,000 live at once"


def test_profile_json_shares_sum_to_one_and_macs_match_inspect():
    report = json.loads(microinterp("profile", KWS, "--repeats", 2, "--json").stdout)
    assert report["macs"] == MANIFEST["kws_ds_cnn_int8.tflite"]["macs"]
    assert sum(op["share"] for op in report["ops"]) == pytest.approx(1.0)
    assert max(op["live_bytes"] for op in report["ops"]) == report["peak_live_bytes"] <= report["arena_head"]


@pytest.mark.skipif(platform.machine() not in ("x86_64", "aarch64"), reason="the add chain is x86-64/AArch64 asm")
def test_the_int8_peak_is_at_the_measured_core_clock():
    """One add per cycle: the chain gives a plausible clock, the same from runs twice as long (its time grows
    with its adds), and the peak that profile and benchmarks/run.py report is at that clock."""
    from microinterp._kernels import clock
    from microinterp.cli import cpu

    hz = clock.core_hz()
    assert 0.3e9 < hz < 8e9
    assert clock.core_hz(seconds=0.02) == pytest.approx(hz, rel=0.5)
    peak = cpu.int8_peak()
    assert peak.clock == "measured" and peak.hz == cpu.core_clock()[0]
    assert peak.macs_per_second == peak.macs_per_cycle * peak.hz


def test_profile_unsupported_model_exits_2(unsupported_path):
    assert_one_line_error(microinterp("profile", unsupported_path), "op 1 (LSH_PROJECTION)")


# -- every command ----------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["inspect", "run", "compare", "bench", "profile"])
def test_every_command_prints_parseable_json_and_exits_2_on_a_missing_file(command, tmp_path):
    if command == "compare" and importlib.util.find_spec("tflite_micro") is None:
        pytest.skip("compare needs the oracles extra")
    extra = {"compare": ["--seeds", "1"], "bench": ["--repeats", "1"],
             "profile": ["--repeats", "1"]}.get(command, [])
    result = microinterp(command, SINE, *extra, "--json")
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout), dict)
    assert_one_line_error(microinterp(command, tmp_path / "nope.tflite"), "No such file")


@pytest.mark.parametrize("command", ["inspect", "run", "profile", "plan"])
def test_errors_under_json_are_a_json_document_on_stdout(command, tmp_path):
    result = microinterp(command, tmp_path / "nope.tflite", "--json")
    assert result.returncode == 2
    report = json.loads(result.stdout)
    assert report["exit"] == 2 and "No such file" in report["error"]


def test_bench_json_names_each_model_it_could_not_time(tmp_path):
    # Several models: the report keeps the others' timings and gives the reason per model.
    result = microinterp("bench", tmp_path / "nope.tflite", "--json")
    (row,) = json.loads(result.stdout)["rows"]
    assert result.returncode == 2 and "No such file" in row["error"]


def test_version_prints_the_package_version():
    import microinterp as package
    result = microinterp("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"microinterp {package.__version__}"


def test_usage_errors_exit_2_and_are_json_under_json():
    assert microinterp().returncode == 2
    assert microinterp("compare", SINE, "--against", "tensorflow").returncode == 2
    result = microinterp("run", SINE, "--repeats", "many", "--json")
    assert result.returncode == 2 and "usage: microinterp run" in result.stderr
    assert json.loads(result.stdout) == {"error": "argument --repeats: invalid int value: 'many'", "exit": 2}


# -- plan -------------------------------------------------------------------------------------------

def test_plan_compare_reports_a_model_it_cannot_plan_and_plans_the_others(unsupported_path):
    result = microinterp("plan", "--compare", unsupported_path, SINE)
    assert_one_line_error(result, f"microinterp plan: error: {unsupported_path}: 1 unsupported operator(s)")
    rows = [line.split()[0] for line in result.stdout.splitlines()[3:5]]
    assert rows == [SINE.name, unsupported_path.name]
    first, second = json.loads(microinterp("plan", "--compare", unsupported_path, SINE, "--json").stdout)
    assert first["error"].startswith("1 unsupported") and second["error"] is None and second["rows"]


def test_plan_compare_refuses_a_strategy():
    result = microinterp("plan", "--compare", "--strategy", "optimal", SINE)
    assert_one_line_error(result, "--compare plans every strategy")


def test_plan_lifetimes_are_op_positions_and_every_column_has_a_header():
    report = json.loads(microinterp("plan", KWS, "--json").stdout)
    from microinterp import load_model
    main = load_model(KWS).main
    position = {k: p for p, k in enumerate(report["op_order"])}
    assert [op["step"] for op in report["ops"]] == list(range(len(main.operators)))
    for b in (b for b in report["buffers"] if b["kind"] == "tensor"):
        writers = [position[op.index] for op in main.operators if b["index"] in op.outputs]
        readers = [position[op.index] for op in main.operators if b["index"] in op.inputs]
        last = len(main.operators) - 1 if b["index"] in main.outputs else max(readers)
        assert (b["first"], b["last"]) == (min(writers, default=0), last), b
    text = microinterp("plan", KWS).stdout.splitlines()
    for k, line in enumerate(text):
        if set(line.replace(" ", "")) == {"-"}:  # the rule under a header: every column has a name
            header_words = text[k - 1]
            assert all(header_words[m.start():m.end()].strip() for m in re.finditer("-+", line)), header_words
    assert "life (op positions)" in "\n".join(text)


def test_plan_png_without_matplotlib_is_a_one_line_error(tmp_path):
    script = ("import sys; sys.modules['matplotlib'] = None; from microinterp.cli import main; "
              "sys.exit(main(sys.argv[1:]))")
    result = subprocess.run([sys.executable, "-c", script, "plan", str(SINE), "--png", str(tmp_path / "p.png")],
                            capture_output=True, text=True, timeout=120)
    assert_one_line_error(result, "--png needs matplotlib")
    assert '-e ".[plot]"' in result.stderr and not (tmp_path / "p.png").exists()


def test_plan_svg_y_labels_leave_room_for_the_axis_title(tmp_path):
    # A head of over a million bytes: the longest y labels ("1,048,576").
    x, y = T("FLOAT32", (1, 512, 512)), T("FLOAT32", (1, 512, 512))
    path = tmp_path / "big.tflite"
    path.write_bytes(graph_model([(Op("RELU"), [x], [y])], outputs=[y]))
    assert microinterp("plan", path, "--svg", tmp_path / "p.svg").returncode == 0
    svg = (tmp_path / "p.svg").read_text()
    labels = re.findall(r'<text x="([\d.]+)" y="[\d.]+" text-anchor="end">([\d,]+)</text>', svg)
    title_x = float(re.search(r'<text x="([\d.]+)"[^>]*rotate\(-90', svg).group(1))
    assert len(labels) == 5 and max(len(text) for _, text in labels) == len("2,097,152")
    # 11px digits are at most 7px wide; the title's glyphs take 13px right of its x.
    assert all(float(xpos) - 7 * len(text) >= title_x + 13 for xpos, text in labels)


def test_plan_and_inspect_check_the_model_against_boards():
    result = microinterp("plan", KWS, "--board", "nano33ble", "--board", "stm32f746")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[lines.index("boards (arena = minimal 32-bit TFLM arena_size; model = .tflite bytes)") + 1].split() == [
        "board", "SRAM", "flash", "TFLM", "arena", "(32-bit)", "model", "fits", "tightest"]
    assert any(line.split()[:3] == ["stm32f746", "327,680", "1,048,576"] and " yes " in line for line in lines)
    report = json.loads(microinterp("inspect", KWS, "--board", "rp2040", "--json").stdout)
    (fit,) = report["boards"]
    assert fit["arena_bytes"] == report["memory"]["tflm_arena_size_32bit"] and fit["model_bytes"] == KWS.stat().st_size
    assert fit["fits"] and fit["sram_margin"] == 264 * 1024 - fit["arena_bytes"]
    assert_one_line_error(microinterp("inspect", KWS, "--board", "uno"), "unknown board 'uno'")
