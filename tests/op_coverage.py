"""Records which operators and dtypes the test session compared live with an official interpreter.

Enabled by MICROINTERP_OP_COVERAGE=<file.json> (tools/update_op_table.py sets it): every model given to
the session's oracle is loaded and each of its operators counted once per oracle run, under the label
of its data types, e.g. ("CONV_2D", "int16x8") or ("QUANTIZE", "float32->int8"). The README's
operator table is rendered from these counts and the op registry.
"""
from __future__ import annotations

import collections
import json
import os
from pathlib import Path

from microinterp.model import Model, Operator, load_model

ENV = "MICROINTERP_OP_COVERAGE"
_WEIGHTED_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV"}
#: Ops whose data is not their first input (EMBEDDING_LOOKUP: int32 indices, then the value table).
_DATA_INPUT = {"EMBEDDING_LOOKUP": 1}
#: Ops labelled "input->output" when the two types differ.
_CONVERTING_OPS = {"QUANTIZE", "DEQUANTIZE", "CAST", "SOFTMAX", "EMBEDDING_LOOKUP"}


def dtype_label(model: Model, op: Operator) -> str:
    """The op's data types: activation type (x weight type for 16x8 and int4 weights), '->' output type when
    different."""
    tensors = model.subgraphs[op.subgraph].tensors
    ins = [tensors[i] for i in op.inputs[1 if op.name == "IF" else 0:] if i >= 0]  # IF: not the condition
    outs = [tensors[i] for i in op.outputs]
    # Resource ids are not data: READ_VARIABLE is labelled by the value it reads; DECODE by what it decodes.
    data = [] if op.custom_code == "TFLM_DECODE" else [t for t in ins if t.type_name != "RESOURCE"]
    data = data or [t for t in outs if t.type_name != "RESOURCE"]
    if op.name in _DATA_INPUT and len(ins) > _DATA_INPUT[op.name]:
        data_in = ins[_DATA_INPUT[op.name]]
    else:
        data_in = next((t for t in data if not t.is_constant), data[0] if data else None)
    src = data_in.type_name.lower() if data_in else "none"
    if op.name in _WEIGHTED_OPS and src == "int16":
        return "int16x8"
    if op.name in _WEIGHTED_OPS and len(ins) > 1 and ins[1].type_name == "INT4":
        return f"{src}x4"
    dst = outs[0].type_name.lower() if outs else src
    return src if dst == src or op.name not in _CONVERTING_OPS else f"{src}->{dst}"


class Recorder:
    """Counts (op, dtype label) over every model run on an oracle during the session."""

    def __init__(self, path: Path):
        self.path = path
        self.counts: collections.Counter[tuple[str, str]] = collections.Counter()

    def record(self, model_bytes: bytes) -> None:
        try:
            model = load_model(model_bytes)
        except Exception:  # a deliberately broken model: nothing to count
            return
        for op in (op for sg in model.subgraphs for op in sg.operators):
            self.counts[(op.name, dtype_label(model, op))] += 1

    def save(self) -> None:
        rows = [{"op": op, "dtypes": label, "cases": n} for (op, label), n in sorted(self.counts.items())]
        self.path.write_text(json.dumps(rows, indent=1))


def recorder_from_env() -> Recorder | None:
    path = os.environ.get(ENV)
    return Recorder(Path(path)) if path else None
