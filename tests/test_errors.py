"""One test (or more) per error class: the right class, the right base class, and a message that names
the place (subgraph / op / tensor / field) and the expected versus the found value."""
from __future__ import annotations

import struct

import numpy as np
import pytest

from microinterp import (ArenaTooSmallError, InconsistentModelError, Interpreter, InvocationError,
                         MalformedModelError, MicrointerpError, ResourceLimitError, SoftmaxOverflowError,
                         TensorAccessError, UnsupportedOperatorError, load_model)
from microinterp.model import MAX_RANK

from fuzz.mutations import field_slots
from opmodels import Op, T, graph_model, single_op_model


def reshape_model(**x_overrides) -> bytes:
    """x int8[1, 4] -> RESHAPE -> y int8[2, 2] (tensor 0 x, tensor 1 y)."""
    x = T("INT8", (1, 4), 0.5, 1, name="x")
    for key, value in x_overrides.items():
        setattr(x, key, value)
    return single_op_model(Op("RESHAPE"), [x], [T("INT8", (2, 2), 0.5, 1, name="y")])


def softmax_model(depth: int) -> bytes:
    """x int8[1, depth] -> SOFTMAX (beta 1) -> y int8[1, depth] with TFLM's fixed output quantization."""
    return single_op_model(Op("SOFTMAX", "SoftmaxOptions", {"beta": 1.0}),
                           [T("INT8", (1, depth), 0.1, 0, name="x")],
                           [T("INT8", (1, depth), 1 / 256, -128, name="y")])


def patch_field(content: bytes, path: str, values: list[int]) -> bytes:
    """Overwrite a scalar field or a vector's int32 elements, found by the verifier's name for them."""
    (slot,) = [s for s in field_slots(content) if s.path == path and s.kind in ("scalar", "element")]
    packed = struct.pack(f"<{len(values)}i", *values)
    assert len(packed) <= slot.size * slot.count
    return content[:slot.pos] + packed + content[slot.pos + len(packed):]


def allocated(content: bytes, **kwargs) -> Interpreter:
    interp = Interpreter(model_content=content, **kwargs)
    interp.allocate_tensors()
    return interp


def test_every_error_is_a_microinterp_error_and_a_value_or_runtime_error():
    value_errors = (MalformedModelError, InconsistentModelError, UnsupportedOperatorError, ArenaTooSmallError,
                    ResourceLimitError, TensorAccessError)
    for cls in value_errors:
        assert issubclass(cls, MicrointerpError) and issubclass(cls, ValueError), cls
    for cls in (InvocationError, SoftmaxOverflowError):
        assert issubclass(cls, MicrointerpError) and issubclass(cls, RuntimeError), cls


# -- MalformedModelError: the bytes are not a well-formed flatbuffer ----------------------------------

def test_malformed_wrong_identifier_names_the_bytes_and_both_identifiers():
    content = bytearray(reshape_model())
    content[4:8] = b"NOPE"
    with pytest.raises(MalformedModelError, match=r"identifier b'TFL3' expected at bytes 4\.\.8, found b'NOPE'"):
        load_model(bytes(content))


def test_malformed_truncation_names_the_object_and_the_file_size():
    content = reshape_model()
    with pytest.raises(MalformedModelError, match=rf"past the end of the {len(content) - 24}-byte file"):
        Interpreter(model_content=content[:-24])


def test_malformed_schema_version_states_expected_and_found():
    with pytest.raises(MalformedModelError, match="schema version: expected 3, found 7"):
        load_model(patch_field(reshape_model(), "version", [7]))


# -- InconsistentModelError: well formed, contradicting itself ----------------------------------------

def test_inconsistent_shapes_name_the_op_and_both_element_counts():
    content = single_op_model(Op("RESHAPE"), [T("INT8", (1, 4), 0.5, 1)], [T("INT8", (3,), 0.5, 1)])
    with pytest.raises(InconsistentModelError, match=r"op 0 \(RESHAPE\): input has 4 elements, output \[3\] has 3"):
        allocated(content)


def test_inconsistent_tensor_index_names_the_op_and_the_range():
    content = patch_field(reshape_model(), "subgraphs[0].operators[0].inputs", [9])
    with pytest.raises(InconsistentModelError, match=r"subgraph 0 op 0 inputs: tensor index 9 out of range "
                                                     r"\(subgraph has 2 tensors\)"):
        load_model(content)


def test_inconsistent_zero_point_outside_the_type_names_the_tensor_and_the_range():
    with pytest.raises(InconsistentModelError, match=r"tensor 0 'x'.*zero point 0 is 300, expected -128\.\.127 "
                                                     r"for INT8"):
        load_model(reshape_model(zero_point=300))


