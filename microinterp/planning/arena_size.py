"""The smallest `arena_size` with which TFLM allocates and invokes a model, from a model of its allocator.

TFLM splits one arena into a head growing up from the start (the planned activations; while
AllocateTensors runs, first the scratch-request records and then, as "temp", the planner's working
arrays), and a tail growing down from the end (allocator objects, tensor and node arrays, op options,
kernel data, variables, the interpreter's input/output tensors). AllocateTensors fails as soon as one
allocation does not fit between them, so the minimal arena is decided by the order of allocations, the
alignment of each, and the temp memory planning needs (often more than the final head: e.g.
keyword_scrambled_8bit). This module replays that sequence for an arena of N bytes and bisects N.

Sources (tensorflow/lite/micro/, the tflite-micro version pinned in pyproject.toml):
micro_interpreter.cc (AllocateTensors: allocation order, input/output TfLiteTensors),
micro_interpreter_graph.cc (Init then Prepare per op; temp reset and scratch-record resize after each),
micro_allocator.cc (StartModelAllocation, FinishModelAllocation, CommitStaticMemoryPlan,
InitializeTfLiteTensorFromFlatbuffer), micro_allocation_info.cc (AllocationInfo array in temp),
arena_allocator/single_arena_buffer_allocator.cc (the bounds checks and alignments replayed here),
memory_planner/greedy_memory_planner.cc (per-buffer working arrays), recording_micro_allocator.cc
(the Python package's allocator), python/tflite_micro/interpreter_wrapper.cc (arena from new[]),
tflite_bridge/flatbuffer_conversions_bridge.cc + core/api/flatbuffer_conversions.cc (parsed options),
and each kernel's Init/Prepare (kernels/*.cc for the reference set, kernels/cmsis_nn/*.cc for CMSIS-NN).

Two targets: the 64-bit host build of the `tflite-micro` Python package (RecordingMicroAllocator,
built with USE_TFLM_COMPRESSION, arena from new[] not rounded) and a 32-bit Arm Cortex-M build
(MicroInterpreter + MicroAllocator, `alignas(16)` arena, arm-none-eabi-gcc layouts), each with TFLM's
reference kernels or the CMSIS-NN kernels.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from ..errors import UnsupportedOperatorError
from ..model import Model, Operator, Tensor
from ..quantization import compute_padding
from .lifetimes import ALIGNMENT, offline_offsets
from .signal_tail import signal_allocations

KERNEL_SETS = ("reference", "cmsis-nn")

#: GreedyMemoryPlanner's working arrays per planned buffer (greedy_memory_planner.cc constructor):
#: BufferRequirements (4 ints) + buffer_sizes_sorted + buffer_ids_sorted + ListEntry (3 ints) +
#: buffer_offsets, all int-sized on both targets.
PLANNER_BYTES_PER_BUFFER = 16 + 4 + 4 + 12 + 4
#: kMaxScratchBuffersPerOp (micro_allocator.cc): scratch records reserved ahead of each op's Prepare.
MAX_SCRATCH_BUFFERS_PER_OP = 12


@dataclass(frozen=True)
class Target:
    """A TFLM build: pointer size, allocator flavour and the struct sizes/alignments it allocates."""
    name: str
    pointer: int
    recording: bool  # RecordingMicroAllocator (the Python package) rather than MicroAllocator
    #: sizeof of the structs placed in the arena (each aligned to the pointer size, their alignof).
    sizes: Mapping[str, int]
    #: sizeof of a C enum: 4 on the host; 1 for the small enums TFLM's option structs hold under
    #: arm-none-eabi-gcc, whose bare-metal AAPCS default is -fshort-enums.
    enum_size: int
    #: Leading bytes of a TfLiteTensor (quantization, params, data, dims, bytes) that kernels read back:
    #: only type, allocation_type and is_variable follow. Cortex-M's 28 is derived from the layout with
    #: 4-byte pointers, not measured.
    tensor_read_back: int


def _host_sizes() -> dict[str, int]:
    return {
        # recording_single_arena_buffer_allocator.h: SingleArenaBufferAllocator (vptr + 5 pointers +
        # 2 counters) plus the recording counters.
        "SingleArenaBufferAllocator": 104,
        # greedy_memory_planner.h: vptr, 5 array pointers, counters.
        "GreedyMemoryPlanner": 72,
        # recording_micro_allocator.h: MicroAllocator + RecordedAllocation x 8; USE_TFLM_COMPRESSION
        # adds 24 (micro_allocator.h's decompression members).
        "MicroAllocator": 248 + 24,
        # micro_allocator.cc: MicroBuiltinDataAllocator = vptr + IPersistentBufferAllocator*.
        "MicroBuiltinDataAllocator": 16,
        # micro_allocator.h: SubgraphAllocations {NodeAndRegistration*, TfLiteEvalTensor*} +
        # CompressionTensorData** under USE_TFLM_COMPRESSION.
        "SubgraphAllocations": 24,
        "TfLiteEvalTensor": 24,  # c/common.h: data, dims pointers + type
        "NodeAndRegistration": 64,  # micro_common.h: TfLiteNode + TFLMRegistration*
        "TfLiteTensor": 64,  # c/common.h under TF_LITE_STATIC_MEMORY
        "TfLiteAffineQuantization": 24,  # c/common.h: scale*, zero_point*, quantized_dimension
        "ScratchBufferRequest": 16,  # micro_allocator.h: size_t bytes, int node_idx, int subgraph_idx
        "ScratchBufferHandle": 8,  # micro_allocator.h: uint8_t* data
        "AllocationInfo": 32,  # micro_allocation_info.h: size_t, void**, 3 ints, bool
        "size_t": 8,
        # micro_resource_variable.h: MicroResourceVariables {variables pointer, 2 counts}; a MicroResourceVariable
        # is 32 bytes in the source read (container and shared name pointers, resource buffer, bytes) but
        # 40 in the package: FITTED to the live tails of 6 models with 1 to 4 variables.
        "MicroResourceVariables": 16,
        "MicroResourceVariable": 40,
    }


def _cortex_m_sizes() -> dict[str, int]:
    # The same structs under arm-none-eabi-gcc (4-byte pointers), no USE_TFLM_COMPRESSION; the values
    # agree with the struct_sizes measured on the Cortex-M4 build (shared/mcu/cortex_m4_tflm.json).
    return {"SingleArenaBufferAllocator": 36, "GreedyMemoryPlanner": 44, "MicroAllocator": 36,
            "MicroBuiltinDataAllocator": 8, "SubgraphAllocations": 8, "TfLiteEvalTensor": 12,
            "NodeAndRegistration": 32, "TfLiteTensor": 32, "TfLiteAffineQuantization": 12,
            "ScratchBufferRequest": 12, "ScratchBufferHandle": 4, "AllocationInfo": 24, "size_t": 4,
            # Not allocated in the arena by the replay: a firmware creates its MicroResourceVariables.
            "MicroResourceVariables": 12, "MicroResourceVariable": 20}


#: What the `tflite-micro` Python package needs on a 64-bit host.
HOST_64 = Target("64-bit host", 8, True, _host_sizes(), 4, 48)
#: A 32-bit Arm Cortex-M firmware: MicroInterpreter(model, resolver, tensor_arena, kTensorArenaSize).
CORTEX_M_32 = Target("32-bit Cortex-M", 4, False, _cortex_m_sizes(), 1, 28)


@dataclass(frozen=True)
class OpAllocations:
    """What TFLM allocates for one op: its parsed options (size, alignment) from the tail, the persistent
    buffers (16-aligned) its Init makes, the steps of its Prepare in order -- ("temp", tensor index) for
    a temp TfLiteTensor, ("tail", bytes) for a persistent buffer it writes, ("data", bytes) for one it
    leaves to Eval -- and its scratch requests (bytes)."""
    options: tuple[int, int] | None
    init: tuple[int, ...]
    prepare: tuple[tuple[str, int], ...]
    scratch: tuple[int, ...]
    #: The kernel never reads its Init buffers for these tensor types, so when one does not fit TFLM goes
    #: on: AllocatePersistentBuffer returns nullptr and takes nothing, and no Init checks the result.
    init_optional: bool = False
    #: Its Prepare reads back all of its temp TfLiteTensors after allocating (type included), not only
    #: the fields most kernels read (Target.tensor_read_back).
    reads_whole_temps: bool = False


# ---- parsed builtin options: the TfLite*Params structs of c/builtin_op_data.h, as their fields' C types:
# "i" int/int32/float, "b" bool, "e" an enum (TfLitePadding, TfLiteFusedActivation, TfLiteType, ...),
# "p" a pointer.
# Ops whose parser allocates nothing are absent (core/api/flatbuffer_conversions.cc: ParseQuantize,
# ParseDequantize, ParseLogistic, ParsePad, ...). MicroBuiltinDataAllocator places each with alignof.
_OPTION_FIELDS = {
    "CONV_2D": "eiieiie",  # TfLiteConvParams: padding, strides, activation, dilations, quantized_bias_type
    "DEPTHWISE_CONV_2D": "eiiieii",  # padding, strides, depth_multiplier, activation, dilations
    # TfLitePoolParams: padding, strides, filter size, activation, computed TfLitePaddingValues (4 ints).
    "AVERAGE_POOL_2D": "eiiiieiiii", "MAX_POOL_2D": "eiiiieiiii", "L2_POOL_2D": "eiiiieiiii",
    # TfLiteFullyConnectedParams: activation, weights_format, keep_num_dims, asymmetric_quantize_inputs,
    # quantized_bias_type.
    "FULLY_CONNECTED": "eebbe",
    "ADD": "eb", "SUB": "eb",  # TfLiteAddParams/TfLiteSubParams: activation, pot_scale_int16
    "MUL": "e", "DIV": "e",  # TfLiteMulParams/TfLiteDivParams: activation
    "SOFTMAX": "i",  # TfLiteSoftmaxParams: beta
    "RESHAPE": "i" * 9, "SQUEEZE": "i" * 9,  # int shape[8] / squeeze_dims[8], and their count
    "SVDF": "ieb",  # TfLiteSVDFParams: rank, activation, asymmetric_quantize_inputs
    # TfLiteUnidirectionalSequenceLSTMParams: activation, cell/proj clip, time_major, asymmetric, diagonal.
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "eiibbb",
    "CONCATENATION": "ie",  # TfLiteConcatenationParams: axis, activation
    "CAST": "ee",  # TfLiteCastParams: in and out data types (ParseCast allocates it with or without options)
    "STRIDED_SLICE": "iiiiib",  # TfLiteStridedSliceParams: 5 masks, offset
    "MEAN": "b", "SUM": "b", "REDUCE_MAX": "b", "REDUCE_MIN": "b", "REDUCE_PROD": "b",  # keep_dims
    "LEAKY_RELU": "i",  # TfLiteLeakyReluParams: alpha
    "TRANSPOSE_CONV": "eiiee",  # TfLiteTransposeConvParams: padding, strides, activation, bias type
    "SPLIT": "i", "SPLIT_V": "i", "PACK": "ii", "UNPACK": "ii", "GATHER": "ii", "SHAPE": "e",
    "RESIZE_NEAREST_NEIGHBOR": "bb", "RESIZE_BILINEAR": "bb",  # align_corners, half_pixel_centers
    "DEPTH_TO_SPACE": "i", "SPACE_TO_DEPTH": "i", "L2_NORMALIZATION": "e", "BATCH_MATMUL": "bbb",
    "GELU": "b", "ARG_MAX": "e", "ARG_MIN": "e", "REDUCE_ALL": "b",
    "MIRROR_PAD": "e",  # TfLiteMirrorPaddingParams: mode
    "CUMSUM": "bb",  # TfLiteCumsumParams: exclusive, reverse
    "IF": "ii", "WHILE": "ii",  # TfLiteIfParams / TfLiteWhileParams: two subgraph indices
    "CALL_ONCE": "i",  # TfLiteCallOnceParams: init_subgraph_index
    "VAR_HANDLE": "pp",  # TfLiteVarHandleParams: container and shared_name strings
}


def _options_layout(op_name: str, target: Target) -> tuple[int, int] | None:
    """sizeof and alignof of an op's parsed options on `target`, or None if its parser allocates none."""
    fields = _OPTION_FIELDS.get(op_name)
    if fields is None:
        return None
    size, align = 0, 1
    for f in fields:
        n = {"e": target.enum_size, "b": 1, "p": target.pointer}.get(f, 4)
        size = _up(size, n) + n
        align = max(align, n)
    if target.pointer == 8:
        if op_name == "TRANSPOSE_CONV":
            return _HOST_TRANSPOSE_CONV_OPTIONS, 4
        if op_name in _HOST_OPTIONS_ALIGNED_8:
            align = 8
    return _up(size, align), align


