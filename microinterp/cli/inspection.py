"""What a model holds and needs, without running it: the Python API behind `microinterp inspect`.

Subgraphs, graph inputs and outputs, the op table (shapes, parameters, MACs), flash versus arena bytes,
operators microinterp cannot run, and the TFLM op resolver that registers exactly the model's ops.
"""
from __future__ import annotations

import argparse
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from tflite.ActivationFunctionType import ActivationFunctionType
from tflite.Padding import Padding

from ..errors import UnsupportedOperatorError
from ..execution import plan_prepared
from ..model import Operator, Subgraph, Tensor, load_model
from ..ops import find_prepare
from ..prepare import prepare_graph
from ..planning.arena_size import KERNEL_SETS
from ..workload import op_input, op_macs
from .boards import BoardFit, add_board_argument, board_fits, print_board_fits
from .plan import tflm_arena_fields
from .tflm_arena import TflmArenaFigures, WithTflmFigures, tflm_figures
from .command import EXIT_OK, Command
from .render import Column, Output, count_text, name_text, nbytes_text, shape_text

# -- op parameters ----------------------------------------------------------------------------------

_ENUMS = {
    "padding": {v: k for k, v in vars(Padding).items() if not k.startswith("_")},
    "fused_activation_function": {v: k for k, v in vars(ActivationFunctionType).items() if not k.startswith("_")},
}
#: Options shown together as HxW; dilation only when it is not 1x1.
_PAIRS = (("stride", "stride_h", "stride_w"), ("filter", "filter_height", "filter_width"),
          ("dilation", "dilation_h_factor", "dilation_w_factor"))
#: Options left out of the table (but not of --json) at these values, besides 0, False and empty.
_DEFAULTS = {"depth_multiplier": 1, "beta": 1.0, "pot_scale_int16": True}
_KERNEL_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "TRANSPOSE_CONV")


def op_params(subgraph: Subgraph, op: Operator) -> str:
    """The op's parameters in a few words: kernel, stride, padding, activation, other non-default options."""
    options = dict(op.options)
    parts = []
    weights = op_input(subgraph, op, 1)
    if op.name in _KERNEL_OPS and weights is not None and len(weights.shape) == 4:
        parts.append(f"kernel {weights.shape[1]}x{weights.shape[2]}")
    for label, h, w in _PAIRS:
        if h in options or w in options:
            hw = (options.pop(h, 1), options.pop(w, 1))
            if label != "dilation" or hw != (1, 1):
                parts.append(f"{label} {hw[0]}x{hw[1]}")
    for key, names in _ENUMS.items():
        if key in options:
            value = options.pop(key)
            if value or key == "padding":
                parts.append(names.get(value, f"{key}={value}"))
    parts.extend(f"{key}={value}" for key, value in options.items()
                 if value not in (0, False, (), "") and _DEFAULTS.get(key, 0) != value)
    return ", ".join(parts)


# -- the op resolver --------------------------------------------------------------------------------

#: Builtins TFLM's MicroMutableOpResolver has an Add method for (tflite-micro, 2025).
TFLM_RESOLVER_BUILTINS = frozenset("""
    ABS ADD ADD_N ARG_MAX ARG_MIN ASSIGN_VARIABLE AVERAGE_POOL_2D BATCH_MATMUL BATCH_TO_SPACE_ND
    BROADCAST_ARGS BROADCAST_TO CALL_ONCE CAST CEIL CONCATENATION CONV_2D COS CUMSUM DEPTH_TO_SPACE
    DEPTHWISE_CONV_2D DEQUANTIZE DIV ELU EMBEDDING_LOOKUP EQUAL EXP EXPAND_DIMS FILL FLOOR FLOOR_DIV
    FLOOR_MOD FULLY_CONNECTED GATHER GATHER_ND GREATER GREATER_EQUAL HARD_SWISH IF L2_NORMALIZATION
    L2_POOL_2D LEAKY_RELU LESS LESS_EQUAL LOG LOG_SOFTMAX LOGICAL_AND LOGICAL_NOT LOGICAL_OR LOGISTIC
    MAX_POOL_2D MAXIMUM MEAN MINIMUM MIRROR_PAD MUL NEG NOT_EQUAL PACK PAD PADV2 PRELU QUANTIZE
    READ_VARIABLE REDUCE_MAX REDUCE_MIN RELU RELU6 RESHAPE RESIZE_BILINEAR RESIZE_NEAREST_NEIGHBOR
    REVERSE_V2 ROUND RSQRT SELECT_V2 SHAPE SIN SLICE SOFTMAX SPACE_TO_BATCH_ND SPACE_TO_DEPTH SPLIT
    SPLIT_V SQRT SQUARE SQUARED_DIFFERENCE SQUEEZE STRIDED_SLICE SUB SUM SVDF TANH TRANSPOSE
    TRANSPOSE_CONV UNIDIRECTIONAL_SEQUENCE_LSTM UNPACK VAR_HANDLE WHILE ZEROS_LIKE
""".split())
#: Add methods whose name is not the builtin's words capitalized.
_RESOLVER_METHOD_EXCEPTIONS = {"BATCH_MATMUL": "AddBatchMatMul", "CUMSUM": "AddCumSum", "PADV2": "AddPadV2",
                               "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM"}
