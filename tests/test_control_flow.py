"""IF, WHILE and CALL_ONCE against TFLM, live: outputs bit for bit and the arena head of TFLM's
multi-subgraph plan (subgraph lifetimes nested into one plan); and hostile control flow (recursion,
endless loops, mismatched subgraph signatures) refused with clear errors."""
from __future__ import annotations

import numpy as np
import pytest

from microinterp import InconsistentModelError, Interpreter, ResourceLimitError, TensorAccessError
from microinterp.cli.arena_report import compare_strategies, plan_arena

from opmodels import Graph, Op, T, compare_with_tflm, multi_graph_model


def if_op(then: int, else_: int) -> Op:
    return Op("IF", "IfOptions", {"then_subgraph_index": then, "else_subgraph_index": else_})


def while_op(cond: int, body: int) -> Op:
    return Op("WHILE", "WhileOptions", {"cond_subgraph_index": cond, "body_subgraph_index": body})


def call_once_op(init: int) -> Op:
    return Op("CALL_ONCE", "CallOnceOptions", {"init_subgraph_index": init})


def unary_graph(op: Op, shape=(2, 3), dtype="FLOAT32", steps: int = 1) -> Graph:
    """A subgraph applying `op` `steps` times to its one input (intermediates planned in the arena)."""
    x = T(dtype, shape)
    values = [x] + [T(dtype, shape) for _ in range(steps)]
    return Graph([(op, [a], [b]) for a, b in zip(values, values[1:])], inputs=[x], outputs=[values[-1]])


def if_model() -> bytes:
    """y = IF(c, x) (then: ADD x+x then RELU; else: three NEGs), then z = x * y in subgraph 0."""
    c, x, y, z = T("BOOL", (1,)), T("FLOAT32", (2, 3)), T("FLOAT32", (2, 3)), T("FLOAT32", (2, 3))
    main = Graph([(if_op(1, 2), [c, x], [y]), (Op("MUL", "MulOptions"), [x, y], [z])], inputs=[c, x], outputs=[z])
    a, b, r = T("FLOAT32", (2, 3)), T("FLOAT32", (2, 3)), T("FLOAT32", (2, 3))
    then = Graph([(Op("ADD", "AddOptions"), [a, a], [b]), (Op("RELU"), [b], [r])], inputs=[a], outputs=[r])
    return multi_graph_model([main, then, unary_graph(Op("NEG"), steps=3)])


def while_model(limit: int = 5) -> bytes:
    """(i, x) -> WHILE(i < limit) {i + 1, x * 1.5 + x}: state of an int32 counter and a float tensor."""
    i, x, i_out, x_out = T("INT32", (1,)), T("FLOAT32", (4,)), T("INT32", (1,)), T("FLOAT32", (4,))
    main = Graph([(while_op(1, 2), [i, x], [i_out, x_out])], inputs=[i, x], outputs=[i_out, x_out])
    ci, cx, flag = T("INT32", (1,)), T("FLOAT32", (4,)), T("BOOL", (1,))
    bound = T("INT32", (1,), data=np.array([limit], np.int32))
    cond = Graph([(Op("LESS"), [ci, bound], [flag])], inputs=[ci, cx], outputs=[flag])
    bi, bx, bi2, scaled, bx2 = T("INT32", (1,)), T("FLOAT32", (4,)), T("INT32", (1,)), T("FLOAT32", (4,)), T("FLOAT32", (4,))
    one = T("INT32", (1,), data=np.array([1], np.int32))
    factor = T("FLOAT32", (1,), data=np.array([1.5], np.float32))
    body = Graph([(Op("ADD", "AddOptions"), [bi, one], [bi2]),
                  (Op("MUL", "MulOptions"), [bx, factor], [scaled]),
                  (Op("ADD", "AddOptions"), [scaled, bx], [bx2])], inputs=[bi, bx], outputs=[bi2, bx2])
    return multi_graph_model([main, cond, body])


def call_once_model() -> bytes:
    """CALL_ONCE runs subgraph 1 (a computation with its own planned tensors) once; then y = RELU(x)."""
    x, y = T("FLOAT32", (8,)), T("FLOAT32", (8,))
    main = Graph([(call_once_op(1), [], []), (Op("RELU"), [x], [y])], inputs=[x], outputs=[y])
    a, b = T("FLOAT32", (16,), data=np.linspace(-1, 1, 16, dtype=np.float32)), T("FLOAT32", (16,))
    init = Graph([(Op("NEG"), [a], [b])], inputs=[], outputs=[b])
    return multi_graph_model([main, init])