def test_inconsistent_negative_dimension_names_the_tensor_and_the_shape():
    content = patch_field(reshape_model(), "subgraphs[0].tensors[0].shape", [1, -4])
    with pytest.raises(InconsistentModelError, match=r"tensor 0 'x'.*negative dimension in shape \[1, -4\]"):
        load_model(content)


def test_inconsistent_rank_above_the_limit_is_refused_naming_the_tensor():
    content = single_op_model(Op("RESHAPE"), [T("INT8", (1,) * (MAX_RANK + 1), name="deep")], [T("INT8", (1,))])
    with pytest.raises(InconsistentModelError, match=rf"tensor 0 'deep'.*rank {MAX_RANK + 1}, expected at most "
                                                     rf"{MAX_RANK}"):
        load_model(content)


def test_inconsistent_constant_buffer_size_states_bytes_held_and_needed():
    w = T("INT8", (2, 2), 0.5, 0, data=np.zeros((2, 2), np.int8), name="w")
    content = patch_field(single_op_model(Op("RESHAPE"), [w], [T("INT8", (4,), 0.5, 0)]),
                          "subgraphs[0].tensors[0].shape", [2, 3])
    with pytest.raises(InconsistentModelError, match=r"tensor 0 'w'.*holds 4 bytes, shape \[2, 3\] x INT8 needs 6"):
        load_model(content)


def test_inconsistent_op_writing_a_constant_names_the_op_and_the_output():
    x = T("INT8", (4,), name="x")
    c = T("INT8", (4,), data=np.arange(4, dtype=np.int8), name="c")
    content = graph_model([(Op("RESHAPE"), [x], [c])], inputs=[x], outputs=[c])
    with pytest.raises(InconsistentModelError, match=r"op 0 \(RESHAPE\): output 0 \(tensor 1 'c'.*is a constant"):
        allocated(content)


def test_inconsistent_read_before_write_names_the_op_input_and_tensor():
    x, y, never = T("INT8", (4,), name="x"), T("INT8", (4,), name="y"), T("INT8", (4,), name="never")
    content = graph_model([(Op("RESHAPE"), [never], [y])], inputs=[x], outputs=[y])
    with pytest.raises(InconsistentModelError, match=r"op 0 \(RESHAPE\): input 0 \(tensor 0 'never'.*read before"):
        allocated(content)


# -- UnsupportedOperatorError: every unsupported op, at once --------------------------------------------

def test_unsupported_operators_are_all_listed_with_their_indices():
    a, b, c = (T("FLOAT32", (4,)) for _ in range(3))
    # TFLM has no kernels for these two either.
    content = graph_model([(Op("SEGMENT_SUM"), [a], [b]), (Op("TOPK_V2"), [b], [c])])
    with pytest.raises(UnsupportedOperatorError) as err:
        allocated(content)
    assert err.value.problems == ["op 0 (SEGMENT_SUM): no kernel for this operator",
                                  "op 1 (TOPK_V2): no kernel for this operator"]
    assert str(err.value).startswith("2 unsupported operator(s):")


# -- ArenaTooSmallError: needed versus given ------------------------------------------------------------

def test_arena_too_small_states_needed_and_given():
    # x and y (4 bytes each, aligned to 16) are both live during the one op.
    with pytest.raises(ArenaTooSmallError, match="the plan needs 32 bytes, arena_size is 8 "
                                                 r"\(24 bytes short\)") as err:
        allocated(reshape_model(), arena_size=8)
    assert (err.value.needed, err.value.given) == (32, 8)


# -- ResourceLimitError: absurd sizes refused before any allocation ---------------------------------------

def test_a_2_to_the_40_byte_tensor_is_refused_at_load_naming_it_and_the_limit():
    content = single_op_model(Op("RESHAPE"), [T("INT8", (1 << 20, 1 << 20), name="huge")], [T("INT8", (1,))])
    with pytest.raises(ResourceLimitError, match=r"tensor 0 'huge'.*declares 1099511627776 bytes, above the "
                                                 r"limit of 1073741824 bytes \(max_tensor_bytes"):
        Interpreter(model_content=content)


def test_max_tensor_bytes_is_configurable_on_the_interpreter():
    with pytest.raises(ResourceLimitError, match=r"tensor 0 'x'.*declares 4 bytes, above the limit of 3 bytes"):
        Interpreter(model_content=reshape_model(), max_tensor_bytes=3)
    Interpreter(model_content=reshape_model(), max_tensor_bytes=4).allocate_tensors()


def test_max_arena_bytes_refuses_the_plan_and_an_oversized_arena_size():
    with pytest.raises(ResourceLimitError, match=r"arena: the plan needs 32 bytes, above the limit of 31 bytes "
                                                 r"\(max_arena_bytes\)"):
        allocated(reshape_model(), max_arena_bytes=31)
    with pytest.raises(ResourceLimitError, match=r"arena: arena_size asks for 4096 bytes, above the limit of 1024"):
        allocated(reshape_model(), arena_size=4096, max_arena_bytes=1024)
    assert allocated(reshape_model(), max_arena_bytes=32).arena.nbytes == 32


