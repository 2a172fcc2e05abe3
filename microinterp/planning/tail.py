"""An estimate of TFLM's persistent arena tail (spec/arena-planning.md §5), for a stated pointer size.

The tail holds TFLM's allocator objects, one TfLiteEvalTensor per tensor, one NodeAndRegistration per
op, each op's parsed options and kernel data (conv-like ops add two int32 arrays per output channel),
variable tensors, and a TfLiteTensor with quantization per graph input/output. Struct sizes are TFLM's
(x86-64 and 32-bit ABIs); per-op kernel data was fitted to the tails tflite-micro reports for its
reference kernels (within 1% on the MLPerf Tiny and TFLM example models); TFLM's signal library ops
add their parameters and state as signal_tail.py computes them. It is an ESTIMATE: the
exact tail depends on the TFLM version, the kernel set (CMSIS-NN, ...) and the target ABI.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..model import Model
from .lifetimes import align
from .signal_tail import signal_persistent_bytes

_STRUCTS = {  # bytes on a 64-bit host / a 32-bit MCU
    8: dict(fixed=488, eval_tensor=24, node=64, tensor=64, affine_quant=24, per_op_pointer_delta=0),
    4: dict(fixed=192, eval_tensor=12, node=32, tensor=40, affine_quant=12, per_op_pointer_delta=16),
}
#: Options + kernel OpData per op on a 64-bit host (reference kernels); unknown ops use the default.
_OP_DATA = {"CONV_2D": 112, "DEPTHWISE_CONV_2D": 112, "FULLY_CONNECTED": 112, "TRANSPOSE_CONV": 112,
            "AVERAGE_POOL_2D": 80, "MAX_POOL_2D": 80, "ADD": 80, "SUB": 80, "MUL": 64, "SOFTMAX": 80,
            "RESHAPE": 48, "QUANTIZE": 48, "DEQUANTIZE": 48,
            # OpDataSvdf + TfLiteSVDFParams + 2 scratch handles; OpDataLSTM (4 gates x 2 FC params, 3 Mul
            # params, sizes, cell info) + its params + 4 scratch handles.
            "SVDF": 80, "UNIDIRECTIONAL_SEQUENCE_LSTM": 736}
_DEFAULT_OP_DATA = 64
_PER_CHANNEL_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV")


@dataclass(frozen=True)
class TailEstimate:
    """Estimated persistent tail bytes, by part, for one pointer size."""
    pointer_size: int
    allocator: int
    tensors: int
    nodes: int
    op_data: int
    variables: int
    io_tensors: int

    @property
    def total(self) -> int:
        return self.allocator + self.tensors + self.nodes + self.op_data + self.variables + self.io_tensors


def estimate_tail(model: Model, pointer_size: int = 4) -> TailEstimate:
    """Estimate TFLM's persistent tail for a 32-bit (pointer_size=4) or 64-bit (8) build."""
    if pointer_size not in _STRUCTS:
        raise ValueError(f"pointer_size must be 4 or 8, not {pointer_size}")
    s = _STRUCTS[pointer_size]
    tensors = nodes = op_data = variables = 0
    for sg in model.subgraphs:
        tensors += align(s["eval_tensor"] * len(sg.tensors))
        nodes += align(s["node"] * len(sg.operators))
        for op in sg.operators:
            signal = signal_persistent_bytes(sg, op, pointer_size)
            if signal is not None:
                op_data += signal
                continue
            op_data += _OP_DATA.get(op.name, _DEFAULT_OP_DATA) - s["per_op_pointer_delta"] * (op.name in _OP_DATA)
            if op.name in _PER_CHANNEL_OPS and op.outputs:
                out = sg.tensors[op.outputs[0]]
                channels = out.shape[-1] if out.shape else 1
                op_data += 2 * align(4 * channels)
        variables += sum(align(t.nbytes) for t in sg.tensors if t.is_variable)
    main = model.main
    io = list(main.inputs) + list(main.outputs)
    io_tensors = 2 * align(pointer_size * 1) + s["tensor"] * len(io)
    for i in io:
        q = main.tensors[i].quantization
        if q is not None:
            io_tensors += s["affine_quant"] + 4 + 4 * q.zero_points.size
    return TailEstimate(pointer_size, s["fixed"], tensors, nodes, op_data, variables, io_tensors)