def nested_model() -> bytes:
    """A WHILE whose body holds an IF (three levels of subgraphs in one plan)."""
    i, x, i_out, x_out = T("INT32", (1,)), T("FLOAT32", (4,)), T("INT32", (1,)), T("FLOAT32", (4,))
    main = Graph([(while_op(1, 2), [i, x], [i_out, x_out])], inputs=[i, x], outputs=[i_out, x_out])
    ci, cx, flag = T("INT32", (1,)), T("FLOAT32", (4,)), T("BOOL", (1,))
    bound = T("INT32", (1,), data=np.array([4], np.int32))
    cond = Graph([(Op("LESS"), [ci, bound], [flag])], inputs=[ci, cx], outputs=[flag])
    bi, bx, bi2, odd, bx2 = T("INT32", (1,)), T("FLOAT32", (4,)), T("INT32", (1,)), T("BOOL", (1,)), T("FLOAT32", (4,))
    one = T("INT32", (1,), data=np.array([1], np.int32))
    two = T("INT32", (1,), data=np.array([2], np.int32))
    rem = T("INT32", (1,))
    body = Graph([(Op("ADD", "AddOptions"), [bi, one], [bi2]),
                  (Op("SUB", "SubOptions"), [bi2, two], [rem]),
                  (Op("GREATER"), [rem, bi], [odd]),
                  (if_op(3, 4), [odd, bx], [bx2])], inputs=[bi, bx], outputs=[bi2, bx2])
    return multi_graph_model([main, cond, body, unary_graph(Op("ABS"), (4,), steps=2),
                              unary_graph(Op("NEG"), (4,))])


def _float_inputs(seed: int, shape) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-4, 4, shape).astype(np.float32)


@pytest.mark.parametrize("flag", [True, False])
def test_if_runs_the_branch_its_condition_picks_like_tflm(oracle, flag):
    invocations = [[np.array([flag]), _float_inputs(s, (2, 3))] for s in range(2)]
    compare_with_tflm(oracle, if_model(), invocations, f"IF({flag})")


def test_if_branch_without_ops_passes_its_inputs_through_like_tflm(oracle):
    c, x, y = T("BOOL", (1,)), T("FLOAT32", (5,)), T("FLOAT32", (5,))
    main = Graph([(if_op(1, 2), [c, x], [y])], inputs=[c, x], outputs=[y])
    a = T("FLOAT32", (5,))
    content = multi_graph_model([main, unary_graph(Op("ABS"), (5,), steps=2), Graph([], inputs=[a], outputs=[a])])
    invocations = [[np.array([flag]), _float_inputs(k, (5,))] for k, flag in enumerate((True, False))]
    compare_with_tflm(oracle, content, invocations, "IF with an empty branch")


def test_if_head_equals_tflm_multi_subgraph_plan(oracle):
    content = if_model()
    interp = Interpreter(model_content=content)
    interp.allocate_tensors()
    assert interp.memory_plan.head == oracle.tflm_arena(content).head
    # Branch tensors are planned too, nested inside the IF's step (spec §1: then, else visited in turn).
    assert {a.entry.subgraph for a in interp.memory_plan.allocations} == {0, 1, 2}


@pytest.mark.parametrize("start", [0, 3, 5, 9])
def test_while_loops_until_its_condition_is_false_like_tflm(oracle, start):
    invocations = [[np.array([start], np.int32), _float_inputs(s, (4,))] for s in range(2)]
    compare_with_tflm(oracle, while_model(), invocations, f"WHILE from {start}")


