"""The Interpreter follows tf.lite.Interpreter's API and refuses wrong calls with clear errors."""
from __future__ import annotations

import numpy as np
import pytest

from microinterp import (ArenaTooSmallError, InconsistentModelError, Interpreter, InvocationError,
                         TensorAccessError, UnsupportedOperatorError, load_model)

from model_builder import OpSpec, TensorSpec, build_model

TF_LITE_DETAIL_KEYS = {"name", "index", "shape", "shape_signature", "dtype", "quantization",
                       "quantization_parameters", "sparsity_parameters"}


def reshape_model(**metadata) -> bytes:
    return build_model(
        [TensorSpec("x", "INT8", (1, 4), scale=0.5, zero_point=1),
         TensorSpec("y", "INT8", (2, 2), scale=0.5, zero_point=1),
         TensorSpec("shape", "INT32", (2,), data=np.array([2, 2], np.int32))],
        [OpSpec("RESHAPE", [0, 2], [1], "ReshapeOptions", {"new_shape": [2, 2]})], [0], [1],
        metadata=metadata or None)


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
    assert out["index"] == 1 and out["name"] == "y"
    assert len(interp.get_tensor_details()) == 3


def test_set_invoke_get_round_trip(interp):
    interp.set_tensor(0, np.array([[1, 2, 3, 4]], np.int8))
    interp.invoke()
    assert interp.get_tensor(1).tolist() == [[1, 2], [3, 4]]


def test_set_tensor_with_wrong_dtype_raises_value_error_naming_both_types(interp):
    with pytest.raises(ValueError, match="float32.*int8"):
        interp.set_tensor(0, np.zeros((1, 4), np.float32))


def test_set_tensor_with_wrong_shape_raises_value_error_naming_both_shapes(interp):
    with pytest.raises(TensorAccessError, match=r"\[4\].*\[1, 4\]"):
        interp.set_tensor(0, np.zeros(4, np.int8))


def test_set_tensor_on_a_constant_is_refused(interp):
    with pytest.raises(TensorAccessError, match="constant"):
        interp.set_tensor(2, np.array([2, 2], np.int32))


def test_bad_tensor_index_is_refused(interp):
    with pytest.raises(TensorAccessError, match="out of range"):
        interp.get_tensor(99)


def test_invoke_before_allocate_tensors_raises():
    it = Interpreter(model_content=reshape_model())
    with pytest.raises(InvocationError, match="allocate_tensors"):
        it.invoke()


def test_invoke_with_an_input_never_set_raises_naming_it(interp):
    with pytest.raises(InvocationError, match="tensor 0 'x'"):
        interp.invoke()


def test_inputs_are_copied_not_aliased(interp):
    x = np.array([[1, 2, 3, 4]], np.int8)
    interp.set_tensor(0, x)
    x[:] = 0
    interp.invoke()
    assert interp.get_tensor(1).tolist() == [[1, 2], [3, 4]]


def test_get_tensor_returns_a_copy_and_tensor_a_live_view(interp):
    interp.set_tensor(0, np.array([[1, 2, 3, 4]], np.int8))
    interp.invoke()
    copy, view = interp.get_tensor(1), interp.tensor(1)
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
    tensors = [TensorSpec(n, "FLOAT32", (4,)) for n in "abc"]
    content = build_model(tensors, [OpSpec("SIN", [0], [1]), OpSpec("COS", [1], [2])], [0], [2])
    model = load_model(content)
    assert [op.name for op in model.main.operators] == ["SIN", "COS"]
    with pytest.raises(UnsupportedOperatorError) as err:
        Interpreter(model_content=content).allocate_tensors()
    assert len(err.value.problems) == 2
    assert "op 0 (SIN)" in str(err.value) and "op 1 (COS)" in str(err.value)


def test_reading_a_tensor_nobody_writes_is_an_inconsistent_model():
    tensors = [TensorSpec(n, "INT8", (4,), scale=1.0, zero_point=0) for n in "abc"]
    content = build_model(tensors, [OpSpec("RESHAPE", [2], [1])], [0], [1])
    with pytest.raises(InconsistentModelError, match="op 0 .*input 0 .*tensor 2"):
        Interpreter(model_content=content).allocate_tensors()


def test_exactly_one_model_source_is_required():
    with pytest.raises(ValueError, match="exactly one"):
        Interpreter()
