"""The Interpreter follows tf.lite.Interpreter's API and refuses wrong calls with clear errors."""
from __future__ import annotations

import inspect
import weakref

import numpy as np
import pytest

from microinterp import (ArenaTooSmallError, InconsistentModelError, Interpreter, InvocationError,
                         TensorAccessError, UnsupportedOperatorError, load_model)
from microinterp._kernels import steps

from opmodels import Op, T, graph_model, single_op_model
from test_op_conv import conv_case

TF_LITE_DETAIL_KEYS = {"name", "index", "shape", "shape_signature", "dtype", "quantization",
                       "quantization_parameters", "sparsity_parameters"}


def reshape_model() -> bytes:
    """x int8[1, 4] -> RESHAPE -> y int8[2, 2]; tensors 0 (x), 1 (shape, constant), 2 (y)."""
    return single_op_model(Op("RESHAPE", "ReshapeOptions", {"new_shape": [2, 2]}),
                           [T("INT8", (1, 4), 0.5, 1, name="x"),
                            T("INT32", (2,), data=np.array([2, 2], np.int32), name="shape")],
                           [T("INT8", (2, 2), 0.5, 1, name="y")])


@pytest.fixture
def interp():
    it = Interpreter(model_content=reshape_model())
    it.allocate_tensors()
    return it


def test_details_have_the_keys_and_values_of_tf_lite(interp):
    (inp,), (out,) = interp.get_input_details(), interp.get_output_details()
    assert set(inp) == TF_LITE_DETAIL_KEYS
    assert inp["dtype"] is np.int8 and inp["shape"].tolist() == [1, 4] and inp["shape"].dtype == np.int32
    assert inp["quantization"] == (0.5, 1)
    assert inp["quantization_parameters"]["zero_points"].tolist() == [1]
    assert out["index"] == 2 and out["name"] == "y"
    assert len(interp.get_tensor_details()) == 3


def test_set_invoke_get_round_trip(interp):
    interp.set_tensor(0, np.array([[1, 2, 3, 4]], np.int8))
    interp.invoke()
    assert interp.get_tensor(2).tolist() == [[1, 2], [3, 4]]


def test_set_tensor_with_wrong_dtype_raises_value_error_naming_both_types(interp):
    with pytest.raises(ValueError, match="float32.*int8"):
        interp.set_tensor(0, np.zeros((1, 4), np.float32))


def test_set_tensor_with_wrong_shape_raises_value_error_naming_both_shapes(interp):
    with pytest.raises(TensorAccessError, match=r"\[4\].*\[1, 4\]"):
        interp.set_tensor(0, np.zeros(4, np.int8))


def test_set_tensor_on_a_constant_is_refused(interp):
    with pytest.raises(TensorAccessError, match="constant"):
        interp.set_tensor(1, np.array([2, 2], np.int32))


def test_bad_tensor_index_is_refused(interp):
    with pytest.raises(TensorAccessError, match="out of range"):
        interp.get_tensor(99)


def test_invoke_before_allocate_tensors_raises():
    it = Interpreter(model_content=reshape_model())
    with pytest.raises(InvocationError, match="allocate_tensors"):
        it.invoke()


def test_inputs_are_copied_not_aliased(interp):
    x = np.array([[1, 2, 3, 4]], np.int8)
    interp.set_tensor(0, x)
    x[:] = 0
    interp.invoke()
    assert interp.get_tensor(2).tolist() == [[1, 2], [3, 4]]