def test_call_once_runs_its_subgraph_on_the_first_invoke_only_like_tflm(oracle):
    content = call_once_model()
    compare_with_tflm(oracle, content, [[_float_inputs(s, (8,))] for s in range(3)], "CALL_ONCE")
    interp = Interpreter(model_content=content)
    interp.allocate_tensors()
    assert interp.memory_plan.head == oracle.tflm_arena(content).head

    # With every tensor in its own bytes, the init subgraph's output (NEG of its constant) stays readable.
    kept = Interpreter(model_content=content, experimental_preserve_all_tensors=True)
    kept.allocate_tensors()
    kept.set_tensor(kept.get_input_details()[0]["index"], _float_inputs(0, (8,)))
    kept.invoke()
    np.testing.assert_array_equal(kept.get_tensor(1, subgraph_index=1), -np.linspace(-1, 1, 16, dtype=np.float32))
    with pytest.raises(TensorAccessError, match="subgraph 2"):
        kept.get_tensor(0, subgraph_index=2)


def test_if_inside_while_body_matches_tflm_outputs_and_head(oracle):
    content = nested_model()
    invocations = [[np.array([k], np.int32), _float_inputs(k, (4,))] for k in (0, 1, 7)]
    compare_with_tflm(oracle, content, invocations, "WHILE{IF}")
    for content in (while_model(), nested_model()):
        interp = Interpreter(model_content=content)
        interp.allocate_tensors()
        assert interp.memory_plan.head == oracle.tflm_arena(content).head


@pytest.mark.parametrize("strategy", ["optimal", "reorder", "inplace"])
def test_other_strategies_plan_all_subgraphs_and_keep_the_op_order(strategy):
    content = nested_model()
    tflm = Interpreter(model_content=content)
    tflm.allocate_tensors()
    interp = Interpreter(model_content=content, memory_strategy=strategy)
    interp.allocate_tensors()
    plan = interp.memory_plan
    assert plan.head <= tflm.memory_plan.head
    assert plan.op_order == (0,)
    # optimal never reorders; reorder and inplace say why they keep the order.
    assert any("control flow" in note for note in plan.notes) == (strategy != "optimal")
    invocations = [np.array([1], np.int32), _float_inputs(0, (4,))]
    for it in (tflm, interp):
        for d, v in zip(it.get_input_details(), invocations):
            it.set_tensor(d["index"], v)
        it.invoke()
    for d in tflm.get_output_details():
        np.testing.assert_array_equal(interp.get_tensor(d["index"]), tflm.get_tensor(d["index"]))


def test_plan_report_says_why_the_op_order_is_kept():
    report, _ = plan_arena(nested_model(), "reorder")
    assert any("control flow" in note for note in report.notes)
    assert compare_strategies(nested_model(), time_budget=1.0).head("optimal") > 0


# -- hostile control flow ----------------------------------------------------------------------------

def test_while_whose_body_runs_the_same_while_is_refused_at_prepare():
    i, x, i2, x2 = T("INT32", (1,)), T("FLOAT32", (4,)), T("INT32", (1,)), T("FLOAT32", (4,))
    main = Graph([(while_op(1, 1), [i, x], [i2, x2])], inputs=[i, x], outputs=[i2, x2])
    bi, bx, bi2, bx2 = T("INT32", (1,)), T("FLOAT32", (4,)), T("INT32", (1,)), T("FLOAT32", (4,))
    recursive = Graph([(while_op(1, 1), [bi, bx], [bi2, bx2])], inputs=[bi, bx], outputs=[bi2, bx2])
    with pytest.raises(InconsistentModelError, match=r"subgraph 1 op 0 \(WHILE\): calls subgraph 1, which is "
                                                     r"already running \(subgraphs 0 -> 1 -> 1\)"):
        Interpreter(model_content=multi_graph_model([main, recursive])).allocate_tensors()


def test_while_that_never_ends_raises_resource_limit_error():
    interp = Interpreter(model_content=while_model(limit=1 << 30), max_subgraph_visits=1000)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], np.array([0], np.int32))
    interp.set_tensor(interp.get_input_details()[1]["index"], np.zeros(4, np.float32))
    with pytest.raises(ResourceLimitError, match=r"more than 1000 times \(max_subgraph_visits\)"):
        interp.invoke()


def test_subgraph_visits_are_counted_per_invoke_not_across_invokes():
    # 5 rounds: 6 condition and 5 body runs per invoke; a count carried over would pass 20 in the second.
    interp = Interpreter(model_content=while_model(limit=5), max_subgraph_visits=20)
    interp.allocate_tensors()
    for _ in range(3):
        interp.set_tensor(interp.get_input_details()[0]["index"], np.array([0], np.int32))
        interp.set_tensor(interp.get_input_details()[1]["index"], np.ones(4, np.float32))
        interp.invoke()
        assert interp.get_tensor(interp.get_output_details()[0]["index"])[0] == 5


