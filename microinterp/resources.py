"""Resource variables as TFLM's MicroResourceVariables holds them (micro_resource_variable.cc).

TFLM resolves them while preparing, subgraph by subgraph in index order (every subgraph, reachable or
not), op by op:
* VAR_HANDLE gives its (container, shared_name) an id: the first earlier variable with that shared
  name (and that container, when the op names one), else the next id.
* ASSIGN_VARIABLE whose resource input is already known at prepare (the output of an earlier
  VAR_HANDLE of its subgraph, or an int32 constant) gives that variable its buffer, once: the byte size
  of the assigned value, filled with the value tensor's first zero point cast to int8 (0 unquantized).
  A resource passed into a subgraph is only known when it runs, so it allocates nothing.
The buffers are persistent (TFLM's tail); reset_all_variables() refills each with its byte.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InconsistentModelError
from .model import Model, Operator


@dataclass
class ResourceVariable:
    """One variable: its names, its buffer's byte size (None until an ASSIGN_VARIABLE allocates it) and
    the byte that fills it on allocation and on reset."""
    container: str | None
    shared_name: str
    nbytes: int | None = None
    fill: int = 0


@dataclass
class ResourceTable:
    """The model's resource variables by id, and the id of each resource tensor known at prepare,
    keyed by (subgraph, tensor index)."""
    variables: list[ResourceVariable]
    known_ids: dict[tuple[int, int], int]

    def describe(self, rid: int) -> str:
        return f"resource variable {rid} '{self.variables[rid].shared_name}'"


def _find_or_create(variables: list[ResourceVariable], op: Operator) -> int:
    container, shared_name = op.options.get("container"), op.options.get("shared_name")
    if shared_name is None:  # TFLM compares it with strcmp: a missing name would crash it
        raise InconsistentModelError(f"{op.describe()}: VarHandleOptions has no shared_name")
    for rid, v in enumerate(variables):
        if (container is None or container == v.container) and shared_name == v.shared_name:
            return rid
    variables.append(ResourceVariable(container, shared_name))
    return len(variables) - 1


def _constant_id(model: Model, op: Operator) -> int | None:
    t = model.subgraphs[op.subgraph].tensors[op.inputs[0]]
    if t.data is None or t.type_name != "INT32" or t.num_elements != 1:
        return None
    return int(np.asarray(t.data).reshape(-1)[0])


def resource_table(model: Model) -> ResourceTable:
    """Every resource variable of the model, with buffer sizes, as TFLM's prepare leaves them."""
    variables: list[ResourceVariable] = []
    known: dict[tuple[int, int], int] = {}
    for sg in model.subgraphs:
        for op in sg.operators:
            if op.name == "VAR_HANDLE" and op.outputs:
                known[(sg.index, op.outputs[0])] = _find_or_create(variables, op)
            elif op.name == "ASSIGN_VARIABLE" and len(op.inputs) == 2 and min(op.inputs) >= 0:
                rid = known.get((sg.index, op.inputs[0]))
                rid = _constant_id(model, op) if rid is None else rid
                if rid is None:
                    continue
                if not 0 <= rid < len(variables):
                    raise InconsistentModelError(f"{op.describe()}: resource id {rid} names no variable "
                                                 f"(the model has {len(variables)} before this op)")
                v = variables[rid]
                if v.nbytes is None:
                    value = sg.tensors[op.inputs[1]]
                    v.nbytes = value.nbytes
                    q = value.quantization
                    v.fill = q.zero_point & 0xFF if q is not None and q.zero_points.size else 0
    return ResourceTable(variables, known)
