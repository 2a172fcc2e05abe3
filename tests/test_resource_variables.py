"""VAR_HANDLE, READ_VARIABLE and ASSIGN_VARIABLE against TFLM, live: state carried over invocations,
the zero-point fill TFLM gives a new buffer, reset_all_variables(), variables set by a CALL_ONCE init
subgraph or assigned inside an IF branch; and the arena head (resource tensors are planned there)."""
from __future__ import annotations

import numpy as np
import pytest

from microinterp import InconsistentModelError, Interpreter, load_model
from microinterp.resources import resource_table

from opmodels import Graph, Op, T, compare_with_tflm, multi_graph_model
from test_control_flow import call_once_op, if_op


def var_handle(name: str, container: str | None = None) -> Op:
    options = {"shared_name": name} | ({"container": container} if container else {})
    return Op("VAR_HANDLE", "VarHandleOptions", options)


READ, ASSIGN = Op("READ_VARIABLE"), Op("ASSIGN_VARIABLE")


def accumulator_nodes(dtype: str, shape, quant=(None, None), name: str = "acc"):
    """h = VAR_HANDLE(name); y = READ(h) + x; ASSIGN(h, y): y is the running sum of the inputs."""
    h, x = T("RESOURCE", ()), T(dtype, shape, *quant)
    old, new = T(dtype, shape, *quant), T(dtype, shape, *quant)
    nodes = [(var_handle(name), [], [h]), (READ, [h], [old]), (Op("ADD", "AddOptions"), [old, x], [new]),
             (ASSIGN, [h, new], [])]
    return nodes, x, new


def _values(dtype: str, shape, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if dtype == "FLOAT32":
        return rng.uniform(-2, 2, shape).astype(np.float32)
    return rng.integers(-20, 20, shape, dtype=np.int8)


@pytest.mark.parametrize("dtype, quant", [("FLOAT32", (None, None)), ("INT8", (0.5, -3))])
def test_variable_accumulates_across_invocations_and_resets_like_tflm(oracle, dtype, quant):
    nodes, x, y = accumulator_nodes(dtype, (2, 3), quant)
    content = multi_graph_model([Graph(nodes, inputs=[x], outputs=[y])])
    invocations = [[_values(dtype, (2, 3), s)] for s in range(3)]
    # INT8: the buffer starts filled with the value's zero point (-3), as TFLM fills it.
    compare_with_tflm(oracle, content, invocations, f"accumulator {dtype}", reset_and_repeat=True)
    interp = Interpreter(model_content=content)
    interp.allocate_tensors()
    tflm = oracle.tflm_arena(content)
    assert interp.memory_plan.head == tflm.head


def test_two_handles_with_one_shared_name_are_one_variable(oracle):
    a_nodes, x1, y1 = accumulator_nodes("FLOAT32", (4,), name="shared")
    b_nodes, x2, y2 = accumulator_nodes("FLOAT32", (4,), name="shared")
    c_nodes, x3, y3 = accumulator_nodes("FLOAT32", (4,), name="other")
    content = multi_graph_model([Graph(a_nodes + b_nodes + c_nodes, inputs=[x1, x2, x3], outputs=[y1, y2, y3])])
    table = resource_table(load_model(content))
    assert [(v.shared_name, v.nbytes) for v in table.variables] == [("shared", 16), ("other", 16)]
    compare_with_tflm(oracle, content, [[_values("FLOAT32", (4,), 3 * s + k) for k in range(3)] for s in range(3)],
                      "shared name")


def test_call_once_init_subgraph_sets_the_variable_like_tflm(oracle):
    h, x, v, y = T("RESOURCE", ()), T("FLOAT32", (4,)), T("FLOAT32", (4,)), T("FLOAT32", (4,))
    main = Graph([(call_once_op(1), [], []), (var_handle("scale"), [], [h]), (READ, [h], [v]),
                  (Op("MUL", "MulOptions"), [v, x], [y]), (ASSIGN, [h, y], [])], inputs=[x], outputs=[y])
    h1 = T("RESOURCE", ())
    initial = T("FLOAT32", (4,), data=np.array([1, 2, 3, 4], np.float32))
    init = Graph([(var_handle("scale"), [], [h1]), (ASSIGN, [h1, initial], [])], inputs=[], outputs=[])
    content = multi_graph_model([main, init])
    compare_with_tflm(oracle, content, [[_values("FLOAT32", (4,), s)] for s in range(3)], "CALL_ONCE init")
    interp = Interpreter(model_content=content)
    interp.allocate_tensors()
    assert interp.memory_plan.head == oracle.tflm_arena(content).head


def test_variable_passed_into_an_if_branch_is_read_there_like_tflm(oracle):
    c, h, x, y = T("BOOL", (1,)), T("RESOURCE", ()), T("FLOAT32", (4,)), T("FLOAT32", (4,))
    main = Graph([(var_handle("state"), [], [h]), (if_op(1, 2), [c, h, x], [y]), (ASSIGN, [h, y], [])],
                 inputs=[c, x], outputs=[y])
    bh, bx, v, s = T("RESOURCE", ()), T("FLOAT32", (4,)), T("FLOAT32", (4,)), T("FLOAT32", (4,))
    then = Graph([(READ, [bh], [v]), (Op("ADD", "AddOptions"), [v, bx], [s])], inputs=[bh, bx], outputs=[s])
    eh, ex, n = T("RESOURCE", ()), T("FLOAT32", (4,)), T("FLOAT32", (4,))
    else_ = Graph([(Op("NEG"), [ex], [n])], inputs=[eh, ex], outputs=[n])
    content = multi_graph_model([main, then, else_])
    invocations = [[np.array([flag]), _values("FLOAT32", (4,), k)] for k, flag in enumerate([True, True, False, True])]
    compare_with_tflm(oracle, content, invocations, "IF(resource)", reset_and_repeat=True)
    interp = Interpreter(model_content=content)
    interp.allocate_tensors()
    assert interp.memory_plan.head == oracle.tflm_arena(content).head


def test_variable_buffers_live_after_the_head_and_variables():
    nodes, x, y = accumulator_nodes("FLOAT32", (5,))
    interp = Interpreter(model_content=multi_graph_model([Graph(nodes, inputs=[x], outputs=[y])]))
    interp.allocate_tensors()
    plan = interp.memory_plan
    (offset,) = plan.resource_offsets
    assert offset >= plan.head and offset % 16 == 0 and plan.arena_size == offset + 32


def test_reading_a_variable_no_assign_allocates_is_refused_at_prepare():
    h, v = T("RESOURCE", ()), T("FLOAT32", (4,))
    content = multi_graph_model([Graph([(var_handle("never"), [], [h]), (READ, [h], [v])], inputs=[], outputs=[v])])
    with pytest.raises(InconsistentModelError, match=r"op 1 \(READ_VARIABLE\): resource variable 0 'never' has no "
                                                     r"buffer"):
        Interpreter(model_content=content).allocate_tensors()


def test_assigning_a_value_of_another_size_is_refused_at_prepare():
    h, a, b = T("RESOURCE", ()), T("FLOAT32", (4,)), T("FLOAT32", (2,))
    content = multi_graph_model([Graph([(var_handle("v"), [], [h]), (ASSIGN, [h, a], []), (ASSIGN, [h, b], [])],
                                       inputs=[a, b], outputs=[])])
    with pytest.raises(InconsistentModelError, match=r"op 2 \(ASSIGN_VARIABLE\): resource variable 0 'v' holds 16 "
                                                     r"bytes, the op uses 8"):
        Interpreter(model_content=content).allocate_tensors()