#: TfLiteTransposeConvParams is 20 bytes (padding, strides, activation, bias type) in the sources read,
#: but the host package's tails need 12 (padding and strides only): FITTED to the single-op models.
_HOST_TRANSPOSE_CONV_OPTIONS = 12
#: The host package's FULLY_CONNECTED needs one more 16-byte tail slot than the sources read explain
#: (spec/arena-planning.md §5 saw the same "+16 B per FULLY_CONNECTED"): FITTED to the live bisection of
#: every FC model in the recorded table, not derived.
_HOST_FC_EXTRA = 8
#: Options the host package places 8-aligned although their structs hold only 4-byte fields: FITTED to
#: the tails print_allocations reports at arena ends 0, 4, 8 and 12 mod 16 (22 models), which only
#: this alignment reproduces.
_HOST_OPTIONS_ALIGNED_8 = ("FULLY_CONNECTED", "UNIDIRECTIONAL_SEQUENCE_LSTM")


#: CONCATENATION's kernel data on the host package: 80 bytes, not sizeof(ConcatenationParams) = 40 as in
#: the sources read (the package's commit is not in the mirror), and its Prepare fetches the output only
#: once (see _prepare_steps). FITTED to the live bisection of single-op models with 2, 3 and 5 inputs and
#: audio_preprocessor_int8, not derived.
_HOST_CONCATENATION_DATA = 80


