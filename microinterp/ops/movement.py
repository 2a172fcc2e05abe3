"""Shared pieces of the data-movement ops: type and index-vector checks, and the two ways they copy.

Shape and data-movement ops (PAD, SLICE, TRANSPOSE, SPACE_TO_BATCH_ND, ...) do no arithmetic, so their
kernels are numpy calls prepared at bind time:

* `bind_view_copy`: the output is a strided *view* of the input (slicing, transposition, broadcasting,
  reshapes that split axes); each invoke is one compiled StridedCopyStep (kernels/steps_misc.pxi), or one
  `np.copyto` when the output overlaps the input.
* `bind_take`: anything else is an *index map* computed at prepare time (output element -> input element,
  -1 where the op writes padding); each invoke is one `np.take` plus, when there is padding, one
  masked store of zero bytes. The map is built by running the op's own numpy rearrangement on the
  element numbers 0..n-1 (`element_numbers`), so the layout logic is written once.
"""
from __future__ import annotations

import functools
from typing import Callable, Sequence

import numpy as np

from .._kernels import steps
from ..model import Tensor
from .registry import BindFn, OpContext, Step




def expect_same_type(ctx: OpContext, reference: Tensor, *others: Tensor) -> None:
    """Fail unless every tensor in `others` has the type of `reference` (TFLM's TF_LITE_ENSURE_TYPES_EQ)."""
    for t in others:
        if t.type_code != reference.type_code:
            ctx.fail(f"{t.describe()} must have the type {reference.type_name} of {reference.describe()}")


def expect_shape(ctx: OpContext, tensor: Tensor, shape: Sequence[int], why: str) -> None:
    """Fail unless the tensor's shape is `shape`; `why` says where the expected shape comes from."""
    if tuple(tensor.shape) != tuple(int(d) for d in shape):
        ctx.fail(f"{tensor.describe()} must have shape {[int(d) for d in shape]} ({why})")


def expect_max_rank(ctx: OpContext, tensor: Tensor, max_rank: int) -> None:
    """Unsupported above TFLM's rank limit for the op."""
    if len(tensor.shape) > max_rank:
        ctx.unsupported(f"{tensor.describe()} has rank {len(tensor.shape)}; TFLM supports up to {max_rank}")


def constant_ints(ctx: OpContext, tensor: Tensor, what: str, types: Sequence[str] = ("INT32",),
                  count: int | None = None) -> list[int]:
    """The values of a constant integer index tensor (axes, paddings, begin/end, perm, sizes).

    Unsupported unless it is a constant of one of `types` (TFLM reads these tensors in Prepare, or with a
    fixed C type); fails unless it holds exactly `count` values when `count` is given.
    """
    if tensor.type_name not in types:
        ctx.unsupported(f"{what} {tensor.describe()} has type {tensor.type_name}, supported: {', '.join(types)}")
    data = ctx.expect_constant(tensor)
    values = [int(v) for v in np.asarray(data).reshape(-1)]
    if count is not None and len(values) != count:
        ctx.fail(f"{what} {tensor.describe()} must hold {count} values, found {len(values)}")
    return values


def tensor_params(tensor: Tensor) -> tuple[float, int]:
    """(scale, zero_point) as TFLM's TfLiteTensor.params holds them: (0.0, 0) without quantization."""
    q = tensor.quantization
    return (q.scale, q.zero_point) if q is not None else (0.0, 0)


def normalize_axis(ctx: OpContext, axis: int, rank: int, what: str = "axis") -> int:
    """axis in [-rank, rank) made non-negative; fails otherwise."""
    if not -rank <= axis < rank:
        ctx.fail(f"{what} {axis} is out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def element_numbers(shape: Sequence[int]) -> np.ndarray:
    """0..n-1 in the given shape: pushed through a numpy rearrangement, it becomes that op's index map."""
    return np.arange(int(np.prod(shape, dtype=np.int64)), dtype=np.intp).reshape(tuple(shape))


def bind_view_copy(view: Callable[[np.ndarray], np.ndarray]) -> BindFn:
    """Each invoke copies view(input) into the output, read in the view's shape (C order).

    `view` must return a numpy view (basic slicing, transpose, reshape, broadcast_to) so the source
    array is fixed at bind time and follows the arena's contents.
    """
    def bind(inputs, outputs, scratch) -> Step:
        source = view(inputs[0])
        if (source.ndim <= steps.STRIDED_COPY_MAX_RANK and inputs[0].flags.c_contiguous
                and not np.shares_memory(inputs[0], outputs[0])):
            return steps.StridedCopyStep(inputs[0], source, outputs[0])
        # An output over its input: np.copyto reads the whole view first.
        return functools.partial(np.copyto, outputs[0].reshape(source.shape), source)
    return bind


def bind_take(index_map: np.ndarray) -> BindFn:
    """Each invoke sets output.flat[i] = input.flat[index_map.flat[i]], or zero bytes where the map is -1."""
    index = np.ascontiguousarray(index_map, dtype=np.intp).reshape(-1)
    padding = index < 0
    if not padding.any():
        padding = None
    index = np.where(index < 0, 0, index)

    def bind(inputs, outputs, scratch) -> Step:
        source, target = inputs[0].reshape(-1), outputs[0].reshape(-1)
        if source.size == 0:  # nothing to read: every output element is padding
            return functools.partial(target.fill, 0)
        take = functools.partial(np.take, source, index, out=target, mode="clip")
        if padding is None:
            return take

        def step() -> None:
            take()
            target[padding] = 0
        return step
    return bind