@pytest.mark.parametrize("reshaped_first,strategy,read_in_place", [
    (False, "tflm", True),  # the first ADD reads x where set_tensor wrote it
    (True, "tflm", True),  # a RESHAPE that copies x reads it there too
    (True, "inplace", False),  # a RESHAPE left out (its output aliases x's bytes): x is copied in per run
])
def test_every_invoke_sees_the_input_set_once_although_activations_reuse_its_arena_bytes(reshaped_first, strategy,
                                                                                          read_in_place):
    """The arena reuses an input's bytes for later activations (as TFLM does): x dies early and a later
    ADD's output takes its place. The steps read x where set_tensor() wrote it, or, where x's arena bytes
    are what the steps read (an aliasing RESHAPE), every invoke, profiled or not, copies it back in
    first; either way repeated invokes agree."""
    x, r, a, b, c = (T("INT8", (1, 64), 0.5, 0, name=n) for n in "xrabc")
    add = Op("ADD", "AddOptions", {})
    nodes = [(add, [r, r], [a]), (add, [a, a], [b]), (add, [b, b], [c])]
    if reshaped_first:
        shape = T("INT32", (2,), data=np.array([1, 64], np.int32), name="shape")
        nodes.insert(0, (Op("RESHAPE", "ReshapeOptions", {"new_shape": [1, 64]}), [x, shape], [r]))
    else:
        nodes[0] = (add, [x, x], [a])
    it = Interpreter(model_content=graph_model(nodes, inputs=[x], outputs=[c]), memory_strategy=strategy)
    it.allocate_tensors()
    assert (0 in it._exec.inputs_read_in_place) == read_in_place
    staged = np.arange(-32, 32, dtype=np.int8).reshape(1, 64) // 8
    it.set_tensor(0, staged)
    output = it.get_output_details()[0]["index"]
    start = it.memory_plan.tensor_allocation(0, 0).offset
    outputs = []
    for op_times in (None, None, [], None):
        it.invoke(op_times=op_times)
        outputs.append(it.get_tensor(output))
        assert not np.array_equal(it.arena[start:start + 64].view(np.int8), staged[0])  # now an activation
    assert all(np.array_equal(o, staged * 8) for o in outputs)


@pytest.mark.parametrize("path", steps.int8_paths())
def test_a_pointwise_conv_reading_the_graph_input_in_place_leaves_the_value_set(path, monkeypatch):
    """A 1x1 conv first in the graph reads the input where set_tensor() wrote it; on the quad paths it
    flips the input's sign bits there for its run and back: get_tensor() still gives the value set, and
    every path gives the same output."""
    monkeypatch.setenv(steps.INT8_PATH_VARIABLE, path)
    case = conv_case("1x1", 4, input_shape=(1, 5, 7, 32), out_channels=24, kernel=(1, 1))
    it = Interpreter(model_content=single_op_model(case.op, case.inputs, case.outputs))
    it.allocate_tensors()
    index = it.get_input_details()[0]["index"]
    assert index in it._exec.inputs_read_in_place
    conv = next(s for s in it._exec.steps if isinstance(s, steps.Int8ConvStep))
    assert conv.reads_input_in_place == conv.gemm.quads
    x = np.random.default_rng(4).integers(-128, 128, (1, 5, 7, 32)).astype(np.int8)
    it.set_tensor(index, x)
    it.invoke()
    np.testing.assert_array_equal(it.get_tensor(index), x)
    monkeypatch.setenv(steps.INT8_PATH_VARIABLE, "portable")
    reference = Interpreter(model_content=single_op_model(case.op, case.inputs, case.outputs))
    reference.allocate_tensors()
    reference.set_tensor(index, x)
    reference.invoke()
    output = it.get_output_details()[0]["index"]
    np.testing.assert_array_equal(it.get_tensor(output), reference.get_tensor(output))


def test_get_tensor_returns_a_copy_and_tensor_a_live_view(interp):
    interp.set_tensor(0, np.array([[1, 2, 3, 4]], np.int8))
    interp.invoke()
    copy, view = interp.get_tensor(2), interp.tensor(2)
    copy[:] = 9
    assert view().tolist() == [[1, 2], [3, 4]]
    interp.set_tensor(0, np.array([[5, 6, 7, 8]], np.int8))
    interp.invoke()
    assert view().tolist() == [[5, 6], [7, 8]]


