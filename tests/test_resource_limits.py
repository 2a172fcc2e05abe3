"""The model-size and work limits (max_ops, max_tensors, max_subgraphs, max_macs_per_invoke): every real
model passes the defaults, a hostile file does not, and each limit is refused before the work."""
from __future__ import annotations

import importlib
import time
from pathlib import Path

import flatbuffers
import pytest
from tflite.BuiltinOperator import BuiltinOperator

from conftest import REFERENCE_MODELS
from large_graphs import add_chain
from opmodels import Graph, Op, T, graph_model, multi_graph_model
from microinterp import Interpreter
from microinterp.errors import ResourceLimitError
from microinterp.model import load_model
from microinterp.workload import DEFAULT_MAX_MACS_PER_INVOKE, call_macs, check_macs, op_macs, subgraph_macs


def _int_vector(b: flatbuffers.Builder, values: list[int]) -> int:
    b.StartVector(4, len(values), 4)
    for v in reversed(values):
        b.PrependInt32(v)
    return b.EndVector()


def shared_operator_model(count: int) -> bytes:
    """A small file whose subgraph lists one ADD table `count` times (a flatbuffer may share tables):
    it declares `count` operators without paying their bytes."""
    # the builder functions live in the modules named like the generated classes
    Buffer, Tensor, Operator, SubGraph, OperatorCode, Model = (
        importlib.import_module(f"tflite.{name}")
        for name in ("Buffer", "Tensor", "Operator", "SubGraph", "OperatorCode", "Model"))
    b = flatbuffers.Builder(1024)
    Buffer.Start(b)
    buffer = Buffer.End(b)
    tensors = []
    for _ in range(2):
        shape = _int_vector(b, [1])
        Tensor.Start(b)
        Tensor.AddShape(b, shape)
        tensors.append(Tensor.End(b))
    inputs, outputs = _int_vector(b, [0, 0]), _int_vector(b, [1])
    Operator.Start(b)
    Operator.AddInputs(b, inputs)
    Operator.AddOutputs(b, outputs)
    op = Operator.End(b)

    def offsets(items: list[int]) -> int:
        b.StartVector(4, len(items), 4)
        for item in reversed(items):
            b.PrependUOffsetTRelative(item)
        return b.EndVector()
    tensor_vec, op_vec = offsets(tensors), offsets([op] * count)
    sg_in, sg_out = _int_vector(b, [0]), _int_vector(b, [1])
    SubGraph.Start(b)
    SubGraph.AddTensors(b, tensor_vec)
    SubGraph.AddOperators(b, op_vec)
    SubGraph.AddInputs(b, sg_in)
    SubGraph.AddOutputs(b, sg_out)
    subgraph = SubGraph.End(b)
    OperatorCode.Start(b)
    OperatorCode.AddBuiltinCode(b, BuiltinOperator.ADD)
    code = OperatorCode.End(b)
    codes, subgraphs, buffers = offsets([code]), offsets([subgraph]), offsets([buffer])
    Model.Start(b)
    Model.AddVersion(b, 3)
    Model.AddOperatorCodes(b, codes)
    Model.AddSubgraphs(b, subgraphs)
    Model.AddBuffers(b, buffers)
    b.Finish(Model.End(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def real_models(shared: Path) -> list[Path]:
    return sorted(shared.rglob("*.tflite")) + sorted(REFERENCE_MODELS.rglob("*.tflite"))


def test_every_real_model_passes_the_default_limits(shared_models):
    for path in real_models(shared_models):
        model = load_model(path)
        check_macs(model, DEFAULT_MAX_MACS_PER_INVOKE)


def test_a_file_declaring_many_shared_operators_is_refused_before_they_are_read():
    content = shared_operator_model(200_000)
    assert len(content) < 1_000_000
    start = time.perf_counter()
    with pytest.raises(ResourceLimitError, match=r"subgraphs\[0\]\.operators: .*more than 32768 operators .*max_ops"):
        Interpreter(model_content=content)
    assert time.perf_counter() - start < 1.0  # refused from the vector's length, not after walking it


@pytest.mark.parametrize("option, count", [("max_ops", 30), ("max_tensors", 31), ("max_subgraphs", 1)])
def test_each_count_limit_admits_its_value_and_refuses_one_less(option, count):
    content = add_chain(30)
    Interpreter(model_content=content, **{option: count}).allocate_tensors()
    with pytest.raises(ResourceLimitError, match=rf"more than {count - 1} .*\({option}\)"):
        Interpreter(model_content=content, **{option: count - 1})


def fully_connected_fanout(ops: int, batch: int, depth: int) -> bytes:
    """`ops` float FULLY_CONNECTED ops sharing one non-constant [depth, depth] weight tensor."""
    x, w = T("FLOAT32", (batch, depth)), T("FLOAT32", (depth, depth))
    fc = Op("FULLY_CONNECTED", "FullyConnectedOptions", {})
    return graph_model([(fc, [x, w, None], [T("FLOAT32", (batch, depth))]) for _ in range(ops)])


def test_mac_limit_counts_one_subgraph_call_and_refuses_before_prepare():
    content = fully_connected_fanout(3, 2, 16)
    macs = subgraph_macs(load_model(content).main)
    assert macs == 3 * 2 * 16 * 16
    Interpreter(model_content=content, max_macs_per_invoke=macs).allocate_tensors()
    interp = Interpreter(model_content=content, max_macs_per_invoke=macs - 1)
    with pytest.raises(ResourceLimitError, match=rf"subgraph 0: one call declares {macs} .*max_macs_per_invoke"):
        interp.allocate_tensors()


def test_a_hostile_file_reusing_a_large_weight_exceeds_the_default_mac_limit():
    # 64 ops x 64 x 4096 x 4096 MACs = 6.9e10 from a file of a few kilobytes (no constant data).
    interp = Interpreter(model_content=fully_connected_fanout(64, 64, 4096))
    start = time.perf_counter()
    with pytest.raises(ResourceLimitError, match="max_macs_per_invoke"):
        interp.allocate_tensors()
    assert time.perf_counter() - start < 1.0
    assert interp.arena is None


def fully_connected_branch(ops: int) -> Graph:
    """A subgraph (c, x, w) -> y of `ops` chained float [2, 16] x [16, 16] FULLY_CONNECTED ops."""
    c, w = T("BOOL", (1,)), T("FLOAT32", (16, 16))
    values = [T("FLOAT32", (2, 16)) for _ in range(ops + 1)]
    fc = Op("FULLY_CONNECTED", "FullyConnectedOptions", {})
    return Graph([(fc, [a, w, None], [b]) for a, b in zip(values, values[1:])],
                 inputs=[c, values[0], w], outputs=[values[-1]])


def test_mac_limit_counts_the_larger_if_branch_in_the_callers_call():
    c, x, w, y = T("BOOL", (1,)), T("FLOAT32", (2, 16)), T("FLOAT32", (16, 16)), T("FLOAT32", (2, 16))
    branch_op = Op("IF", "IfOptions", {"then_subgraph_index": 1, "else_subgraph_index": 2})
    main = Graph([(branch_op, [c, c, x, w], [y])], inputs=[c, x, w], outputs=[y])
    content = multi_graph_model([main, fully_connected_branch(1), fully_connected_branch(2)])
    model = load_model(content)
    per_fc = 2 * 16 * 16
    assert call_macs(model) == [2 * per_fc, per_fc, 2 * per_fc]
    Interpreter(model_content=content, max_macs_per_invoke=2 * per_fc).allocate_tensors()
    with pytest.raises(ResourceLimitError, match=rf"subgraph 0: one call declares {2 * per_fc} .*included"):
        Interpreter(model_content=content, max_macs_per_invoke=2 * per_fc - 1).allocate_tensors()


@pytest.mark.parametrize("adj_x", [False, True])
def test_batch_matmul_macs_are_output_elements_times_the_shared_depth(adj_x):
    lhs = T("FLOAT32", (2, 4, 3) if adj_x else (2, 3, 4))
    nodes = [(Op("BATCH_MATMUL", "BatchMatMulOptions", {"adj_x": adj_x}), [lhs, T("FLOAT32", (2, 4, 5))],
              [T("FLOAT32", (2, 3, 5))])]
    model = load_model(graph_model(nodes))
    assert op_macs(model.main, model.main.operators[0]) == 2 * 3 * 5 * 4


@pytest.mark.parametrize("option", ["max_ops", "max_tensors", "max_subgraphs", "max_macs_per_invoke",
                                    "max_subgraph_visits"])
@pytest.mark.parametrize("value", [-1, 1.5, True, "10"])
def test_limits_must_be_non_negative_integers(option, value):
    with pytest.raises(ValueError, match=option):
        Interpreter(model_content=add_chain(2), **{option: value})
