"""Custom ops microinterp has no kernel for (Vela's `ethos-u`, any unknown custom op): inspected and
planned like TFLM plans them, refused only when asked to run.

Vela (the `ethos-u-vela` package of the test extra) compiles bundled models live, for a small Ethos-U55
in Shared_Sram mode: there TFLM's arena holds everything Vela puts in SRAM (its scratch tensor, with the
graph input and output placed inside it by the offline plan), so our head must equal the SRAM bytes
Vela reports. What differs elsewhere: in Dedicated_Sram mode (Ethos-U65) Vela's SRAM figure is the
`scratch_fast` tensor alone, which an Ethos-U build of TFLM may map to a separate fast memory, while
the offline plan (and so our head, as TFLM's) lays `scratch` and `scratch_fast` over each other at
offset 0 of the arena; and Vela's figure never counts TFLM's persistent tail.
"""
from __future__ import annotations

import csv
import importlib.resources
import subprocess
import sys
from pathlib import Path

import pytest

from microinterp import InconsistentModelError, Interpreter, UnsupportedOperatorError, load_model
from microinterp.cli import main as cli_main
from microinterp.cli.arena_report import plan_arena
from microinterp.cli.inspection import inspect_model
from microinterp.prepare import prepare_graph

from conftest import REFERENCE_MODELS
from opmodels import Op, T, graph_model

VELA_MODELS = ("hello_world_sine_int8", "ad_fc_autoencoder_int8", "kws_ds_cnn_int8")
VELA_SYSTEM = ("--accelerator-config", "ethos-u55-64", "--system-config", "Ethos_U55_High_End_Embedded",
               "--memory-mode", "Shared_Sram")


def compile_with_vela(name: str, out_dir: Path) -> tuple[Path, int]:
    """Vela's output model for a bundled model, and the SRAM bytes Vela reports for it."""
    config = importlib.resources.files("ethosu") / "config_files" / "Arm" / "vela.ini"
    subprocess.run([sys.executable, "-m", "ethosu.vela", str(REFERENCE_MODELS / f"{name}.tflite"),
                    "--config", str(config), *VELA_SYSTEM, "--output-dir", str(out_dir)],
                   check=True, capture_output=True)
    with open(out_dir / f"{name}_summary_Ethos_U55_High_End_Embedded.csv", newline="") as f:
        sram_kib = float(next(csv.DictReader(f))["sram_memory_used"])
    return out_dir / f"{name}_vela.tflite", round(sram_kib * 1024)


@pytest.fixture(scope="module")
def vela_models(tmp_path_factory) -> dict[str, tuple[Path, int]]:
    out_dir = tmp_path_factory.mktemp("vela")
    return {name: compile_with_vela(name, out_dir) for name in VELA_MODELS}


@pytest.mark.parametrize("name", VELA_MODELS)
def test_vela_model_head_equals_the_sram_vela_reports(vela_models, name):
    path, vela_sram = vela_models[name]
    report, plan = plan_arena(path)
    assert plan.head == vela_sram, f"{name}: head {plan.head}, Vela's SRAM {vela_sram}"
    assert [p for p in report.unsupported if "'ethos-u'" in p], report.unsupported
    scratch = next(t.index for t in load_model(path).main.tensors if t.name == "scratch")
    # TFLM marks a tensor nobody writes only at its last use: lifetime [-1, 1] (spec §1).
    entry = plan.tensor_allocation(0, scratch).entry
    assert (entry.first, entry.last) == (-1, 1)


def test_vela_model_inspects_and_plans_but_run_refuses_naming_the_op(vela_models, capsys):
    path, vela_sram = vela_models["hello_world_sine_int8"]
    report = inspect_model(path)
    assert report.memory.arena_head == vela_sram and not report.memory.exact
    assert [op.op for op in report.ops if not op.supported] == ["CUSTOM(ethos-u)"]
    assert cli_main(["inspect", str(path)]) == 0
    assert cli_main(["plan", str(path)]) == 0
    assert "no kernel" in capsys.readouterr().out
    assert cli_main(["run", str(path)]) == 2
    assert "op 0 (CUSTOM(ethos-u))" in capsys.readouterr().err
    with pytest.raises(UnsupportedOperatorError, match=r"custom operator 'ethos-u' has no kernel"):
        Interpreter(model_path=path).allocate_tensors()


def _npu_graph(npu: Op, reader: Op, scratch_read_by_reader: bool = False) -> bytes:
    """x -> npu(x, scratch) -> y -> reader(y[, scratch]) -> z, where nothing writes `scratch`."""
    x, y, z = (T("INT8", (4,), 1.0, 0) for _ in range(3))
    scratch = T("INT8", (4,), 1.0, 0, name="scratch")
    nodes = [(npu, [x, scratch], [y]), (reader, [y, scratch] if scratch_read_by_reader else [y], [z])]
    return graph_model(nodes, inputs=[x], outputs=[z])


def test_unknown_custom_op_tensors_are_planned_like_tflm_plans_them(oracle):
    content = _npu_graph(Op("CUSTOM", custom_code="my_npu"), Op("RELU"))
    model = load_model(content)
    prepared, problems = prepare_graph(model)
    assert [p.op.name for p in prepared] == ["RELU"]
    assert problems == ["op 0 (CUSTOM(my_npu)): custom operator 'my_npu' has no kernel in microinterp "
                        "(inspect and plan still work on this model)"]
    _, plan = plan_arena(model)
    assert plan.tensor_allocation(0, 1).entry.first == -1  # the scratch tensor: created before the graph
    # TFLM cannot load a model with an unregistered custom op, and does not check data flow: the same
    # graph with a builtin op (with the same lifetimes and no scratch) in its place is planned alike.
    stand_in = _npu_graph(Op("ADD", "AddOptions"), Op("RELU"))
    assert plan.head == oracle.tflm_arena(stand_in).head


def test_a_tensor_nobody_writes_is_an_error_when_a_kernel_op_reads_it():
    content = _npu_graph(Op("CUSTOM", custom_code="my_npu"), Op("ADD", "AddOptions"), scratch_read_by_reader=True)
    with pytest.raises(InconsistentModelError, match=r"op 1 \(ADD\): input 1 .*'scratch'.* is read before any op"):
        prepare_graph(load_model(content))