def test_exponential_nesting_is_bounded_when_planning():
    # Subgraph k runs subgraph k+1 through both branches of an IF: 2^20 visits of the last one.
    levels = 20
    graphs = []
    for k in range(levels):
        c, x, y = T("BOOL", (1,)), T("FLOAT32", (2,)), T("FLOAT32", (2,))
        graphs.append(Graph([(if_op(k + 1, k + 1), [c, x], [y])], inputs=[c, x], outputs=[y]))
    # The last level's callee: a plain subgraph of the same signature (condition + value).
    c, x, y = T("BOOL", (1,)), T("FLOAT32", (2,)), T("FLOAT32", (2,))
    graphs.append(Graph([(Op("RELU"), [x], [y])], inputs=[c, x], outputs=[y]))
    # IF passes inputs 1.. to its branch: give every level's IF the condition twice so signatures match.
    for g in graphs[:-1]:
        op, ins, outs = g.nodes[0]
        g.nodes = [(op, [ins[0], ins[0], ins[1]], outs)]
    with pytest.raises(ResourceLimitError, match="max_subgraph_visits"):
        Interpreter(model_content=multi_graph_model(graphs), max_subgraph_visits=10_000).allocate_tensors()


def test_if_branch_with_a_different_signature_is_refused_naming_the_tensor():
    c, x, y = T("BOOL", (1,)), T("FLOAT32", (2, 3)), T("FLOAT32", (2, 3))
    main = Graph([(if_op(1, 2), [c, x], [y])], inputs=[c, x], outputs=[y])
    content = multi_graph_model([main, unary_graph(Op("RELU")), unary_graph(Op("RELU"), shape=(3,))])
    with pytest.raises(InconsistentModelError, match=r"op 0 \(IF\): subgraph 2 input 0 .* 12 bytes, expected "
                                                     r"FLOAT32 and 24 bytes"):
        Interpreter(model_content=content).allocate_tensors()


def test_if_condition_must_be_one_bool():
    c, x, y = T("INT32", (1,)), T("FLOAT32", (2, 3)), T("FLOAT32", (2, 3))
    main = Graph([(if_op(1, 1), [c, x], [y])], inputs=[c, x], outputs=[y])
    with pytest.raises(InconsistentModelError, match=r"op 0 \(IF\): condition .* must be a BOOL"):
        Interpreter(model_content=multi_graph_model([main, unary_graph(Op("RELU"))])).allocate_tensors()


def reducing_branch(kind: str) -> Graph:
    """An int8 branch whose op requests TFLM scratch (MEAN/SUM: accumulators, rank and axis buffers)."""
    a, r = T("INT8", (4, 8), 0.05, 3), T("INT8", (4, 1), 0.04, -2)
    axis = T("INT32", (1,), data=np.array([1], np.int32))
    return Graph([(Op(kind, "ReducerOptions", {"keep_dims": True}), [a, axis], [r])], inputs=[a], outputs=[r])


def test_scratch_of_ops_inside_branches_is_planned_like_tflm(oracle):
    c, x, y, z = T("BOOL", (1,)), T("INT8", (4, 8), 0.05, 3), T("INT8", (4, 1), 0.04, -2), T("INT8", (4, 1), 0.04, -2)
    axis = T("INT32", (1,), data=np.array([1], np.int32))
    main = Graph([(if_op(1, 2), [c, x], [y]), (Op("MEAN", "ReducerOptions", {"keep_dims": True}), [x, axis], [z])],
                 inputs=[c, x], outputs=[y, z])
    content = multi_graph_model([main, reducing_branch("MEAN"), reducing_branch("SUM")])
    rng = np.random.default_rng(0)
    invocations = [[np.array([flag]), rng.integers(-128, 128, (4, 8), dtype=np.int8)] for flag in (True, False)]
    compare_with_tflm(oracle, content, invocations, "IF{MEAN|SUM}")
    interp = Interpreter(model_content=content)
    interp.allocate_tensors()
    assert {a.entry.subgraph for a in interp.memory_plan.allocations if a.entry.kind == "scratch"} == {0, 1, 2}
    assert interp.memory_plan.head == oracle.tflm_arena(content).head
