"""Operators: one module per op (prepare + call into its kernel), found through the registry."""
from . import reshape  # noqa: F401  (importing a module registers its ops)
from . import conv, depthwise_conv, fully_connected  # noqa: F401
from . import pooling, quantize, softmax  # noqa: F401
from . import activations, arithmetic, comparison, math_ops  # noqa: F401
from . import (broadcast_to, cast, concatenation, fill, gather, pad, resize, shape, slice,  # noqa: F401
               space_batch, space_depth, split, transpose)
from . import lstm, svdf  # noqa: F401
from . import l2_normalization, reduce, transpose_conv  # noqa: F401
from . import signal_buffers, signal_filterbank, signal_spectrum  # noqa: F401
from .registry import CUSTOM_REGISTRY, REGISTRY, OpContext, find_prepare, register, register_custom

__all__ = ["CUSTOM_REGISTRY", "REGISTRY", "OpContext", "find_prepare", "register", "register_custom"]