def _kernel_data(op: Operator, target: Target, kernels: str, model: Model) -> tuple[int, ...]:
    """Bytes of each AllocatePersistentBuffer a kernel's Init and Prepare make, in call order."""
    sg = model.subgraphs[op.subgraph]
    host = target.pointer == 8  # the host build is also the one with USE_TFLM_COMPRESSION
    cmsis = kernels == "cmsis-nn"
    name = op.name
    if name in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        # conv.h OpDataConv: TfLitePaddingValues, 5 int32, 2 int32* per-channel arrays, 3 int (+2 ints of
        # compression scratch indices on the host) -> 80 (host) / 56 (Cortex-M). cmsis_nn/conv.cc and
        # cmsis_nn/depthwise_conv.cc wrap it as OpData {OpDataConv reference_op_data; int buffer_idx;}.
        op_data = (80 if host else 56) + (4 if cmsis else 0)
        # conv_common.cc ConvPrepare / depthwise_conv_common.cc: per_channel_output_multiplier and
        # per_channel_output_shift, int32 x output channels each (filter dim 0 for conv, 3 for depthwise).
        filt = sg.tensors[op.inputs[1]]
        channels = filt.shape[0 if name == "CONV_2D" else 3] if filt.shape else 1
        return (op_data, 4 * channels, 4 * channels)
    if name == "FULLY_CONNECTED":
        # fully_connected.h OpDataFullyConnected: 9 int32, 2 int32* per-channel arrays, bool (+2 ints of
        # compression indices on the host) -> 72 / 48. cmsis_nn/fully_connected.cc OpData adds
        # buffer_idx, kernel_sums pointer and counters: 24 more on the Cortex-M build.
        op_data = (72 if host else 48) + (24 if cmsis else 0)
        extra = (_HOST_FC_EXTRA,) if host and _HOST_FC_EXTRA else ()
        q = sg.tensors[op.inputs[1]].quantization
        if q is not None and q.scales.size > 1:
            # fully_connected_common.cc: per-channel multiplier and shift arrays.
            channels = q.scales.size
            return (op_data, *extra, 4 * channels, 4 * channels)  # order: see _prepare_steps
        return (op_data, *extra)
    if name in ("AVERAGE_POOL_2D", "MAX_POOL_2D"):
        # pooling.h OpDataPooling: TfLitePaddingValues + 2 int32 + 2 float = 32; cmsis_nn/pooling.cc
        # OpData {OpDataPooling reference_op_data; int buffer_idx;}.
        return (32 + (4 if cmsis else 0),)
    if name == "TRANSPOSE_CONV":
        # transpose_conv.cc OpData (ConvParams, scratch indices, multiplier, 2 per-channel pointers):
        # 96 bytes on the host FITTED to the single-op models (Cortex-M: not measured, pointers 4 bytes
        # smaller assumed); then per-channel multiplier and shift arrays, int32 x output channels each.
        channels = sg.tensors[op.inputs[1]].shape[0]
        return (96 if host else 88, 4 * channels, 4 * channels)
    if name == "SOFTMAX":
        # kernels/internal/types.h SoftmaxParams: 2 double, 5 int32/float, 5 pointers -> 80 / 56;
        # cmsis_nn/softmax.cc CMSISNNSoftmaxParams adds num_rows and row_size.
        return ((80 if host else 56) + (8 if cmsis else 0),)
    if name == "UNIDIRECTIONAL_SEQUENCE_LSTM":
        # lstm_shared.h OpDataLSTM: size info, 4 gate parameter blocks (2 FC + 1 Mul params each), inter-gate
        # params and scratch indices, all int32: 688 on both targets.
        if not cmsis:
            return (688,)
        # cmsis_nn/unidirectional_sequence_lstm.cc: OpData {OpDataLSTM; cmsis_nn_lstm_params (15 int32 +
        # 4 cmsis_nn_lstm_gate of 6 int32-sized fields and 4 pointers)} = 688 + 224 (Cortex-M) / 688 + 320
        # (host); Prepare then precomputes int32 kernel sums of the 4 input and 4 recurrent weight
        # matrices (int8 activations; one per gate row: cell units each).
        cells = sg.tensors[op.inputs[1]].shape[0]
        sums = (4 * cells,) * 8 if sg.tensors[op.inputs[0]].type_name == "INT8" else ()
        return (688 + (320 if host else 224),) + sums
    if name == "CONCATENATION":
        # concatenation.cc OpData = types.h ConcatenationParams: int8 axis, input zero point and scale
        # pointers, uint16 count, int32 zero point, float scale -> 40 (host) / 24 (Cortex-M); Prepare adds,
        # for int8, a float scale and an int32 zero point per input. The host package needs 40 bytes more
        # (_HOST_CONCATENATION_DATA).
        quantized = sg.tensors[op.outputs[0]].type_name == "INT8"
        return ((_HOST_CONCATENATION_DATA if host else 24,)
                + ((4 * len(op.inputs),) * 2 if quantized else ()))
    if name == "BATCH_MATMUL":
        return _batch_matmul_data(sg.tensors, op, target)
    if op.custom_code == "CIRCULAR_BUFFER":
        return (8,)  # circular_buffer.h OpDataCircularBuffer {int cycles_until_run, cycles_max}
    if name == "ASSIGN_VARIABLE":
        # assign_variable.cc: Init's OpData {int scratch_index} only under USE_TFLM_COMPRESSION (the host);
        # Prepare's MicroResourceVariables::Allocate gives the variable its buffer on the resource's first
        # assignment in Prepare order, once its VAR_HANDLE has set the resource id.
        init = (4,) if host else ()
        value = sg.tensors[op.inputs[1]].nbytes if len(op.inputs) > 1 else 0
        return init + ((value,) if (op.subgraph, op.index) in _first_assignments(model) else ())
    if op.custom_code == "TFLite_Detection_PostProcess":
        # detection_postprocess.cc OpData: 6 int/float, bool, CenterSizeEncoding (4 float), 11 scratch
        # indices, 3 TfLiteQuantizationParams (float, int32): 112 on both targets, no pointers.
        return (112,)
    if name in _QUANTIZED_KERNEL_DATA:
        # Kernels whose Prepare allocates their OpData only for quantized inputs.
        quantized = sg.tensors[op.inputs[0]].type_name in ("INT8", "INT16")
        return (_QUANTIZED_KERNEL_DATA[name][0 if host else 1],) if quantized else ()
    if name in _FIXED_KERNEL_DATA:
        return _FIXED_KERNEL_DATA[name]
    if name in _NO_TFLM_KERNEL:
        raise UnsupportedOperatorError([(f"{op.describe()}: TFLM registers no kernel for this op (the "
                                         f"tflite-micro package fails 'Failed to get registration'), so it "
                                         f"allocates this model at no arena_size")])
    raise UnsupportedOperatorError([(f"{op.describe()}: the TFLM arena model does not know the persistent "
                                     f"buffers of this kernel")])


#: sizeof of the DecodeState subclass decode.cc creates per output, by decode type (ancillary byte 0), as
#: (host, Cortex-M). decode_state_lut.h DecodeStateLUT: vptr, context and profiler pointers, indices and
#: value table pointers, 4 size_t, bit width and axis flag -> 80 / 40; the pruning state measures the same
#: 80 on the host, the Huffman state 64 (one 16-byte slot less). Cortex-M: derived with 4-byte pointers and
#: size_t, not measured.
_DECODE_STATE_SIZES = {0: (80, 40), 1: (64, 32), 2: (80, 40)}