@pytest.mark.parametrize("kwargs", [{"max_tensor_bytes": -1}, {"max_arena_bytes": 1.5}, {"arena_size": -8}])
def test_limits_and_arena_size_must_be_non_negative_integers(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        Interpreter(model_content=reshape_model(), **kwargs)


# -- InvocationError: calls in the wrong order ------------------------------------------------------------

def test_invoke_before_allocate_names_the_call_and_what_to_do():
    with pytest.raises(InvocationError, match=r"invoke\(\): call allocate_tensors\(\) first"):
        Interpreter(model_content=reshape_model()).invoke()


# -- TensorAccessError: set_tensor / get_tensor misuse -----------------------------------------------------

def test_tensor_access_wrong_index_states_the_range():
    with pytest.raises(TensorAccessError, match=r"tensor index 7 out of range \(model has 2 tensors\)"):
        allocated(reshape_model()).get_tensor(7)
    with pytest.raises(TensorAccessError, match=r"tensor index '0' out of range"):
        allocated(reshape_model()).get_tensor("0")


def test_tensor_access_wrong_dtype_and_shape_state_expected_and_found():
    interp = allocated(reshape_model())
    with pytest.raises(TensorAccessError, match=r"got value of type float32 but expected int8 for tensor 0 'x'"):
        interp.set_tensor(0, np.zeros((1, 4), np.float32))
    with pytest.raises(TensorAccessError, match=r"got shape \[4\] but expected \[1, 4\] for tensor 0 'x'"):
        interp.set_tensor(0, np.zeros(4, np.int8))


def test_tensor_access_a_value_numpy_cannot_convert_names_the_tensor():
    with pytest.raises(TensorAccessError, match=r"tensor 0 'x'.*cannot be converted"):
        allocated(reshape_model()).set_tensor(0, [[1, 2], [3]])


def test_tensor_access_before_allocate_is_an_invocation_error():
    with pytest.raises(InvocationError, match=r"tensor 0: call allocate_tensors\(\) first"):
        Interpreter(model_content=reshape_model()).set_tensor(0, np.zeros((1, 4), np.int8))


def test_inputs_are_copied_in_never_aliased():
    interp = allocated(reshape_model())
    x = np.array([[1, 2, 3, 4]], np.int8)
    interp.set_tensor(0, x)
    x[:] = 0
    interp.invoke()
    assert interp.get_tensor(1).tolist() == [[1, 2], [3, 4]]
    assert not np.shares_memory(interp.tensor(0)(), x)


# -- SoftmaxOverflowError: the input values overflow TFLM's fixed point -----------------------------------

def test_softmax_overflow_names_the_op_and_the_row():
    interp = allocated(softmax_model(600))
    interp.set_tensor(0, np.zeros((1, 600), np.int8))  # 600 values equal to the row maximum
    with pytest.raises(SoftmaxOverflowError, match=r"op 0 \(SOFTMAX\): row 0 sums to 2\^28 or more"):
        interp.invoke()
    interp.set_tensor(0, np.arange(600).astype(np.int8).reshape(1, 600))
    interp.invoke()  # the interpreter stays usable


# -- Regressions found by the long fuzz runs ---------------------------------------------------------------

def test_a_scale_so_small_that_the_relu6_bound_overflows_is_inconsistent():
    tiny = np.float32(1e-44)  # 6 / tiny overflows float32, where TFLM's conversion is undefined
    # input and filter scales as tiny, so that the requantization ratio itself stays usable
    content = single_op_model(
        Op("DEPTHWISE_CONV_2D", "DepthwiseConv2DOptions",
           {"padding": 1, "stride_w": 1, "stride_h": 1, "depth_multiplier": 1, "fused_activation_function": 3}),
        [T("INT8", (1, 3, 3, 2), 1e-30, 0),
         T("INT8", (1, 3, 3, 2), 1e-14, 0, data=np.ones((1, 3, 3, 2), np.int8)),
         T("INT32", (2,), float(np.float32(1e-44)), 0, data=np.zeros(2, np.int32))],
        [T("INT8", (1, 1, 1, 2), float(tiny), 0)])
    with pytest.raises(InconsistentModelError, match=r"op 0 \(DEPTHWISE_CONV_2D\): quantizing 6.0 .*overflows"):
        allocated(content)


def test_an_empty_tensor_whose_other_dims_overflow_is_refused_at_load():
    content = single_op_model(Op("RESHAPE"), [T("INT8", (0, 1 << 30, 1 << 30, 1 << 30), name="empty")],
                              [T("INT8", (0,))])
    with pytest.raises(ResourceLimitError, match=r"tensor 0 'empty': shape \[0, 1073741824, .*declares"):
        Interpreter(model_content=content)
