"""TFLM's persistent allocations for its signal library custom ops (signal/micro/kernels/*.cc), the part
of planning/arena_size.py's allocator model these ops add.

Each op's Init allocates its parameter struct (and, where its flexbuffer options size them, its state:
an FFT's KISS FFT plan, a filter bank's work area, a noise estimate, the stacker's circular buffer);
Framer, Delay and OverlapAdd size their circular buffers from the input shape, so their Prepare
allocates them after fetching the op's tensors. Each AllocatePersistentBuffer is 16-byte aligned. The
struct sizes are TFLM's for 64-bit hosts and 32-bit MCUs.
"""
from __future__ import annotations

from ..custom_options import int_map
from ..model import Operator, Subgraph

#: Parameter structs without pointers (bytes), by custom code; 0: the op allocates nothing.
_PLAIN_PARAMS = {"SignalWindow": 8, "SignalEnergy": 8, "SignalPCAN": 4, "SignalFilterBankLog": 8,
                 "SignalFftAutoScale": 0, "SignalFilterBankSquareRoot": 0}
#: Parameter structs with pointers: {custom code: {pointer size: bytes}}.
_POINTER_PARAMS = {"SignalRfft": {8: 48, 4: 32}, "SignalIrfft": {8: 32, 4: 24},
                   "SignalFilterBank": {8: 64, 4: 36}, "SignalFilterBankSpectralSubtraction": {8: 56, 4: 44},
                   "SignalFramer": {8: 40, 4: 28}, "SignalDelay": {8: 32, 4: 20},
                   "SignalOverlapAdd": {8: 32, 4: 24}, "SignalStacker": {8: 56, 4: 32}}
#: Element sizes of the FFTs' 'T' type codes (int16, int32, float32).
_FFT_SCALAR_BYTES = {7: 2, 2: 4, 0: 4}


def _kiss_fftr_bytes(fft_length: int, scalar: int, pointer_size: int) -> int:
    """kiss_fftr_alloc's size: its state, the complex FFT's state (factors, twiddles) and its buffers."""
    ncfft = fft_length // 2
    complex_fft = 264 + 2 * scalar + 2 * scalar * (ncfft - 1)
    return 3 * pointer_size + complex_fft + 2 * scalar * (ncfft * 3 // 2)


def _circular_buffer_bytes(capacity: int, pointer_size: int) -> int:
    """CircularBufferGetNeededMemory: the CircularBuffer struct and twice the capacity in int16."""
    return (5 * pointer_size if pointer_size == 8 else 24) + 4 * capacity


def _circular_buffers(rows: int, capacity: int, pointer_size: int) -> tuple[int, ...]:
    """Framer/Delay Prepare: the state and circular-buffer pointer arrays, then one buffer per row."""
    return (rows * pointer_size, rows * pointer_size) + (_circular_buffer_bytes(capacity, pointer_size),) * rows


def _outer_rows(sg: Subgraph, op: Operator, trailing: int) -> int:
    shape = sg.tensors[op.inputs[0]].shape
    inner = 1
    for d in shape[len(shape) - trailing:]:
        inner *= d
    total = 1
    for d in shape:
        total *= d
    return total // inner if inner else 0


def _state(code: str, o: dict, sg: Subgraph, op: Operator, p: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The allocations after the parameter struct: (Init's, Prepare's)."""
    if code in ("SignalRfft", "SignalIrfft"):
        scalar = _FFT_SCALAR_BYTES.get(o["T"], 4)
        extra = (16 if p == 8 else 8) if code == "SignalIrfft" and o["T"] == 0 else 0
        return (extra + _kiss_fftr_bytes(o["fft_length"], scalar, p),), ()
    if code == "SignalFilterBank":
        return (8 * (o["num_channels"] + 1),), ()
    if code == "SignalFilterBankSpectralSubtraction":
        return (4 * o["num_channels"],), ()
    if code == "SignalStacker":
        context = o["stacker_left_context"] + o["stacker_right_context"] + 1
        return (_circular_buffer_bytes(o["num_channels"] * context, p),), ()
    if code == "SignalFramer":
        step = max(1, o["frame_step"])
        capacity = -(-o["frame_size"] // step) * step
        return (), _circular_buffers(_outer_rows(sg, op, 1), capacity, p)
    if code == "SignalDelay":
        return (), _circular_buffers(_outer_rows(sg, op, 1), sg.tensors[op.inputs[0]].shape[-1] + o["delay_length"], p)
    if code == "SignalOverlapAdd":
        rows, frame = _outer_rows(sg, op, 2), sg.tensors[op.inputs[0]].shape[-1]
        return (), (rows * p,) + (frame * _FFT_SCALAR_BYTES.get(o["T"], 4),) * rows
    return (), ()


def signal_allocations(sg: Subgraph, op: Operator, pointer_size: int) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """The AllocatePersistentBuffer sizes of one signal library op, (Init's, Prepare's) in call order, or
    None for any other op (or one whose options or shapes cannot be read)."""
    code = op.custom_code
    if code in _PLAIN_PARAMS:
        return ((_PLAIN_PARAMS[code],) if _PLAIN_PARAMS[code] else ()), ()
    if code not in _POINTER_PARAMS:
        return None
    try:
        init, prepare = _state(code, int_map(op.custom_options), sg, op, pointer_size)
    except (ValueError, KeyError, IndexError):  # unreadable options or shapes
        return None
    return (_POINTER_PARAMS[code][pointer_size], *init), prepare
