"""Variable tensors: TFLM's reset values, state carried across invokes, reset_all_variables(), and where the
memory plan puts them (persistent region after the head; in the head when offline-planned)."""
from __future__ import annotations

import struct

import numpy as np

from microinterp import Interpreter
from opmodels import T, compare_with_tflm, graph_input_tensors, graph_model, random_values
from test_op_lstm import lstm_case
from test_op_svdf import svdf_float_case, svdf_int8_case

SEEDS = (0, 1, 2)


def stateful_cases():
    """SVDF and LSTM nodes whose variables cover every reset rule: int8 with non-zero zero points, int16
    with a non-zero zero point (reset to 0 all the same), float."""
    return [svdf_int8_case(1, 6, 4, 3, 1, "INT8", 5, -50, 0, seed=1),
            svdf_int8_case(2, 4, 6, 2, 2, "INT16", 0, 100, 3, seed=2),
            svdf_float_case(1, 3, 4, 2, 1, 0, seed=3),
            lstm_case("INT8", 2, 3, 4, 3, hidden_zp=-9, seed=4),
            lstm_case("FLOAT32", 1, 2, 3, 2, time_major=True, seed=5)]


def variables_of(case) -> list[T]:
    return [t for t in case.inputs if t is not None and t.is_variable]


def invocations_for(nodes, seeds=SEEDS) -> list[list[np.ndarray]]:
    inputs = graph_input_tensors(nodes)
    return [[random_values(rng, t) for t in inputs] for rng in (np.random.default_rng(s) for s in seeds)]


def expected_reset_value(t: T) -> int:
    """TFLM's ResetVariableTensors: memset with an int8 variable's zero point, with 0 for anything else."""
    return int(np.int8(t.zero_point)) if t.type == "INT8" and t.zero_point else 0


def test_allocation_resets_int8_variables_to_their_zero_point_and_others_to_zero():
    cases = stateful_cases()
    nodes = [(c.op, c.inputs, c.outputs) for c in cases]
    model = graph_model(nodes)
    interp = Interpreter(model_content=model)
    interp.allocate_tensors()
    variables = [t for c in cases for t in variables_of(c)]
    indices = [i for i, t in enumerate(interp.model.main.tensors) if t.is_variable]
    assert len(indices) == len(variables) == 7
    for index, t in zip(indices, variables):
        np.testing.assert_array_equal(interp.get_tensor(index), np.full(t.shape, expected_reset_value(t), t.dtype))


def test_states_carry_across_invokes_and_reset_all_variables_restores_tflm_initial_state(oracle):
    """The variables themselves are graph outputs here, so every state is compared with TFLM's after every
    invocation, before and after reset_all_variables()."""
    cases = stateful_cases()
    nodes = [(c.op, c.inputs, c.outputs) for c in cases]
    states = [t for c in cases for t in variables_of(c)]
    model = graph_model(nodes, outputs=[t for c in cases for t in c.outputs] + states)
    invocations = invocations_for(nodes)
    # The float LSTM's activations are polynomials (float_lstm_cells.h): floats within the float32 rule.
    compare_with_tflm(oracle, model, invocations, "stateful graph", reset_and_repeat=True, float_rule=True)


def test_repeating_an_input_gives_new_outputs_because_the_state_moved_on():
    case = lstm_case("INT8", 1, 2, 3, 4, seed=6)
    model = graph_model([(case.op, case.inputs, case.outputs)])
    interp = Interpreter(model_content=model)
    interp.allocate_tensors()
    x = random_values(np.random.default_rng(0), case.inputs[0])
    outputs = []
    for _ in range(2):
        interp.set_tensor(0, x)
        interp.invoke()
        outputs.append(interp.get_tensor(interp.get_output_details()[0]["index"]))
    interp.reset_all_variables()
    interp.set_tensor(0, x)
    interp.invoke()
    assert not np.array_equal(outputs[0], outputs[1])
    np.testing.assert_array_equal(interp.get_tensor(interp.get_output_details()[0]["index"]), outputs[0])


def test_variable_buffer_data_is_not_an_initial_value(oracle):
    """TFLM gives a variable fresh arena bytes and resets them, whatever data its buffer holds."""
    case = svdf_int8_case(1, 5, 4, 3, 1, "INT8", 0, 20, 0, seed=7)
    state = case.inputs[4]
    case.inputs[4] = T(state.type, state.shape, state.scale, state.zero_point,
                       np.full(state.shape, 99, np.int8), is_variable=True)
    nodes = [(case.op, case.inputs, case.outputs)]
    compare_with_tflm(oracle, graph_model(nodes), invocations_for(nodes), "variable with data",
                      reset_and_repeat=True)


def test_variables_live_after_the_head_each_in_its_own_aligned_bytes(oracle):
    cases = stateful_cases()
    model = graph_model([(c.op, c.inputs, c.outputs) for c in cases])
    interp = Interpreter(model_content=model)
    interp.allocate_tensors()
    plan = interp.memory_plan
    assert plan.head == oracle.tflm_arena(model).head
    tensors = interp.model.main.tensors
    regions = sorted((offset, offset + tensors[t].nbytes) for (_, t), offset in plan.variable_offsets.items())
    assert len(regions) == 7
    assert regions[0][0] >= plan.head
    assert all(start % 16 == 0 for start, _ in regions)
    assert all(end <= next_start for (_, end), (next_start, _) in zip(regions, regions[1:]))
    assert regions[-1][1] <= plan.arena_size


def test_offline_planned_variable_lives_in_the_head_and_is_reset_there(oracle):
    case = lstm_case("INT8", 1, 2, 3, 4, hidden_zp=5, seed=8)
    nodes = [(case.op, case.inputs, case.outputs)]
    probe = Interpreter(model_content=graph_model(nodes)).model.main.tensors
    hidden_index = next(t.index for t in probe if t.is_variable and t.type_name == "INT8")
    count = len(probe)
    offsets = [-1] * count
    offsets[hidden_index] = 512
    metadata = {"OfflineMemoryAllocation": struct.pack(f"<{3 + count}i", 1, 1, count, *offsets)}
    model = graph_model(nodes, metadata=metadata)
    interp = Interpreter(model_content=model)
    interp.allocate_tensors()
    plan = interp.memory_plan
    assert plan.tensor_allocation(0, hidden_index).offset == 512
    assert (0, hidden_index) not in plan.variable_offsets
    assert plan.head == oracle.tflm_arena(model).head
    np.testing.assert_array_equal(interp.get_tensor(hidden_index), np.full((1, 4), 5, np.int8))
    compare_with_tflm(oracle, model, invocations_for(nodes), "offline-planned hidden state", reset_and_repeat=True)
