"""Switching from tf.lite is one import line: the same scripts run on ai_edge_litert and on microinterp,
and return or raise the same things (values compared only where both interpreters' inputs are set)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from microinterp import Interpreter, ResizeError, UnsupportedCallError

from opmodels import Op, T, graph_model

litert = pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert (test extra) is not installed")

BATCH = -1


def _batch_model(batch: int, signature_batch: int = BATCH) -> bytes:
    """x[batch, 16] -> (x + c) * (x + c) + x, float32; dim 0 is -1 in every shape signature."""
    def t(name: str) -> T:
        return T("FLOAT32", [batch, 16], name=name, shape_signature=[signature_batch, 16])

    x, y, z, w = t("x"), t("y"), t("z"), t("w")
    c = T("FLOAT32", [16], data=np.linspace(-1, 1, 16, dtype=np.float32), name="c")
    add = Op("ADD", "AddOptions", {"fused_activation_function": 0})
    mul = Op("MUL", "MulOptions", {"fused_activation_function": 0})
    return graph_model([(add, [x, c], [y]), (mul, [y, y], [z]), (add, [z, x], [w])], outputs=[w])


def _run_both(script: Callable[[Any], Any], model: bytes) -> tuple[Any, Any]:
    """What the script returns, or the exception class it raises, on LiteRT and on microinterp."""
    results = []
    for make in (lambda: litert.Interpreter(model_content=model), lambda: Interpreter(model_content=model)):
        try:
            results.append(script(make()))
        except Exception as e:  # the outcome compared is the exception itself
            results.append(e)
    return results[0], results[1]


def _input_index(interp) -> int:
    return interp.get_input_details()[0]["index"]


def test_invoke_before_any_set_tensor_succeeds_as_in_tflite():
    def script(interp):
        interp.allocate_tensors()
        interp.invoke()
        return interp.get_tensor(interp.get_output_details()[0]["index"]).shape

    theirs, ours = _run_both(script, _batch_model(1))
    assert theirs == ours == (1, 16)


def test_inputs_start_as_zero_bytes():
    interp = Interpreter(model_content=_batch_model(1))
    interp.allocate_tensors()
    assert not interp.get_tensor(_input_index(interp)).any()
    interp.invoke()
    c = np.linspace(-1, 1, 16, dtype=np.float32)
    np.testing.assert_array_equal(interp.get_tensor(interp.get_output_details()[0]["index"])[0], c * c)


def test_writes_through_a_tensor_view_count_as_setting_the_input():
    x = np.arange(16, dtype=np.float32).reshape(1, 16) / 7

    def script(interp):
        interp.allocate_tensors()
        interp.tensor(_input_index(interp))()[...] = x
        interp.invoke()
        return interp.get_tensor(interp.get_output_details()[0]["index"])

    theirs, ours = _run_both(script, _batch_model(1))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_resize_of_a_dynamic_dim_then_allocate_runs_the_new_shape_as_tflite_does():
    x = np.random.default_rng(0).standard_normal((5, 16)).astype(np.float32)

    def script(interp):
        interp.resize_tensor_input(_input_index(interp), [5, 16], strict=True)
        interp.allocate_tensors()
        shape = tuple(interp.get_input_details()[0]["shape"])
        interp.set_tensor(_input_index(interp), x)
        interp.invoke()
        return shape, interp.get_tensor(interp.get_output_details()[0]["index"])

    (their_shape, theirs), (our_shape, ours) = _run_both(script, _batch_model(1))
    assert their_shape == our_shape == (5, 16)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)


def test_resize_of_a_fixed_dim_is_refused_as_tflite_strict_refuses_it():
    def script(interp):
        interp.resize_tensor_input(_input_index(interp), [1, 8], strict=True)

    theirs, ours = _run_both(script, _batch_model(1))
    assert isinstance(theirs, RuntimeError) and isinstance(ours, RuntimeError)
    assert isinstance(ours, ResizeError) and isinstance(ours, ValueError)
    assert "dim(s) [1] are fixed in its shape signature [-1, 16]" in str(ours)


def test_resize_of_a_fixed_dim_is_refused_even_when_not_strict():
    # tf.lite reallocates any shape when strict=False; TFLM plans static shapes, so microinterp does not.
    interp = Interpreter(model_content=_batch_model(1))
    with pytest.raises(ResizeError, match=r"only -1 dims can change"):
        interp.resize_tensor_input(_input_index(interp), [1, 8])


def test_resize_of_a_non_input_or_to_a_wrong_rank_is_refused_naming_the_tensor():
    interp = Interpreter(model_content=_batch_model(1))
    with pytest.raises(ResizeError, match=r"tensor 2 'y' .* is not a graph input"):
        interp.resize_tensor_input(2, [3, 16])
    with pytest.raises(ResizeError, match=r"rank 2, got shape \[3\] of rank 1"):
        interp.resize_tensor_input(0, [3])
    with pytest.raises(ResizeError, match=r"dims must be positive"):
        interp.resize_tensor_input(0, [0, 16])


def test_resize_requires_allocate_tensors_again():
    interp = Interpreter(model_content=_batch_model(1))
    interp.allocate_tensors()
    interp.resize_tensor_input(0, [3, 16])
    with pytest.raises(Exception, match="allocate_tensors"):
        interp.invoke()


@pytest.mark.parametrize("batch", [2, 7])
def test_resized_plan_equals_tflm_plan_of_the_model_with_the_shape_written_in(oracle, batch):
    interp = Interpreter(model_content=_batch_model(1))
    interp.resize_tensor_input(0, [batch, 16])
    interp.allocate_tensors()
    written = _batch_model(batch)
    assert interp.memory_plan.head == oracle.tflm_arena(written).head
    direct = Interpreter(model_content=written)
    direct.allocate_tensors()
    assert [(a.entry.index, a.offset) for a in interp.memory_plan.allocations] == \
        [(a.entry.index, a.offset) for a in direct.memory_plan.allocations]


def test_empty_delegate_list_is_accepted_as_in_tflite():
    def script(interp_class):
        interp = interp_class(model_content=_batch_model(1), experimental_delegates=[])
        interp.allocate_tensors()
        return True

    assert script(litert.Interpreter) is script(Interpreter) is True
    assert Interpreter(model_content=_batch_model(1), experimental_delegates=None)


def test_a_delegate_is_refused_clearly():
    with pytest.raises(UnsupportedCallError, match=r"takes no delegate \(got 1\)"):
        Interpreter(model_content=_batch_model(1), experimental_delegates=[object()])


def test_constructor_takes_tflite_positional_order():
    interp = Interpreter(None, _batch_model(1), None, 1)
    interp.allocate_tensors()
    assert interp.get_input_details()[0]["shape"].tolist() == [1, 16]