def _decode_prepare(tensors: Sequence[Tensor], op: Operator, target: Target) -> tuple[tuple[str, int], ...]:
    """decode.cc Prepare (no Init): a DecodeState pointer per output, then per (encoded, ancillary) pair
    its encoded, ancillary and output tensors, the state its decode type creates, and (pruned int8 with
    per-channel zero points, decode_state_prune.cc Setup) one int8 zero point per channel."""
    steps: list[tuple[str, int]] = [("tail", target.pointer * len(op.outputs))]
    for k in range(0, len(op.inputs) - 1, 2):
        ancillary, out = tensors[op.inputs[k + 1]], tensors[op.outputs[k // 2]]
        steps += [("temp", op.inputs[k]), ("temp", op.inputs[k + 1]), ("temp", op.outputs[k // 2])]
        kind = int(ancillary.data.reshape(-1).view(np.uint8)[0]) if ancillary.data is not None else -1
        steps.append(("tail", _DECODE_STATE_SIZES.get(kind, (80, 40))[0 if target.pointer == 8 else 1]))
        channels = out.quantization.scales.size if out.quantization is not None else 1
        if kind == 2 and out.type_name == "INT8" and channels > 1:
            steps.append(("tail", channels))
    return tuple(steps)


def _first_assignments(model: Model) -> set[tuple[int, int]]:
    """(subgraph, op) of each resource variable's first ASSIGN_VARIABLE in Prepare order (subgraph by
    subgraph) whose resource comes from a VAR_HANDLE already prepared in the same subgraph."""
    first: dict[str, tuple[int, int]] = {}
    for sg in model.subgraphs:
        handles: dict[int, str] = {}
        for op in sg.operators:
            if op.name == "VAR_HANDLE" and op.outputs:
                handles[op.outputs[0]] = op.options.get("shared_name", "")
            elif op.name == "ASSIGN_VARIABLE" and op.inputs and op.inputs[0] in handles:
                first.setdefault(handles[op.inputs[0]], (sg.index, op.index))
    return set(first.values())


def _batch_matmul_data(tensors: Sequence[Tensor], op: Operator, target: Target) -> tuple[int, ...]:
    """batch_matmul.cc: Init's OpDataBatchMatmul (3 pointers, 3 bools); Prepare's persistent buffers, after
    fetching lhs, rhs and output: QuantizationOpDataBatchMatmul (7 int32) for int8/int16, a transposed
    copy of lhs when adj_x and of rhs unless adj_y (a TfLiteEvalTensor, its TfLiteIntArray dims and its
    data), then the output's dims made writable (CreateWritableTensorDimsWithCopy)."""
    p = target.pointer
    lhs, rhs, out = tensors[op.inputs[0]], tensors[op.inputs[1]], tensors[op.outputs[0]]
    buffers = [_up(3 * p + 3, p)]
    if lhs.type_name in ("INT8", "INT16"):
        buffers.append(28)
    transposed = ([lhs] if op.options.get("adj_x") else []) + ([] if op.options.get("adj_y") else [rhs])
    for t in transposed:
        buffers += [target.sizes["TfLiteEvalTensor"], 4 + 4 * len(t.shape), t.nbytes]
    return (*buffers, 4 + 4 * len(out.shape))


#: Ops microinterp runs that TFLM has no kernel for (micro_mutable_op_resolver.h has no Add for them).
_NO_TFLM_KERNEL = ("RELU_N1_TO_1",)
#: Kernels whose Init allocates one OpData of a fixed size on both targets (all int32/float fields), or
#: nothing (reshape.cc, squeeze.cc, expand_dims.cc, cast.cc, activations' RELU, transpose.cc).
_FIXED_KERNEL_DATA = {
    "ADD": (60,),  # add.h OpDataAdd: bool + 14 int32/float (cmsis_nn/add.cc reuses it)
    "SUB": (52,),  # sub.h OpDataSub: bool + 12 int32
    "MUL": (36,),  # mul.h OpDataMul: 6 int32, int, 2 float
    "LOGISTIC": (16,),  # logistic.h OpDataLogistic: 4 int32
    "TANH": (16,),  # activations.h OpDataTanh: zero point, range radius, multiplier, shift
    "QUANTIZE": (32,),  # quantize.h OpDataQuantizeReference: QuantizationParams {int32, double} + 4 int32
    "DEQUANTIZE": (32,),  # dequantize.h DequantizeOpData: QuantizationParams + 3 int32
    "SVDF": (36,),  # svdf.h OpDataSvdf: 9 int32 (effective scales, scratch indices, zero points)
    "PAD": (56,),  # pad.cc OpData: PadParams (2 counts + 2 x int32[5] + category) + output_zero_point
    "PADV2": (56,),
    "STRIDED_SLICE": (84,),  # strided_slice.cc: StridedSliceParams
    "MEAN": (40,),  # reduce.h OpDataReduce: multiplier, shift, 2 scratch indices, zero points, scales, counts
    "LEAKY_RELU": (24,),  # leaky_relu.h LeakyReluOpData: 2 multiplier/shift pairs, 2 zero points
    "DIV": (28,),  # div.cc OpDataDiv: 7 int32
    "RESHAPE": (), "SQUEEZE": (), "EXPAND_DIMS": (), "CAST": (), "TRANSPOSE": (),
    "MAXIMUM": (), "MINIMUM": (),
    # Kernels without an Init allocation (broadcast_to.cc, dynamic_update_slice.cc, pack.cc,
    # resize_bilinear.cc, resize_nearest_neighbor.cc, reverse.cc, shape.cc, slice.cc): checked live.
    "BROADCAST_TO": (), "DYNAMIC_UPDATE_SLICE": (), "PACK": (), "RESIZE_BILINEAR": (),
    "RESIZE_NEAREST_NEIGHBOR": (), "REVERSE_V2": (), "SHAPE": (), "SLICE": (),
    # floor.cc, ceil.cc, round.cc, floor_div.cc, floor_mod.cc, exp.cc, neg.cc, logical.cc and
    # elementwise.cc's SIN/COS/LOG/SQRT/SQUARE (their Init is nullptr): checked live.
    "FLOOR": (), "CEIL": (), "ROUND": (), "FLOOR_DIV": (), "FLOOR_MOD": (), "SIN": (), "COS": (),
    "SQUARE": (), "SQRT": (), "LOG": (), "EXP": (), "NEG": (), "LOGICAL_NOT": (), "LOGICAL_AND": (),
    "LOGICAL_OR": (),
    # arg_min_max.cc, fill.cc, zeros_like.cc, split.cc, split_v.cc, unpack.cc: no Init, checked live.
    "ARG_MAX": (), "ARG_MIN": (), "FILL": (), "ZEROS_LIKE": (), "SPLIT": (), "SPLIT_V": (), "UNPACK": (),
    "CUMSUM": (),  # cumsum.cc: no Init; its parsed TfLiteCumsumParams is the only tail entry
    # comparisons.cc OpData {ComparisonParams: bool is_broadcast + 6 int32 offsets/multipliers/shifts}.
    "EQUAL": (28,), "NOT_EQUAL": (28,), "LESS": (28,), "LESS_EQUAL": (28,), "GREATER": (28,),
    "GREATER_EQUAL": (28,),
    # One 16-byte tail slot per op in print_allocations (gather.cc, gather_nd.cc, depth_to_space.cc,
    # space_to_depth.cc) and two for embedding_lookup.cc: FITTED sizes, structs not read.
    "GATHER": (16,), "GATHER_ND": (16,), "DEPTH_TO_SPACE": (16,), "SPACE_TO_DEPTH": (16,),
    "EMBEDDING_LOOKUP": (28,),
    # elementwise.cc ElementWiseAbsRsqrtInit: OpDataAbsRsqrt (4 int32, bool, 2 enums) for every type:
    # 28 (host) / 20 (Cortex-M), both one 32-byte slot of the 16-aligned tail.
    "ABS": (28,), "RSQRT": (28,),
    "PRELU": (28,),  # prelu.h PreluParams: 3 offsets, 2 multiplier/shift pairs (7 int32)
    # squared_difference.cc OpData {bool requires_broadcast; ArithmeticParams}: 112 on the host, the
    # size of its 16-byte slots measured live (ArithmeticParams holds int64 activation bounds).
    "SQUARED_DIFFERENCE": (112,),
    # reduce.cc: every reduction's Init allocates OpDataReduce, as MEAN.
    "SUM": (40,), "REDUCE_MAX": (40,), "REDUCE_MIN": (40,), "REDUCE_PROD": (40,), "REDUCE_ALL": (40,),
    "L2_NORMALIZATION": (4,),  # l2norm.cc: types.h L2NormalizationParams {int32 input_zero_point}
    # FITTED to the live bisection of single-op models (1 and 8 ops, 2 models), not derived: one
    # 32-byte tail slot per op beyond the 40-byte TfLitePoolParams.
    "L2_POOL_2D": (24,),
    # FITTED (mirror_pad.cc OpDataMirrorPad, 3 int, would take 16): 6 ops of one model need a 32-byte slot.
    "MIRROR_PAD": (20,),
    "SELECT_V2": (4,),  # FITTED on one model (select.cc OpData: broadcast flags): one 16-byte slot
    "ELU": (256,),  # elu.cc OpData: int8 lookup table (see _INIT_DATA_READ_FOR_QUANTIZED_ONLY)
    # activations.cc ReluOpData {ReluParams: ActivationParams (enum, 2 int32) + 4 int32}; Relu6OpData (2 int8,
    # 2 int16).
    "RELU": (28,), "RELU6": (6,),
    # types.h HardSwishParams: 3 int16, int, int16, int -> 20 on both targets (one 32-byte tail slot).
    "HARD_SWISH": (20,),
    # batch_to_space_nd.cc: no Init; space_to_batch_nd.cc: types.h SpaceToBatchParams {int32 output_offset},
    # written by Prepare for every type. Both fetch only input and output.
    "BATCH_TO_SPACE_ND": (), "SPACE_TO_BATCH_ND": (4,),
    "BROADCAST_ARGS": (),  # broadcast_args.cc: no Init; Prepare fetches both shapes and the output
    # if.cc, while.cc, call_once.cc OpData: subgraph indices (and call_once's has_run flag); their Prepare
    # prepares no subgraph (MicroInterpreterGraph prepares every subgraph in turn).
    "IF": (8,), "WHILE": (8,), "CALL_ONCE": (8,),
    "VAR_HANDLE": (4,),  # var_handle.cc OpData {int32 resource_id}
    "READ_VARIABLE": (),  # read_variable.cc: no Init
}
#: Kernels whose Init always allocates their OpData but only the quantized paths read it (elu.cc: the
#: lookup table; hard_swish.cc: HardSwishParams; activations.cc: ReluOpData, Relu6OpData), so on float an
#: Init allocation that does not fit is harmless: a float ELU runs in 952 bytes, but not in 953 to 1207
#: (Init takes the 256-byte table, the planner then lacks room), and again from 1208 (measured live;
#: tests/test_tflm_arena_size_ops.py).
_INIT_DATA_READ_FOR_QUANTIZED_ONLY = ("ELU", "HARD_SWISH", "RELU", "RELU6")
#: (host, Cortex-M) OpData of kernels that allocate it only for int8/int16 inputs.
_QUANTIZED_KERNEL_DATA = {
    # log_softmax.cc LogSoftmaxOpData: 5 int32 + 2 size_t (outer size, depth), allocated by Prepare after
    # fetching input and output, so it may land on their temp TfLiteTensors (see _replay).
    "LOG_SOFTMAX": (40, 28),
    # add_n.cc int8 OpData: input/output offsets, multipliers and shifts, left shift, activation bounds,
    # scratch index (10 int32).
    "ADD_N": (40, 40),
}
#: Kernels that allocate their OpData in Prepare, after fetching their tensors (add_n.cc, log_softmax.cc).
_PREPARE_ALLOCATED = ("ADD_N", "LOG_SOFTMAX")
#: Kernels registered without Init and Prepare (maximum_minimum.cc): they fetch no temp tensors.
_NO_PREPARE = ("MAXIMUM", "MINIMUM")
#: Kernels whose Prepare fetches only some of their tensors as temp TfLiteTensors, then allocates its
#: persistent buffers: (input positions, output positions).
_FETCHED_IN_PREPARE = {
    # reshape.cc, squeeze.cc, expand_dims.cc, batch_to_space_nd.cc, space_to_batch_nd.cc: not the shape,
    # axis, block or crop inputs.
    "RESHAPE": ((0,), (0,)), "SQUEEZE": ((0,), (0,)), "EXPAND_DIMS": ((0,), (0,)),
    "BATCH_TO_SPACE_ND": ((0,), (0,)), "SPACE_TO_BATCH_ND": ((0,), (0,)),
    "TFLite_Detection_PostProcess": ((0, 1, 2), ()),  # detection_postprocess.cc: the inputs only
    "IF": ((0,), ()),  # if.cc: the condition
    # while.cc, call_once.cc, var_handle.cc, read_variable.cc read only TfLiteEvalTensors; assign_variable.cc
    # fetches the value.
    "WHILE": ((), ()), "CALL_ONCE": ((), ()), "VAR_HANDLE": ((), ()), "READ_VARIABLE": ((), ()),
    "ASSIGN_VARIABLE": ((1,), ()),
}


def op_allocations(model: Model, op: Operator, target: Target, kernels: str,
                   scratch: Sequence[int]) -> OpAllocations:
    """What TFLM allocates for `op` with the given kernel set; `scratch` are its scratch requests."""
    signal = signal_allocations(model.subgraphs[op.subgraph], op, target.pointer)
    if signal is not None:
        # Custom ops have no parsed options; signal_tail.py says which buffers Init and Prepare make.
        init, prepare = signal
        return OpAllocations(None, init, _prepare_steps(op, prepare, target), tuple(scratch))
    if op.custom_code == "TFLM_DECODE":
        if len(op.outputs) > 1:
            # Measured live, one LUT DECODE with two outputs needs 16 bytes more than this replay of
            # decode.cc (pointer array, then per pair 3 temps and an 80-byte state) while one output is
            # exact: not explained yet, so no figure rather than a low one.
            raise UnsupportedOperatorError([(f"{op.describe()}: the TFLM arena model does not know the "
                                             f"persistent buffers of a DECODE with {len(op.outputs)} outputs")])
        return OpAllocations(None, (), _decode_prepare(model.subgraphs[op.subgraph].tensors, op, target),
                             tuple(scratch), reads_whole_temps=True)
    options = _options_layout(op.name, target)
    data = _kernel_data(op, target, kernels, model)
    # Kernels that allocate their OpData in Prepare (after fetching their tensors) have no Init buffer.
    first = 0 if op.name in _PREPARE_ALLOCATED else 1
    unread = (op.name in _INIT_DATA_READ_FOR_QUANTIZED_ONLY
              and model.subgraphs[op.subgraph].tensors[op.inputs[0]].type_name not in ("INT8", "INT16"))
    return OpAllocations(options, data[:first], _prepare_steps(op, data[first:], target), tuple(scratch),
                         unread)


def _prepare_steps(op: Operator, tail: tuple[int, ...], target: Target) -> tuple[tuple[str, int], ...]:
    """A kernel's Prepare: the tensors it fetches as temp TfLiteTensors and its persistent buffers, in
    order. DeallocateTemp does not move the temp pointer back (single_arena_buffer_allocator.cc), so a
    tensor fetched twice takes space twice until the allocator resets temp after the op; a persistent
    buffer allocated after the fetches does not narrow the room they had."""
    ins, outs = op.inputs, op.outputs

    def temps(*indices: int) -> tuple[tuple[str, int], ...]:
        return tuple(("temp", t) for t in indices if t >= 0)

    persistent = tuple(("tail", n) for n in tail)
    if op.name in _NO_PREPARE:
        return ()
    if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D") and len(ins) >= 2:
        # conv_common.cc ConvPrepare (depthwise_conv_common.cc likewise): output, input, filter; the
        # per-channel arrays; then CalculateOpDataConv fetches input, filter, bias and output again.
        bias = ins[2] if len(ins) > 2 else -1
        return temps(outs[0], ins[0], ins[1]) + persistent + temps(ins[0], ins[1], bias, outs[0])
    if op.name == "CONCATENATION":
        # concatenation.cc Prepare: input 0 and the output for their types, every input for its rank, the
        # output again (not on the host package: FITTED with _HOST_CONCATENATION_DATA); for int8 the
        # scale/zero-point arrays and every input once more.
        first = temps(ins[0], outs[0]) + temps(*ins) + (temps(outs[0]) if target.pointer == 4 else ())
        return first + (persistent + temps(*ins) if persistent else ())
    fetched = _FETCHED_IN_PREPARE.get(op.custom_code or op.name)
    if fetched is not None:
        return temps(*(ins[i] for i in fetched[0] if i < len(ins)),
                     *(outs[i] for i in fetched[1] if i < len(outs))) + persistent
    if op.name == "BATCH_MATMUL":
        # _batch_matmul_data's Prepare buffers: [quantization], (TfLiteEvalTensor, dims, data) per transposed
        # operand, output dims. Prepare writes them all but the transposed data, filled at Eval.
        first = (len(tail) - 1) % 3
        unwritten = range(first + 2, len(tail) - 1, 3)
        return temps(*ins, *outs) + tuple(("data" if i in unwritten else "tail", n) for i, n in enumerate(tail))
    if op.name == "FULLY_CONNECTED" and len(persistent) == 3:
        # Per-channel on the host: the arrays come before the fetches, the extra slot (_HOST_FC_EXTRA)
        # after them; per-tensor, the extra slot comes before. FITTED: the order that matches the live
        # bisection of the single-op FC models, whose minimum the fetches decide.
        return persistent[1:] + temps(*ins, *outs) + persistent[:1]
    if op.name == "FULLY_CONNECTED":
        return persistent + temps(*ins, *outs)
    # Most kernels: every input and output once, then what they compute.
    return temps(*ins, *outs) + persistent


class _DoesNotFit(Exception):
    """One allocation of the replay does not fit the arena; the message says which."""


def _up(n: int, a: int) -> int:
    return -(-n // a) * a


def _down(n: int, a: int) -> int:
    return n // a * a


class _Allocator:
    """SingleArenaBufferAllocator on integer addresses (single_arena_buffer_allocator.cc)."""

    def __init__(self, start: int, end: int):
        self.buffer_head, self.buffer_tail = start, end
        self.head = self.temp = start
        self.tail = end
        self.peak = start  # highest temp/head address reached
        self.by_category: dict[str, int] = {}

    def persistent(self, size: int, alignment: int, category: str) -> None:
        result = _down(self.tail - size, alignment)
        if result < self.head:
            raise _DoesNotFit(f"tail allocation of {size} bytes ({category})")
        self.by_category[category] = self.by_category.get(category, 0) + self.tail - result
        self.tail = result

    def temp_alloc(self, size: int, alignment: int, what: str) -> None:
        result = _up(self.temp, alignment)
        if self.tail - result < size:
            raise _DoesNotFit(f"temp allocation of {size} bytes ({what})")
        self.temp = result + size
        self.peak = max(self.peak, self.temp)

    def resize_head(self, size: int, alignment: int, what: str) -> None:
        start = _up(self.buffer_head, alignment)
        if self.tail - start < size:
            raise _DoesNotFit(f"head of {size} bytes ({what})")
        self.head = self.temp = start + size
        self.peak = max(self.peak, self.head)

    def reset_temp(self) -> None:
        self.temp = self.head

    def available(self, alignment: int) -> int:
        return _down(self.tail, alignment) - _up(self.temp, alignment)


@dataclass(frozen=True)
class ArenaSize:
    """The minimal arena_size for one target and kernel set, and how it splits at that size."""
    target: str
    kernels: str
    arena_size: int
    head: int
    #: Bytes from the arena start the head section reached while AllocateTensors ran (scratch records,
    #: AllocationInfo array and the planner's working arrays): above `head` when planning decides.
    allocation_peak: int
    tail: int
    tail_by_category: dict[str, int] = field(default_factory=dict)
    #: What fails one byte below arena_size.
    limited_by: str = ""


def _replay(model: Model, target: Target, ops: Sequence[OpAllocations], head: int, planned: int,
            arena_size: int) -> _Allocator:
    """Run TFLM's AllocateTensors allocation sequence for an arena of `arena_size` bytes starting at a
    16-aligned address (alignas(16) on the MCU; new[] on the host). Invoke allocates nothing more with
    these kernels: they fetch only TfLiteEvalTensors and scratch buffers."""
    s = target.sizes
    p = target.pointer
    a = _Allocator(0, arena_size)
    first_op = [sum(len(g.operators) for g in model.subgraphs[:k]) for k in range(len(model.subgraphs))]
    # (Recording)MicroAllocator::Create: the buffer allocator, the greedy planner, the MicroAllocator.
    for struct in ("SingleArenaBufferAllocator", "GreedyMemoryPlanner", "MicroAllocator"):
        a.persistent(s[struct], p, "allocator objects")
    resources = _resource_variable_count(model)
    if target.recording and resources:
        # interpreter_wrapper.cc: MicroResourceVariables::Create(allocator, n) when VAR_HANDLE ops exist,
        # through MicroAllocator::AllocatePersistentBuffer (16-aligned).
        a.persistent(s["MicroResourceVariables"], ALIGNMENT, "resource variables")
        a.persistent(s["MicroResourceVariable"] * resources, ALIGNMENT, "resource variables")
    # StartModelAllocation.
    a.persistent(s["MicroBuiltinDataAllocator"], p, "allocator objects")
    sbr = s["ScratchBufferRequest"]
    a.resize_head(sbr * MAX_SCRATCH_BUFFERS_PER_OP, p, "scratch buffer records")
    a.persistent(s["SubgraphAllocations"] * len(model.subgraphs), p, "allocator objects")
    for sg in model.subgraphs:
        a.persistent(s["TfLiteEvalTensor"] * len(sg.tensors), p, "TfLiteEvalTensor arrays")
    for sg in model.subgraphs:
        a.persistent(s["NodeAndRegistration"] * len(sg.operators), p, "NodeAndRegistration arrays")
    # PrepareNodeAndRegistrationDataFromFlatbuffer: parsed options per op.
    for o in ops:
        if o.options is not None:
            a.persistent(o.options[0], o.options[1], "op options")
    # InitSubgraphs then PrepareSubgraphs: the first persistent buffer of each kernel is its Init's OpData.
    for o in ops:
        for size in o.init:
            try:
                a.persistent(size, ALIGNMENT, "kernel data")
            except _DoesNotFit:
                if not o.init_optional:
                    raise
    requests = 0
    for sg in model.subgraphs:
        for o in ops[first_op[sg.index]:first_op[sg.index] + len(sg.operators)]:
            # AllocatePersistentBuffer checks the tail against the head, not against temp: a Prepare buffer
            # may land on the op's own temp TfLiteTensors, harmless unless it overwrites bytes TFLM reads
            # back before they are released.
            read_back: list[tuple[int, int]] = []
            for kind, value in o.prepare:
                if kind == "temp":
                    read_back += _temp_tensor(a, target, sg.tensors[value], o.reads_whole_temps)
                    continue
                a.persistent(value, ALIGNMENT, "kernel data")
                if kind == "tail" and any(a.tail < end and start < a.tail + value for start, end in read_back):
                    raise _DoesNotFit(f"kernel data of {value} bytes written over a temp TfLiteTensor still in use")
            requests += len(o.scratch)
            a.reset_temp()
            a.resize_head(sbr * (requests + MAX_SCRATCH_BUFFERS_PER_OP), p, "scratch buffer records")
    # FinishModelAllocation: scratch handles, variables, then the plan.
    if requests:
        a.persistent(s["ScratchBufferHandle"] * requests, p, "scratch handles")
    offsets = offline_offsets(model)
    for sg in model.subgraphs:
        for t in sg.tensors:
            if t.is_variable and not (offsets is not None and sg.index == 0 and offsets[t.index] != -1):
                a.persistent(t.nbytes, ALIGNMENT, "variable tensors")
    tensors = sum(len(sg.tensors) for sg in model.subgraphs)
    a.temp_alloc(s["size_t"] * len(model.subgraphs), s["size_t"], "planner subgraph offsets")
    a.temp_alloc(s["AllocationInfo"] * (tensors + requests), p, "AllocationInfo array")
    if a.available(ALIGNMENT) // PLANNER_BYTES_PER_BUFFER < planned:
        raise _DoesNotFit(f"greedy planner working arrays for {planned} buffers (Too many buffers)")
    a.peak = max(a.peak, _up(a.temp, ALIGNMENT) + PLANNER_BYTES_PER_BUFFER * planned)
    a.head = a.temp = a.buffer_head
    a.resize_head(head, ALIGNMENT, "planned head")
    # AllocateTensors: input and output pointer arrays and their persistent TfLiteTensors.
    main = model.main
    for group in (main.inputs, main.outputs):
        a.persistent(p * len(group), ALIGNMENT, "input/output tensors")
        for t in group:
            a.persistent(s["TfLiteTensor"], p, "input/output tensors")
            q = main.tensors[t].quantization
            if q is not None:
                a.persistent(s["TfLiteAffineQuantization"], p, "input/output tensors")
                a.persistent(4 + 4 * q.scales.size, 4, "input/output tensors")
    return a


def _temp_tensor(a: _Allocator, target: Target, tensor: Tensor, whole: bool = False) -> list[tuple[int, int]]:
    """A kernel's GetTensor in Prepare: MicroAllocator::AllocateTempTfLiteTensor. Returns the byte ranges
    read back until the op's temps are released: the TfLiteTensor's quantization, params, data, dims and
    bytes (c/common.h's TF_LITE_STATIC_MEMORY layout, `tensor_read_back`), and the zero_point pointer of its
    TfLiteAffineQuantization (DeallocateTempTfLiteTensor releases it; a wrong one fails
    ResetTempAllocations' checksum); `whole`: the whole TfLiteTensor."""
    s, p = target.sizes, target.pointer
    a.temp_alloc(s["TfLiteTensor"], p, "temp TfLiteTensor")
    read = s["TfLiteTensor"] if whole else target.tensor_read_back
    read_back = [(a.temp - s["TfLiteTensor"], a.temp - s["TfLiteTensor"] + read)]
    if tensor.quantization is not None:
        a.temp_alloc(s["TfLiteAffineQuantization"], p, "temp quantization")
        start = a.temp - s["TfLiteAffineQuantization"]
        read_back.append((start + p, start + 2 * p))
        a.temp_alloc(4 + 4 * tensor.quantization.scales.size, 4, "temp zero points")
    return read_back


def _resource_variable_count(model: Model) -> int:
    """Distinct shared_name of the VAR_HANDLE ops (python/tflite_micro/runtime.py)."""
    names = {op.options.get("shared_name") for sg in model.subgraphs for op in sg.operators
             if op.name == "VAR_HANDLE"}
    return len(names)


def minimal_arena_size(model: Model, target: Target, kernels: str, head: int, planned: int,
                       scratch: Mapping[tuple[int, int], Sequence[int]]) -> ArenaSize:
    """The smallest arena_size for which the replay succeeds, with its breakdown.

    head: the planned head (TFLM's greedy head, or an offline plan's); planned: the number of buffers
    the planner places (planned tensors plus scratch requests); scratch: each op's scratch requests.
    """
    ops = _all_op_allocations(model, target, kernels, scratch)

    def fits(with_ops: Sequence[OpAllocations], n: int) -> bool:
        return _fits(model, target, with_ops, head, planned, n)

    # Fitting is not monotonic in arena_size: an optional Init buffer is taken once it fits at Init time,
    # and may then starve what follows; a Prepare buffer may land on a temp field still read. Without
    # either (optional buffers skipped, no overwrite check) the replay is monotonic and its minimum bounds
    # the real one from below: scan up from there to the first size that fits.
    relaxed = [replace(o, init=() if o.init_optional else o.init,
                       prepare=tuple(("data" if kind == "tail" else kind, v) for kind, v in o.prepare))
               for o in ops]
    low = _smallest(lambda n: fits(relaxed, n), 0)
    high = low if fits(ops, low) else _smallest(lambda n: fits(ops, n), low)
    best = next(n for n in range(low, high + 1) if fits(ops, n))
    final = _replay(model, target, ops, head, planned, best)
    try:
        _replay(model, target, ops, head, planned, best - 1)
        reason = ""
    except _DoesNotFit as e:
        reason = str(e)
    return ArenaSize(target.name, kernels, best, head, final.peak - final.buffer_head,
                     final.buffer_tail - final.tail, dict(final.by_category), reason)


def arena_fits(model: Model, target: Target, kernels: str, head: int, planned: int,
               scratch: Mapping[tuple[int, int], Sequence[int]], arena_size: int) -> bool:
    """Whether TFLM allocates `model` in exactly `arena_size` bytes (arguments as minimal_arena_size's).
    Some sizes above the minimal one fail too: see minimal_arena_size."""
    return _fits(model, target, _all_op_allocations(model, target, kernels, scratch), head, planned, arena_size)


def _fits(model: Model, target: Target, ops: Sequence[OpAllocations], head: int, planned: int,
          arena_size: int) -> bool:
    try:
        _replay(model, target, ops, head, planned, arena_size)
    except _DoesNotFit:
        return False
    return True


def _all_op_allocations(model: Model, target: Target, kernels: str,
                        scratch: Mapping[tuple[int, int], Sequence[int]]) -> list[OpAllocations]:
    if kernels not in KERNEL_SETS:
        raise ValueError(f"unknown kernel set {kernels!r}; choose one of {', '.join(KERNEL_SETS)}")
    return [op_allocations(model, op, target, kernels, scratch.get((op.subgraph, op.index), ()))
            for sg in model.subgraphs for op in sg.operators]


def _smallest(fits: Callable[[int], bool], low: int) -> int:
    """The smallest arena_size above `low` (which fails, or is 0) that fits, by doubling and bisection."""
    high = max(1024, 2 * low)
    while not fits(high):
        high *= 2
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if fits(mid) else (mid, high)
    # Tail allocations align down from the arena end, so a few sizes just below may pass as well.
    best = high
    for n in range(high - 1, max(high - 2 * ALIGNMENT, low), -1):
        if fits(n):
            best = n
    return best


@dataclass(frozen=True)
class TflmArena:
    """The minimal arena_size on both targets for one kernel set and one planned head."""
    host: ArenaSize
    cortex_m: ArenaSize


def tflm_arena(model: Model, tflm_scratch: Mapping[tuple[int, int], Sequence[int]], head: int, planned: int,
               kernels: str = "reference") -> TflmArena:
    """The minimal TFLM arena_size of `model` on the 64-bit host package and a 32-bit Cortex-M build.

    tflm_scratch: the scratch requests the chosen kernels make, per (subgraph, op) (cmsis_nn_scratch
    gives CMSIS-NN's where they differ); head and planned: the planned head and the number of buffers
    the planner places (a MemoryPlan's head and allocations, planned with those requests).
    """
    return TflmArena(minimal_arena_size(model, HOST_64, kernels, head, planned, tflm_scratch),
                     minimal_arena_size(model, CORTEX_M_32, kernels, head, planned, tflm_scratch))


def cmsis_nn_scratch(model: Model) -> dict[tuple[int, int], list[int]]:
    """The scratch requests CMSIS-NN's kernels make on a Cortex-M with the DSP extension (no MVE), for
    the ops where they differ from the reference kernels' (which request nothing for int8 conv,
    depthwise conv and average pooling). Only requests of more than 0 bytes are made.

    cmsis_nn/conv.cc asks arm_convolve_wrapper_s8_get_buffer_size, cmsis_nn/depthwise_conv.cc
    arm_depthwise_conv_wrapper_s8_get_buffer_size, cmsis_nn/pooling.cc arm_avgpool_s8_get_buffer_size
    (CMSIS-NN Source/ConvolutionFunctions/arm_*_get_buffer_sizes_s8.c, PoolingFunctions/arm_avgpool_s8.c).
    """
    found: dict[tuple[int, int], list[int]] = {}
    for sg in model.subgraphs:
        for op in sg.operators:
            size = _cmsis_nn_request(sg.tensors, op)
            if isinstance(size, list):
                found[(sg.index, op.index)] = size
            elif size is not None:
                found[(sg.index, op.index)] = [size] if size > 0 else []
    return found


def _cmsis_nn_lstm_requests(tensors: Sequence[Tensor], op: Operator) -> list[int] | None:
    """cmsis_nn/unidirectional_sequence_lstm.cc: int8 or int16 activations with an int16 cell state
    request 3 buffers of batch x state x 2 bytes (the reference kernel 4); other types fall back."""
    inp, cell = tensors[op.inputs[0]], tensors[op.inputs[19]]
    if inp.type_name not in ("INT8", "INT16") or cell.type_name != "INT16" or len(inp.shape) < 2:
        return None
    batch = inp.shape[1] if op.options.get("time_major") else inp.shape[0]
    state = tensors[op.inputs[18]].shape[-1]
    return [batch * state * 2] * 3


def _cmsis_nn_fc_request(tensors: Sequence[Tensor], op: Operator) -> int | None:
    """cmsis_nn/fully_connected.cc runs an int8 FC whose output has more than 2 dimensions and whose
    accumulation depth is a multiple of 4 as a 1x1 convolution, with a multiplier and a shift per
    output channel. The version read allocates those two int32 arrays as persistent buffers; the
    Cortex-M4 measurements (dtln_noise_suppression) show instead one scratch request of exactly their
    size and no such tail: this follows the measurements (the 1x1 kernel itself needs no buffer)."""
    inp, filt, out = tensors[op.inputs[0]], tensors[op.inputs[1]], tensors[op.outputs[0]]
    if inp.type_name != "INT8" or len(out.shape) <= 2 or filt.shape[-1] % 4:
        return None
    return 2 * 4 * out.shape[-1]


def _cmsis_nn_request(tensors: Sequence[Tensor], op: Operator) -> int | list[int] | None:
    if op.name == "UNIDIRECTIONAL_SEQUENCE_LSTM" and len(op.inputs) == 24:
        return _cmsis_nn_lstm_requests(tensors, op)
    if op.name == "FULLY_CONNECTED" and len(op.inputs) >= 2:
        return _cmsis_nn_fc_request(tensors, op)
    if op.name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D") or not op.inputs:
        return None
    inp, out = tensors[op.inputs[0]], tensors[op.outputs[0]]
    if inp.type_name != "INT8" or len(inp.shape) != 4:
        return None
    o = op.options
    stride_h, stride_w = o.get("stride_h", 1), o.get("stride_w", 1)
    if op.name == "AVERAGE_POOL_2D":
        return 4 * inp.shape[3]  # arm_avgpool_s8_get_buffer_size (DSP): int32 per input channel
    filt = tensors[op.inputs[1]]
    filter_h, filter_w = filt.shape[1], filt.shape[2]
    dil_h, dil_w = o.get("dilation_h_factor", 1), o.get("dilation_w_factor", 1)
    pad_h = compute_padding(inp.shape[1], filter_h, stride_h, dil_h, o.get("padding", 0))
    pad_w = compute_padding(inp.shape[2], filter_w, stride_w, dil_w, o.get("padding", 0))
    channels = inp.shape[3]
    if op.name == "DEPTHWISE_CONV_2D":
        if channels != out.shape[3] or inp.shape[0] != 1 or (dil_h, dil_w) != (1, 1):
            return 0
        if (filter_h, filter_w) == (3, 3) and pad_h <= 1 and pad_w <= 1:
            return 0  # arm_depthwise_conv_3x3_s8 needs no buffer
        return 2 * channels * filter_h * filter_w  # arm_depthwise_conv_s8_opt: int16 im2col
    if (pad_h, pad_w, filter_h, filter_w, dil_h, dil_w) == (0, 0, 1, 1, 1, 1):
        return 0  # 1x1 kernels (fast or strided) need no buffer
    # arm_convolve_s8 (and 1xN, which uses it without MVE): two int16 im2col columns, 4-aligned.
    cols = filter_h * filter_w * channels
    return 2 * 2 * (cols + (-cols) % 4)