#: Custom operators TFLM registers itself; TFLM's signal library ops are "Signal" + the method name.
_RESOLVER_CUSTOM = {"TFLite_Detection_PostProcess": "AddDetectionPostprocess",
                    "CIRCULAR_BUFFER": "AddCircularBuffer"}
_CUSTOM_NAME = re.compile(r"CUSTOM\((.*)\)")


def resolver_method(op_name: str) -> str | None:
    """The MicroMutableOpResolver call registering an op (by Operator.name), e.g. "AddConv2D()";
    AddCustom with a registration to supply for an unknown custom op; None when TFLM has no kernel."""
    custom = _CUSTOM_NAME.fullmatch(op_name)
    if custom:
        code = custom.group(1)
        if code in _RESOLVER_CUSTOM:
            return f"{_RESOLVER_CUSTOM[code]}()"
        if code.startswith("Signal") and len(code) > len("Signal"):
            return f"Add{code[len('Signal'):]}()"
        return f'AddCustom("{code}", Register_{re.sub(r"[^0-9A-Za-z_]", "_", code)}())'
    if op_name not in TFLM_RESOLVER_BUILTINS:
        return None
    # Words starting with a digit keep their case: CONV_2D -> Conv2D, not Conv2d.
    words = (w if w[0].isdigit() else w.capitalize() for w in op_name.split("_"))
    return _RESOLVER_METHOD_EXCEPTIONS.get(op_name, "Add" + "".join(words)) + "()"


def resolver_snippet(op_names: Iterable[str], model_name: str = "the model") -> tuple[str, int]:
    """C++ registering exactly the given ops (Operator.name values) with a MicroMutableOpResolver<N>,
    N the number registered; returns the code and N. Ops TFLM has no kernel for become comments."""
    methods = {name: resolver_method(name) for name in set(op_names)}
    calls = sorted(m for m in methods.values() if m is not None)
    missing = sorted(name for name, m in methods.items() if m is None)
    lines = ['#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"', "",
             f"// Registers every operator {model_name} uses.",
             f"using OpResolver = tflite::MicroMutableOpResolver<{len(calls)}>;", "",
             "TfLiteStatus RegisterOps(OpResolver& op_resolver) {"]
    lines += [f"  TF_LITE_ENSURE_STATUS(op_resolver.{call});" for call in calls]
    lines += [f"  // {name}: TFLM has no kernel for this operator" for name in missing]
    lines += ["  return kTfLiteOk;", "}"]
    return "\n".join(lines), len(calls)


# -- the report -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TensorInfo:
    """A graph input or output: TFLite type, shape and quantization (empty lists: not quantized)."""
    index: int
    name: str
    dtype: str
    shape: tuple[int, ...]
    scales: list[float]
    zero_points: list[int]


@dataclass(frozen=True)
class SubgraphInfo:
    """One subgraph: its size and graph input/output tensor indices."""
    index: int
    name: str
    num_tensors: int
    num_ops: int
    inputs: list[int]
    outputs: list[int]