def test_arena_too_small_states_the_bytes_needed():
    it = Interpreter(model_content=reshape_model(), arena_size=8)
    with pytest.raises(ArenaTooSmallError, match="needs 32 bytes, arena_size is 8") as err:
        it.allocate_tensors()
    assert (err.value.needed, err.value.given) == (32, 8)


def test_a_larger_arena_is_accepted():
    it = Interpreter(model_content=reshape_model(), arena_size=4096)
    it.allocate_tensors()
    assert it.arena.nbytes == 4096 and it.memory_plan.arena_size == 32


def test_every_unsupported_op_is_listed_with_its_index_and_load_still_works():
    a, b, c = (T("FLOAT32", (4,)) for _ in range(3))
    content = graph_model([(Op("SEGMENT_SUM"), [a], [b]), (Op("TOPK_V2"), [b], [c])])
    model = load_model(content)
    assert [op.name for op in model.main.operators] == ["SEGMENT_SUM", "TOPK_V2"]
    with pytest.raises(UnsupportedOperatorError) as err:
        Interpreter(model_content=content).allocate_tensors()
    assert len(err.value.problems) == 2
    assert "op 0 (SEGMENT_SUM)" in str(err.value) and "op 1 (TOPK_V2)" in str(err.value)


def test_reading_a_tensor_nobody_writes_is_an_inconsistent_model():
    x, y, never_written = (T("INT8", (4,), 1.0, 0) for _ in range(3))
    content = graph_model([(Op("RESHAPE"), [never_written], [y])], inputs=[x], outputs=[y])
    with pytest.raises(InconsistentModelError, match="op 0 .*input 0 .*tensor 0"):
        Interpreter(model_content=content).allocate_tensors()


def test_exactly_one_model_source_is_required():
    with pytest.raises(ValueError, match="exactly one"):
        Interpreter()


def test_signature_runner_runs_the_model_by_input_and_output_names():
    from conftest import REFERENCE_MODELS
    it = Interpreter(model_path=REFERENCE_MODELS / "kws_ds_cnn_int8.tflite")
    assert it.get_signature_list() == {"serving_default": {"inputs": ["keras_tensor"], "outputs": ["output_0"]}}
    runner = it.get_signature_runner()
    x = np.random.default_rng(0).integers(-128, 128, (1, 49, 10, 1), dtype=np.int8)
    assert set(runner.get_input_details()) == {"keras_tensor"}
    result = runner(keras_tensor=x)
    it.set_tensor(it.get_input_details()[0]["index"], x)
    it.invoke()
    assert np.array_equal(result["output_0"], it.get_tensor(it.get_output_details()[0]["index"]))
    with pytest.raises(ValueError, match="unknown input"):
        runner(wrong=x)
    with pytest.raises(ValueError, match="no signature 'nope'"):
        it.get_signature_runner("nope")


def test_invoke_is_a_method_a_subclass_overrides_and_holds_no_reference_cycle():
    """invoke() is a compiled call on an instance (guard.pyx InvokeMethod), yet reads as the method it
    stands for: signature and docstring, an override in a subclass, and no cycle keeping the arena."""
    assert list(inspect.signature(Interpreter.invoke).parameters) == ["self", "op_times"]
    assert Interpreter.invoke.__doc__.startswith("Run the graph once")

    class Counting(Interpreter):
        calls = 0

        def invoke(self, **kwargs):
            self.calls += 1
            super().invoke(**kwargs)

    counting = Counting(model_content=reshape_model())
    counting.allocate_tensors()
    counting.set_tensor(0, np.array([[1, 2, 3, 4]], np.int8))
    counting.invoke()
    assert counting.calls == 1 and counting.get_tensor(2).tolist() == [[1, 2], [3, 4]]
    interp = Interpreter(model_content=reshape_model())
    interp.allocate_tensors()
    interp.invoke()
    gone = weakref.ref(interp)
    del interp
    assert gone() is None