@dataclass(frozen=True)
class OpInfo:
    """One row of the op table. input_shapes lists the non-constant inputs; problem says why microinterp
    cannot run the op (None when it can)."""
    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("supported",)
    subgraph: int
    index: int
    op: str
    version: int
    dtype: str
    input_shapes: list[tuple[int, ...]]
    output_shapes: list[tuple[int, ...]]
    params: str
    options: dict[str, Any]
    macs: int
    problem: str | None

    @property
    def supported(self) -> bool:
        """Whether microinterp can run this op."""
        return self.problem is None


@dataclass(frozen=True)
class MemoryInfo(WithTflmFigures):
    """Flash (constant data) versus arena bytes.

    arena_head: TFLM's planned head, byte for byte what TFLM allocates; tflm: the minimal arena_size
    TFLM needs (planning/arena_size.py), None when an op is unsupported; microinterp_arena: the arena
    microinterp allocates (head, its own scratch, variables). exact is False when unsupported ops hide
    their scratch needs.
    """
    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("tflm_arena_size", "tflm_arena_size_32bit")
    file_bytes: int
    constant_bytes: int
    arena_head: int
    tflm: TflmArenaFigures | None
    microinterp_arena: int
    exact: bool
    #: Why there is no TFLM arena_size although microinterp runs the model (a kernel the allocator model
    #: does not know).
    tflm_unknown: list[str]


@dataclass(frozen=True)
class ModelReport:
    """Everything `microinterp inspect` shows about a model; resolver is C++ registering its ops with a
    MicroMutableOpResolver<resolver_size>."""
    JSON_PROPERTIES: ClassVar[tuple[str, ...]] = ("macs", "unsupported")
    model: str
    version: int
    description: str
    subgraphs: list[SubgraphInfo]
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    ops: list[OpInfo]
    memory: MemoryInfo
    resolver: str
    resolver_size: int
    #: With --board: how the model fits each board (cli/boards.py).
    boards: list[BoardFit] = field(default_factory=list)

    @property
    def macs(self) -> int:
        """Multiply-accumulates of one invoke (main subgraph)."""
        return sum(op.macs for op in self.ops if op.subgraph == 0)

    @property
    def unsupported(self) -> list[str]:
        """Why each op microinterp cannot run is unsupported."""
        return [op.problem for op in self.ops if op.problem is not None]


def _tensor_info(t: Tensor) -> TensorInfo:
    q = t.quantization
    return TensorInfo(t.index, t.name, t.type_name, t.shape, [] if q is None else q.scales.tolist(),
                      [] if q is None else q.zero_points.tolist())


def _op_info(sg: Subgraph, op: Operator, problems: list[str]) -> OpInfo:
    tensors = sg.tensors
    activations = [tensors[i] for i in op.inputs if i >= 0 and not tensors[i].is_constant]
    first_input = next((tensors[i] for i in op.inputs if i >= 0), None)
    prefix = op.describe() + ":"
    problem = next((p for p in problems if p.startswith(prefix)), None)
    if problem is None and find_prepare(op) is None:
        # Only subgraph 0 is prepared; for ops of other subgraphs a registered kernel is all we know.
        problem = f"{op.describe()}: no kernel for this operator"
    return OpInfo(sg.index, op.index, op.name, op.version, first_input.type_name if first_input else "",
                  [t.shape for t in activations], [tensors[i].shape for i in op.outputs], op_params(sg, op),
                  dict(op.options), op_macs(sg, op), problem)


def inspect_model(model_path: str | os.PathLike, kernels: str = "reference",
                  boards: Sequence[str] = ()) -> ModelReport:
    """Describe a model, with TFLM arena figures for `kernels`, and how it fits the named boards (TFLM
    plan). Unsupported operators are reported, not raised; the arena head then leaves out the scratch
    those ops would need (MemoryInfo.exact is False) and there is no TFLM arena_size (nor board fit)."""
    model = load_model(model_path)
    prepared, problems = prepare_graph(model)
    plan = plan_prepared(model, prepared)
    figures, unknown = None, []
    if not problems:
        try:
            figures = tflm_figures(model, prepared, plan, kernels)
        except UnsupportedOperatorError as e:
            unknown = e.problems
    ops = [_op_info(sg, op, problems) for sg in model.subgraphs for op in sg.operators]
    memory = MemoryInfo(len(model.content), model.constant_bytes, plan.head, figures, plan.arena_size,
                        not problems, unknown)
    resolver, resolver_size = resolver_snippet((op.op for op in ops), Path(model_path).name)
    main = model.main
    return ModelReport(
        str(model_path), model.version, model.description,
        [SubgraphInfo(sg.index, sg.name, len(sg.tensors), len(sg.operators), list(sg.inputs), list(sg.outputs))
         for sg in model.subgraphs],
        [_tensor_info(main.tensors[i]) for i in main.inputs],
        [_tensor_info(main.tensors[i]) for i in main.outputs], ops, memory, resolver, resolver_size,
        board_fits(list(boards), model, plan, kernels) if figures is not None else [])


# -- command line -----------------------------------------------------------------------------------

def _quantization_text(t: TensorInfo) -> str:
    if not t.scales:
        return ""
    if len(t.scales) == 1:
        return f"scale {t.scales[0]:.6g}, zero point {t.zero_points[0]}"
    return f"per-channel ({len(t.scales)} scales)"


def print_report(report: ModelReport, out: Output) -> None:
    """The text report of `microinterp inspect`."""
    m = report.memory
    out.fields([("model", f"{report.model} ({nbytes_text(m.file_bytes)} bytes, schema v{report.version})"),
                ("subgraphs", "; ".join(f"{s.index} '{s.name}': {s.num_ops} ops, {s.num_tensors} tensors"
                                        for s in report.subgraphs)),
                ("MACs", f"{report.macs:,}" + (f" ({count_text(report.macs)})" if report.macs >= 1000 else ""))],
               indent=0)
    io_columns = [Column("index", True), Column("name"), Column("dtype"), Column("shape"), Column("quantization")]
    for title, tensors in (("inputs", report.inputs), ("outputs", report.outputs)):
        rows = [[str(t.index), name_text(t.name), t.dtype, shape_text(t.shape), _quantization_text(t)]
                for t in tensors]
        out.table(io_columns, rows, title=title)
    multi = len(report.subgraphs) > 1
    flag = bool(report.unsupported)  # the support column only when it has something to say
    columns = [Column("#", True), Column("op"), Column("dtype"), Column("input -> output"), Column("params"),
               Column("MACs", True)] + [Column("support")] * flag
    rows = [[f"{op.subgraph}:{op.index}" if multi else str(op.index), op.op, op.dtype,
             f"{', '.join(map(shape_text, op.input_shapes))} -> {', '.join(map(shape_text, op.output_shapes))}",
             op.params, f"{op.macs:,}" if op.macs else ""] + ["ok" if op.supported else "UNSUPPORTED"] * flag
            for op in report.ops]
    out.table(columns, rows, title="ops")
    bound = "" if m.exact else " (without the scratch of unsupported ops)"
    out.heading("memory")
    out.fields([("flash (constant data)", f"{nbytes_text(m.constant_bytes)} bytes"),
                ("arena head (TFLM plan)", f"{nbytes_text(m.arena_head)} bytes{bound}"),
                *(tflm_arena_fields(m.tflm) if m.tflm is not None else
                  [("TFLM arena_size", "unknown: " + "; ".join(m.tflm_unknown or ["unsupported operators"]))]),
                ("microinterp arena", f"{nbytes_text(m.microinterp_arena)} bytes")])
    if report.unsupported:
        out.verdict(False, f"{len(report.unsupported)} unsupported operator(s):")
        for problem in report.unsupported:
            out.line(f"  - {problem}")
    else:
        out.verdict(True, "every operator is supported")
    print_board_fits(report.boards, out)
    out.heading(f"op resolver: MicroMutableOpResolver<{report.resolver_size}>")
    out.code(report.resolver, "cpp")


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help=".tflite file")
    parser.add_argument("--kernels", choices=KERNEL_SETS, default="reference",
                        help="TFLM kernel set the arena figures are for (default reference)")
    add_board_argument(parser)


def _run(args: argparse.Namespace, out: Output) -> int:
    report = inspect_model(args.model, args.kernels, args.board)
    if args.json:
        out.json(report)
    else:
        print_report(report, out)
    return EXIT_OK


COMMAND = Command("inspect", "describe a model: tensors, op table, MACs, flash and arena bytes, op resolver",
                  _add_arguments, _run)
